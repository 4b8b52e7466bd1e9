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
use serde_json::{Value, json};

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
    attributes: Option<String>,
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

    /// Whether `members` is left out (`excludedAttributes=members`, or
    /// `attributes` without it): then they are not read at all.
    fn without_members(&self) -> bool {
        doc::leaves_out(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
            "members",
        )
    }

    /// `doc` as `attributes` / `excludedAttributes` ask.
    fn project(&self, mut doc: Value) -> Value {
        doc::project(
            &mut doc,
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        );
        doc
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

/// A discovery collection (`Schemas`, `ResourceTypes`) as a list.
fn all_of(documents: Vec<Value>) -> HttpResponse {
    let total = documents.len() as i64;
    doc::respond(
        StatusCode::OK,
        &doc::ListOut::new(total, 1, documents),
        None,
    )
}

/// One discovery document by its `id` (any case), else 404.
fn one_of(documents: Vec<Value>, id: &str, what: &str) -> Result<HttpResponse, ApiError> {
    documents
        .into_iter()
        .find(|d| d["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .map(|d| doc::respond(StatusCode::OK, &d, None))
        .ok_or_else(|| not_found(what, id))
}

/// `GET /scim/v2/Schemas`
pub async fn schemas(req: HttpRequest, ScimManager(..): ScimManager) -> HttpResponse {
    all_of(doc::schemas(&doc::base_url(&req)))
}

/// `GET /scim/v2/Schemas/{id}`: a schema by its URI.
pub async fn schema(
    req: HttpRequest,
    ScimManager(..): ScimManager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one_of(doc::schemas(&doc::base_url(&req)), &path, "schema")
}

/// `GET /scim/v2/ResourceTypes`
pub async fn resource_types(req: HttpRequest, ScimManager(..): ScimManager) -> HttpResponse {
    all_of(doc::resource_types(&doc::base_url(&req)))
}

/// `GET /scim/v2/ResourceTypes/{id}`
pub async fn resource_type(
    req: HttpRequest,
    ScimManager(..): ScimManager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one_of(
        doc::resource_types(&doc::base_url(&req)),
        &path,
        "resource type",
    )
}

/// `POST /scim/v2/.search`: a search across every resource type is not
/// served (ids of users and groups are apart, so a mixed list would be
/// ambiguous); `501`, as RFC 7644 3.4.3 allows.
pub async fn search_everything(ScimManager(..): ScimManager) -> Result<HttpResponse, ApiError> {
    Err(ApiError::scim(
        StatusCode::NOT_IMPLEMENTED,
        "",
        "Search one resource type: GET /scim/v2/Users or /scim/v2/Groups with a filter.",
    ))
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
    let body = ListParams::of(&req)?.project(doc::user(&doc::base_url(&req), &u));
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
    let resources = rows
        .iter()
        .map(|u| params.project(doc::user(&base, u)))
        .collect();
    Ok(doc::respond(
        StatusCode::OK,
        &doc::ListOut::new(total, start, resources),
        None,
    ))
}

/// The fields of a user document syncd keeps.
struct UserFields {
    login: String,
    name: String,
    email: Option<String>,
    external_id: Option<String>,
    /// None: not given.
    active: Option<bool>,
}

/// `active` as providers send it: a boolean, or `"True"`/`"False"` in any
/// case (API.md 9); anything else is 400 `invalidValue`.
fn active_of(v: Option<&Value>) -> Result<Option<bool>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
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
    check_json(req)?;
    parse_json(&body::read(req, payload).await?)
}

/// A group's body: its members may be many, so it is read like a member
/// set's (`SYNCD_MAX_SYNC_BODY`, one of the slots those bodies share,
/// held until the answer is made).
async fn group_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Value, body::SyncSlot), ApiError> {
    check_json(req)?;
    let (bytes, slot) = body::read_sync(req, payload).await?;
    Ok((parse_json(&bytes)?, slot))
}

fn check_json(req: &HttpRequest) -> Result<(), ApiError> {
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
    Ok(())
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    let doc: Value = serde_json::from_slice(bytes)
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

/// A group's member ids, ascending.
fn members_of(c: &mut crate::db::DbConnection, group: i64) -> Result<Vec<i64>, ApiError> {
    Ok(sets::members_of(c, group)?
        .into_iter()
        .map(|(user, _)| user)
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
    let params = ListParams::of(&req)?;
    let with_members = !params.without_members();
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
    let base = doc::base_url(&req);
    let body = doc::GroupOut {
        doc: params.project(doc::group_without_members(&base, &g)),
        members: members.as_deref().map(|m| (m, base.clone())),
    };
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
    let resources: Vec<doc::GroupOut> = rows
        .iter()
        .map(|(g, m)| doc::GroupOut {
            doc: params.project(doc::group_without_members(&base, g)),
            members: m.as_deref().map(|m| (m, base.clone())),
        })
        .collect();
    Ok(doc::respond(
        StatusCode::OK,
        &doc::ListOut::new(total, start, resources),
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
    let (body, _slot) = group_body(&req, payload).await?;
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
        &doc::GroupOut {
            doc: doc::group_without_members(&base, &g),
            members: Some((&listed, base.clone())),
        },
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

// ---------------------------------------------------------------- PUT, PATCH

use crate::db::queries::scim::{GroupWrite, MemberStep, Refused, UserWrite};

/// `If-Match`: the version it names, compared exactly as given with the
/// `ETag` syncd sends (`W/"7"`); `*` matches any. `Err` for a tag that can
/// name no version of this resource: nothing is changed (412).
fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = req.headers().get(actix_web::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("").trim();
    if value == "*" {
        return Ok(None);
    }
    value
        .strip_prefix("W/\"")
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(stale)
}

fn stale() -> ApiError {
    ApiError::scim(
        StatusCode::PRECONDITION_FAILED,
        "invalidVers",
        "The resource changed since the version If-Match names.",
    )
}

fn refused(r: Refused, what: &str, id: &str) -> ApiError {
    match r {
        Refused::NotFound => not_found(what, id),
        Refused::Stale => stale(),
        Refused::Taken(r) => uniqueness(r.to_string()),
        Refused::UnknownUser(u) => invalid("invalidValue", Refusal::UnknownUser(u).to_string()),
    }
}

async fn write_user(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    id: i64,
    raw: &str,
    fields: UserFields,
    expected: Option<i64>,
) -> Result<HttpResponse, ApiError> {
    let w = UserWrite {
        login: fields.login,
        name: fields.name,
        email_address: fields.email,
        external_id: fields.external_id,
        active: fields.active,
    };
    let done = run_db(state, move |c| Ok(scim::replace_user(c, id, &w, expected)?)).await?;
    let u = done.map_err(|r| refused(r, "user", raw))?;
    let body = doc::user(&doc::base_url(req), &u);
    Ok(doc::respond(StatusCode::OK, &body, Some(u.version)))
}

/// `PUT /scim/v2/Users/{id}`: the user becomes what the document says.
pub async fn replace_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    ScimManager(..): ScimManager,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&path, "user")?;
    let expected = if_match(&req)?;
    let fields = UserFields::read(&json_body(&req, payload).await?)?;
    write_user(&req, &state, id, &path, fields, expected).await
}

/// A PATCH body's operations: `op` in any case (API.md 9), `path`, `value`.
fn operations(body: &Value) -> Result<Vec<(String, Option<String>, Value)>, ApiError> {
    let ops = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("invalidSyntax", "A PATCH body needs Operations."))?;
    ops.iter()
        .map(|op| {
            let name = string_at(op, "op")
                .map(str::to_ascii_lowercase)
                .filter(|o| matches!(o.as_str(), "add" | "remove" | "replace"))
                .ok_or_else(|| {
                    invalid(
                        "invalidSyntax",
                        "Each operation's op is add, remove or replace.",
                    )
                })?;
            let path = string_at(op, "path").map(str::to_string);
            Ok((name, path, op.get("value").cloned().unwrap_or(Value::Null)))
        })
        .collect()
}

/// Where a user PATCH path points in the user's document, or None for an
/// attribute syncd does not keep (ignored, as API.md 9 says).
fn user_target(path: &str) -> Result<Option<Vec<&'static str>>, ApiError> {
    let parsed = scim_filter::parse_patch_path(path)
        .map_err(|e| invalid(e.scim_type(), e.detail().to_string()))?;
    if let Some(uri) = &parsed.path.uri
        && !uri.eq_ignore_ascii_case(doc::USER_SCHEMA)
    {
        return Ok(None);
    }
    let key = match (&parsed.filter, &parsed.sub) {
        // `emails[type eq "work"].value`: syncd's one address.
        (Some(_), _) if parsed.path.is("emails", None) => "emails.value".to_string(),
        (Some(_), _) => {
            return Err(invalid(
                "invalidPath",
                format!("syncd cannot patch {path}."),
            ));
        }
        _ => parsed.path.key(),
    };
    Ok(match key.as_str() {
        "username" => Some(vec!["userName"]),
        "name" => Some(vec!["name"]),
        "name.formatted" => Some(vec!["name", "formatted"]),
        "name.givenname" => Some(vec!["name", "givenName"]),
        "name.familyname" => Some(vec!["name", "familyName"]),
        "displayname" => Some(vec!["displayName"]),
        "active" => Some(vec!["active"]),
        "externalid" => Some(vec!["externalId"]),
        "emails" | "emails.value" => Some(vec!["emails"]),
        _ => None,
    })
}

/// Applies one operation to a user's document.
fn patch_user(doc: &mut Value, op: &str, path: Option<&str>, value: Value) -> Result<(), ApiError> {
    let Some(path) = path else {
        // No path: the value's attributes, each as if named.
        let Value::Object(fields) = value else {
            return Err(invalid(
                "invalidValue",
                "An operation without a path takes an object.",
            ));
        };
        for (name, v) in fields {
            if name == "schemas" || name == "id" || name == "meta" {
                continue;
            }
            patch_user(doc, op, Some(&name), v)?;
        }
        return Ok(());
    };
    let Some(target) = user_target(path)? else {
        return Ok(());
    };
    if target == ["emails"] {
        // One address: a string, `{value}` or a list of them.
        let email = match (&value, op) {
            (_, "remove") => Value::Null,
            (Value::String(s), _) => json_email(s),
            (Value::Object(_), _) => json!([value]),
            (Value::Array(_), _) => value.clone(),
            _ => Value::Null,
        };
        doc["emails"] = email;
        return Ok(());
    }
    if target[0] == "name" && target.len() == 2 && target[1] != "formatted" {
        // givenName or familyName: the name is made again from both.
        if let Some(name) = doc.get_mut("name").and_then(Value::as_object_mut) {
            name.remove("formatted");
        }
    }
    let slot = target.iter().try_fold(&mut *doc, |at, key| {
        if !at.is_object() {
            *at = json!({});
        }
        Some(at.as_object_mut()?.entry(*key).or_insert(Value::Null))
    });
    let Some(slot) = slot else {
        return Err(invalid(
            "invalidPath",
            format!("syncd cannot patch {path}."),
        ));
    };
    match op {
        "remove" if target == ["userName"] => {
            return Err(invalid("mutability", "userName is required."));
        }
        "remove" => *slot = Value::Null,
        _ => match (slot.as_object_mut(), value) {
            // `add` of a complex value merges it.
            (Some(existing), Value::Object(new)) if op == "add" => existing.extend(new),
            (_, v) => *slot = v,
        },
    }
    Ok(())
}

fn json_email(s: &str) -> Value {
    json!([{ "value": s }])
}

/// `PATCH /scim/v2/Users/{id}`: the operations applied to the user as it
/// is, then written as a PUT would (`If-Match` held throughout).
pub async fn patch_user_handler(
    req: HttpRequest,
    state: web::Data<AppState>,
    ScimManager(..): ScimManager,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&path, "user")?;
    let expected = if_match(&req)?;
    let body = json_body(&req, payload).await?;
    let ops = operations(&body)?;
    let found = run_db(&state, move |c| Ok(scim::find_user(c, id)?)).await?;
    let current = found.ok_or_else(|| not_found("user", &path))?;
    if expected.is_some_and(|v| v != current.version) {
        return Err(stale());
    }
    let mut user = doc::user("", &current);
    for (op, at, value) in ops {
        patch_user(&mut user, &op, at.as_deref(), value)?;
    }
    let fields = UserFields::read(&user)?;
    // The version read above: a change meanwhile is a 412, not lost.
    write_user(&req, &state, id, &path, fields, Some(current.version)).await
}

/// `PUT /scim/v2/Groups/{id}`: the name, `externalId` and the members
/// become what the document says.
pub async fn replace_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    ScimManager(caller, ()): ScimManager,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&path, "group")?;
    let expected = if_match(&req)?;
    let (body, _slot) = group_body(&req, payload).await?;
    let name = string_at(&body, "displayName")
        .ok_or_else(|| invalid("invalidValue", "displayName is required."))?;
    let name = text::GroupName::parse(name).map_err(|m| invalid("invalidValue", m))?;
    let w = GroupWrite {
        name: Some(name.as_str().to_string()),
        external_id: Some(string_at(&body, "externalId").map(str::to_string)),
        members: vec![MemberStep::Exactly(member_ids(&body)?)],
    };
    let g = change_group(&state, id, w, expected, caller.id)
        .await
        .map_err(|r| r.either(&path))?;
    let with_members = !ListParams::of(&req)?.without_members();
    let members = if with_members {
        Some(run_db(&state, move |c| members_of(c, id)).await?)
    } else {
        None
    };
    let base = doc::base_url(&req);
    let body = doc::GroupOut {
        doc: doc::group_without_members(&base, &g),
        members: members.as_deref().map(|m| (m, base.clone())),
    };
    Ok(doc::respond(StatusCode::OK, &body, Some(g.version)))
}

