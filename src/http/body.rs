//! Request bodies: the content type, a size limit applied before and while
//! reading, and the fields of the record a body holds, in XML, JSON or a
//! browser form (urlencoded or multipart).

use std::time::Duration;

use actix_web::http::header::{self, HeaderMap};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, HttpRequest};
use futures_util::StreamExt;

use crate::domain::history::Via;
use crate::http::errors::ApiError;
use crate::http::limits::{MAX_BODY_BYTES, MAX_FORM_FIELDS};
use crate::views::render::Name;
use crate::xml::{dasherize, read_record};

/// How long a request body may take to arrive: the request timeout, which
/// `Application::build` puts in the app data. Its own type, not a field of
/// `AppState`, so that reading a body needs nothing of the shared state.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Duration);

/// Member-set and change-set bodies, as app data beside [`BodyDeadline`]:
/// the largest one (`SYNCD_MAX_SYNC_BODY`), and the slots for them. A
/// request holds a slot from before its body is read until its answer is
/// made, so at most `slots` such bodies (each up to the limit, and what
/// their parse builds) are in memory at once, whatever the number of
/// clients.
#[derive(Debug, Clone)]
pub struct SyncBodies {
    pub limit: usize,
    pub slots: std::sync::Arc<tokio::sync::Semaphore>,
}

impl SyncBodies {
    pub fn new(limit: usize, slots: usize) -> SyncBodies {
        SyncBodies {
            limit,
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(slots.max(1))),
        }
    }
}

/// A slot for a large body, held until it is dropped.
#[derive(Debug)]
pub struct SyncSlot(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

const URLENCODED: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";

/// The encodings a body may come in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    Xml,
    Json,
    /// `application/x-www-form-urlencoded`
    Form,
    /// `multipart/form-data`, with its boundary.
    Multipart(String),
}

/// True for the content types an HTML form sends and syncd reads: the
/// requests a page on another site could make a browser send.
pub fn is_form(req: &HttpRequest) -> bool {
    let ct = req.content_type().to_ascii_lowercase();
    ct == URLENCODED || ct == MULTIPART
}

/// How a membership change came in, for its event: a form's content type
/// is a browser form (`form`), anything else the API (`api`).
pub fn via(req: &HttpRequest) -> Via {
    if is_form(req) { Via::Form } else { Via::Api }
}

/// The body's encoding from its `Content-Type`; 415 for anything else.
pub fn body_kind(req: &HttpRequest) -> Result<BodyKind, ApiError> {
    kind_of(req.headers())
}

/// [`body_kind`] from the headers alone.
pub fn kind_of(headers: &HeaderMap) -> Result<BodyKind, ApiError> {
    let header = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The media type without its parameters, as actix's `content_type()`.
    let essence = header.split(';').next().unwrap_or("").trim();
    match essence.to_ascii_lowercase().as_str() {
        "application/xml" | "text/xml" => Ok(BodyKind::Xml),
        "application/json" => Ok(BodyKind::Json),
        URLENCODED => Ok(BodyKind::Form),
        MULTIPART => multer::parse_boundary(header)
            .map(BodyKind::Multipart)
            .map_err(|_| ApiError::bad_request("A multipart/form-data body needs a boundary.")),
        "" => Err(ApiError::UnsupportedMediaType(
            "Say what the body is: send Content-Type: application/xml or application/json.".into(),
        )),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "syncd does not read {} bodies: send application/xml or application/json.",
            other.chars().take(60).collect::<String>()
        ))),
    }
}

/// Reads a request's body and the fields of the record it holds, in any of
/// the encodings syncd accepts.
pub async fn record(
    req: &HttpRequest,
    payload: web::Payload,
    root: Name,
) -> Result<Fields, ApiError> {
    let kind = body_kind(req)?;
    let bytes = read(req, payload).await?;
    read_fields(kind, bytes, root).await
}

