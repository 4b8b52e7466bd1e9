//! Request bodies: the content type, a size limit applied before and while
//! reading, and the fields of the record a body holds, in XML or JSON.

use actix_web::http::header;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, HttpRequest};
use futures_util::StreamExt;

use super::errors::ApiError;
use super::render::Name;
use crate::xml::{dasherize, read_record};

/// The largest body read, in every encoding.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The encodings a body may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Xml,
    Json,
}

/// The body's encoding from its `Content-Type`; 415 for anything else.
pub fn body_kind(req: &HttpRequest) -> Result<BodyKind, ApiError> {
    match req.content_type().to_ascii_lowercase().as_str() {
        "application/xml" | "text/xml" => Ok(BodyKind::Xml),
        "application/json" => Ok(BodyKind::Json),
        "" => Err(ApiError::UnsupportedMediaType(
            "Say what the body is: send Content-Type: application/xml or application/json.".into(),
        )),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "syncd does not read {} bodies: send application/xml or application/json.",
            other.chars().take(60).collect::<String>()
        ))),
    }
}

/// Reads the whole body, refusing a declared or actual size over the limit
/// (a declared one without reading anything).
pub async fn read(req: &HttpRequest, mut payload: web::Payload) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let capacity = declared.unwrap_or(1024).min(MAX_BODY_BYTES as u64) as usize;
    let mut body = BytesMut::with_capacity(capacity);
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("The request body could not be read."))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The fields of a record body, names dasherized (`user_id` -> `user-id`).
/// A value of `None` is an explicit nil or null; an absent field is absent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fields(Vec<(String, Option<String>)>);

impl Fields {
    /// The first of `names` present, if any: `Some(None)` for nil/null.
    pub fn get(&self, names: &[&str]) -> Option<Option<&str>> {
        names.iter().find_map(|n| {
            self.0
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_deref())
        })
    }
}

/// Reads the fields of a record whose root is `root`: in XML the root
/// element; in JSON either `{"root": {...}}` or the flat object.
pub fn read_fields(kind: BodyKind, body: &[u8], root: Name) -> Result<Fields, ApiError> {
    match kind {
        BodyKind::Xml => Ok(Fields(
            read_record(body, root.xml)?
                .into_iter()
                .map(|f| (f.name, f.value))
                .collect(),
        )),
        BodyKind::Json => read_json_fields(body, root),
    }
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
    use crate::api::render::MEMBERSHIP;

    fn json(body: &str) -> Result<Fields, ApiError> {
        read_fields(BodyKind::Json, body.as_bytes(), MEMBERSHIP)
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
}
