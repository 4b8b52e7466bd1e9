//! Users: `GET /me` for anyone signed in; the list and one user for managers.
//! Users are created and given tokens with the CLI, not over HTTP.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::queries::users;
use crate::domain::Refusal;
use crate::http::auth::{Caller, Manager};
use crate::http::errors::ApiError;
use crate::http::format::api_format;
use crate::http::params;
use crate::state::{AppState, read_one};
use crate::views::lists;
use crate::views::{render, respond};

/// `GET /me`: the caller as a user.
pub async fn me(req: HttpRequest, Caller(user): Caller) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let include = params::include(&req)?;
    let body = render::document(format, |e| render::user(e, &user, include.timestamps));
    Ok(respond::full(&req, StatusCode::OK, format, body))
}

/// `GET /users/{id}`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let id = params::path_id(&req, "id")?;
    let include = params::include(&req)?;
    let user = read_one(&state, move |c| Ok(users::find(c, id)?))
        .await?
        .ok_or(Refusal::UnknownUser(id))?;
    let body = render::document(format, |e| render::user(e, &user, include.timestamps));
    Ok(respond::full(&req, StatusCode::OK, format, body))
}

/// `GET /users`
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    lists::whole_table(req, state, render::USERS, users::AllUsers, render::user).await
}
