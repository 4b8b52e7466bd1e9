//! The database: which backend a URL names, the connection pool, the embedded
//! migrations and per-connection settings. Everything above this module uses
//! one connection type, [`DbConnection`], whichever backend is behind it.

pub mod models;
pub mod queries;
pub mod schema;
mod timestamp;
pub mod version;

use std::time::Duration;

use crate::defaults;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

pub type DbPool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// The database a URL names, picked from its scheme (not by trying each
/// backend in turn, which hides the real reason a connection failed).
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// A file path, or an in-memory database (`:memory:`).
    Sqlite(String),
    Postgres(String),
}

impl std::fmt::Debug for Target {
    // A PostgreSQL URL may hold a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Sqlite(path) => write!(f, "Sqlite({path:?})"),
            Target::Postgres(_) => write!(f, "Postgres(..)"),
        }
    }
}

impl Target {
    /// Reads `postgres://`, `postgresql://`, `sqlite://PATH`, `sqlite:PATH`,
    /// `:memory:` or a plain path.
    pub fn parse(url: &str) -> Result<Target, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("the database URL is empty".into());
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(without_gss(url)));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() {
            return Err("the SQLite database URL names no file".into());
        }
        if let Some((scheme, _)) = url.split_once("://") {
            if scheme != "sqlite" {
                return Err(format!(
                    "unsupported database URL scheme '{scheme}': use postgres://, postgresql:// or sqlite://"
                ));
            }
        }
        Ok(Target::Sqlite(path.to_string()))
    }

    /// A short description for logs, never holding credentials.
    pub fn describe(&self) -> String {
        match self {
            Target::Sqlite(path) => format!("SQLite database {path}"),
            Target::Postgres(url) => {
                // Keep host, port and database name; drop the user and password.
                let rest = url.split_once("://").map(|(_, r)| r).unwrap_or("");
                let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
                let host = host.split('?').next().unwrap_or(host);
                format!("PostgreSQL database {host}")
            }
        }
    }

    fn is_memory(&self) -> bool {
        matches!(self, Target::Sqlite(p) if p == ":memory:")
    }
}

/// Adds `gssencmode=disable` unless the URL sets it: syncd talks to its
/// database over plain TCP or TLS, and libpq's GSSAPI (Kerberos) probe both
/// slows every connect and was seen to abort the process at exit when a
/// connect was still under way in another thread.
fn without_gss(url: &str) -> String {
    if url.contains("gssencmode=") {
        return url.to_string();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}gssencmode=disable")
}

/// Pool settings; the defaults (`crate::defaults`, the same ones the
/// command line shows) suit a 2-core machine.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_size: u32,
    /// How long a request waits for a free connection before it answers 503.
    pub connection_timeout: Duration,
    /// How long SQLite waits on a locked database before it gives up.
    pub sqlite_busy_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_size: defaults::POOL_SIZE,
            connection_timeout: Duration::from_millis(defaults::POOL_TIMEOUT_MS),
            sqlite_busy_timeout: Duration::from_millis(defaults::SQLITE_BUSY_TIMEOUT_MS),
        }
    }
}

/// Opens connections for r2d2, applying the per-connection settings.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    target: Target,
    sqlite_busy_timeout: Duration,
}

impl ConnectionManager {
    /// Opens connections to `url` with `settings`' per-connection part.
    pub fn new(url: &str, settings: &PoolSettings) -> Result<ConnectionManager, String> {
        Ok(ConnectionManager {
            target: Target::parse(url)?,
            sqlite_busy_timeout: settings.sqlite_busy_timeout,
        })
    }

    /// True for SQLite's `:memory:`, which each connection sees apart.
    pub fn is_memory(&self) -> bool {
        self.target.is_memory()
    }

    /// True for a SQLite database (a file or `:memory:`).
    pub fn is_sqlite(&self) -> bool {
        matches!(self.target, Target::Sqlite(_))
    }

