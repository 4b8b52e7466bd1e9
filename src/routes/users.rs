//! Users: `GET /me` for anyone signed in; the list and one user for managers.
//! Users are created and given tokens with the CLI, not over HTTP.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::queries::users;
use crate::domain::{Include, Refusal};
use crate::http::auth::{Caller, Manager};
use crate::http::errors::ApiError;
use crate::http::format::ApiFormat;
use crate::http::inputs::{ListQuery, LoginQuery, PathId};
use crate::state::{AppState, read_one};
use crate::views::lists;
use crate::views::{answers, render, respond};

/// `GET /me`: the caller as a user.
pub async fn me(
    req: HttpRequest,
    Caller(user, (format, include)): Caller<(ApiFormat, Include)>,
) -> Result<HttpResponse, ApiError> {
    Ok(respond::record(&req, StatusCode::OK, format, |e| {
        render::user(e, &user, include.timestamps)
    }))
}

/// `GET /users/{id}`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (format, PathId(id), include)): Manager<(ApiFormat, PathId, Include)>,
) -> Result<HttpResponse, ApiError> {
    answers::kept_or(&req, async {
        let user = read_one(&state, move |c| Ok(users::find(c, id)?))
            .await?
            .ok_or(Refusal::UnknownUser(id))?;
        Ok(respond::record(&req, StatusCode::OK, format, |e| {
            render::user(e, &user, include.timestamps)
        }))
    })
    .await
}

/// `GET /users`
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (format, query, LoginQuery(only))): Manager<(ApiFormat, ListQuery, LoginQuery)>,
) -> Result<HttpResponse, ApiError> {
    let inputs = (format, query);
    match only {
        Some(value) => {
            let list = users::WithLogin(value);
            lists::whole_table(req, state, inputs, render::USERS, list, render::user).await
        }
        None => {
            let list = users::AllUsers;
            lists::whole_table(req, state, inputs, render::USERS, list, render::user).await
        }
    }
}