/// A record body that may be left out: no fields when it is empty (a PUT
/// of a membership by its pair needs none). The record may also be wrapped
/// in `also` (a root element `<also>` in XML, `{"also": {...}}` in JSON),
/// whose fields are then renamed by `renames`: an ActiveResource client
/// saving an element named `user` on the nested site `/user_groups/:id/`
/// sends `<user><id>3</id></user>` or `{"user": {"id": 3}}`.
pub async fn optional_record(
    req: &HttpRequest,
    payload: web::Payload,
    root: Name,
    (also, renames): (&'static str, &[(&str, &str)]),
) -> Result<Fields, ApiError> {
    let bytes = read(req, payload).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::default());
    }
    let kind = body_kind(req)?;
    let wrapped_in_also = match kind {
        BodyKind::Xml => read_record(&bytes, also).is_ok(),
        BodyKind::Json => serde_json::from_slice::<serde_json::Value>(&bytes)
            .is_ok_and(|v| v.get(also).is_some_and(serde_json::Value::is_object)),
        _ => false,
    };
    if !wrapped_in_also {
        return read_fields(kind, bytes, root).await;
    }
    let Fields(fields) = read_fields(
        kind,
        bytes,
        Name {
            xml: also,
            json: also,
        },
    )
    .await?;
    Ok(Fields(
        fields
            .into_iter()
            .map(|(name, value)| {
                let renamed = renames.iter().find(|(from, _)| *from == name);
                (renamed.map_or(name, |(_, to)| to.to_string()), value)
            })
            .collect(),
    ))
}

/// A POST that stands in for another method, as Rails forms do with
/// `_method`: only a form body can, and only for one of `methods`; anything
/// else is 405 with `allow`. Returns the method and the form's fields.
pub async fn overridden(
    req: &HttpRequest,
    payload: web::Payload,
    root: Name,
    methods: &[&str],
    allow: &'static str,
) -> Result<(String, Fields), ApiError> {
    if !is_form(req) {
        return Err(ApiError::MethodNotAllowed { allow });
    }
    let fields = record(req, payload, root).await?;
    match fields.method_override() {
        Some(method) if methods.contains(&method.as_str()) => Ok((method, fields)),
        _ => Err(ApiError::MethodNotAllowed { allow }),
    }
}

/// Reads the whole body, refusing a declared or actual size over the limit
/// (a declared one without reading anything).
pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Bytes, ApiError> {
    read_up_to(req, payload, MAX_BODY_BYTES).await
}

