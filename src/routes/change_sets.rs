//! `POST /membership-changes` (API.md 8.5): adds and removes in any groups,
//! all or nothing, each change answered with what became of it. Written by
//! `changes::apply_changes`, `via` `change-set`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::queries::changes;
use crate::domain::history::{Changer, Via};
use crate::domain::sync::{Change, ChangeAction, change_problem};
use crate::http::auth::Manager;
use crate::http::body::{self, Fields};
use crate::http::errors::ApiError;
use crate::http::format::ApiFormat;
use crate::http::sync_bodies;
use crate::routes::membership_body::{self, Side};
use crate::state::{AppState, run_db};
use crate::views::{render, respond};

/// `POST /membership-changes`
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, format): Manager<ApiFormat>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = sync_bodies::change_set_kind(&req)?;
    let bytes = body::read_sync(&req, payload).await?;
    let changes =
        web::block(move || sync_bodies::change_set(kind, &bytes).and_then(|f| read_changes(&f)))
            .await
            .map_err(|_| ApiError::Internal)??;
    let by = Changer::manager(caller.id, Via::ChangeSet);
    let done = run_db(&state, move |c| {
        changes::apply_changes(c, &changes, by)?.map_err(ApiError::Unprocessable)
    })
    .await?;
    Ok(respond::record(&req, StatusCode::OK, format, |e| {
        render::change_results(e, &done)
    }))
}

/// The changes the fields name; every problem of every change, `Change N:
/// ...`, in one 422.
pub fn read_changes(fields: &[Fields]) -> Result<Vec<Change>, ApiError> {
    let mut changes = Vec::with_capacity(fields.len());
    let mut problems = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let n = i + 1;
        let action = match f.get(&["action"]).flatten() {
            None => Err("action is missing.".to_string()),
            Some(word) => ChangeAction::parse(word),
        };
        let user = side(f, Side::User);
        let group = side(f, Side::UserGroup);
        match (action, user, group) {
            (Ok(action), Ok(user), Ok(user_group)) => changes.push(Change {
                action,
                user,
                user_group,
            }),
            (action, user, group) => {
                for problem in [action.err(), user.err(), group.err()]
                    .into_iter()
                    .flatten()
                {
                    problems.push(change_problem(n, problem));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(changes)
    } else {
        Err(ApiError::Unprocessable(problems))
    }
}

fn side(f: &Fields, side: Side) -> Result<membership_body::Named, String> {
    membership_body::named(f, side)?.ok_or_else(|| format!("{} is missing.", side.id_label()))
}
