//! Integration tests: the real server over real HTTP against a fresh database.

mod auth;
mod bodies;
mod cli;
mod conditional;
mod crash;
mod create;
mod delete;
mod docs;
mod errors;
mod forms;
mod golden;
mod hardening;
mod helpers;
mod import;
mod json;
mod lifecycle;
mod list;
mod outage;
mod page;
mod pg_cluster;
mod show;
mod transport;
mod user_groups;
mod users;
