//! `POST /membership-changes` (API.md 8.5): adds and removes in any groups,
//! all or nothing, each change answered with what became of it. Written by
//! `changes::apply_changes`, `via` `change-set`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::DbConnection;
use crate::db::queries::{changes, sets};
use crate::domain::history::{Changer, Via};
use crate::domain::sync::{Change, ChangeAction, Named, change_problem};
use crate::http::auth::Manager;
use crate::http::body::{self, Fields};
use crate::http::errors::ApiError;
use crate::http::format::ApiFormat;
use crate::http::idempotency::IdempotencyKey;
use crate::http::sync_bodies;
use crate::routes::idempotent;
use crate::routes::membership_body::{self, Side};
use crate::state::{AppState, run_db};
use crate::views::{render, respond};

/// `POST /membership-changes`
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, (format, key)): Manager<(ApiFormat, IdempotencyKey)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = sync_bodies::change_set_kind(&req)?;
    let (bytes, slot) = body::read_sync(&req, payload).await?;
    idempotent::once(&req, &state, caller.id, key, &bytes.clone(), {
        let (req, state) = (req.clone(), state.clone());
        move || async move {
            let _slot = slot;
            let read =
                web::block(move || sync_bodies::change_set(kind, &bytes).map(|f| read_changes(&f)))
                    .await
                    .map_err(|_| ApiError::Internal)??;
            let by = Changer::manager(caller.id, Via::ChangeSet);
            let done = run_db(&state, move |c| match read {
                Ok(changes) => {
                    changes::apply_changes(c, &changes, by)?.map_err(ApiError::Unprocessable)
                }
                Err(read) => Err(ApiError::Unprocessable(every_problem(c, &read)?)),
            })
            .await?;
            Ok(respond::record(&req, StatusCode::OK, format, |e| {
                render::change_results(e, &done)
            }))
        }
    })
    .await
}

/// One change as its body names it, each part read or refused.
#[derive(Debug, Clone)]
pub struct Read {
    action: Result<ChangeAction, String>,
    user: Result<Named, String>,
    user_group: Result<Named, String>,
}

/// The changes the fields name, or, when any is malformed, what each one
/// says (so that every problem can be reported together).
pub fn read_changes(fields: &[Fields]) -> Result<Vec<Change>, Vec<Read>> {
    let read: Vec<Read> = fields
        .iter()
        .map(|f| Read {
            action: match f.get(&["action"]).flatten() {
                None => Err("action is missing.".to_string()),
                Some(word) => ChangeAction::parse(word),
            },
            user: side(f, Side::User),
            user_group: side(f, Side::UserGroup),
        })
        .collect();
    if read
        .iter()
        .any(|r| r.action.is_err() || r.user.is_err() || r.user_group.is_err())
    {
        return Err(read);
    }
    Ok(read
        .into_iter()
        .filter_map(|r| {
            Some(Change {
                action: r.action.ok()?,
                user: r.user.ok()?,
                user_group: r.user_group.ok()?,
            })
        })
        .collect())
}

/// Every problem of a change set with malformed changes, `Change N: ...`,
/// in order: what could not be read, and the users and groups that the
/// rest name and that do not exist.
fn every_problem(c: &mut DbConnection, read: &[Read]) -> Result<Vec<String>, ApiError> {
    let users: Vec<&Named> = read.iter().filter_map(|r| r.user.as_ref().ok()).collect();
    let groups: Vec<&Named> = read
        .iter()
        .filter_map(|r| r.user_group.as_ref().ok())
        .collect();
    let mut users = sets::resolve(c, sets::Side::User, &users)?.into_iter();
    let mut groups = sets::resolve(c, sets::Side::UserGroup, &groups)?.into_iter();
    let mut problems = Vec::new();
    for (i, r) in read.iter().enumerate() {
        let n = i + 1;
        if let Err(p) = &r.action {
            problems.push(change_problem(n, p));
        }
        for (part, resolved) in [(&r.user, &mut users), (&r.user_group, &mut groups)] {
            match part {
                Err(p) => problems.push(change_problem(n, p)),
                Ok(_) => {
                    if let Some(Err(refusal)) = resolved.next() {
                        problems.push(change_problem(n, refusal));
                    }
                }
            }
        }
    }
    Ok(problems)
}

fn side(f: &Fields, side: Side) -> Result<Named, String> {
    membership_body::named(f, side)?.ok_or_else(|| format!("{} is missing.", side.id_label()))
}