/// Reads a member-set or change-set body, up to its limit, once a slot is
/// free ([`SyncBodies`]); the slot goes with the bytes, to be held until
/// the answer is made. No slot within half the request timeout: 503 (half,
/// so that a client waiting gives up before one holding a slot with a
/// stalled body is cut off by the whole timeout).
pub async fn read_sync(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(Bytes, SyncSlot), ApiError> {
    let bodies = req
        .app_data::<SyncBodies>()
        .cloned()
        .unwrap_or_else(|| SyncBodies::new(crate::defaults::MAX_SYNC_BODY, 1));
    let deadline = req
        .app_data::<BodyDeadline>()
        .map_or(crate::defaults::REQUEST_TIMEOUT, |d| d.0);
    let wait = deadline / 2;
    let slot = match actix_rt::time::timeout(wait, bodies.slots.acquire_owned()).await {
        Ok(Ok(permit)) => SyncSlot(permit),
        _ => return Err(ApiError::SyncBodiesBusy),
    };
    let bytes = read_up_to(req, payload, bodies.limit).await?;
    Ok((bytes, slot))
}

/// [`read`] with a limit of `limit` bytes: the member-set and change-set
/// bodies' (`SyncBodyLimit`).
pub async fn read_up_to(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let deadline = req
        .app_data::<BodyDeadline>()
        .map_or(crate::defaults::REQUEST_TIMEOUT, |d| d.0);
    let drain_up_to = limit.max(1024 * 1024) as u64;
    if declared.is_some_and(|len| len > limit as u64) {
        // Not much over (at most the limit again, or 1 MiB): read it and
        // throw it away, so the client reads the 413 (a server that closes
        // on unread data resets the connection, and a client still
        // uploading loses the answer). Far over: answer at once. A body
        // of unknown length (chunked) is answered at once as before: how
        // much more would come is not known.
        if declared.is_some_and(|len| len <= limit as u64 + drain_up_to) {
            let _ = actix_rt::time::timeout(deadline, discard(&mut payload, drain_up_to)).await;
        }
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let capacity = declared.unwrap_or(1024).min(limit as u64) as usize;
    let whole = async move {
        let mut body = BytesMut::with_capacity(capacity);
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::bad_request("The request body could not be read."))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    // A body sent a byte at a time would otherwise keep its request open
    // for as long as the client likes.
    actix_rt::time::timeout(deadline, whole)
        .await
        .map_err(|_| ApiError::RequestTimeout(deadline.as_secs().max(1)))?
}

/// Reads and drops up to `most` more bytes of a body, keeping none.
async fn discard(payload: &mut web::Payload, most: u64) {
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = payload.next().await {
        seen += chunk.len() as u64;
        if seen > most {
            break;
        }
    }
}

/// The fields of a record body, names dasherized (`user_id` -> `user-id`).
/// A value of `None` is an explicit nil or null; an absent field is absent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fields(Vec<(String, Option<String>)>);

impl Fields {
    /// Fields by their dashed names, as the parsers of larger bodies
    /// (`http::sync_bodies`) read them.
    pub fn new(fields: Vec<(String, Option<String>)>) -> Fields {
        Fields(fields)
    }

    /// The first of `names` present, if any: `Some(None)` for nil/null.
    pub fn get(&self, names: &[&str]) -> Option<Option<&str>> {
        names.iter().find_map(|n| {
            self.0
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_deref())
        })
    }

    /// The method a form asks for with `_method` (Rails' way round HTML
    /// forms, which only send GET and POST), lowercased.
    pub fn method_override(&self) -> Option<String> {
        self.get(&["_method"])
            .flatten()
            .map(|m| m.trim().to_ascii_lowercase())
    }
}

/// Reads the fields of a record whose root is `root`: in XML the root
/// element; in JSON either `{"root": {...}}` or the flat object; in a form
/// either `root[field]` or the flat `field`.
pub async fn read_fields(kind: BodyKind, body: Bytes, root: Name) -> Result<Fields, ApiError> {
    match kind {
        BodyKind::Xml => Ok(Fields(
            read_record(&body, root.xml)?
                .into_iter()
                .map(|f| (f.name, f.value))
                .collect(),
        )),
        BodyKind::Json => read_json_fields(&body, root),
        BodyKind::Form => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                .map_err(|_| ApiError::bad_request("The form body could not be read."))?;
            if pairs.len() > MAX_FORM_FIELDS {
                return Err(too_many_fields());
            }
            Ok(form_fields(pairs, root))
        }
        BodyKind::Multipart(boundary) => {
            Ok(form_fields(read_multipart(body, boundary).await?, root))
        }
    }
}

fn too_many_fields() -> ApiError {
    ApiError::bad_request(format!("The form has more than {MAX_FORM_FIELDS} fields."))
}

/// The named parts of a multipart body, as text. The body is already in
/// memory and bounded, so the parser's stream is that one chunk.
async fn read_multipart(body: Bytes, boundary: String) -> Result<Vec<(String, String)>, ApiError> {
    let unreadable = |_| ApiError::bad_request("The multipart form body could not be read.");
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut pairs = Vec::new();
    while let Some(part) = parts.next_field().await.map_err(unreadable)? {
        if pairs.len() == MAX_FORM_FIELDS {
            return Err(too_many_fields());
        }
        let name = part.name().unwrap_or_default().to_string();
        let value = part.text().await.map_err(unreadable)?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// Form names to field names: `user_group_membership[user_id]` and
/// `user_id` both become `user-id`. Names starting with `_` (`_method`) are
/// the form's own and kept as they are.
fn form_fields(pairs: Vec<(String, String)>, root: Name) -> Fields {
    let unwrap = |key: &str| -> Option<String> {
        [root.json, root.xml].iter().find_map(|r| {
            key.strip_prefix(r)?
                .strip_prefix('[')?
                .strip_suffix(']')
                .map(str::to_string)
        })
    };
    Fields(
        pairs
            .into_iter()
            .map(|(key, value)| {
                let name = unwrap(&key).unwrap_or(key);
                let name = if name.starts_with('_') {
                    name
                } else {
                    dasherize(&name)
                };
                (name, Some(value.trim().to_string()))
            })
            .collect(),
    )
}

fn read_json_fields(body: &[u8], root: Name) -> Result<Fields, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("The request body is empty."));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "The request body is not valid JSON (line {}, column {}).",
            e.line(),
            e.column()
        ))
    })?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(ApiError::bad_request("The JSON body must be an object."));
    };
    // {"user_group_membership": {...}} (or dashed) wraps the record.
    let wrapped = [root.json, root.xml]
        .iter()
        .find(|k| matches!(object.get(**k), Some(serde_json::Value::Object(_))))
        .copied();
    if let Some(key) = wrapped {
        if let Some(serde_json::Value::Object(inner)) = object.remove(key) {
            object = inner;
        }
    }
    Ok(Fields(
        object
            .into_iter()
            .map(|(k, v)| {
                let value = match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.trim().to_string()),
                    other => Some(other.to_string()),
                };
                (dasherize(&k), value)
            })
            .collect(),
    ))
}

