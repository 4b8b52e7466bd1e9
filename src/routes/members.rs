//! A group's member set (API.md 8.4): `GET /user_groups/{id}/members` with
//! the set's `ETag`, `PUT` (exactly these users) and `PATCH` (add these,
//! remove those), each one transaction with a report, `?dry_run=true` and
//! `If-Match`. Every change is written by `changes::sync_members`, `via`
//! `sync`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::queries::changes::{self, SetRefused};
use crate::db::queries::{sets, user_groups};
use crate::domain::Refusal;
use crate::domain::history::{Changer, Via};
use crate::domain::sync::{SetChange, SetReport, set_etag};
use crate::http::auth::Manager;
use crate::http::body;
use crate::http::errors::ApiError;
use crate::http::format::ApiFormat;
use crate::http::idempotency::IdempotencyKey;
use crate::http::inputs::{DryRun, PathId};
use crate::http::sync_bodies;
use crate::routes::idempotent;
use crate::state::{AppState, read_one, run_db};
use crate::views::{render, respond};

/// What the members' path allows.
pub const ALLOWS: &str = "GET, HEAD, PUT, PATCH";

/// `GET /user_groups/{id}/members`: the user ids, ascending, and the set's
/// strong `ETag` (304 for a matching `If-None-Match`).
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (format, PathId(id))): Manager<(ApiFormat, PathId)>,
) -> Result<HttpResponse, ApiError> {
    let ids = read_one(&state, move |c| {
        if !user_groups::exists(c, id)? {
            return Err(Refusal::UnknownUserGroup(id).into());
        }
        Ok(sets::members_of(c, id)?
            .into_iter()
            .map(|(user, _)| user)
            .collect::<Vec<i64>>())
    })
    .await?;
    let etag = set_etag(ids.iter().copied());
    if respond::not_modified(&req, &etag) {
        return Ok(respond::not_modified_response(&etag));
    }
    let body = render::document(format, |e| render::member_set(e, id, &ids));
    Ok(respond::tagged(&req, StatusCode::OK, format, &etag, body))
}

/// What a `PUT` or `PATCH` of a member set reads from the request head.
type ChangeInputs = (ApiFormat, PathId, DryRun, IdempotencyKey);

/// `PUT /user_groups/{id}/members`: exactly the users the body names.
pub async fn put(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, inputs): Manager<ChangeInputs>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    change(req, state, caller.id, inputs, payload, false).await
}

/// `PATCH /user_groups/{id}/members`: adds and removes what the body names.
pub async fn patch(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, inputs): Manager<ChangeInputs>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    change(req, state, caller.id, inputs, payload, true).await
}

async fn change(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: i64,
    (format, PathId(id), DryRun(dry_run), key): ChangeInputs,
    payload: web::Payload,
    patch: bool,
) -> Result<HttpResponse, ApiError> {
    let kind = sync_bodies::set_kind(&req)?;
    let (bytes, slot) = body::read_sync(&req, payload).await?;
    idempotent::once(&req, &state, caller, key, &bytes.clone(), {
        let (req, state) = (req.clone(), state.clone());
        move || async move {
            let _slot = slot;
            // A large body's parse is CPU work: off the async worker.
            let set = web::block(move || sync_bodies::member_set(kind, &bytes, patch))
                .await
                .map_err(|_| ApiError::Internal)??;
            let if_match = if_match(&req);
            let by = Changer::manager(caller, Via::Sync);
            let report = apply(&state, id, set, if_match, dry_run, by).await?;
            let body = render::document(format, |e| render::set_report(e, &report));
            Ok(respond::tagged(
                &req,
                StatusCode::OK,
                format,
                &report.etag,
                body,
            ))
        }
    })
    .await
}

/// The `If-Match` header as sent; one that is not text matches nothing.
fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or("\u{0}").to_string())
}

/// Carries out a member-set change on a group: the report, or why not
/// (404, 412, 422). The managers' page and `syncd sync` go through
/// `changes::sync_members` as this does.
pub async fn apply(
    state: &AppState,
    id: i64,
    set: SetChange,
    if_match: Option<String>,
    dry_run: bool,
    by: Changer,
) -> Result<SetReport, ApiError> {
    run_db(state, move |c| {
        changes::sync_members(c, id, &set, if_match.as_deref(), dry_run, by)?
            .map_err(|refused| refused_to_error(id, refused))
    })
    .await
}

/// A refused member-set change as the API answers it.
pub fn refused_to_error(id: i64, refused: SetRefused) -> ApiError {
    match refused {
        SetRefused::NoGroup => Refusal::UnknownUserGroup(id).into(),
        SetRefused::Changed => {
            ApiError::PreconditionFailed(Refusal::MembersChanged(id).to_string())
        }
        SetRefused::Problems(problems) => ApiError::Unprocessable(problems),
    }
}
