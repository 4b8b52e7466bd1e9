//! Limits on a request's head, checked before routing and sign-in. actix
//! itself buffers at most 128 KiB of head and 96 headers; these are the
//! tighter limits of an API whose requests carry a few short headers.

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::http::errors::ApiError;
use crate::http::limits::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES};

/// 431 for too many or too large headers, 414 for a long URI, 400 (and the
/// connection closed) for both `Content-Length` and `Transfer-Encoding`.
pub fn check(req: &HttpRequest) -> Result<(), ApiError> {
    let headers = req.headers();
    // actix reads such a body as chunked; a proxy in front may have read
    // the Content-Length. Answering both ways is request smuggling.
    if headers.contains_key(header::CONTENT_LENGTH)
        && headers.contains_key(header::TRANSFER_ENCODING)
    {
        return Err(ApiError::AmbiguousLength);
    }
    let count = headers.len();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if count > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge);
    }
    let uri = req.uri();
    let uri_bytes = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if uri_bytes > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong);
    }
    Ok(())
}
