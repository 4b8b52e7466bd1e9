//! Request bodies: the content type, a size limit applied before and while
//! reading, and the record a body holds.

use actix_web::http::header;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, HttpRequest};
use futures_util::StreamExt;

use super::errors::ApiError;
use crate::xml::read_record;

/// The largest body read, in every encoding.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The encodings a body may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Xml,
}

/// The body's encoding from its `Content-Type`; 415 for anything else.
pub fn body_kind(req: &HttpRequest) -> Result<BodyKind, ApiError> {
    match req.content_type().to_ascii_lowercase().as_str() {
        "application/xml" | "text/xml" => Ok(BodyKind::Xml),
        "" => Err(ApiError::UnsupportedMediaType(
            "Say what the body is: send Content-Type: application/xml.".into(),
        )),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "syncd does not read {} bodies: send application/xml.",
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
    let mut body =
        BytesMut::with_capacity(declared.unwrap_or(1024).min(MAX_BODY_BYTES as u64) as usize);
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

/// The raw values of a membership body, before validation. `None` means the
/// field was absent or nil.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MembershipInput {
    pub user_id: Option<String>,
    pub user_group_id: Option<String>,
}

impl MembershipInput {
    pub fn parse(kind: BodyKind, body: &[u8]) -> Result<Self, ApiError> {
        match kind {
            BodyKind::Xml => {
                let mut input = MembershipInput::default();
                for field in read_record(body, "user-group-membership")? {
                    match field.name.as_str() {
                        "user-id" => input.user_id = field.value,
                        "user-group-id" => input.user_group_id = field.value,
                        _ => {} // unknown elements are ignored
                    }
                }
                Ok(input)
            }
        }
    }
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
