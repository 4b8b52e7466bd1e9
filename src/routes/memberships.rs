//! User group memberships: show, the three lists, the three creates,
//! delete. (The managers' page answers on some of these paths too: its
//! handlers are in [`crate::routes::page`].)

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::DbConnection;
use crate::db::models::MembershipRow;
use crate::db::models::now;
use crate::db::queries::memberships::{InScope, Scope};
use crate::db::queries::{List, changes, events, memberships};
use crate::db::queries::{user_groups, users};
use crate::domain::history::{Changer, Via};
use crate::domain::{Include, Range, Refusal};
use crate::http::auth::Manager;
use crate::http::body::{self, Fields};
use crate::http::errors::ApiError;
use crate::http::format::ApiFormat;
use crate::http::idempotency::IdempotencyKey;
use crate::http::inputs::{BesidePage, MembershipsQuery, PathId};
use crate::routes::idempotent;
use crate::routes::membership_body::{self, Side};
use crate::state::{AppState, read_one, run_db};
use crate::views::{answers, lists};
use crate::views::{render, respond};

/// `GET /user-group-memberships/{id}`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (format, PathId(id), include)): Manager<(ApiFormat, PathId, Include)>,
) -> Result<HttpResponse, ApiError> {
    answers::kept_or(&req, async {
        let row = read_one(&state, move |c| {
            Ok(memberships::find(c, id, include.relations())?)
        })
        .await?
        .ok_or(Refusal::UnknownMembership(id))?;
        Ok(respond::record(&req, StatusCode::OK, format, |e| {
            render::membership(e, &row, include)
        }))
    })
    .await
}

/// `GET /user-group-memberships`
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (BesidePage(format), query)): Manager<(BesidePage, MembershipsQuery)>,
) -> Result<HttpResponse, ApiError> {
    list_scope(req, state, Scope::All, format, query).await
}

/// `GET /users/{user_id}/user-group-memberships`
pub async fn list_for_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (format, PathId(id), query)): Manager<(ApiFormat, PathId, MembershipsQuery)>,
) -> Result<HttpResponse, ApiError> {
    list_scope(req, state, Scope::User(id), format, query).await
}

/// `GET /user_groups/{user_group_id}/user-group-memberships`
pub async fn list_for_user_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (format, PathId(id), query)): Manager<(ApiFormat, PathId, MembershipsQuery)>,
) -> Result<HttpResponse, ApiError> {
    list_scope(req, state, Scope::UserGroup(id), format, query).await
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
    format: ApiFormat,
    query: MembershipsQuery,
) -> Result<HttpResponse, ApiError> {
    let MembershipsQuery {
        include,
        range,
        as_of,
        ids,
    } = query;
    let with_relations = include.relations();
    let write =
        move |e: &mut render::Encoder, row: &MembershipRow| render::membership(e, row, include);
    match as_of {
        None => {
            let list = InScope {
                scope,
                ids,
                with_relations,
            };
            answer(&req, state, scope, list, (range, format), write).await
        }
        Some(at) => {
            // A moment still to come answers as of now.
            let at = at.min(now());
            let list = events::AsOf {
                scope,
                ids,
                at,
                with_relations,
            };
            answer(&req, state, scope, list, (range, format), write).await
        }
    }
}

/// A membership list (live, or as of a moment): the nested route's parent
/// checked (404), then the list sliced and streamed.
async fn answer<L: List<Row = MembershipRow>>(
    req: &HttpRequest,
    state: web::Data<AppState>,
    scope: Scope,
    list: L,
    (range, format): (Range, ApiFormat),
    write: impl Fn(&mut render::Encoder, &MembershipRow) + 'static,
) -> Result<HttpResponse, ApiError> {
    answers::kept_or(req, async {
        let first = run_db(&state, move |c| {
            check_parent(c, scope)?;
            lists::first_chunk(c, list, range)
        })
        .await?;
        let state = state.into_inner();
        Ok(lists::respond(
            req,
            state,
            format,
            render::MEMBERSHIPS,
            first,
            write,
        ))
    })
    .await
}

/// `POST /user-group-memberships`
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, (BesidePage(format), include, key)): Manager<(
        BesidePage,
        Include,
        IdempotencyKey,
    )>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let inputs = (format, include, key);
    create_under(req, state, payload, Scope::All, inputs, caller.id).await
}

/// `POST /users/{user_id}/user-group-memberships`: the body names the group.
pub async fn create_for_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, (format, PathId(id), include, key)): Manager<(
        ApiFormat,
        PathId,
        Include,
        IdempotencyKey,
    )>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let inputs = (format, include, key);
    create_under(req, state, payload, Scope::User(id), inputs, caller.id).await
}

