//! SCIM 2.0 at `/scim/v2/` (API.md 9): identity providers provision users
//! and groups over the same data as the XML API. Every handler signs in a
//! manager by bearer token only (`ScimManager`); errors are SCIM's error
//! documents (`ApiError::Scim`, rendered by the format middleware, which
//! knows every path under `/scim/` as SCIM).
//!
//! First steps of issue 18: discovery (`ServiceProviderConfig`), users and
//! groups read (one, or a page with `startIndex`/`count`;
//! `excludedAttributes=members` reads no members), created and deleted.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::db::queries::changes::{self, Deleting};
use crate::db::queries::scim::{self, NewScimUser, Only};
use crate::db::queries::sets;
use crate::domain::Refusal;
use crate::domain::history::{Changer, Via};
use crate::domain::scim_filter::{self, Filter};
use crate::domain::text;
use crate::http::auth::ScimManager;
use crate::http::body;
use crate::http::errors::ApiError;
use crate::state::{AppState, run_db};
use crate::views::scim as doc;

/// 400 with a SCIM error type.
fn invalid(scim_type: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::scim(StatusCode::BAD_REQUEST, scim_type, detail)
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "There is no {what} {}.",
        text::printable(&id.chars().take(40).collect::<String>())
    ))
}

/// A resource id from the path: syncd's id as a decimal string.
fn id_of(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| not_found(what, raw))
}

/// `startIndex`, `count`, `excludedAttributes` and `filter` of a list.
#[derive(serde::Deserialize, Default)]
struct ListParams {
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    filter: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

impl ListParams {
    fn of(req: &HttpRequest) -> Result<ListParams, ApiError> {
        web::Query::<ListParams>::from_query(req.query_string())
            .map(web::Query::into_inner)
            .map_err(|_| invalid("invalidValue", "The query string cannot be read."))
    }

    /// RFC 7644 3.4.2.4: `startIndex` below 1 is 1; `count` below 0 is 0;
    /// above the page size it is lowered to it.
    fn page(&self) -> Result<(i64, i64), ApiError> {
        let number = |name: &str, v: &Option<String>, default: i64| match v {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map_err(|_| invalid("invalidValue", format!("{name} must be an integer."))),
        };
        let start = number("startIndex", &self.start_index, 1)?.max(1);
        let count = number("count", &self.count, doc::MAX_PAGE)?.clamp(0, doc::MAX_PAGE);
        Ok((start, count))
    }

    /// Whether `members` is left out (`excludedAttributes=members`).
    fn without_members(&self) -> bool {
        self.excluded_attributes.as_deref().is_some_and(|list| {
            list.split(',')
                .any(|a| a.trim().eq_ignore_ascii_case("members"))
        })
    }

    /// The filter, parsed and checked against what `check` can run
    /// (`scim::user_condition` or `scim::group_condition`): 400
    /// `invalidFilter` otherwise.
    fn only<C>(&self, check: fn(&Filter) -> Result<C, String>) -> Result<Only, ApiError> {
        let Some(text) = &self.filter else {
            return Ok(None);
        };
        let filter = scim_filter::parse_filter(text)
            .map_err(|e| invalid(e.scim_type(), e.detail().to_string()))?;
        check(&filter).map_err(|detail| invalid("invalidFilter", detail))?;
        Ok(Some(filter))
    }
}

/// `GET /scim/v2/ServiceProviderConfig`
pub async fn service_provider_config(
    req: HttpRequest,
    ScimManager(..): ScimManager,
) -> HttpResponse {
    doc::respond(
        StatusCode::OK,
        &doc::service_provider_config(&doc::base_url(&req)),
        None,
    )
}

/// `GET /scim/v2/Users/{id}`
pub async fn user(
    req: HttpRequest,
    state: web::Data<AppState>,
    ScimManager(..): ScimManager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&path, "user")?;
    let found = run_db(&state, move |c| Ok(scim::find_user(c, id)?)).await?;
    let u = found.ok_or_else(|| not_found("user", &path))?;
    let body = doc::user(&doc::base_url(&req), &u);
    Ok(doc::respond(StatusCode::OK, &body, Some(u.version)))
}

/// `GET /scim/v2/Users`
pub async fn users(
    req: HttpRequest,
    state: web::Data<AppState>,
    ScimManager(..): ScimManager,
) -> Result<HttpResponse, ApiError> {
    let params = ListParams::of(&req)?;
    let (start, count) = params.page()?;
    let only = params.only(scim::user_condition)?;
    let (total, rows) = run_db(&state, move |c| {
        Ok(scim::users_page(c, &only, start, count)?)
    })
    .await?;
    let base = doc::base_url(&req);
    let resources = rows.iter().map(|u| doc::user(&base, u)).collect();
    Ok(doc::respond(
        StatusCode::OK,
        &doc::list(total, start, resources),
        None,
    ))
}

/// The fields of a user document syncd keeps.
struct UserFields {
    login: String,
    name: String,
    email: Option<String>,
    external_id: Option<String>,
    active: bool,
}