    /// One connection, with the per-connection settings.
    pub fn open(&self) -> Result<DbConnection, ConnectionError> {
        match &self.target {
            Target::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                // busy_timeout first: switching to WAL takes a lock, and a pool
                // opening several connections at once would otherwise fail.
                let pragmas = format!(
                    "PRAGMA busy_timeout = {};
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;",
                    self.sqlite_busy_timeout.as_millis()
                );
                conn.batch_execute(&pragmas)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
            Target::Postgres(url) => {
                let mut conn = PgConnection::establish(url)?;
                conn.batch_execute("SET TIME ZONE 'UTC'")
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Postgres(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.open().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// Why the database could not be opened, in words for an operator.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    BadUrl(String),
    #[error("cannot open the {what}: {reason}")]
    Connect { what: String, reason: String },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(String),
}

/// Connects once (so a bad URL or a down server fails now, with its real
/// reason), applies pending migrations, and builds the pool.
pub fn open(url: &str, settings: &PoolSettings) -> Result<DbPool, OpenError> {
    let manager = ConnectionManager::new(url, settings).map_err(OpenError::BadUrl)?;
    let target = manager.target.clone();
    let memory = target.is_memory();
    if let Target::Sqlite(path) = &target
        && !memory
    {
        create_private(path);
    }
    let mut first = manager.open().map_err(|e| OpenError::Connect {
        what: target.describe(),
        reason: connection_error_words(&e),
    })?;
    if !memory {
        run_migrations(&mut first)?;
    }
    drop(first);
    let builder = r2d2::Pool::builder()
        .connection_timeout(settings.connection_timeout)
        // No ping at check-out: it was a second round trip on every
        // PostgreSQL request. A connection that died with its server fails
        // its next query (a 503 with Retry-After), libpq then reports it
        // bad, and `has_broken` makes the pool drop it.
        .test_on_check_out(false);
    if !memory {
        return Ok(builder
            .max_size(settings.max_size.max(1))
            .build_unchecked(manager));
    }
    // `:memory:` lives as long as its one connection: keep exactly one, forever.
    let pool = builder
        .max_size(1)
        .min_idle(Some(1))
        .max_lifetime(None)
        .idle_timeout(None)
        .build(manager)
        .map_err(|e| OpenError::Connect {
            what: target.describe(),
            reason: e.to_string(),
        })?;
    let mut conn = pool.get().map_err(|e| OpenError::Connect {
        what: target.describe(),
        reason: e.to_string(),
    })?;
    run_migrations(&mut conn)?;
    drop(conn);
    Ok(pool)
}

/// Creates a SQLite database file readable and writable by its owner only
/// (0600) when it does not exist yet: it holds password hashes and token
/// digests. SQLite, which would create it 0644 (under the usual umask),
/// then opens the empty file as a new database, and creates the -wal and
/// -shm files with the database file's mode. An existing file keeps its
/// mode: an operator may have chosen another one (a backup group, say),
/// and syncd does not overrule that.
///
/// Failures are left to SQLite's own open, which reports them with the real
/// reason (a missing directory, no permission). `file:` URIs are left to
/// SQLite too: their path is not the file name.
/// Creates a new, empty file readable and writable by its owner only
/// (0600), failing if it exists: where `syncd backup` writes.
pub fn create_private_new(path: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(|_| ())
}

fn create_private(path: &str) {
    if path.starts_with("file:") {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
    }
}

fn connection_error_words(e: &ConnectionError) -> String {
    match e {
        ConnectionError::BadConnection(msg) | ConnectionError::InvalidConnectionUrl(msg) => {
            msg.trim().to_string()
        }
        other => other.to_string().trim().to_string(),
    }
}

/// Applies pending migrations, choosing the set for the connection's backend.
///
/// Several syncd processes may start at once on one new database (replicas
/// behind a balancer). On PostgreSQL the migrations run under a session
/// advisory lock, so one process applies them while the others wait, then
/// find nothing pending. SQLite has no such lock: a process that finds a
/// migration applied under it (its statements fail) looks again and
/// applies what is still pending, a few times.
pub fn run_migrations(conn: &mut DbConnection) -> Result<(), OpenError> {
    let failed = |e: &dyn std::fmt::Display| OpenError::Migrate(e.to_string());
    match conn {
        DbConnection::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATIONS_LOCK})"))
                .map_err(|e| failed(&e))?;
            let result = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
            // Also released when the connection closes.
            let _ = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATIONS_LOCK})"));
            result.map_err(|e| failed(&*e))
        }
        DbConnection::Sqlite(c) => {
            let mut tries = 0;
            loop {
                match c.run_pending_migrations(SQLITE_MIGRATIONS) {
                    Ok(_) => return Ok(()),
                    Err(e) if tries < 10 => {
                        tries += 1;
                        log::info!(
                            "migrations: another process may be applying them ({e}); looking again"
                        );
                        std::thread::sleep(std::time::Duration::from_millis(200));
                    }
                    Err(e) => return Err(failed(&*e)),
                }
            }
        }
    }
}