/// A group write's failure: already an answer, or a refusal to word.
enum GroupFailure {
    Api(ApiError),
    Refused(Refused),
}

impl GroupFailure {
    fn either(self, id: &str) -> ApiError {
        match self {
            GroupFailure::Api(e) => e,
            GroupFailure::Refused(r) => refused(r, "group", id),
        }
    }
}

async fn change_group(
    state: &web::Data<AppState>,
    id: i64,
    w: GroupWrite,
    expected: Option<i64>,
    caller: i64,
) -> Result<scim::ScimGroup, GroupFailure> {
    let by = Changer::manager(caller, Via::Scim);
    let done = run_db(state, move |c| {
        Ok(scim::change_group(c, id, &w, expected, by)?)
    })
    .await
    .map_err(GroupFailure::Api)?;
    done.map_err(GroupFailure::Refused)
}

/// The member ids of a PATCH value: `[{"value": "7"}, ...]` or one object.
fn patch_members(value: &Value) -> Result<Vec<i64>, ApiError> {
    let list = match value {
        Value::Array(_) => value.clone(),
        Value::Object(_) => json!([value]),
        Value::Null => json!([]),
        _ => {
            return Err(invalid(
                "invalidValue",
                "members takes a list of {\"value\": id}.",
            ));
        }
    };
    member_ids(&json!({ "members": list }))
}