/// `active` as providers send it: a boolean, or `"True"`/`"False"` in any
/// case (API.md 9); anything else is 400 `invalidValue`.
fn active_of(v: Option<&Value>) -> Result<bool, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(invalid("invalidValue", "active must be true or false.")),
    }
}

fn string_at<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

impl UserFields {
    fn read(doc: &Value) -> Result<UserFields, ApiError> {
        let login = string_at(doc, "userName")
            .ok_or_else(|| invalid("invalidValue", "userName is required."))?;
        text::Login::parse(login).map_err(|m| invalid("invalidValue", m))?;
        let name = doc.get("name");
        let formatted = name.and_then(|n| string_at(n, "formatted"));
        let joined = name.map(|n| {
            [string_at(n, "givenName"), string_at(n, "familyName")]
                .into_iter()
                .flatten()
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        });
        let name = formatted
            .map(str::to_string)
            .or(joined.filter(|j| !j.is_empty()))
            .or_else(|| string_at(doc, "displayName").map(str::to_string))
            .unwrap_or_else(|| login.to_string());
        text::check_name("Name", &name).map_err(|m| invalid("invalidValue", m))?;
        let emails = doc.get("emails").and_then(Value::as_array);
        let email = emails.and_then(|list| {
            let primary = list
                .iter()
                .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true));
            primary
                .or(list.first())
                .and_then(|e| string_at(e, "value"))
                .map(str::to_string)
        });
        if let Some(e) = &email {
            text::check_email(e).map_err(|m| invalid("invalidValue", m))?;
        }
        let external_id = string_at(doc, "externalId").map(str::to_string);
        Ok(UserFields {
            login: login.to_string(),
            name,
            email,
            external_id,
            active: active_of(doc.get("active"))?,
        })
    }
}

/// The request body as JSON (`application/scim+json` or `application/json`).
async fn json_body(req: &HttpRequest, payload: web::Payload) -> Result<Value, ApiError> {
    let kind = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = kind.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/scim+json")
        && !essence.eq_ignore_ascii_case("application/json")
    {
        return Err(ApiError::UnsupportedMediaType(
            "Send application/scim+json (or application/json).".into(),
        ));
    }
    let bytes = body::read(req, payload).await?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|_| invalid("invalidSyntax", "The body is not JSON."))?;
    if !doc.is_object() {
        return Err(invalid("invalidSyntax", "The body must be a JSON object."));
    }
    Ok(doc)
}

fn uniqueness(detail: String) -> ApiError {
    ApiError::scim(StatusCode::CONFLICT, "uniqueness", detail)
}

/// `POST /scim/v2/Users`: a user with no password, not a manager.
pub async fn create_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    ScimManager(..): ScimManager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let fields = UserFields::read(&json_body(&req, payload).await?)?;
    let made = run_db(&state, move |c| {
        Ok(scim::create_user(
            c,
            &NewScimUser {
                login: &fields.login,
                name: &fields.name,
                email_address: fields.email.as_deref(),
                external_id: fields.external_id.as_deref(),
                active: fields.active,
            },
        )?)
    })
    .await?;
    let u = made.map_err(|r| uniqueness(r.to_string()))?;
    let base = doc::base_url(&req);
    let mut response = doc::respond(StatusCode::CREATED, &doc::user(&base, &u), Some(u.version));
    if let Ok(v) = format!("{base}/Users/{}", u.id).parse() {
        response
            .headers_mut()
            .insert(actix_web::http::header::LOCATION, v);
    }
    Ok(response)
}

/// `DELETE /scim/v2/Users/{id}`: the user and its memberships, each
/// removal recorded with `via` `scim`.
pub async fn delete_user(
    state: web::Data<AppState>,
    ScimManager(caller, ()): ScimManager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&path, "user")?;
    let by = Changer::manager(caller.id, Via::Scim);
    let gone = run_db(&state, move |c| {
        Ok(changes::delete_with_memberships(c, Deleting::User(id), by)?)
    })
    .await?;
    gone.ok_or_else(|| not_found("user", &path))?;
    Ok(HttpResponse::NoContent().finish())
}

/// A group's members with their logins, in id order.
fn members_of(c: &mut crate::db::DbConnection, group: i64) -> Result<Vec<(i64, String)>, ApiError> {
    let mut ids: Vec<i64> = sets::members_of(c, group)?
        .into_iter()
        .map(|(user, _)| user)
        .collect();
    ids.sort_unstable();
    let logins = sets::logins_of(c, &ids)?;
    Ok(ids
        .into_iter()
        .map(|id| (id, logins.get(&id).cloned().unwrap_or_default()))
        .collect())
}

/// `GET /scim/v2/Groups/{id}` (`excludedAttributes=members` reads none).
pub async fn group(
    req: HttpRequest,
    state: web::Data<AppState>,
    ScimManager(..): ScimManager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&path, "group")?;
    let with_members = !ListParams::of(&req)?.without_members();
    let found = run_db(&state, move |c| {
        let Some(g) = scim::find_group(c, id)? else {
            return Ok(None);
        };
        let members = if with_members {
            Some(members_of(c, id)?)
        } else {
            None
        };
        Ok(Some((g, members)))
    })
    .await?;
    let (g, members) = found.ok_or_else(|| not_found("group", &path))?;
    let body = doc::group(&doc::base_url(&req), &g, members.as_deref());
    Ok(doc::respond(StatusCode::OK, &body, Some(g.version)))
}

