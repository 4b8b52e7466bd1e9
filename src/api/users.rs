//! Users: `GET /me` for anyone signed in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::auth::Caller;
use super::errors::ApiError;
use super::format::api_format;
use super::{params, render};

/// `GET /me`: the caller as a `<user>`.
pub async fn me(req: HttpRequest, Caller(user): Caller) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let include = params::include(&req)?;
    Ok(render::xml(
        StatusCode::OK,
        render::document(|w| render::user(w, &user, include.timestamps)),
    ))
}