/// The key of the advisory lock the migrations run under (PostgreSQL): any
/// fixed number; this one is "syncd" in ASCII.
const MIGRATIONS_LOCK: i64 = 0x0073_796e_6364;

/// True when the database has every migration this binary knows (what
/// `/readyz` asks).
pub fn migrations_current(conn: &mut DbConnection) -> diesel::QueryResult<bool> {
    let pending = match conn {
        DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        DbConnection::Postgres(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
    };
    pending
        .map(|p| !p)
        .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))
}

impl DbConnection {
    fn ping(&mut self) -> diesel::QueryResult<()> {
        self.batch_execute("SELECT 1")
    }

    fn is_broken(&mut self) -> bool {
        match self {
            DbConnection::Sqlite(c) => c.is_broken(),
            DbConnection::Postgres(c) => c.is_broken(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled SQLite is built as `.cargo/config.toml` says (the speed
    /// of every read depends on it; see docs/PERFORMANCE.md).
    #[test]
    fn sqlite_is_built_with_the_project_flags() {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Opt {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<Opt>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        for wanted in ["ENABLE_QPSG", "THREADSAFE=2", "DEFAULT_MEMSTATUS=0"] {
            assert!(
                options.iter().any(|o| o == wanted),
                "{wanted} in {options:?}"
            );
        }
    }

    #[test]
    fn urls_pick_their_backend() {
        assert_eq!(
            Target::parse("postgres://u:p@h/db").unwrap(),
            Target::Postgres("postgres://u:p@h/db?gssencmode=disable".into())
        );
        assert_eq!(
            Target::parse("postgresql://h/db?sslmode=require").unwrap(),
            Target::Postgres("postgresql://h/db?sslmode=require&gssencmode=disable".into())
        );
        assert_eq!(
            Target::parse("postgres://h/db?gssencmode=prefer").unwrap(),
            Target::Postgres("postgres://h/db?gssencmode=prefer".into())
        );
        for (url, path) in [
            ("sqlite:///tmp/a.db", "/tmp/a.db"),
            ("sqlite://a.db", "a.db"),
            ("sqlite:a.db", "a.db"),
            ("a.db", "a.db"),
            (":memory:", ":memory:"),
        ] {
            assert_eq!(
                Target::parse(url).unwrap(),
                Target::Sqlite(path.into()),
                "{url}"
            );
        }
        assert!(Target::parse("mysql://h/db").is_err());
        assert!(Target::parse("").is_err());
        assert!(Target::parse("sqlite://").is_err());
    }

    #[test]
    fn descriptions_never_hold_credentials() {
        let t = Target::parse("postgres://alice:hunter2@db.example:5432/syncd").unwrap();
        assert_eq!(t.describe(), "PostgreSQL database db.example:5432/syncd");
        assert!(!format!("{t:?}").contains("hunter2"));
    }
}
