//! The history feed: `GET /membership-events` (API.md 8.7). Events are
//! written with each change by `db::queries::changes`; this only reads.
//! (A browser asking for HTML on this path gets the page's history view,
//! [`crate::routes::page::history`].)

use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::models::EventRow;
use crate::db::queries::events::Feed;
use crate::http::auth::Manager;
use crate::http::errors::ApiError;
use crate::http::inputs::{BesidePage, FeedQuery};
use crate::state::{AppState, run_db};
use crate::views::{answers, lists, render};

/// `GET /membership-events`: events by id, ascending, narrowed by
/// `user_id`, `user_group_id`, `since` and `after_id`, sliced by
/// `start`/`end`, streamed like the other lists.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (BesidePage(format), query)): Manager<(BesidePage, FeedQuery)>,
) -> Result<HttpResponse, ApiError> {
    let FeedQuery {
        include,
        range,
        filter,
    } = query;
    let feed = Feed {
        filter,
        with_relations: include.relations(),
    };
    answers::kept_or(&req, async {
        let first = run_db(&state, move |c| lists::first_chunk(c, feed, range)).await?;
        Ok(lists::respond(
            &req,
            state.into_inner(),
            format,
            render::EVENTS,
            first,
            move |e, row: &EventRow| render::event(e, row, include),
        ))
    })
    .await
}
