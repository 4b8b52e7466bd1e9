//! A version of the data that is cheap to read, for keeping rendered
//! answers (`views::answers`): a number that moves whenever the database may
//! have changed, from this process or any other.
//!
//! - **SQLite file**: `PRAGMA data_version`, asked at every read on a
//!   connection of its own (a few microseconds: it reads the WAL index in
//!   shared memory). It changes whenever any other connection, in any
//!   process, has committed; the pool's connections count as others, since
//!   this one never writes. Exact: a commit anywhere is seen by the next
//!   read, `syncd import` into a running server's file included.
//! - **PostgreSQL**: `txid_current_snapshot()`, asked by a thread every
//!   [`POLL_EVERY`] on a connection of its own. It changes whenever a
//!   transaction that wrote has ended (its xid leaves the in-progress list,
//!   or the next xid moves past it). Another process's commit is seen within
//!   about 100 ms; this process's own writes move the version at once
//!   ([`DataVersion::bump`], called by the server when a request that may
//!   write has been answered, after its commit and before the client sees
//!   the answer).
//! - **`:memory:`**: only this process can write; [`DataVersion::bump`]
//!   alone.
//!
//! Why polling and not `LISTEN`/`NOTIFY` on PostgreSQL: a transaction that
//! notifies takes a database-wide lock from just before its commit until
//! the commit is done (`PreCommit_Notify` in PostgreSQL's `async.c`, so
//! that notifications queue in commit order). Every membership write would
//! then wait for the previous one's commit, `fsync` included, and creates
//! would lose the group commit they get today. A snapshot read every
//! 100 ms is one tiny query per process and takes no lock.
//!
//! When the database cannot be asked (it is down, the thread is late), the
//! version is unknown (after [`UNKNOWN_AFTER`] on PostgreSQL) and no kept
//! answer is used: reads go to the database as if nothing were kept.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};

use crate::db::{ConnectionManager, DbConnection};

/// How often the database is asked whether anything committed.
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// How long after the last answer from the database the version is still
/// trusted. With [`POLL_EVERY`], another process's commit is seen within
/// about 100 ms, and never trusted to be absent for longer than this.
pub const UNKNOWN_AFTER: Duration = Duration::from_millis(500);

/// The process's version of the data; cloned handles share it.
#[derive(Clone)]
pub struct DataVersion {
    inner: Arc<Inner>,
}

struct Inner {
    counter: AtomicU64,
    watch: Watch,
}

/// How other processes' commits are seen.
enum Watch {
    /// Nothing is kept: the version is never known.
    Nothing,
    /// `:memory:`: no other process can write.
    Alone,
    /// A SQLite file: `PRAGMA data_version` asked at every
    /// [`DataVersion::current`], on a connection of its own.
    Sqlite(Mutex<SqliteWatch>),
    /// PostgreSQL: asked by a thread every [`POLL_EVERY`].
    Polled {
        /// Milliseconds since `epoch` at the last answer, 0 for none yet.
        answered: AtomicU64,
        epoch: Instant,
    },
}

struct SqliteWatch {
    manager: ConnectionManager,
    conn: Option<DbConnection>,
    last: Option<i64>,
    /// No new connection is tried before this (after a failure).
    retry_at: Option<Instant>,
}

