//! User group memberships: show, the three lists, the three creates, delete;
//! and on the list and its creates, the managers' HTML page and its forms.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::DbConnection;
use crate::db::models::MembershipRow;
use crate::db::queries::memberships;
use crate::db::queries::memberships::{InScope, Scope};
use crate::db::queries::{user_groups, users};
use crate::domain::Refusal;
use crate::http::auth::Manager;
use crate::http::body;
use crate::http::body::{Fields, required_id};
use crate::http::errors::ApiError;
use crate::http::format::{Format, api_format, negotiate};
use crate::http::params;
use crate::routes::page;
use crate::routes::page::{Done, PAGE_FORMATS};
use crate::state::{AppState, read_one, run_db};
use crate::views::html::Echo;
use crate::views::lists;
use crate::views::{render, respond};

/// `GET /user-group-memberships/{id}`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let id = params::path_id(&req, "id")?;
    let include = params::include(&req)?;
    let row = read_one(&state, move |c| {
        Ok(memberships::find(c, id, include.relations())?)
    })
    .await?
    .ok_or(Refusal::UnknownMembership(id))?;
    let body = render::document(format, |e| render::membership(e, &row, include));
    Ok(respond::full(&req, StatusCode::OK, format, body))
}

/// `GET /user-group-memberships`: the list, or the page for a browser.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller): Manager,
) -> Result<HttpResponse, ApiError> {
    if negotiate(&req, PAGE_FORMATS)? == Format::Html {
        let ok = StatusCode::OK;
        return page::show(&req, &state, &caller, ok, &[], &Echo::default()).await;
    }
    list_scope(req, state, Scope::All).await
}

/// `GET /users/{user_id}/user-group-memberships`
pub async fn list_for_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let user_id = params::path_id(&req, "user_id")?;
    list_scope(req, state, Scope::User(user_id)).await
}

/// `GET /user_groups/{user_group_id}/user-group-memberships`
pub async fn list_for_user_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let group_id = params::path_id(&req, "user_group_id")?;
    list_scope(req, state, Scope::UserGroup(group_id)).await
}

/// 404 when a nested route names a user or user group that does not exist.
fn check_parent(c: &mut DbConnection, scope: Scope) -> Result<(), ApiError> {
    match scope {
        Scope::All => Ok(()),
        Scope::User(id) if !users::exists(c, id)? => Err(Refusal::UnknownUser(id).into()),
        Scope::UserGroup(id) if !user_groups::exists(c, id)? => {
            Err(Refusal::UnknownUserGroup(id).into())
        }
        _ => Ok(()),
    }
}

async fn list_scope(
    req: HttpRequest,
    state: web::Data<AppState>,
    scope: Scope,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let (include, range) = params::list(&req)?;
    let list = InScope {
        scope,
        with_relations: include.relations(),
    };
    let first = run_db(&state, move |c| {
        check_parent(c, scope)?;
        lists::first_chunk(c, list, range)
    })
    .await?;
    Ok(lists::respond(
        &req,
        state.into_inner(),
        format,
        render::MEMBERSHIPS,
        first,
        move |e, row| render::membership(e, row, include),
    ))
}

/// `POST /user-group-memberships`; from the page, a 303 back to it.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller): Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if negotiate(&req, PAGE_FORMATS)? == Format::Html {
        let fields = body::record(&req, payload, render::MEMBERSHIP).await?;
        let created = insert(&state, Scope::All, &fields, false).await;
        let outcome = created.map(|row| Done::Created(row.membership.id));
        let echo = page::membership_echo(&fields);
        return page::after_post(&req, &state, &caller, outcome, echo).await;
    }
    create_under(req, state, payload, Scope::All).await
}

/// `POST /users/{user_id}/user-group-memberships`: the body names the group.
pub async fn create_for_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let id = params::path_id(&req, "user_id")?;
    create_under(req, state, payload, Scope::User(id)).await
}

/// `POST /user_groups/{user_group_id}/user-group-memberships`: the body names
/// the user (Syncano's "add user to group", `{"user": 9}` included).
pub async fn create_for_user_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let id = params::path_id(&req, "user_group_id")?;
    create_under(req, state, payload, Scope::UserGroup(id)).await
}