/// `GET /scim/v2/Groups`
pub async fn groups(
    req: HttpRequest,
    state: web::Data<AppState>,
    ScimManager(..): ScimManager,
) -> Result<HttpResponse, ApiError> {
    let params = ListParams::of(&req)?;
    let (start, count) = params.page()?;
    let only = params.only(scim::group_condition)?;
    let with_members = !params.without_members();
    let (total, rows) = run_db(&state, move |c| {
        let (total, groups) = scim::groups_page(c, &only, start, count)?;
        let mut rows = Vec::with_capacity(groups.len());
        for g in groups {
            let members = if with_members {
                Some(members_of(c, g.id)?)
            } else {
                None
            };
            rows.push((g, members));
        }
        Ok((total, rows))
    })
    .await?;
    let base = doc::base_url(&req);
    let resources = rows
        .iter()
        .map(|(g, m)| doc::group(&base, g, m.as_deref()))
        .collect();
    Ok(doc::respond(
        StatusCode::OK,
        &doc::list(total, start, resources),
        None,
    ))
}

/// The member ids a group document names (`members[].value`).
fn member_ids(doc: &Value) -> Result<Vec<i64>, ApiError> {
    let Some(members) = doc.get("members") else {
        return Ok(Vec::new());
    };
    let list = members
        .as_array()
        .ok_or_else(|| invalid("invalidValue", "members must be a list."))?;
    list.iter()
        .map(|m| {
            let value = m.get("value");
            let id = match value {
                Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            };
            id.filter(|id| *id > 0)
                .ok_or_else(|| invalid("invalidValue", "Each member's value must be a user id."))
        })
        .collect()
}

/// `POST /scim/v2/Groups`: the group and its members in one transaction,
/// each membership recorded with `via` `scim`; an unknown member is 400
/// `invalidValue` and nothing is created.
pub async fn create_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    ScimManager(caller, ()): ScimManager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(&req, payload).await?;
    let name = string_at(&body, "displayName")
        .ok_or_else(|| invalid("invalidValue", "displayName is required."))?;
    let name = text::GroupName::parse(name).map_err(|m| invalid("invalidValue", m))?;
    let external_id = string_at(&body, "externalId").map(str::to_string);
    let mut members = member_ids(&body)?;
    members.sort_unstable();
    members.dedup();
    let by = Changer::manager(caller.id, Via::Scim);
    let made = run_db(&state, move |c| {
        use diesel::Connection;
        let result = c.transaction(|c| {
            let g = match scim::create_group(c, name.as_str(), external_id.as_deref())? {
                Ok(g) => g,
                Err(r) => return Ok(Err(uniqueness(r.to_string()))),
            };
            let known: std::collections::HashSet<i64> =
                sets::existing_users(c, &members)?.into_iter().collect();
            if let Some(missing) = members.iter().find(|id| !known.contains(id)) {
                // Undo the group too: nothing is created.
                return Err(Undo(invalid(
                    "invalidValue",
                    Refusal::UnknownUser(*missing).to_string(),
                )));
            }
            let pairs: Vec<(i64, i64)> = members.iter().map(|u| (*u, g.id)).collect();
            changes::add_pairs(c, &pairs, crate::db::models::now(), by)?;
            let g = scim::find_group(c, g.id)?.unwrap_or(g);
            let listed = members_of(c, g.id).map_err(Undo)?;
            Ok(Ok((g, listed)))
        });
        match result {
            Ok(done) => Ok(done),
            Err(Undo(e)) => Ok(Err(e)),
        }
    })
    .await?;
    let (g, listed) = made?;
    let base = doc::base_url(&req);
    let mut response = doc::respond(
        StatusCode::CREATED,
        &doc::group(&base, &g, Some(&listed)),
        Some(g.version),
    );
    if let Ok(v) = format!("{base}/Groups/{}", g.id).parse() {
        response
            .headers_mut()
            .insert(actix_web::http::header::LOCATION, v);
    }
    Ok(response)
}

/// A refusal that rolls a transaction back.
struct Undo(ApiError);

impl From<diesel::result::Error> for Undo {
    fn from(e: diesel::result::Error) -> Undo {
        Undo(e.into())
    }
}

/// `DELETE /scim/v2/Groups/{id}`: the group and its memberships, each
/// removal recorded with `via` `scim`.
pub async fn delete_group(
    state: web::Data<AppState>,
    ScimManager(caller, ()): ScimManager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&path, "group")?;
    let by = Changer::manager(caller.id, Via::Scim);
    let gone = run_db(&state, move |c| {
        Ok(changes::delete_with_memberships(
            c,
            Deleting::UserGroup(id),
            by,
        )?)
    })
    .await?;
    gone.ok_or_else(|| not_found("group", &path))?;
    Ok(HttpResponse::NoContent().finish())
}
