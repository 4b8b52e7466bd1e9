//! The managers' HTML page: loading what it shows, and answering the forms
//! it posts, with a 303 back to the page or the page again showing what went
//! wrong in plain words.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::db::DbConnection;
use crate::db::models::{MembershipRow, User, UserGroup};
use crate::db::queries::memberships;
use crate::db::queries::memberships::{InScope, Scope};
use crate::db::queries::user_groups::AllGroups;
use crate::db::queries::users::AllUsers;
use crate::db::queries::{List, Position, user_groups, users};
use crate::http::body::Fields;
use crate::http::errors::ApiError;
use crate::http::format::Format;
use crate::http::params;
use crate::state::{AppState, run_db};
use crate::views::html;
use crate::views::html::{Echo, MAX_CHOICES, MAX_PAGE_ROWS, MembershipsPage, PAGE_SIZE, Window};

/// The formats of a route that also serves the page (XML stays the default).
pub const PAGE_FORMATS: &[Format] = crate::http::format::ALL_FORMATS;

/// The memberships a page request asks for: `start`/`end` as in the API,
/// [`PAGE_SIZE`] of them when `end` is left out, at most [`MAX_PAGE_ROWS`].
pub fn window(req: &HttpRequest) -> Result<Window, ApiError> {
    let (_, range) = params::list(req)?;
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

struct PageData {
    total: i64,
    rows: Vec<MembershipRow>,
    users: Vec<User>,
    users_total: i64,
    groups: Vec<UserGroup>,
    groups_total: i64,
}

fn load(c: &mut DbConnection, window: Window) -> Result<PageData, ApiError> {
    let all = InScope {
        scope: Scope::All,
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
    })
}

/// The page, with `errors` (if any) shown above the forms and the form's
/// values kept.
pub async fn show(
    req: &HttpRequest,
    state: &AppState,
    caller: &User,
    status: StatusCode,
    errors: &[String],
    echo: &Echo,
) -> Result<HttpResponse, ApiError> {
    let window = window(req)?;
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
    });
    Ok(html::response(status, markup))
}

/// What a form posted from the page did.
pub enum Done {
    /// A membership was added: go to the page that holds it.
    Created(i64),
    /// Something else changed: back to the same page, at this anchor.
    Changed(&'static str),
}

/// The answer to a form posted from the page: 303 to the page on success;
/// the page again with the problem when the form was at fault (the problems
/// a person can fix there); any other error as an error page.
pub async fn after_post(
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
            let window = window(req).unwrap_or(Window::around(1));
            Ok(html::see_other(&format!("{}#{anchor}", window.url())))
        }
        Err(e @ (ApiError::Unprocessable(_) | ApiError::NotFound(_))) => {
            show(req, state, caller, e.status_code(), &e.messages(), &echo).await
        }
        Err(e) => Err(e),
    }
}

/// The values of a membership form, to show again.
pub fn membership_echo(fields: &Fields) -> Echo {
    let value = |names: &[&str]| fields.get(names).flatten().unwrap_or("").to_string();
    Echo {
        user_id: value(&["user-id", "user"]),
        user_group_id: value(&["user-group-id", "user-group"]),
        ..Echo::default()
    }
}

/// The values of a user group form, to show again.
pub fn group_echo(fields: &Fields) -> Echo {
    let value = |name: &str| fields.get(&[name]).flatten().unwrap_or("").to_string();
    Echo {
        name: value("name"),
        description: value("description"),
        ..Echo::default()
    }
}
