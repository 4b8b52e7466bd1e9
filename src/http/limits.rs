//! The bounds on every request, before anything is parsed: one leaf module,
//! read by the parsers that enforce them and by the error messages that
//! name them (so neither imports the other).

/// The largest body read, in every encoding.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A size as a message says it: `64 KiB`, `16 MiB`.
pub fn in_words(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// At most this many fields are read from a form body.
pub const MAX_FORM_FIELDS: usize = 256;

/// Bytes of all header names and values together.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Headers in one request.
pub const MAX_HEADERS: usize = 64;

/// Bytes of the path and query string.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// At most this many query parameters are looked at.
pub const MAX_QUERY_PARAMS: usize = 64;
