//! The HTTP API: handlers, authentication, formats and errors.

pub mod auth;
pub mod body;
pub mod cross_site;
pub mod errors;
pub mod format;
pub mod lists;
pub mod memberships;
pub mod page;
pub mod params;
pub mod render;
pub mod respond;
pub mod user_groups;
pub mod users;

use actix_web::web;

use crate::credentials::{PasswordCache, TokenCache};
use crate::db::{DbConnection, DbPool};
use cross_site::AllowedOrigins;
use errors::ApiError;

/// How long a token, once checked against the database, is taken on trust.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// What every handler shares.
pub struct AppState {
    pub pool: DbPool,
    pub passwords: PasswordCache,
    pub tokens: TokenCache,
    /// Other sites whose pages may post forms here.
    pub allowed_origins: AllowedOrigins,
}

impl AppState {
    pub fn new(pool: DbPool, allowed_origins: AllowedOrigins) -> AppState {
        AppState {
            passwords: PasswordCache::new(std::time::Duration::from_secs(300), 10_000),
            tokens: TokenCache::new(TOKEN_CACHE_TTL, 10_000),
            allowed_origins,
            pool,
        }
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
