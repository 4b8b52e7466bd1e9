//! User groups: list, show, create, update, delete (its memberships go with
//! it).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::Manager;
use super::body::{self, Fields};
use super::errors::ApiError;
use super::format::{Format, api_format};
use super::lists::{self, Row};
use super::{AppState, params, render, respond, run_db};
use crate::db::models::UserGroup;
use crate::db::queries::user_groups;

impl Row for UserGroup {
    fn id(&self) -> i64 {
        self.id
    }
}

/// `GET /user_groups/{id}`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let id = params::path_id(&req, "id")?;
    let include = params::include(&req)?;
    let group = run_db(&state, move |c| Ok(user_groups::find(c, id)?))
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(one(
        &req,
        StatusCode::OK,
        format,
        &group,
        include.timestamps,
    ))
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("User group {id} does not exist."))
}

fn one(
    req: &HttpRequest,
    status: StatusCode,
    format: Format,
    g: &UserGroup,
    ts: bool,
) -> HttpResponse {
    let body = render::document(format, |e| render::user_group(e, g, ts));
    respond::full(req, status, format, body)
}

/// `GET /user_groups`
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    lists::whole_table(
        req,
        state,
        render::USER_GROUPS,
        user_groups::count,
        user_groups::page,
        user_groups::version,
        render::user_group,
    )
    .await
}

/// The name and description of a group body. Outer `None`: not given.
struct GroupInput {
    name: Option<Option<String>>,
    description: Option<Option<String>>,
}

async fn read_group(req: &HttpRequest, payload: web::Payload) -> Result<GroupInput, ApiError> {
    let kind = body::body_kind(req)?;
    let bytes = body::read(req, payload).await?;
    let fields: Fields = body::read_fields(kind, &bytes, render::USER_GROUP)?;
    let owned = |v: Option<Option<&str>>| v.map(|v| v.map(str::to_string));
    Ok(GroupInput {
        name: owned(fields.get(&["name"])),
        description: owned(fields.get(&["description"])),
    })
}

/// `POST /user_groups`: 201 and `Location`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let include = params::include(&req)?;
    let input = read_group(&req, payload).await?;
    let name = input.name.flatten().unwrap_or_default();
    let description = input.description.flatten();
    let group = run_db(&state, move |c| {
        user_groups::create(c, &name, description.as_deref())?.map_err(ApiError::Unprocessable)
    })
    .await?;
    let location = format!("/user_groups/{}.{}", group.id, format.extension());
    let response = one(
        &req,
        StatusCode::CREATED,
        format,
        &group,
        include.timestamps,
    );
    Ok(respond::with_header(response, header::LOCATION, &location))
}

/// `PUT /user_groups/{id}`: changes the fields given; 200 with the group.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let id = params::path_id(&req, "id")?;
    let include = params::include(&req)?;
    let input = read_group(&req, payload).await?;
    if matches!(input.name, Some(None)) {
        return Err(ApiError::unprocessable("Name can't be blank."));
    }
    let group = run_db(&state, move |c| {
        let name = input.name.flatten();
        let description = input.description.as_ref().map(|d| d.as_deref());
        user_groups::update(c, id, name.as_deref(), description)?
            .map_err(ApiError::Unprocessable)?
            .ok_or_else(|| not_found(id))
    })
    .await?;
    Ok(one(
        &req,
        StatusCode::OK,
        format,
        &group,
        include.timestamps,
    ))
}

/// `DELETE /user_groups/{id}`: 200 with an empty body; the group's
/// memberships are deleted with it, in one transaction.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    let format = api_format(&req)?;
    let id = params::path_id(&req, "id")?;
    if !run_db(&state, move |c| Ok(user_groups::delete(c, id)?)).await? {
        return Err(not_found(id));
    }
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .finish())
}