/// An id taken from the path, unless the body names a different one.
fn id_from_path(field: &str, path_id: i64, body: Option<&str>) -> Result<i64, String> {
    match body.map(str::trim) {
        None | Some("") => Ok(path_id),
        Some(_) => match required_id(field, body) {
            Ok(id) if id == path_id => Ok(id),
            Ok(id) => Err(format!(
                "{field} in the body ({id}) does not match the one in the path ({path_id})."
            )),
            Err(e) => Err(e),
        },
    }
}

/// Field names a membership body may use for the user and the user group
/// (`user` is Syncano's).
const USER_FIELDS: &[&str] = &["user-id", "user"];
const USER_GROUP_FIELDS: &[&str] = &["user-group-id", "user-group"];

async fn create_under(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    parent: Scope,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let include = params::include(&req)?;
    let fields = body::record(&req, payload, render::MEMBERSHIP).await?;
    let row = insert(&state, parent, &fields, include.relations()).await?;
    let location = format!(
        "/user-group-memberships/{}.{}",
        row.membership.id,
        format.extension()
    );
    let body = render::document(format, |e| render::membership(e, &row, include));
    let response = respond::full(&req, StatusCode::CREATED, format, body);
    Ok(respond::with_header(response, header::LOCATION, &location))
}

/// Creates the membership a body describes under `parent`, loading its
/// user and group when `with_relations`.
async fn insert(
    state: &AppState,
    parent: Scope,
    fields: &Fields,
    with_relations: bool,
) -> Result<MembershipRow, ApiError> {
    let user_value = fields.get(USER_FIELDS).flatten();
    let group_value = fields.get(USER_GROUP_FIELDS).flatten();

    let user_id = match parent {
        Scope::User(id) => id_from_path("user-id", id, user_value),
        _ => required_id("user-id", user_value),
    };
    let group_id = match parent {
        Scope::UserGroup(id) => id_from_path("user-group-id", id, group_value),
        _ => required_id("user-group-id", group_value),
    };

    run_db(state, move |c| {
        // The parent in the path must exist (404) before the body is judged.
        check_parent(c, parent)?;
        let (user_id, group_id) = match (user_id, group_id) {
            (Ok(u), Ok(g)) => (u, g),
            (u, g) => {
                let problems = [u.err(), g.err()].into_iter().flatten().collect();
                return Err(ApiError::Unprocessable(problems));
            }
        };
        let created = memberships::create(c, user_id, group_id)?.map_err(ApiError::from)?;
        if with_relations {
            // Deleted in the meantime is still a created membership: answer
            // with what was created.
            if let Some(row) = memberships::find(c, created.id, true)? {
                return Ok(row);
            }
        }
        Ok(MembershipRow {
            membership: created,
            user: None,
            user_group: None,
        })
    })
    .await
}

/// `DELETE /user-group-memberships/{id}`: 200 with an empty body.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let id = params::path_id(&req, "id")?;
    remove(&state, id).await?;
    Ok(respond::empty_ok(format))
}

/// `POST /user-group-memberships/{id}` with `_method=delete` in a form: a
/// DELETE from a browser; from the page, a 303 back to it.
pub async fn post_to_one(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller): Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, PAGE_FORMATS)?;
    let id = params::path_id(&req, "id")?;
    body::overridden(&req, payload, render::MEMBERSHIP, &["delete"], ONE_ALLOWS).await?;
    let removed = remove(&state, id).await;
    if format == Format::Html {
        let outcome = removed.map(|()| Done::Changed("memberships-heading"));
        return page::after_post(&req, &state, &caller, outcome, Echo::default()).await;
    }
    removed?;
    Ok(respond::empty_ok(format))
}

/// What `/user-group-memberships/{id}` allows (POST only stands in for
/// DELETE).
pub const ONE_ALLOWS: &str = "GET, HEAD, DELETE";

async fn remove(state: &AppState, id: i64) -> Result<(), ApiError> {
    if run_db(state, move |c| Ok(memberships::delete(c, id)?)).await? {
        Ok(())
    } else {
        Err(Refusal::UnknownMembership(id).into())
    }
}
