//! syncd: the Syncd user-group-membership API, Rails-style XML over HTTP, on
//! SQLite or PostgreSQL. `src/main.rs` is a thin CLI over this crate, and the
//! integration tests drive the same crate.

pub mod cli;
pub mod config;
pub mod counts;
pub mod db;
pub mod defaults;
pub mod domain;
pub mod http;
pub mod routes;
pub mod security;
pub mod server;
pub mod state;
pub mod views;
pub mod xml;
