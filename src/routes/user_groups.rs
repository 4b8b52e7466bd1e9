//! User groups: list, show, create, update, delete (its memberships go with
//! it); forms may create, and POST with `_method=put` or `delete`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::models::UserGroup;
use crate::db::queries::user_groups;
use crate::domain::{Refusal, text};
use crate::http::auth::Manager;
use crate::http::body;
use crate::http::body::Fields;
use crate::http::errors::ApiError;
use crate::http::format::{Format, api_format, negotiate};
use crate::http::params;
use crate::routes::page;
use crate::routes::page::{Done, PAGE_FORMATS};
use crate::state::{AppState, read_one, run_db};
use crate::views::lists;
use crate::views::{render, respond};

/// `GET /user_groups/{id}`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let id = params::path_id(&req, "id")?;
    let include = params::include(&req)?;
    let group = read_one(&state, move |c| Ok(user_groups::find(c, id)?))
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(one(
        &req,
        StatusCode::OK,
        format,
        &group,
        include.timestamps,
    ))
}

fn not_found(id: i64) -> ApiError {
    Refusal::UnknownUserGroup(id).into()
}

fn one(
    req: &HttpRequest,
    status: StatusCode,
    format: Format,
    g: &UserGroup,
    ts: bool,
) -> HttpResponse {
    let body = render::document(format, |e| render::user_group(e, g, ts));
    respond::full(req, status, format, body)
}

/// `GET /user_groups`
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    lists::whole_table(
        req,
        state,
        render::USER_GROUPS,
        user_groups::AllGroups,
        render::user_group,
    )
    .await
}

/// The name and description of a group body. Outer `None`: not given.
struct GroupInput {
    name: Option<Option<String>>,
    description: Option<Option<String>>,
}

impl GroupInput {
    fn of(fields: &Fields) -> GroupInput {
        let owned = |v: Option<Option<&str>>| v.map(|v| v.map(str::to_string));
        GroupInput {
            name: owned(fields.get(&["name"])),
            description: owned(fields.get(&["description"])),
        }
    }
}

/// `POST /user_groups`: 201 and `Location`; from the page, a 303 back to it.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller): Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, PAGE_FORMATS)?;
    let include = params::include(&req)?;
    let fields = body::record(&req, payload, render::USER_GROUP).await?;
    let input = GroupInput::of(&fields);
    let name = input.name.flatten().unwrap_or_default();
    let description = input.description.flatten();
    let created = run_db(&state, move |c| {
        user_groups::create(c, &name, description.as_deref())?.map_err(ApiError::from)
    })
    .await;
    if format == Format::Html {
        let outcome = created.map(|_| Done::Changed("user-groups"));
        let echo = page::group_echo(&fields);
        return page::after_post(&req, &state, &caller, outcome, echo).await;
    }
    let group = created?;
    let location = format!("/user_groups/{}.{}", group.id, format.extension());
    let response = one(
        &req,
        StatusCode::CREATED,
        format,
        &group,
        include.timestamps,
    );
    Ok(respond::with_header(response, header::LOCATION, &location))
}

/// `PUT /user_groups/{id}`: changes the fields given; 200 with the group.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let id = params::path_id(&req, "id")?;
    let include = params::include(&req)?;
    let fields = body::record(&req, payload, render::USER_GROUP).await?;
    let group = change(&state, id, GroupInput::of(&fields)).await?;
    Ok(one(
        &req,
        StatusCode::OK,
        format,
        &group,
        include.timestamps,
    ))
}

async fn change(state: &AppState, id: i64, input: GroupInput) -> Result<UserGroup, ApiError> {
    if matches!(input.name, Some(None)) {
        return Err(Refusal::Invalid(text::blank("Name")).into());
    }
    run_db(state, move |c| {
        let name = input.name.flatten();
        let description = input.description.as_ref().map(|d| d.as_deref());
        user_groups::update(c, id, name.as_deref(), description)?
            .map_err(ApiError::from)?
            .ok_or_else(|| not_found(id))
    })
    .await
}

/// What `/user_groups/{id}` allows (POST only stands in for PUT or DELETE).
pub const ONE_ALLOWS: &str = "GET, HEAD, PUT, DELETE";

/// `POST /user_groups/{id}` with `_method=put` (or `patch`) or
/// `_method=delete` in a form: the update or delete a browser cannot send.
pub async fn post_to_one(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller): Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = negotiate(&req, PAGE_FORMATS)?;
    let id = params::path_id(&req, "id")?;
    let include = params::include(&req)?;
    let methods = ["put", "patch", "delete"];
    let (method, fields) =
        body::overridden(&req, payload, render::USER_GROUP, &methods, ONE_ALLOWS).await?;
    let changed = if method == "delete" {
        remove(&state, id).await.map(|()| None)
    } else {
        change(&state, id, GroupInput::of(&fields)).await.map(Some)
    };
    match (format, changed) {
        (Format::Html, outcome) => {
            let outcome = outcome.map(|_| Done::Changed("user-groups"));
            let echo = page::group_echo(&fields);
            page::after_post(&req, &state, &caller, outcome, echo).await
        }
        (_, Ok(Some(group))) => Ok(one(
            &req,
            StatusCode::OK,
            format,
            &group,
            include.timestamps,
        )),
        (_, Ok(None)) => Ok(respond::empty_ok(format)),
        (_, Err(e)) => Err(e),
    }
}

async fn remove(state: &AppState, id: i64) -> Result<(), ApiError> {
    if run_db(state, move |c| Ok(user_groups::delete(c, id)?)).await? {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

/// `DELETE /user_groups/{id}`: 200 with an empty body; the group's
/// memberships are deleted with it, in one transaction.
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