/// `POST /user_groups/{user_group_id}/user-group-memberships`: the body names
/// the user (Syncano's "add user to group", `{"user": 9}` included).
pub async fn create_for_user_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, (format, PathId(id), include, key)): Manager<(
        ApiFormat,
        PathId,
        Include,
        IdempotencyKey,
    )>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let inputs = (format, include, key);
    let parent = Scope::UserGroup(id);
    create_under(req, state, payload, parent, inputs, caller.id).await
}

/// A create under `parent`, signed in as `caller`; safe to retry with an
/// `Idempotency-Key`.
async fn create_under(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    parent: Scope,
    (format, include, key): (ApiFormat, Include, IdempotencyKey),
    caller: i64,
) -> Result<HttpResponse, ApiError> {
    let by = Changer::manager(caller, body::via(&req));
    let kind = body::body_kind(&req)?;
    let bytes = body::read(&req, payload).await?;
    idempotent::once(&req, &state, caller, key, &bytes.clone(), {
        let (req, state) = (req.clone(), state.clone());
        move || async move {
            let fields = body::read_fields(kind, bytes, render::MEMBERSHIP).await?;
            let row = insert(&state, parent, &fields, include.relations(), by).await?;
            let location = format!(
                "/user-group-memberships/{}.{}",
                row.membership.id,
                format.extension()
            );
            let response = respond::record(&req, StatusCode::CREATED, format, |e| {
                render::membership(e, &row, include)
            });
            Ok(respond::with_header(response, header::LOCATION, &location))
        }
    })
    .await
}

/// Creates the membership a body describes under `parent`, loading its
/// user and group when `with_relations` (the API and the page's form).
pub async fn insert(
    state: &AppState,
    parent: Scope,
    fields: &Fields,
    with_relations: bool,
    by: Changer,
) -> Result<MembershipRow, ApiError> {
    let user = membership_body::named(fields, Side::User);
    let group = membership_body::named(fields, Side::UserGroup);
    let path = move |side| match (parent, side) {
        (Scope::User(id), Side::User) | (Scope::UserGroup(id), Side::UserGroup) => Some(id),
        _ => None,
    };
    run_db(state, move |c| {
        // The parent in the path must exist (404) before the body is judged.
        check_parent(c, parent)?;
        let user_id = membership_body::side_id(c, Side::User, &user, path(Side::User))?;
        let group_id = membership_body::side_id(c, Side::UserGroup, &group, path(Side::UserGroup))?;
        let (user_id, group_id) = match (user_id, group_id) {
            (Ok(u), Ok(g)) => (u, g),
            (u, g) => {
                let problems = [u.err(), g.err()].into_iter().flatten().collect();
                return Err(ApiError::Unprocessable(problems));
            }
        };
        let created = changes::add(c, user_id, group_id, by)?.map_err(ApiError::from)?;
        if with_relations {
            // Deleted in the meantime is still a created membership: answer
            // with what was created.
            if let Some(row) = memberships::find(c, created.id, true)? {
                return Ok(row);
            }
        }
        Ok(MembershipRow::bare(created))
    })
    .await
}

/// `DELETE /user-group-memberships/{id}`: 200 with an empty body.
pub async fn delete(
    state: web::Data<AppState>,
    Manager(caller, (format, PathId(id))): Manager<(ApiFormat, PathId)>,
) -> Result<HttpResponse, ApiError> {
    remove(&state, id, Changer::manager(caller.id, Via::Api)).await?;
    Ok(respond::empty_ok(format))
}

/// `POST /user-group-memberships/{id}` with `_method=delete` in a form: a
/// DELETE from a browser.
pub async fn post_to_one(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, (BesidePage(format), PathId(id))): Manager<(BesidePage, PathId)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    body::overridden(&req, payload, render::MEMBERSHIP, &["delete"], ONE_ALLOWS).await?;
    remove(&state, id, Changer::manager(caller.id, Via::Form)).await?;
    Ok(respond::empty_ok(format))
}

/// What `/user-group-memberships/{id}` allows (POST only stands in for
/// DELETE).
pub const ONE_ALLOWS: &str = "GET, HEAD, DELETE";

/// Removes a membership (the API and the page's form); 404 when there is
/// none.
pub async fn remove(state: &AppState, id: i64, by: Changer) -> Result<(), ApiError> {
    if run_db(state, move |c| Ok(changes::remove(c, id, by)?)).await? {
        Ok(())
    } else {
        Err(Refusal::UnknownMembership(id).into())
    }
}