/// One PATCH operation on a group, as a change of its fields or members.
fn patch_group(
    w: &mut GroupWrite,
    op: &str,
    path: Option<&str>,
    value: Value,
) -> Result<(), ApiError> {
    let Some(path) = path else {
        let Value::Object(fields) = value else {
            return Err(invalid(
                "invalidValue",
                "An operation without a path takes an object.",
            ));
        };
        for (name, v) in fields {
            if matches!(name.as_str(), "schemas" | "id" | "meta") {
                continue;
            }
            patch_group(w, op, Some(&name), v)?;
        }
        return Ok(());
    };
    let parsed = scim_filter::parse_patch_path(path)
        .map_err(|e| invalid(e.scim_type(), e.detail().to_string()))?;
    if let Some(uri) = &parsed.path.uri
        && !uri.eq_ignore_ascii_case(doc::GROUP_SCHEMA)
    {
        return Ok(());
    }
    if parsed.path.is("members", None) {
        let step = match (op, &parsed.filter) {
            // `members[value eq "7"]`: that member.
            ("remove", Some(filter)) => match filter {
                Filter::Compare {
                    path,
                    op: scim_filter::CompareOp::Eq,
                    value: scim_filter::Value::Str(v),
                } if path.is("value", None) => {
                    MemberStep::Remove(vec![v.trim().parse::<i64>().unwrap_or(0)])
                }
                _ => {
                    return Err(invalid(
                        "invalidFilter",
                        "syncd removes members by value eq only.",
                    ));
                }
            },
            (_, Some(_)) => {
                return Err(invalid(
                    "invalidPath",
                    "Add or replace members without a filter.",
                ));
            }
            ("add", None) => MemberStep::Add(patch_members(&value)?),
            ("replace", None) => MemberStep::Exactly(patch_members(&value)?),
            // A list removes those; nothing removes all (API.md 9).
            (_, None) if value.is_null() => MemberStep::Exactly(Vec::new()),
            (_, None) => MemberStep::Remove(patch_members(&value)?),
        };
        w.members.push(step);
        return Ok(());
    }
    match parsed.path.key().as_str() {
        "displayname" => {
            if op == "remove" {
                return Err(invalid("mutability", "displayName is required."));
            }
            let name = value
                .as_str()
                .ok_or_else(|| invalid("invalidValue", "displayName is a string."))?;
            let name = text::GroupName::parse(name).map_err(|m| invalid("invalidValue", m))?;
            w.name = Some(name.as_str().to_string());
        }
        "externalid" => {
            w.external_id = Some(match op {
                "remove" => None,
                _ => Some(
                    value
                        .as_str()
                        .ok_or_else(|| invalid("invalidValue", "externalId is a string."))?
                        .to_string(),
                ),
            });
        }
        // Attributes syncd does not keep are ignored.
        _ => {}
    }
    Ok(())
}

/// `PATCH /scim/v2/Groups/{id}`: 204 with the new `ETag`. Adding or
/// removing members touches those members only, so a large group costs
/// what the change costs (a `replace` of all members reads them).
pub async fn patch_group_handler(
    req: HttpRequest,
    state: web::Data<AppState>,
    ScimManager(caller, ()): ScimManager,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = id_of(&path, "group")?;
    let expected = if_match(&req)?;
    let (body, _slot) = group_body(&req, payload).await?;
    let mut w = GroupWrite::default();
    for (op, at, value) in operations(&body)? {
        patch_group(&mut w, &op, at.as_deref(), value)?;
    }
    let g = change_group(&state, id, w, expected, caller.id)
        .await
        .map_err(|r| r.either(&path))?;
    Ok(HttpResponse::NoContent()
        .insert_header((actix_web::http::header::ETAG, doc::version_tag(g.version)))
        .finish())
}
