//! What every handler shares (`AppState`) and what it is built from
//! (`Guards`), and running database work off the async workers (`run_db`,
//! `read_one`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::web;

use crate::counts::{RateLimit, Shared, SignInFailures};
use crate::db::queries::idempotency::Sweeper;
use crate::db::{DbConnection, DbPool};
use crate::defaults;
use crate::http::cross_site::AllowedOrigins;
use crate::http::errors::ApiError;
use crate::security::lockout::Lockout;
use crate::security::password_checkers::PasswordCheckers;
use crate::security::secrets::{PasswordCache, TokenCache};
use crate::security::throttle::{Limit, Throttle};

/// Threads checking passwords at once. One: argon2 takes a core for about
/// 30 ms and 19 MiB, and on a small machine the other cores are for
/// answering requests; a cached sign-in skips it.
const PASSWORD_CHECKERS: usize = 1;

/// Password sign-ins waiting for a checker; past that, 503 at once.
const PASSWORD_CHECKS_QUEUED: usize = 8;

/// How long a verified login and password are remembered, and how many.
const PASSWORD_CACHE_TTL: Duration = Duration::from_secs(300);
const PASSWORD_CACHE_ENTRIES: usize = 10_000;

/// How long a token, once checked against the database, is taken on trust.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(1);
const TOKEN_CACHE_ENTRIES: usize = 10_000;

/// What the server refuses: the part of `Config` that [`AppState`] is
/// built from, and the request timeout. It lives here, not in `config`, so
/// that the state depends on nothing above it.
#[derive(Debug, Clone)]
pub struct Guards {
    /// Other sites whose pages may post forms here.
    pub allowed_origins: AllowedOrigins,
    /// Failed password sign-ins allowed per address and per login.
    pub auth_failure_limit: Limit,
    /// Requests per signed-in user (`SYNCD_RATE_LIMIT`); none unless set.
    pub rate_limit: Option<Limit>,
    /// How long a client may take to send a request's head, and then its
    /// body: read by the server (`client_request_timeout`, and
    /// `http::body::BodyDeadline`), not by the state.
    pub request_timeout: Duration,
    /// Addresses, and as many logins, the sign-in lockout holds at most in
    /// memory, on SQLite (tests make it small). On PostgreSQL the counts are
    /// rows of `throttle_counts`, bounded by their windows instead.
    pub lockout_keys: usize,
    /// The largest member-set or change-set body (`SYNCD_MAX_SYNC_BODY`),
    /// read by the server (`http::body::SyncBodies`).
    pub max_sync_body: usize,
    /// Member-set and change-set bodies handled at once (the rest wait,
    /// then get 503): what bounds their memory.
    pub sync_slots: usize,
}

impl Default for Guards {
    fn default() -> Guards {
        Guards {
            allowed_origins: AllowedOrigins::default(),
            auth_failure_limit: defaults::AUTH_FAILURE_LIMIT,
            rate_limit: None,
            request_timeout: defaults::REQUEST_TIMEOUT,
            lockout_keys: defaults::THROTTLED_KEYS,
            max_sync_body: defaults::MAX_SYNC_BODY,
            sync_slots: defaults::SYNC_SLOTS,
        }
    }
}

/// What every handler shares.
pub struct AppState {
    pub pool: DbPool,
    pub passwords: PasswordCache,
    /// The threads that check passwords, with their own memory.
    pub password_checkers: PasswordCheckers,
    pub tokens: TokenCache,
    /// Other sites whose pages may post forms here.
    pub allowed_origins: AllowedOrigins,
    /// Failed password sign-ins, per client address and per login: in
    /// memory on SQLite, shared by every process on PostgreSQL.
    pub sign_in_failures: SignInFailures,
    /// Requests per signed-in user, when `SYNCD_RATE_LIMIT` is set; kept as
    /// the sign-in failures are.
    pub rate_limit: Option<RateLimit>,
    /// When this process last swept expired idempotency keys.
    pub idempotency_sweeper: Sweeper,
    /// Set when a stop begins (SIGTERM): `/readyz` answers 503 from then on.
    pub stopping: Stopping,
}

/// Whether this process is stopping: set once by the server on SIGTERM or
/// Ctrl-C, read by `/readyz` and by the middleware that closes connections
/// after their response while draining. Shared, so cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Stopping(Arc<AtomicBool>);

impl Stopping {
    pub fn begin(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl AppState {
    /// The state `Application::build` shares between its workers. Asks a
    /// pooled connection which backend it is: on PostgreSQL the sign-in and
    /// rate counts are the database's (several processes may serve it), on
    /// SQLite this process's. Fails when no connection can be had.
    pub fn new(pool: DbPool, guards: &Guards) -> Result<AppState, diesel::r2d2::PoolError> {
        let postgres = matches!(*pool.get()?, DbConnection::Postgres(_));
        let shared = postgres.then(|| Shared::new(pool.clone()));
        let sign_in_failures = match &shared {
            Some(counts) => SignInFailures::Shared {
                limit: guards.auth_failure_limit,
                counts: counts.clone(),
            },
            None => {
                SignInFailures::Memory(Lockout::new(guards.auth_failure_limit, guards.lockout_keys))
            }
        };
        let rate_limit = guards.rate_limit.map(|limit| match &shared {
            Some(counts) => RateLimit::Shared {
                limit,
                counts: counts.clone(),
            },
            None => RateLimit::Memory(Throttle::new(limit, defaults::THROTTLED_KEYS)),
        });
        Ok(AppState {
            passwords: PasswordCache::new(PASSWORD_CACHE_TTL, PASSWORD_CACHE_ENTRIES),
            password_checkers: PasswordCheckers::start(PASSWORD_CHECKERS, PASSWORD_CHECKS_QUEUED),
            tokens: TokenCache::new(TOKEN_CACHE_TTL, TOKEN_CACHE_ENTRIES),
            allowed_origins: guards.allowed_origins.clone(),
            pool,
            sign_in_failures,
            rate_limit,
            idempotency_sweeper: Sweeper::default(),
            stopping: Stopping::default(),
        })
    }
}

/// Runs Diesel work on the blocking thread pool, off the async workers, with
/// a pooled connection taken inside the closure.
pub async fn run_db<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    run_on(state.pool.clone(), f).await
}

/// [`run_db`] on a pool of its own: for work that outlives the request's
/// borrow of the state (a task spawned to finish what a request began).
pub async fn run_on<T, F>(pool: DbPool, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
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
