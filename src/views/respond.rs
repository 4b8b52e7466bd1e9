//! Building responses: content type, `ETag` on every GET, and 304 for a
//! matching `If-None-Match`.

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::http::format::ApiFormat;
use crate::views::render::{self, Encoder};

/// A strong ETag: a 128-bit fingerprint of the exact bytes. XXH3 rather
/// than SHA-256: the tag only has to change when the body does (the client
/// can read the body anyway), and SHA-256 of an 88 KB list was 7% of its
/// time (`perf`, bench L).
pub fn strong_etag(body: &[u8]) -> String {
    let digest = xxhash_rust::xxh3::xxh3_128(body);
    format!("\"{digest:032x}\"")
}

/// A weak ETag for a streamed list, from the request and a version of the
/// data it covers (the body is not known before it is sent).
pub fn weak_etag(req: &HttpRequest, format: ApiFormat, version: &str) -> String {
    let mut h = Sha256::new();
    h.update(req.path().as_bytes());
    h.update(b"?");
    h.update(req.query_string().as_bytes());
    h.update(format.extension().as_bytes());
    h.update(version.as_bytes());
    format!("W/\"{}\"", hex::encode(&h.finalize()[..16]))
}

fn is_read(req: &HttpRequest) -> bool {
    req.method() == Method::GET || req.method() == Method::HEAD
}

/// True when `If-None-Match` names this tag (weak comparison, as for GET).
pub fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    let Some(value) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = bare(etag);
    value.split(',').any(|t| t.trim() == "*" || bare(t) == ours)
}

/// 304 with the tag and no body.
pub fn not_modified_response(etag: &str) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header((header::ETAG, etag.to_string()))
        .finish()
}

/// One record (or any whole document) as a complete response: what
/// `write` writes, in `format`, with [`full`]'s headers.
pub fn record(
    req: &HttpRequest,
    status: StatusCode,
    format: ApiFormat,
    write: impl FnOnce(&mut Encoder),
) -> HttpResponse {
    full(req, status, format, render::document(format, write))
}

/// A response whose body is complete: a 200 to a GET or HEAD gets a strong
/// ETag and may become 304. Other headers are added by the caller.
pub fn full(
    req: &HttpRequest,
    status: StatusCode,
    format: ApiFormat,
    body: Vec<u8>,
) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    builder.content_type(format.content_type());
    if is_read(req) && status == StatusCode::OK {
        let etag = strong_etag(&body);
        if not_modified(req, &etag) {
            return not_modified_response(&etag);
        }
        builder.insert_header((header::ETAG, etag));
    }
    builder.body(body)
}

/// A complete response with an `ETag` of its own (a member set's, which
/// depends on the set and not on the bytes); a GET or HEAD that names it
/// in `If-None-Match` gets 304.
pub fn tagged(
    req: &HttpRequest,
    status: StatusCode,
    format: ApiFormat,
    etag: &str,
    body: Vec<u8>,
) -> HttpResponse {
    if is_read(req) && not_modified(req, etag) {
        return not_modified_response(etag);
    }
    HttpResponse::build(status)
        .content_type(format.content_type())
        .insert_header((header::ETAG, etag.to_string()))
        .body(body)
}

/// The answer to a DELETE: 200, empty body, the format's content type.
pub fn empty_ok(format: ApiFormat) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(format.content_type())
        .finish()
}

/// Adds a header to a built response (values syncd makes are always valid).
pub fn with_header(
    mut response: HttpResponse,
    name: header::HeaderName,
    value: &str,
) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
    response
}
