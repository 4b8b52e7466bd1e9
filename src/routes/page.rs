//! The managers' HTML page: its own routes (the router sends a request that
//! asks for HTML on these paths here, see `routes::table`), loading what it
//! shows, and answering the forms it posts, with a 303 back to the page or
//! the page again showing what went wrong in plain words.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::db::DbConnection;
use crate::db::models::{EventRow, MembershipRow, User, UserGroup};
use crate::db::queries::memberships;
use crate::db::queries::memberships::{InScope, Scope};
use crate::db::queries::user_groups::AllGroups;
use crate::db::queries::users::AllUsers;
use crate::db::queries::{List, Position, events, user_groups, users};
use crate::domain::history::{Changer, Via};
use crate::domain::{IdFilter, Include};
use crate::http::auth::Manager;
use crate::http::body::{self, Fields};
use crate::http::errors::ApiError;
use crate::http::inputs::{Inputs, ListQuery, PathId};
use crate::http::params;
use crate::routes::user_groups::GroupInput;
use crate::routes::{memberships as membership_routes, user_groups as group_routes};
use crate::state::{AppState, run_db};
use crate::views::html;
use crate::views::html::{
    Changes, Echo, HISTORY_ROWS, HistoryOf, HistoryPage, LATEST_CHANGES, MAX_CHOICES,
    MAX_PAGE_ROWS, MembershipsPage, PAGE_SIZE, Window,
};
use crate::views::render;

/// The memberships a page request asks for: `start`/`end` as in the API,
/// [`PAGE_SIZE`] of them when `end` is left out, at most [`MAX_PAGE_ROWS`].
impl Inputs for Window {
    fn parse(req: &HttpRequest) -> Result<Window, ApiError> {
        let ListQuery { range, .. } = ListQuery::parse(req)?;
        let widest = range.start.saturating_add(MAX_PAGE_ROWS - 1);
        let end = range
            .end
            .unwrap_or(range.start.saturating_add(PAGE_SIZE - 1))
            .min(widest);
        Ok(Window {
            start: range.start,
            end,
        })
    }
}

/// `GET /user-group-memberships` from a browser: the page.
pub async fn show(
    state: web::Data<AppState>,
    Manager(caller, window): Manager<Window>,
) -> Result<HttpResponse, ApiError> {
    let ok = StatusCode::OK;
    draw(&state, &caller, window, ok, &[], &Echo::default()).await
}

/// `POST /user-group-memberships` from the page's form: adds a membership.
pub async fn add_membership(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, ()): Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let fields = body::record(&req, payload, render::MEMBERSHIP).await?;
    let by = Changer::manager(caller.id, Via::Form);
    let created = membership_routes::insert(&state, Scope::All, &fields, false, by).await;
    let outcome = created.map(|row| Done::Created(row.membership.id));
    after_post(&req, &state, &caller, outcome, membership_echo(&fields)).await
}

/// `POST /user-group-memberships/{id}` from the page's delete button.
pub async fn delete_membership(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, PathId(id)): Manager<PathId>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let allows = membership_routes::ONE_ALLOWS;
    body::overridden(&req, payload, render::MEMBERSHIP, &["delete"], allows).await?;
    let by = Changer::manager(caller.id, Via::Form);
    let removed = membership_routes::remove(&state, id, by).await;
    let outcome = removed.map(|()| Done::Changed("memberships-heading"));
    after_post(&req, &state, &caller, outcome, Echo::default()).await
}

/// `POST /user_groups` from the page's form: creates a group.
pub async fn add_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, _): Manager<Include>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let fields = body::record(&req, payload, render::USER_GROUP).await?;
    let created = group_routes::add(&state, GroupInput::of(&fields)).await;
    let outcome = created.map(|_| Done::Changed("user-groups"));
    after_post(&req, &state, &caller, outcome, group_echo(&fields)).await
}

/// `POST /user_groups/{id}` from a form with `_method=put`, `patch` or
/// `delete`.
pub async fn change_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, (PathId(id), _)): Manager<(PathId, Include)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let allows = group_routes::ONE_ALLOWS;
    let methods = group_routes::METHODS;
    let (method, fields) =
        body::overridden(&req, payload, render::USER_GROUP, &methods, allows).await?;
    let changed = if method == "delete" {
        group_routes::remove(&state, id, caller.id).await
    } else {
        let input = GroupInput::of(&fields);
        group_routes::change(&state, id, input).await.map(|_| ())
    };
    let outcome = changed.map(|()| Done::Changed("user-groups"));
    after_post(&req, &state, &caller, outcome, group_echo(&fields)).await
}

struct PageData {
    total: i64,
    rows: Vec<MembershipRow>,
    users: Vec<User>,
    users_total: i64,
    groups: Vec<UserGroup>,
    groups_total: i64,
    changes: Recent,
}

/// The newest changes, with the users who made them (those that still
/// exist).
pub(crate) struct Recent {
    rows: Vec<EventRow>,
    actors: Vec<User>,
}

