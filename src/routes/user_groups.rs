//! User groups: list, show, create, update, delete (its memberships go with
//! it); forms may POST with `_method=put` or `delete`. (The managers' page
//! answers on some of these paths too: its handlers are in
//! [`crate::routes::page`].)

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::models::UserGroup;
use crate::db::queries::user_groups;
use crate::domain::history::{Changer, Via};
use crate::domain::{Include, Refusal, text};
use crate::http::auth::Manager;
use crate::http::body;
use crate::http::body::Fields;
use crate::http::errors::ApiError;
use crate::http::format::ApiFormat;
use crate::http::idempotency::IdempotencyKey;
use crate::http::inputs::{BesidePage, ListQuery, NameQuery, PathId};
use crate::routes::idempotent;
use crate::state::{AppState, read_one, run_db};
use crate::views::lists;
use crate::views::{answers, render, respond};

/// `GET /user_groups/{id}`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (format, PathId(id), include)): Manager<(ApiFormat, PathId, Include)>,
) -> Result<HttpResponse, ApiError> {
    answers::kept_or(&req, async {
        let group = read_one(&state, move |c| Ok(user_groups::find(c, id)?))
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok(one(&req, StatusCode::OK, format, &group, include))
    })
    .await
}

fn not_found(id: i64) -> ApiError {
    Refusal::UnknownUserGroup(id).into()
}

/// A group as a whole response, with timestamps when `include` asks.
fn one(
    req: &HttpRequest,
    status: StatusCode,
    format: ApiFormat,
    g: &UserGroup,
    include: Include,
) -> HttpResponse {
    respond::record(req, status, format, |e| {
        render::user_group(e, g, include.timestamps)
    })
}

/// `GET /user_groups`
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (format, query, NameQuery(only))): Manager<(ApiFormat, ListQuery, NameQuery)>,
) -> Result<HttpResponse, ApiError> {
    let inputs = (format, query);
    match only {
        Some(value) => {
            let list = user_groups::Named(value);
            lists::whole_table(
                req,
                state,
                inputs,
                render::USER_GROUPS,
                list,
                render::user_group,
            )
            .await
        }
        None => {
            let list = user_groups::AllGroups;
            lists::whole_table(
                req,
                state,
                inputs,
                render::USER_GROUPS,
                list,
                render::user_group,
            )
            .await
        }
    }
}

/// The name and description of a group body. Outer `None`: not given.
pub struct GroupInput {
    name: Option<Option<String>>,
    description: Option<Option<String>>,
}

impl GroupInput {
    pub fn of(fields: &Fields) -> GroupInput {
        let owned = |v: Option<Option<&str>>| v.map(|v| v.map(str::to_string));
        GroupInput {
            name: owned(fields.get(&["name"])),
            description: owned(fields.get(&["description"])),
        }
    }
}

/// `POST /user_groups`: 201 and `Location`; safe to retry with an
/// `Idempotency-Key`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, (BesidePage(format), include, key)): Manager<(
        BesidePage,
        Include,
        IdempotencyKey,
    )>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = body::body_kind(&req)?;
    let bytes = body::read(&req, payload).await?;
    idempotent::once(&req, &state, caller.id, key, &bytes.clone(), {
        let (req, state) = (req.clone(), state.clone());
        move || async move {
            let fields = body::read_fields(kind, bytes, render::USER_GROUP).await?;
            let group = add(&state, GroupInput::of(&fields)).await?;
            let location = format!("/user_groups/{}.{}", group.id, format.extension());
            let response = one(&req, StatusCode::CREATED, format, &group, include);
            Ok(respond::with_header(response, header::LOCATION, &location))
        }
    })
    .await
}

/// Creates the group a body describes (the API and the page's form).
pub async fn add(state: &AppState, input: GroupInput) -> Result<UserGroup, ApiError> {
    let name = input.name.flatten().unwrap_or_default();
    let description = input.description.flatten();
    run_db(state, move |c| {
        user_groups::create(c, &name, description.as_deref())?.map_err(ApiError::from)
    })
    .await
}

/// `PUT /user_groups/{id}`: changes the fields given; 200 with the group.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (format, PathId(id), include)): Manager<(ApiFormat, PathId, Include)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let fields = body::record(&req, payload, render::USER_GROUP).await?;
    let group = change(&state, id, GroupInput::of(&fields)).await?;
    Ok(one(&req, StatusCode::OK, format, &group, include))
}

/// Changes what a body gives (the API and the page's form).
pub async fn change(state: &AppState, id: i64, input: GroupInput) -> Result<UserGroup, ApiError> {
    if matches!(input.name, Some(None)) {
        return Err(Refusal::Invalid(text::blank("Name")).into());
    }
    run_db(state, move |c| {
        let name = input.name.flatten();
        let description = input.description.as_ref().map(|d| d.as_deref());
        user_groups::update(c, id, name.as_deref(), description)?
            .map_err(ApiError::from)?
            .ok_or_else(|| not_found(id))
    })
    .await
}

/// What `/user_groups/{id}` allows (POST only stands in for PUT or DELETE).
pub const ONE_ALLOWS: &str = "GET, HEAD, PUT, DELETE";

/// `POST /user_groups/{id}` with `_method=put` (or `patch`) or
/// `_method=delete` in a form: the update or delete a browser cannot send.
pub async fn post_to_one(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, (BesidePage(format), PathId(id), include)): Manager<(
        BesidePage,
        PathId,
        Include,
    )>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (method, fields) =
        body::overridden(&req, payload, render::USER_GROUP, &METHODS, ONE_ALLOWS).await?;
    if method == "delete" {
        remove(&state, id, caller.id).await?;
        return Ok(respond::empty_ok(format));
    }
    let group = change(&state, id, GroupInput::of(&fields)).await?;
    Ok(one(&req, StatusCode::OK, format, &group, include))
}

/// The methods a form may stand in for on `/user_groups/{id}`.
pub const METHODS: [&str; 3] = ["put", "patch", "delete"];

/// Deletes a group (the API and the page's form), signed in as `actor`;
/// its memberships' events say `group-delete`.
pub async fn remove(state: &AppState, id: i64, actor: i64) -> Result<(), ApiError> {
    let by = Changer::manager(actor, Via::GroupDelete);
    if run_db(state, move |c| Ok(user_groups::delete(c, id, by)?)).await? {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

/// `DELETE /user_groups/{id}`: 200 with an empty body; the group's
/// memberships are deleted with it, in one transaction.
pub async fn delete(
    state: web::Data<AppState>,
    Manager(caller, (format, PathId(id))): Manager<(ApiFormat, PathId)>,
) -> Result<HttpResponse, ApiError> {
    remove(&state, id, caller.id).await?;
    Ok(respond::empty_ok(format))
}
