//! A group's members on the managers' page: `GET
//! /user_groups/{id}/members.html` shows them with a form that takes a new
//! set (logins pasted one a line, or a CSV file); `POST` of that form
//! (`step=preview`) answers the diff as a dry run of the member-set API
//! (API.md 8.4) with an apply form that carries exactly the set previewed,
//! its user ids, and the `ETag` it was planned against; `POST` of that one
//! (`step=apply`) applies it with `If-Match`, `via` `sync`. When the group
//! changed in between, nothing changes and the page previews the same set
//! again against the new members.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::db::DbConnection;
use crate::db::models::{User, UserGroup};
use crate::db::queries::{sets, user_groups, users};
use crate::domain::Refusal;
use crate::domain::history::{Changer, Via};
use crate::domain::sync::{SetChange, SetReport, Users, ascending};
use crate::http::auth::Manager;
use crate::http::body::{self, Fields};
use crate::http::errors::ApiError;
use crate::http::inputs::{Inputs, PathId};
use crate::http::params;
use crate::http::sync_bodies::{self, SetKind};
use crate::routes::members;
use crate::routes::page::Recent;
use crate::state::{AppState, run_db};
use crate::views::html::{
    self, LATEST_CHANGES, Listed, MAX_LISTED, MembersPage, Notice, Preview, members_path,
};
use crate::views::render;

/// What the apply form redirected with: the counts of what it did.
#[derive(Debug, Clone, Copy)]
pub struct Applied(Option<Notice>);

impl Inputs for Applied {
    fn parse(req: &HttpRequest) -> Result<Applied, ApiError> {
        let counts = params::applied_query(req.query_string())?;
        Ok(Applied(counts.map(|[added, removed, unchanged]| {
            Notice::Applied {
                added,
                removed,
                unchanged,
            }
        })))
    }
}

/// `GET /user_groups/{id}/members` from a browser: the group's members and
/// the form that previews a new set.
pub async fn show(
    state: web::Data<AppState>,
    Manager(caller, (PathId(id), Applied(notice))): Manager<(PathId, Applied)>,
) -> Result<HttpResponse, ApiError> {
    let shown = Shown {
        notice,
        ..Shown::default()
    };
    draw(&state, &caller, id, StatusCode::OK, shown).await
}

/// `POST /user_groups/{id}/members` from a browser: the preview form
/// (`step=preview`, multipart with `logins` and a `csv` file) or the apply
/// form (`step=apply`, `user_ids` and `if_match`). Either body may be as
/// large as a member set's (`SYNCD_MAX_SYNC_BODY`).
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, PathId(id)): Manager<PathId>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = body::body_kind(&req)?;
    if !body::is_form(&req) {
        return Err(ApiError::UnsupportedMediaType(
            "The members page posts forms: send multipart/form-data or \
             application/x-www-form-urlencoded."
                .into(),
        ));
    }
    // The slot is held until the answer is made, as on the API's routes.
    let (bytes, _slot) = body::read_sync(&req, payload).await?;
    let fields = body::read_fields(kind, bytes, render::MEMBERS).await?;
    let by = Changer::manager(caller.id, Via::Sync);
    match fields.get(&["step"]).flatten() {
        Some("preview") => preview(&state, &caller, id, &fields, by).await,
        Some("apply") => apply(&state, &caller, id, &fields, by).await,
        _ => Err(ApiError::bad_request(
            "The form must say step=preview or step=apply.",
        )),
    }
}