impl Recent {
    /// The newest `limit` events (of one group, if given), and their actors
    /// in one more query.
    pub(crate) fn load(
        c: &mut DbConnection,
        user_group: Option<i64>,
        limit: i64,
    ) -> Result<Recent, ApiError> {
        let rows = events::latest(c, user_group, limit)?;
        let mut ids: Vec<i64> = rows.iter().filter_map(|r| r.event.actor_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let actors = users::find_many(c, &ids)?;
        Ok(Recent { rows, actors })
    }

    pub(crate) fn view(&self) -> Changes<'_> {
        Changes {
            rows: &self.rows,
            actors: &self.actors,
        }
    }
}

fn load(c: &mut DbConnection, window: Window) -> Result<PageData, ApiError> {
    let all = InScope {
        scope: Scope::All,
        ids: IdFilter::default(),
        with_relations: true,
    };
    let from = Position::Offset(window.start - 1);
    let first = Position::Offset(0);
    Ok(PageData {
        total: memberships::count(c, Scope::All)?,
        rows: all.chunk(c, from, window.end - window.start + 1)?,
        users_total: users::count(c)?,
        users: AllUsers.chunk(c, first, MAX_CHOICES)?,
        groups_total: user_groups::count(c)?,
        groups: AllGroups.chunk(c, first, MAX_CHOICES)?,
        changes: Recent::load(c, None, LATEST_CHANGES)?,
    })
}

/// The page, with `errors` (if any) shown above the forms and the form's
/// values kept.
async fn draw(
    state: &AppState,
    caller: &User,
    window: Window,
    status: StatusCode,
    errors: &[String],
    echo: &Echo,
) -> Result<HttpResponse, ApiError> {
    let data = run_db(state, move |c| load(c, window)).await?;
    let markup = html::memberships_page(&MembershipsPage {
        caller,
        window,
        total: data.total,
        rows: &data.rows,
        users: &data.users,
        users_total: data.users_total,
        groups: &data.groups,
        groups_total: data.groups_total,
        errors,
        echo,
        changes: data.changes.view(),
    });
    Ok(html::response(status, markup))
}

/// What a form posted from the page did.
enum Done {
    /// A membership was added: go to the page that holds it.
    Created(i64),
    /// Something else changed: back to the same page, at this anchor.
    Changed(&'static str),
}

/// The answer to a form posted from the page: 303 to the page on success;
/// the page again with the problem when the form was at fault (the problems
/// a person can fix there); any other error as an error page.
async fn after_post(
    req: &HttpRequest,
    state: &AppState,
    caller: &User,
    outcome: Result<Done, ApiError>,
    echo: Echo,
) -> Result<HttpResponse, ApiError> {
    match outcome {
        Ok(Done::Created(id)) => {
            let position = run_db(state, move |c| Ok(memberships::position(c, id)?)).await?;
            let window = Window::around(position);
            Ok(html::see_other(&format!(
                "{}#membership-{id}",
                window.url()
            )))
        }
        Ok(Done::Changed(anchor)) => {
            let window = Window::parse(req).unwrap_or(Window::around(1));
            Ok(html::see_other(&format!("{}#{anchor}", window.url())))
        }
        Err(e @ (ApiError::Unprocessable(_) | ApiError::NotFound(_))) => {
            let window = Window::parse(req)?;
            draw(state, caller, window, e.status_code(), &e.messages(), &echo).await
        }
        Err(e) => Err(e),
    }
}

/// The values of a membership form, to show again.
fn membership_echo(fields: &Fields) -> Echo {
    let value = |names: &[&str]| fields.get(names).flatten().unwrap_or("").to_string();
    Echo {
        user_id: value(&["user-id", "user"]),
        user_group_id: value(&["user-group-id", "user-group"]),
        ..Echo::default()
    }
}

/// The values of a user group form, to show again.
fn group_echo(fields: &Fields) -> Echo {
    let value = |name: &str| fields.get(&[name]).flatten().unwrap_or("").to_string();
    Echo {
        name: value("name"),
        description: value("description"),
        ..Echo::default()
    }
}

/// `user_group_id` of the history page: the one group whose changes it
/// shows, if given (400 unless a single positive integer).
#[derive(Debug, Clone, Copy)]
pub struct HistoryGroup(pub Option<i64>);

impl Inputs for HistoryGroup {
    fn parse(req: &HttpRequest) -> Result<HistoryGroup, ApiError> {
        params::history_query(req.query_string()).map(HistoryGroup)
    }
}

/// `GET /membership-events` from a browser: the newest [`HISTORY_ROWS`]
/// changes, newest first, of one group with `user_group_id` (a deleted
/// group's history stays, shown by its id).
pub async fn history(
    state: web::Data<AppState>,
    Manager(caller, HistoryGroup(of)): Manager<HistoryGroup>,
) -> Result<HttpResponse, ApiError> {
    let (group, changes) = run_db(&state, move |c| {
        let group = match of {
            Some(id) => user_groups::find(c, id)?,
            None => None,
        };
        Ok((group, Recent::load(c, of, HISTORY_ROWS)?))
    })
    .await?;
    let markup = html::history_page(&HistoryPage {
        caller: &caller,
        of: match of {
            Some(id) => HistoryOf::UserGroup(id, group.as_ref()),
            None => HistoryOf::All,
        },
        changes: changes.view(),
    });
    Ok(html::response(StatusCode::OK, markup))
}
