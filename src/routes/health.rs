//! What a load balancer and a supervisor ask, without credentials and
//! without data: `GET /healthz` (the process is up and answering) and `GET
//! /readyz` (it is not stopping, and its database answers and has every
//! migration this binary knows, so the balancer may send it requests).
//! Plain text, never cached.

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web;

use crate::db;
use crate::state::{AppState, run_db};

fn plain(status: actix_web::http::StatusCode, text: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text)
}

/// `GET /healthz`: 200 while the process answers at all.
pub async fn healthz() -> HttpResponse {
    plain(actix_web::http::StatusCode::OK, "ok\n")
}

/// `GET /readyz`: 200 when a pooled connection answers and the migrations
/// are current; 503 (with `Retry-After`) otherwise, saying which, and
/// nothing of the database's own words (they go to the log). 503 at once
/// from the moment the process begins to stop (SIGTERM): during the drain
/// it still serves, but a balancer should send it nothing new.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let checked = if state.stopping.is_set() {
        Err(None)
    } else {
        run_db(&state, |c| Ok(db::migrations_current(c)?))
            .await
            .map_err(Some)
    };
    let (status, text) = match checked {
        Ok(true) => (actix_web::http::StatusCode::OK, "ready\n"),
        Ok(false) => (
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database lacks migrations this syncd needs\n",
        ),
        Err(None) => (
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "not ready: stopping\n",
        ),
        Err(Some(_)) => (
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the database does not answer\n",
        ),
    };
    let mut response = plain(status, text);
    if status != actix_web::http::StatusCode::OK {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
    }
    response
}
