//! The `Idempotency-Key` header (API.md 8.6) as a handler's input, and the
//! words of its answers. What a key does is in
//! [`crate::routes::idempotent::once`]; how it is kept, in
//! [`crate::db::queries::idempotency`].

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;

use crate::http::errors::ApiError;
use crate::http::inputs::Inputs;

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// The header a replayed answer carries.
pub const REPLAYED: &str = "idempotent-replayed";

/// The longest key, in characters (all ASCII, so bytes too).
pub const MAX_KEY_CHARS: usize = 255;

/// The key a request was sent with, if any: 1 to [`MAX_KEY_CHARS`] printable
/// ASCII characters (`0x20` to `0x7E`; a space inside a key is kept, as
/// HTTP drops those around a header's value). Parsed after sign-in like
/// every input (`Manager<(ApiFormat, IdempotencyKey)>`), so a 401, 403 or
/// 429 comes first; a bad key is 400 and nothing is done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl Inputs for IdempotencyKey {
    fn parse(req: &HttpRequest) -> Result<IdempotencyKey, ApiError> {
        parse(req.headers()).map(IdempotencyKey)
    }
}

/// The key in `headers`: `None` without the header; 400 for an empty,
/// too long or not printable ASCII key, or for more than one header.
pub fn parse(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(HEADER);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "Send one Idempotency-Key header, not several.",
        ));
    }
    let key = value
        .as_bytes()
        .trim_ascii_start()
        .trim_ascii_end()
        .to_vec();
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.iter().all(|b| (0x20..=0x7E).contains(b))
    {
        return Err(bad_key());
    }
    // Only printable ASCII is left: always valid UTF-8.
    String::from_utf8(key).map(Some).map_err(|_| bad_key())
}

fn bad_key() -> ApiError {
    ApiError::bad_request(format!(
        "An Idempotency-Key must be 1 to {MAX_KEY_CHARS} printable ASCII characters."
    ))
}

/// 422: the key was used with another method, path or body.
pub fn reused() -> ApiError {
    ApiError::unprocessable("This Idempotency-Key was used with a different request.")
}

/// 409: the first request with the key has not been answered yet.
pub fn still_running() -> ApiError {
    ApiError::Conflict(
        "A request with this Idempotency-Key is still being processed; retry later.".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn with(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                HeaderName::from_static(HEADER),
                HeaderValue::from_bytes(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn a_key_is_1_to_255_printable_ascii_characters() {
        assert_eq!(parse(&HeaderMap::new()).unwrap(), None);
        assert_eq!(parse(&with(&[b"a"])).unwrap().as_deref(), Some("a"));
        let longest = "k".repeat(255);
        assert_eq!(
            parse(&with(&[longest.as_bytes()])).unwrap(),
            Some(longest.clone())
        );
        assert_eq!(
            parse(&with(&[b"order 42 ~!@#$%^&*()"])).unwrap().as_deref(),
            Some("order 42 ~!@#$%^&*()")
        );
        // What HTTP does not count as the value.
        assert_eq!(parse(&with(&[b"  k1 \t"])).unwrap().as_deref(), Some("k1"));
        for bad in [
            &b""[..],
            b"   ",
            "k".repeat(256).as_bytes(),
            b"tab\there",
            "caf\u{e9}".as_bytes(),
            b"\x80\xff",
        ] {
            let err = parse(&with(&[bad])).unwrap_err();
            assert!(matches!(err, ApiError::BadRequest(_)), "{bad:?}");
            assert_eq!(
                err.messages(),
                ["An Idempotency-Key must be 1 to 255 printable ASCII characters."]
            );
        }
        assert!(parse(&with(&[b"a", b"a"])).is_err());
    }
}
