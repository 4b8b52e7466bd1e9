//! User group memberships: show, the three lists, the three creates, delete.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::auth::Manager;
use super::body::{self, MembershipInput, required_id};
use super::errors::ApiError;
use super::format::{Format, api_format};
use super::{AppState, params, render, run_db};
use crate::db::models::MembershipRow;
use crate::db::queries::memberships::{self, Page, Scope};
use crate::db::queries::{user_groups, users};
use crate::domain::Include;
use crate::xml::XmlWriter;

/// Rows fetched per query while streaming a list.
const CHUNK: i64 = 1000;

/// `GET /user-group-memberships/{id}`
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let id = params::path_id(&req, "id")?;
    let include = params::include(&req)?;
    let row = run_db(&state, move |c| {
        Ok(memberships::find(c, id, include.relations())?)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("Membership {id} does not exist.")))?;
    Ok(render::xml(
        StatusCode::OK,
        render::document(|w| render::membership(w, &row, include)),
    ))
}

/// `GET /user-group-memberships`
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    list_scope(req, state, Scope::All).await
}

/// `GET /users/{user_id}/user-group-memberships`
pub async fn list_for_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let user_id = params::path_id(&req, "user_id")?;
    list_scope(req, state, Scope::User(user_id)).await
}

/// `GET /user_groups/{user_group_id}/user-group-memberships`
pub async fn list_for_user_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let group_id = params::path_id(&req, "user_group_id")?;
    list_scope(req, state, Scope::UserGroup(group_id)).await
}

/// 404 when a nested route names a user or user group that does not exist.
fn check_parent(c: &mut crate::db::DbConnection, scope: Scope) -> Result<(), ApiError> {
    match scope {
        Scope::All => Ok(()),
        Scope::User(id) if !users::exists(c, id)? => {
            Err(ApiError::not_found(format!("User {id} does not exist.")))
        }
        Scope::UserGroup(id) if !user_groups::exists(c, id)? => Err(ApiError::not_found(format!(
            "User group {id} does not exist."
        ))),
        _ => Ok(()),
    }
}

/// Lists a scope: counts it, fetches the first chunk before answering (so a
/// database failure is still a proper error status), then streams the rest
/// chunk by chunk with a keyset scan, so memory stays bounded however long
/// the list.
async fn list_scope(
    req: HttpRequest,
    state: web::Data<AppState>,
    scope: Scope,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let (include, range) = params::list(&req)?;
    let with_relations = include.relations();
    let (total, count, first) = run_db(&state, move |c| {
        check_parent(c, scope)?;
        let total = memberships::count(c, scope)?;
        let slice = range.slice(total);
        let first = if slice.count > 0 {
            memberships::page(
                c,
                &Page {
                    scope,
                    after_id: None,
                    offset: slice.offset,
                    limit: slice.count.min(CHUNK),
                    with_relations,
                },
            )?
        } else {
            Vec::new()
        };
        Ok((total, slice.count, first))
    })
    .await?;

    let mut response = HttpResponse::Ok();
    response
        .content_type(Format::Xml.content_type())
        .insert_header(("X-Total-Count", total.to_string()));

    let mut w = XmlWriter::new();
    w.declaration();
    if first.is_empty() {
        w.empty_array(render::MEMBERSHIPS);
        return Ok(response.body(w.finish()));
    }
    w.start_array(render::MEMBERSHIPS);
    for row in &first {
        render::membership(&mut w, row, include);
    }
    let remaining = count - first.len() as i64;
    let last_id = first.last().map(|r| r.membership.id);
    if remaining <= 0 || (first.len() as i64) < CHUNK {
        w.end(render::MEMBERSHIPS);
        return Ok(response.body(w.finish()));
    }
    let head = Bytes::from(w.take());
    let rest = ListStream {
        state: state.into_inner(),
        writer: w,
        scope,
        include,
        last_id,
        remaining,
    };
    let body = futures_util::stream::once(async move { Ok::<_, ApiError>(head) })
        .chain(futures_util::stream::unfold(Some(rest), next_chunk));
    Ok(response.streaming(body))
}

/// Where a streamed list has got to.
struct ListStream {
    state: std::sync::Arc<AppState>,
    writer: XmlWriter,
    scope: Scope,
    include: Include,
    last_id: Option<i64>,
    remaining: i64,
}

