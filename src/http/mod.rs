//! The HTTP protocol as syncd speaks it: formats and content negotiation,
//! request heads and bodies, path and query parameters, cross-site forms,
//! sign-in, and the one error type with its statuses.

pub mod auth;
pub mod body;
pub mod cross_site;
pub mod errors;
pub mod format;
pub mod head;
pub mod idempotency;
pub mod inputs;
pub mod limits;
pub mod params;
pub mod sync_bodies;
