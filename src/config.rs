//! `Config`: all that a running syncd is told, in one value. `serve`
//! builds it once from its flags and the environment (`cli::serve`); tests
//! change what they need in `Config::default()`. `Application::build`
//! makes the server and the shared state (`AppState`) from it.

use std::time::Duration;

use crate::db;
use crate::db::{DbPool, PoolSettings};
use crate::defaults;
use crate::state::Guards;

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub database: Database,
    pub server: Server,
    /// What the shared state refuses and how long it waits; read by the
    /// server too (the request timeout).
    pub guards: Guards,
}

/// Where the data lives and how connections are pooled.
#[derive(Debug, Clone)]
pub struct Database {
    pub url: String,
    pub pool: PoolSettings,
}

/// How the server runs. The listener is bound by the caller (port 0 in
/// tests), so the address is not here.
#[derive(Debug, Clone)]
pub struct Server {
    pub workers: usize,
    /// How long a graceful stop waits for requests in flight.
    pub shutdown_timeout: Duration,
    /// How long a stop first keeps serving with `/readyz` at 503
    /// (`SYNCD_DRAIN_TIME`), before the listening socket closes.
    pub drain_time: Duration,
    /// Connections open at once, all workers together (`None`: actix's
    /// default of 25,000 per worker). `serve` derives it from the
    /// descriptor limit.
    pub max_connections: Option<u64>,
    /// Serve HTTPS with this configuration instead of plain HTTP.
    pub tls: Option<rustls::ServerConfig>,
    /// Where Prometheus metrics are served (`SYNCD_METRICS_BIND`); none by
    /// default. Port 0 picks a free one (tests).
    pub metrics_bind: Option<String>,
    /// Bytes of rendered answers kept (`SYNCD_ANSWER_CACHE`); 0 keeps none.
    pub answer_cache: usize,
}

impl Database {
    /// Opens the database and applies pending migrations.
    pub fn open(&self) -> Result<DbPool, db::OpenError> {
        db::open(&self.url, &self.pool)
    }
}

impl Default for Database {
    fn default() -> Database {
        Database {
            url: defaults::DATABASE_URL.into(),
            pool: PoolSettings {
                max_size: defaults::POOL_SIZE,
                connection_timeout: Duration::from_millis(defaults::POOL_TIMEOUT_MS),
                sqlite_busy_timeout: Duration::from_millis(defaults::SQLITE_BUSY_TIMEOUT_MS),
            },
        }
    }
}

impl Default for Server {
    fn default() -> Server {
        Server {
            workers: defaults::workers(),
            shutdown_timeout: defaults::SHUTDOWN_TIMEOUT,
            drain_time: defaults::DRAIN_TIME,
            max_connections: None,
            tls: None,
            metrics_bind: None,
            answer_cache: defaults::ANSWER_CACHE,
        }
    }
}