/// Validates an id field: present and a positive integer.
pub fn required_id(field: &str, value: Option<&str>) -> Result<i64, String> {
    match value.map(str::trim) {
        None | Some("") => Err(format!("{field} is missing.")),
        Some(text) => crate::domain::parse_id(text).ok_or_else(|| {
            format!(
                "{field} must be a positive integer, not \"{}\".",
                text.chars().take(40).collect::<String>()
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::render::MEMBERSHIP;

    fn parse(kind: BodyKind, body: &str) -> Result<Fields, ApiError> {
        let bytes = Bytes::copy_from_slice(body.as_bytes());
        actix_rt::System::new().block_on(read_fields(kind, bytes, MEMBERSHIP))
    }

    fn json(body: &str) -> Result<Fields, ApiError> {
        parse(BodyKind::Json, body)
    }

    #[test]
    fn json_bodies_in_every_shape() {
        for body in [
            r#"{"user-group-membership": {"user-id": 25, "user-group-id": 14}}"#,
            r#"{"user_group_membership": {"user_id": 25, "user_group_id": "14"}}"#,
            r#"{"user_id": 25, "user_group_id": 14}"#,
        ] {
            let f = json(body).unwrap();
            assert_eq!(f.get(&["user-id"]), Some(Some("25")), "{body}");
            assert_eq!(f.get(&["user-group-id"]), Some(Some("14")), "{body}");
        }
        let f = json(r#"{"user": "9"}"#).unwrap();
        assert_eq!(f.get(&["user-id", "user"]), Some(Some("9")));
        let f = json(r#"{"user_id": null, "x": [1]}"#).unwrap();
        assert_eq!(f.get(&["user-id"]), Some(None));
        assert_eq!(f.get(&["user-group-id"]), None);
    }

    #[test]
    fn bad_json_is_400() {
        for body in ["", "{", "[1,2]", "42", "{\"a\":}"] {
            assert!(matches!(json(body), Err(ApiError::BadRequest(_))), "{body}");
        }
    }

    #[test]
    fn form_bodies_bracketed_and_flat() {
        for body in [
            "user_group_membership%5Buser_id%5D=25&user_group_membership%5Buser_group_id%5D=14",
            "user_group_membership[user_id]=25&user_group_membership[user_group_id]=+14+",
            "user-group-membership[user-id]=25&user-group-membership[user-group-id]=14",
            "user_id=25&user_group_id=14&commit=Add",
        ] {
            let f = parse(BodyKind::Form, body).unwrap();
            assert_eq!(f.get(&["user-id"]), Some(Some("25")), "{body}");
            assert_eq!(f.get(&["user-group-id"]), Some(Some("14")), "{body}");
            assert_eq!(f.method_override(), None);
        }
        let f = parse(BodyKind::Form, "_method=DELETE&other%5Buser_id%5D=3").unwrap();
        assert_eq!(f.method_override().as_deref(), Some("delete"));
        assert_eq!(f.get(&["user-id"]), None);
        let many = vec!["a=1"; MAX_FORM_FIELDS + 1].join("&");
        assert!(matches!(
            parse(BodyKind::Form, &many),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn multipart_bodies() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"user_group_membership[user_id]\"\r\n\r\n25\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"user_group_id\"\r\n\r\n14\r\n--XyZ--\r\n";
        let f = parse(BodyKind::Multipart("XyZ".into()), body).unwrap();
        assert_eq!(f.get(&["user-id"]), Some(Some("25")));
        assert_eq!(f.get(&["user-group-id"]), Some(Some("14")));
        for bad in [
            "",
            "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1",
            "garbage",
        ] {
            assert!(
                matches!(
                    parse(BodyKind::Multipart("XyZ".into()), bad),
                    Err(ApiError::BadRequest(_))
                ),
                "{bad:?}"
            );
        }
    }
}