impl DataVersion {
    /// Starts watching the database that `manager` opens.
    pub fn watch(manager: ConnectionManager) -> DataVersion {
        if manager.is_memory() {
            return DataVersion::with(Watch::Alone);
        }
        if manager.is_sqlite() {
            return DataVersion::with(Watch::Sqlite(Mutex::new(SqliteWatch {
                manager,
                conn: None,
                last: None,
                retry_at: None,
            })));
        }
        let version = DataVersion::with(Watch::Polled {
            answered: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let weak = Arc::downgrade(&version.inner);
        let spawned = std::thread::Builder::new()
            .name("syncd-data-version".into())
            .spawn(move || poll(weak, manager));
        if let Err(e) = spawned {
            log::warn!("answers will not be kept: cannot start the data version thread: {e}");
        }
        version
    }

    /// A version that is never known: nothing is kept.
    pub fn unknown() -> DataVersion {
        DataVersion::with(Watch::Nothing)
    }

    fn with(watch: Watch) -> DataVersion {
        DataVersion {
            inner: Arc::new(Inner {
                counter: AtomicU64::new(1),
                watch,
            }),
        }
    }

    /// The current version, or None when it cannot be known now (then no
    /// kept answer may be used).
    pub fn current(&self) -> Option<u64> {
        let inner = &self.inner;
        match &inner.watch {
            Watch::Nothing => return None,
            Watch::Alone => {}
            Watch::Sqlite(watch) => {
                let mut watch = watch.lock().unwrap_or_else(|e| e.into_inner());
                if watch.changed()? {
                    inner.counter.fetch_add(1, Ordering::AcqRel);
                }
            }
            Watch::Polled { answered, epoch } => {
                let answered = answered.load(Ordering::Acquire);
                let now = epoch.elapsed().as_millis() as u64;
                if answered == 0 || now.saturating_sub(answered) > UNKNOWN_AFTER.as_millis() as u64
                {
                    return None;
                }
            }
        }
        Some(inner.counter.load(Ordering::Acquire))
    }

    /// This process has committed a change.
    pub fn bump(&self) {
        self.inner.counter.fetch_add(1, Ordering::AcqRel);
    }
}

impl SqliteWatch {
    /// Whether anything committed since the last call; None when it cannot
    /// be told (the file cannot be read now).
    fn changed(&mut self) -> Option<bool> {
        if self.conn.is_none() {
            if self.retry_at.is_some_and(|at| Instant::now() < at) {
                return None;
            }
            match self.open() {
                Ok(c) => {
                    self.conn = Some(c);
                    // Another connection's numbers are not comparable.
                    self.last = None;
                }
                Err(e) => {
                    log::warn!(
                        "cannot watch the database for changes (answers are not kept meanwhile): {e}"
                    );
                    self.retry_at = Some(Instant::now() + POLL_EVERY);
                    return None;
                }
            }
        }
        let read = match self.conn.as_mut() {
            Some(DbConnection::Sqlite(c)) => DataVersionPragma.get_result::<i64>(c),
            _ => return None,
        };
        match read {
            Ok(v) => {
                let changed = self.last != Some(v);
                self.last = Some(v);
                Some(changed)
            }
            // Busy (a recovery under way) or worse: not known this time; a
            // new connection next time, in case this one is broken.
            Err(_) => {
                self.conn = None;
                None
            }
        }
    }

    fn open(&self) -> Result<DbConnection, String> {
        let mut c = self.manager.open().map_err(|e| e.to_string())?;
        // Asked on an async worker: never wait for a lock, answer "unknown".
        diesel::connection::SimpleConnection::batch_execute(&mut c, "PRAGMA busy_timeout = 0")
            .map_err(|e| e.to_string())?;
        Ok(c)
    }
}

/// The PostgreSQL watching thread: it ends when the last handle is dropped.
fn poll(weak: Weak<Inner>, manager: ConnectionManager) {
    let mut conn: Option<DbConnection> = None;
    let mut last: Option<String> = None;
    let mut failing = false;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let Watch::Polled { answered, epoch } = &inner.watch else {
            return;
        };
        if conn.is_none() {
            match manager.open() {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    if !failing {
                        log::warn!(
                            "cannot watch the database for changes (answers are not kept meanwhile): {e}"
                        );
                        failing = true;
                    }
                }
            }
            // A new connection's token cannot be compared with the old one's.
            last = None;
        }
        if let Some(DbConnection::Postgres(c)) = conn.as_mut() {
            let read = diesel::sql_query("SELECT txid_current_snapshot()::text AS snapshot")
                .get_result::<PostgresSnapshot>(c);
            match read {
                Ok(row) => {
                    if last.as_ref() != Some(&row.snapshot) {
                        // Bump before trusting: a read that took the old
                        // number may have missed the change.
                        inner.counter.fetch_add(1, Ordering::AcqRel);
                        last = Some(row.snapshot);
                    }
                    let now = (epoch.elapsed().as_millis() as u64).max(1);
                    answered.store(now, Ordering::Release);
                    if failing {
                        log::info!("watching the database for changes again");
                        failing = false;
                    }
                }
                Err(e) => {
                    if !failing {
                        log::warn!(
                            "cannot watch the database for changes (answers are not kept meanwhile): {e}"
                        );
                        failing = true;
                    }
                    conn = None;
                }
            }
        }
        drop(inner);
        std::thread::sleep(POLL_EVERY);
    }
}

/// `PRAGMA data_version` as a query with a static id, so that Diesel keeps
/// its prepared statement: `sql_query` prepares its text again on every
/// call, and this runs on every read.
#[derive(diesel::query_builder::QueryId, Clone, Copy)]
struct DataVersionPragma;

impl diesel::query_builder::Query for DataVersionPragma {
    type SqlType = BigInt;
}

impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for DataVersionPragma {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("PRAGMA data_version");
        Ok(())
    }
}

impl RunQueryDsl<diesel::sqlite::SqliteConnection> for DataVersionPragma {}

#[derive(diesel::QueryableByName)]
struct PostgresSnapshot {
    #[diesel(sql_type = Text)]
    snapshot: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_version_is_never_current_and_memory_always_is() {
        let unknown = DataVersion::unknown();
        assert_eq!(unknown.current(), None);
        let memory = DataVersion::with(Watch::Alone);
        let before = memory.current().unwrap();
        memory.bump();
        assert_eq!(memory.current(), Some(before + 1));
    }

    #[test]
    fn a_sqlite_file_version_moves_with_any_other_connections_commit_and_only_then() {
        use diesel::connection::SimpleConnection;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("version.sqlite3");
        let settings = crate::db::PoolSettings::default();
        let manager = ConnectionManager::new(path.to_str().unwrap(), &settings).unwrap();
        let mut writer = manager.open().unwrap();
        writer.batch_execute("CREATE TABLE t (x INTEGER)").unwrap();
        let version = DataVersion::watch(manager.clone());
        let first = version.current().unwrap();
        assert_eq!(version.current(), Some(first), "nothing committed");
        writer.batch_execute("INSERT INTO t VALUES (1)").unwrap();
        let second = version.current().unwrap();
        assert_ne!(second, first, "a commit by another connection");
        assert_eq!(version.current(), Some(second));
        // Another process's connection is another connection too.
        let mut other = manager.open().unwrap();
        other.batch_execute("DELETE FROM t").unwrap();
        assert_ne!(version.current(), Some(second));
    }
}