/// The next piece of a streamed list. A failure mid-stream cannot change the
/// status already sent: it is logged and the body is cut short, which the
/// client sees as an incomplete response rather than a wrong one.
async fn next_chunk(
    stream: Option<ListStream>,
) -> Option<(Result<Bytes, ApiError>, Option<ListStream>)> {
    let mut st = stream?;
    let page = Page {
        scope: st.scope,
        after_id: st.last_id,
        offset: 0,
        limit: st.remaining.min(CHUNK),
        with_relations: st.include.relations(),
    };
    let rows = match run_db(&st.state, move |c| Ok(memberships::page(c, &page)?)).await {
        Ok(rows) => rows,
        Err(e) => {
            log::error!("a streamed list stopped early: {e}");
            return Some((Err(e), None));
        }
    };
    for row in &rows {
        render::membership(&mut st.writer, row, st.include);
    }
    st.remaining -= rows.len() as i64;
    if rows.len() < CHUNK as usize || st.remaining <= 0 {
        st.writer.end(render::MEMBERSHIPS);
        let ListStream { writer, .. } = st;
        return Some((Ok(Bytes::from(writer.finish())), None));
    }
    st.last_id = rows.last().map(|r: &MembershipRow| r.membership.id);
    let bytes = Bytes::from(st.writer.take());
    Some((Ok(bytes), Some(st)))
}

/// `POST /user-group-memberships`
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    create_under(req, state, payload, Scope::All).await
}

/// `POST /users/{user_id}/user-group-memberships`: the body names the group.
pub async fn create_for_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let id = params::path_id(&req, "user_id")?;
    create_under(req, state, payload, Scope::User(id)).await
}

/// `POST /user_groups/{user_group_id}/user-group-memberships`: the body names
/// the user (Syncano's "add user to group").
pub async fn create_for_user_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let id = params::path_id(&req, "user_group_id")?;
    create_under(req, state, payload, Scope::UserGroup(id)).await
}

/// An id taken from the path, unless the body names a different one.
fn id_from_path(field: &str, path_id: i64, body: Option<&str>) -> Result<i64, String> {
    match body.map(str::trim) {
        None | Some("") => Ok(path_id),
        Some(_) => match required_id(field, body) {
            Ok(id) if id == path_id => Ok(id),
            Ok(id) => Err(format!(
                "{field} in the body ({id}) does not match the one in the path ({path_id})."
            )),
            Err(e) => Err(e),
        },
    }
}

async fn create_under(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    parent: Scope,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let include = params::include(&req)?;
    let kind = body::body_kind(&req)?;
    let bytes = body::read(&req, payload).await?;
    let input = MembershipInput::parse(kind, &bytes)?;

    let user_id = match parent {
        Scope::User(id) => id_from_path("user-id", id, input.user_id.as_deref()),
        _ => required_id("user-id", input.user_id.as_deref()),
    };
    let group_id = match parent {
        Scope::UserGroup(id) => id_from_path("user-group-id", id, input.user_group_id.as_deref()),
        _ => required_id("user-group-id", input.user_group_id.as_deref()),
    };

    let row = run_db(&state, move |c| {
        // The parent in the path must exist (404) before the body is judged.
        check_parent(c, parent)?;
        let (user_id, group_id) = match (user_id, group_id) {
            (Ok(u), Ok(g)) => (u, g),
            (u, g) => {
                let problems = [u.err(), g.err()].into_iter().flatten().collect();
                return Err(ApiError::Unprocessable(problems));
            }
        };
        let created =
            memberships::create(c, user_id, group_id)?.map_err(ApiError::Unprocessable)?;
        if include.relations() {
            // Deleted in the meantime is still a created membership: answer
            // with what was created.
            if let Some(row) = memberships::find(c, created.id, true)? {
                return Ok(row);
            }
        }
        Ok(MembershipRow {
            membership: created,
            user: None,
            user_group: None,
        })
    })
    .await?;

    let location = format!("/user-group-memberships/{}.xml", row.membership.id);
    let mut response = render::xml(
        StatusCode::CREATED,
        render::document(|w| render::membership(w, &row, include)),
    );
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `DELETE /user-group-memberships/{id}`: 200 with an empty body.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Manager,
) -> Result<HttpResponse, ApiError> {
    api_format(&req)?;
    let id = params::path_id(&req, "id")?;
    let deleted = run_db(&state, move |c| Ok(memberships::delete(c, id)?)).await?;
    if !deleted {
        return Err(ApiError::not_found(format!(
            "Membership {id} does not exist."
        )));
    }
    Ok(HttpResponse::Ok()
        .content_type(Format::Xml.content_type())
        .finish())
}
