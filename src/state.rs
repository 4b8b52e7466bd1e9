//! What every handler shares (`AppState`), and running database work off
//! the async workers (`run_db`, `read_one`).

use actix_web::web;

use crate::db::{DbConnection, DbPool};
use crate::http::cross_site::AllowedOrigins;
use crate::http::errors::ApiError;
use crate::security::credentials::{PasswordCache, TokenCache};
use crate::security::lockout::Lockout;
use crate::security::password_checkers::PasswordCheckers;
use crate::security::throttle::{Limit, Throttle};

/// Failed sign-ins allowed per client address and per login in a window,
/// unless `SYNCD_AUTH_FAILURE_LIMIT` says otherwise.
pub const DEFAULT_AUTH_FAILURE_LIMIT: Limit = Limit {
    count: 10,
    window: std::time::Duration::from_secs(60),
};

/// Clients (addresses, logins, users) counted at once by each throttle.
const THROTTLED_KEYS: usize = 100_000;

/// Threads checking passwords at once. One: argon2 takes a core for about
/// 30 ms and 19 MiB, and on a small machine the other cores are for
/// answering requests; a cached sign-in skips it.
const PASSWORD_CHECKERS: usize = 1;

/// Password sign-ins waiting for a checker; past that, 503 at once.
const PASSWORD_CHECKS_QUEUED: usize = 8;

/// How long a token, once checked against the database, is taken on trust.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// What every handler shares.
pub struct AppState {
    pub pool: DbPool,
    pub passwords: PasswordCache,
    /// The threads that check passwords, with their own memory.
    pub password_checkers: PasswordCheckers,
    pub tokens: TokenCache,
    /// Other sites whose pages may post forms here.
    pub allowed_origins: AllowedOrigins,
    /// Failed password sign-ins, per client address and per login.
    pub sign_in_failures: Lockout,
    /// Requests per signed-in user, when `SYNCD_RATE_LIMIT` is set.
    pub rate_limit: Option<Throttle>,
    /// How long a request body may take to arrive (set from the server's
    /// request timeout).
    pub body_timeout: std::time::Duration,
}

impl AppState {
    pub fn new(pool: DbPool, allowed_origins: AllowedOrigins) -> AppState {
        AppState {
            passwords: PasswordCache::new(std::time::Duration::from_secs(300), 10_000),
            password_checkers: PasswordCheckers::start(PASSWORD_CHECKERS, PASSWORD_CHECKS_QUEUED),
            tokens: TokenCache::new(TOKEN_CACHE_TTL, 10_000),
            allowed_origins,
            pool,
            sign_in_failures: Lockout::new(DEFAULT_AUTH_FAILURE_LIMIT, THROTTLED_KEYS),
            rate_limit: None,
            body_timeout: crate::server::DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// The same state with room for `keys` addresses and as many logins in
    /// the sign-in lockout (100,000 each unless set; tests make it small).
    pub fn with_lockout_capacity(mut self, keys: usize) -> AppState {
        self.sign_in_failures = Lockout::new(self.sign_in_failures.limit(), keys);
        self
    }

    /// The same state with other limits on failed sign-ins and on requests.
    pub fn with_limits(mut self, auth_failures: Limit, rate_limit: Option<Limit>) -> AppState {
        self.sign_in_failures = Lockout::new(auth_failures, THROTTLED_KEYS);
        self.rate_limit = rate_limit.map(|l| Throttle::new(l, THROTTLED_KEYS));
        self
    }
}

/// Runs Diesel work on the blocking thread pool, off the async workers, with
/// a pooled connection taken inside the closure.
pub async fn run_db<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await?
}

/// Runs a point read (one row by its key) at once on the async worker when
/// the database is SQLite and a pooled connection is idle; otherwise as
/// [`run_db`]. Handing a read of a few microseconds to the blocking pool and
/// waking the worker again (futex, context switches) was most of the time of
/// `GET /user-group-memberships/{id}` (perf, bench S). SQLite in WAL mode
/// does not make readers wait for writers, so the worker is not held up;
/// PostgreSQL reads always go to the blocking pool, as they wait on the
/// network. Lists and writes use [`run_db`].
pub async fn read_one<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    if let Some(mut conn) = state.pool.try_get()
        && matches!(*conn, DbConnection::Sqlite(_))
    {
        return f(&mut conn);
    }
    run_db(state, f).await
}
