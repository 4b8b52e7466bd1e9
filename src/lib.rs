//! syncd: the Syncd user-group-membership API, Rails-style XML over HTTP, on
//! SQLite or PostgreSQL. `src/main.rs` is a thin CLI over this crate, and the
//! integration tests drive the same crate.

pub mod api;
pub mod app;
pub mod cli;
pub mod credentials;
pub mod db;
pub mod descriptors;
pub mod domain;
pub mod html;
pub mod inflight;
pub mod json;
pub mod lockout;
pub mod password_checkers;
pub mod throttle;
pub mod tls;
pub mod xml;