/// The preview: the set the form names, planned as a dry run.
async fn preview(
    state: &AppState,
    caller: &User,
    id: i64,
    fields: &Fields,
    by: Changer,
) -> Result<HttpResponse, ApiError> {
    let pasted = fields.get(&["logins"]).flatten().unwrap_or("").to_string();
    let file = fields.get(&["csv"]).flatten().unwrap_or("").to_string();
    let planned = match wanted(&pasted, file).await {
        Ok(users) => plan(state, id, users, by).await,
        Err(e) => Err(e),
    };
    let shown = |planned| Shown {
        planned,
        pasted: pasted.clone(),
        ..Shown::default()
    };
    match planned {
        Ok(planned) => draw(state, caller, id, StatusCode::OK, shown(Some(planned))).await,
        Err(e @ (ApiError::Unprocessable(_) | ApiError::BadRequest(_))) => {
            let errors = e.messages();
            let status = e.status_code();
            draw(
                state,
                caller,
                id,
                status,
                Shown {
                    errors,
                    ..shown(None)
                },
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// The users a preview form names: the pasted logins, or the CSV file
/// (as `PUT` takes it: a `login` or `user_id` column), not both. Neither
/// is the empty set: its preview removes everyone.
async fn wanted(pasted: &str, file: String) -> Result<Users, ApiError> {
    match (pasted.trim().is_empty(), file.is_empty()) {
        (false, false) => Err(ApiError::unprocessable(
            "Paste logins or choose a CSV file, not both.",
        )),
        (true, false) => {
            // A large file's parse is CPU work: off the async worker.
            let set =
                web::block(move || sync_bodies::member_set(SetKind::Csv, file.as_bytes(), false))
                    .await
                    .map_err(|_| ApiError::Internal)??;
            match set {
                SetChange::Exactly(users) => Ok(users),
                SetChange::Patch { .. } => Err(ApiError::Internal),
            }
        }
        _ => sync_bodies::pasted_logins(pasted),
    }
}

/// A set planned: the user ids it is (ascending), and the dry run's report
/// against the group's members as they are.
struct Planned {
    wanted: Vec<i64>,
    report: SetReport,
}

/// Plans `users` as the group's members: the logins become ids first, so
/// that the apply form can carry the very set the preview planned, then
/// `members::apply` plans it as a dry run (404, or 422 naming every
/// unknown login and id).
async fn plan(state: &AppState, id: i64, users: Users, by: Changer) -> Result<Planned, ApiError> {
    let users = run_db(state, move |c| Ok(logins_to_ids(c, users)?)).await?;
    let wanted = ascending(users.ids.clone());
    let set = SetChange::Exactly(users);
    let report = members::apply(state, id, set, None, true, by).await?;
    Ok(Planned { wanted, report })
}

/// `users` with every login that names a user replaced by that user's id;
/// the logins that name no one stay, for the plan to refuse by name.
fn logins_to_ids(c: &mut DbConnection, users: Users) -> diesel::QueryResult<Users> {
    let Users { mut ids, logins } = users;
    let mut distinct: Vec<&str> = logins.iter().map(String::as_str).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let found = sets::users_by_login(c, &distinct)?;
    let mut unknown = Vec::new();
    for login in &logins {
        match found.get(login) {
            Some(&user) => ids.push(user),
            None => unknown.push(login.clone()),
        }
    }
    Ok(Users {
        ids,
        logins: unknown,
    })
}

/// The apply: the previewed set, if the group's members are still those
/// it was planned against; else nothing changes and the same set is
/// previewed again (412).
async fn apply(
    state: &AppState,
    caller: &User,
    id: i64,
    fields: &Fields,
    by: Changer,
) -> Result<HttpResponse, ApiError> {
    let Some(text) = fields.get(&["user-ids"]).flatten() else {
        return Err(ApiError::bad_request("The form names no user_ids."));
    };
    let wanted = sync_bodies::id_list(text)?;
    let Some(etag) = fields
        .get(&["if-match"])
        .flatten()
        .filter(|t| !t.is_empty())
    else {
        return Err(ApiError::bad_request(
            "The form has no if_match: preview the change first.",
        ));
    };
    let set = SetChange::Exactly(Users {
        ids: wanted.clone(),
        logins: Vec::new(),
    });
    match members::apply(state, id, set, Some(etag.to_string()), false, by).await {
        Ok(report) => Ok(html::see_other(&format!(
            "{}?added={}&removed={}&unchanged={}",
            members_path(id),
            report.added.len(),
            report.removed.len(),
            report.unchanged
        ))),
        Err(ApiError::PreconditionFailed(_)) => {
            let users = Users {
                ids: wanted,
                logins: Vec::new(),
            };
            let (status, shown) = match plan(state, id, users, by).await {
                Ok(planned) => (
                    StatusCode::PRECONDITION_FAILED,
                    Shown {
                        notice: Some(Notice::Changed),
                        planned: Some(planned),
                        ..Shown::default()
                    },
                ),
                Err(e @ ApiError::Unprocessable(_)) => (
                    e.status_code(),
                    Shown {
                        notice: Some(Notice::Changed),
                        errors: e.messages(),
                        ..Shown::default()
                    },
                ),
                Err(e) => return Err(e),
            };
            draw(state, caller, id, status, shown).await
        }
        Err(e @ ApiError::Unprocessable(_)) => {
            let shown = Shown {
                errors: e.messages(),
                ..Shown::default()
            };
            draw(state, caller, id, e.status_code(), shown).await
        }
        Err(e) => Err(e),
    }
}

/// What the page shows besides the group: a notice, a preview, problems,
/// the pasted logins.
#[derive(Default)]
struct Shown {
    notice: Option<Notice>,
    planned: Option<Planned>,
    errors: Vec<String>,
    pasted: String,
}

/// The users of a page, read in one go: the group, its members (the
/// first [`MAX_LISTED`] as users), those a preview adds and removes (as
/// many), and the group's latest changes.
struct Loaded {
    group: UserGroup,
    members_total: usize,
    members: Vec<User>,
    added: Vec<User>,
    removed: Vec<User>,
    changes: Recent,
}

async fn draw(
    state: &AppState,
    caller: &User,
    id: i64,
    status: StatusCode,
    shown: Shown,
) -> Result<HttpResponse, ApiError> {
    let listed = |ids: &[i64]| ids[..ids.len().min(MAX_LISTED)].to_vec();
    let (added, removed) = match &shown.planned {
        Some(p) => (listed(&p.report.added), listed(&p.report.removed)),
        None => (Vec::new(), Vec::new()),
    };
    let loaded = run_db(state, move |c| {
        let Some(group) = user_groups::find(c, id)? else {
            return Err(Refusal::UnknownUserGroup(id).into());
        };
        let members: Vec<i64> = sets::members_of(c, id)?
            .into_iter()
            .map(|(user, _)| user)
            .collect();
        Ok(Loaded {
            group,
            members_total: members.len(),
            members: users::find_many(c, &listed(&members))?,
            added: users::find_many(c, &added)?,
            removed: users::find_many(c, &removed)?,
            changes: Recent::load(c, Some(id), LATEST_CHANGES)?,
        })
    })
    .await?;
    let user_ids = shown.planned.as_ref().map(|p| {
        p.wanted
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    });
    let preview = shown.planned.as_ref().map(|p| Preview {
        added: Listed {
            total: p.report.added.len(),
            users: &loaded.added,
        },
        removed: Listed {
            total: p.report.removed.len(),
            users: &loaded.removed,
        },
        unchanged: p.report.unchanged,
        user_ids: user_ids.as_deref().unwrap_or(""),
        etag: &p.report.etag,
    });
    let markup = html::members_page(&MembersPage {
        caller,
        group: &loaded.group,
        members: Listed {
            total: loaded.members_total,
            users: &loaded.members,
        },
        notice: shown.notice,
        preview,
        errors: &shown.errors,
        pasted: &shown.pasted,
        changes: loaded.changes.view(),
    });
    Ok(html::response(status, markup))
}
