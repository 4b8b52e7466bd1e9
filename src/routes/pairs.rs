//! A membership addressed by its user and group (API.md 8.1):
//! `/user_groups/{user_group_id}/users/{user_id}` and the mirror
//! `/users/{user_id}/user_groups/{user_group_id}`, the same resource. PUT
//! and DELETE are safe to repeat: PUT answers 201 when it added the
//! membership and 200 when it was there, DELETE 200 either way, and only a
//! real change writes an event.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::DbConnection;
use crate::db::models::MembershipRow;
use crate::db::queries::{changes, memberships, user_groups, users};
use crate::domain::Include;
use crate::domain::Refusal;
use crate::domain::history::{Changer, Via};
use crate::http::auth::Manager;
use crate::http::body;
use crate::http::errors::ApiError;
use crate::http::format::ApiFormat;
use crate::http::inputs::PathPair;
use crate::routes::membership_body::{self, Side};
use crate::state::{AppState, run_db};
use crate::views::{render, respond};

/// What the pair's path allows (POST only stands in for PUT or DELETE).
pub const ALLOWS: &str = "GET, HEAD, PUT, DELETE";

/// What a body's root may also be, and its fields' meaning then: an
/// ActiveResource element `user` on the nested site names the user by
/// `id` (and `login`).
const USER_ELEMENT: (&str, &[(&str, &str)]) =
    ("user", &[("id", "user-id"), ("login", "user-login")]);

/// 404 when the path names a user or a group that does not exist (the
/// user first, as everywhere a membership's sides are judged).
fn check_both(c: &mut DbConnection, pair: PathPair) -> Result<(), ApiError> {
    if !users::exists(c, pair.user)? {
        return Err(Refusal::UnknownUser(pair.user).into());
    }
    if !user_groups::exists(c, pair.user_group)? {
        return Err(Refusal::UnknownUserGroup(pair.user_group).into());
    }
    Ok(())
}

fn not_a_member(pair: PathPair) -> ApiError {
    Refusal::NotAMember(pair.user, pair.user_group).into()
}

/// `GET /user_groups/{gid}/users/{uid}`: the membership, or 404.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(_, (format, pair, include)): Manager<(ApiFormat, PathPair, Include)>,
) -> Result<HttpResponse, ApiError> {
    let row = run_db(&state, move |c| {
        check_both(c, pair)?;
        let id = memberships::id_of_pair(c, pair.user, pair.user_group)?;
        let id = id.ok_or_else(|| not_a_member(pair))?;
        memberships::find(c, id, include.relations())?.ok_or_else(|| not_a_member(pair))
    })
    .await?;
    Ok(respond::record(&req, StatusCode::OK, format, |e| {
        render::membership(e, &row, include)
    }))
}

/// `PUT /user_groups/{gid}/users/{uid}`: makes the user a member.
pub async fn put(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, (format, pair, include)): Manager<(ApiFormat, PathPair, Include)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let fields = body::optional_record(&req, payload, render::MEMBERSHIP, USER_ELEMENT).await?;
    let by = Changer::manager(caller.id, body::via(&req));
    put_pair(&req, &state, (format, pair, include), &fields, by).await
}

/// `DELETE /user_groups/{gid}/users/{uid}`: 200 whether or not the user
/// was a member.
pub async fn delete(
    state: web::Data<AppState>,
    Manager(caller, (format, pair)): Manager<(ApiFormat, PathPair)>,
) -> Result<HttpResponse, ApiError> {
    remove(&state, pair, Changer::manager(caller.id, Via::Api)).await?;
    Ok(respond::empty_ok(format))
}

/// `POST /user_groups/{gid}/users/{uid}` with `_method=put` or
/// `_method=delete` in a form: what a browser cannot send.
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    Manager(caller, (format, pair, include)): Manager<(ApiFormat, PathPair, Include)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (method, fields) = body::overridden(
        &req,
        payload,
        render::MEMBERSHIP,
        &["put", "delete"],
        ALLOWS,
    )
    .await?;
    let by = Changer::manager(caller.id, Via::Form);
    if method == "delete" {
        remove(&state, pair, by).await?;
        return Ok(respond::empty_ok(format));
    }
    put_pair(&req, &state, (format, pair, include), &fields, by).await
}

async fn remove(state: &AppState, pair: PathPair, by: Changer) -> Result<(), ApiError> {
    run_db(state, move |c| {
        check_both(c, pair)?;
        changes::remove_pair(c, pair.user, pair.user_group, by)?;
        Ok(())
    })
    .await
}

/// The PUT: a body, if any, must name the path's user and group; 201 with
/// `Location` when the membership was added, 200 when it was there.
async fn put_pair(
    req: &HttpRequest,
    state: &AppState,
    (format, pair, include): (ApiFormat, PathPair, Include),
    fields: &body::Fields,
    by: Changer,
) -> Result<HttpResponse, ApiError> {
    let user = membership_body::named(fields, Side::User);
    let group = membership_body::named(fields, Side::UserGroup);
    let (row, created) = run_db(state, move |c| {
        check_both(c, pair)?;
        let u = membership_body::side_id(c, Side::User, &user, Some(pair.user))?;
        let g = membership_body::side_id(c, Side::UserGroup, &group, Some(pair.user_group))?;
        if u.is_err() || g.is_err() {
            let problems = [u.err(), g.err()].into_iter().flatten().collect();
            return Err(ApiError::Unprocessable(problems));
        }
        let (id, created) =
            changes::put(c, pair.user, pair.user_group, by)?.map_err(ApiError::from)?;
        let row = memberships::find(c, id, include.relations())?;
        Ok((row, created))
    })
    .await?;
    let Some(row): Option<MembershipRow> = row else {
        // Removed again between the change and the read.
        return Err(Refusal::DeletedMeanwhile.into());
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let response = respond::record(req, status, format, |e| {
        render::membership(e, &row, include)
    });
    if !created {
        return Ok(response);
    }
    let location = format!(
        "/user-group-memberships/{}.{}",
        row.membership.id,
        format.extension()
    );
    Ok(respond::with_header(response, header::LOCATION, &location))
}
