//! The default of every setting, each written once: clap shows and uses
//! these (`--help` prints them), and `Config::default()` is built from
//! them, so a test server runs with what `syncd serve` runs with.
//!
//! A leaf: it imports nothing of the HTTP side, the server or the routes,
//! so that any of them (such as `http::body`) may read a default without
//! an import cycle.

use std::time::Duration;

use crate::security::throttle::Limit;

/// `--database-url` / `DATABASE_URL`.
pub const DATABASE_URL: &str = "syncd.sqlite3";

/// `--pool-size` / `SYNCD_POOL_SIZE`: database connections in the pool.
pub const POOL_SIZE: u32 = 8;

/// `--pool-timeout-ms` / `SYNCD_POOL_TIMEOUT_MS`: how long a request waits
/// for a free connection before it answers 503.
pub const POOL_TIMEOUT_MS: u64 = 1500;

/// `--sqlite-busy-timeout-ms` / `SYNCD_SQLITE_BUSY_TIMEOUT_MS`.
pub const SQLITE_BUSY_TIMEOUT_MS: u64 = 5000;

/// `--bind` / `SYNCD_BIND`.
pub const BIND: &str = "127.0.0.1:3000";

/// `--request-timeout` / `SYNCD_REQUEST_TIMEOUT`: how long a client may
/// take to send a request's head, and then its body.
/// The largest member-set or change-set body (`SYNCD_MAX_SYNC_BODY`): a
/// set of 100,000 logins fits (API.md 8.4). Every other body: 64 KiB.
pub const MAX_SYNC_BODY: usize = 16 * 1024 * 1024;

/// Member-set and change-set requests handled at once; others wait for a
/// slot (at most the request timeout, then 503). Two: a 100,000-member
/// set takes about a second of one core, and each may hold a 16 MiB body
/// and its parse.
pub const SYNC_SLOTS: usize = 2;

pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `--auth-failure-limit` / `SYNCD_AUTH_FAILURE_LIMIT`: failed sign-ins
/// allowed per client address and per login in a window.
pub const AUTH_FAILURE_LIMIT: Limit = Limit {
    count: 10,
    window: Duration::from_secs(60),
};

/// How long a graceful stop waits for the requests in flight.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// `--drain-time` / `SYNCD_DRAIN_TIME`: how long a stopping process keeps
/// serving, with `/readyz` answering 503, before it closes its listening
/// socket, so that a load balancer's checks take it out of the rotation
/// first. None by default: a lone process has no balancer to wait for.
pub const DRAIN_TIME: Duration = Duration::ZERO;

/// The longest drain `--drain-time` takes.
pub const MAX_DRAIN_TIME: Duration = Duration::from_secs(600);

/// Clients (addresses, logins, users) counted at once by the sign-in
/// lockout (per table) and by the rate limit.
/// `--answer-cache` / `SYNCD_ANSWER_CACHE`: bytes of rendered answers kept
/// per process (`views::answers`); 0 keeps none.
pub const ANSWER_CACHE: usize = 8 * 1024 * 1024;

pub const THROTTLED_KEYS: usize = 100_000;

/// HTTP workers when `--workers` is not given: one per core (two if the
/// number of cores cannot be read).
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
