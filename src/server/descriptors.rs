//! Open-file descriptors: every connection holds one, and so do the
//! database pool, SQLite's files and the logs. `serve` raises its soft
//! `RLIMIT_NOFILE` to the hard limit, then caps connections below it, so a
//! flood of idle connections can never take the descriptors that accepting
//! a legitimate client, or opening a database file, needs.

/// Descriptors kept out of the connection cap whatever the pool: standard
/// streams, the listener, each runtime's poller and wakers, the log, files
/// SQLite opens now and then (a journal, a temporary file).
pub const RESERVE_BASE: u64 = 64;

/// Kept per pooled database connection: a SQLite connection in WAL mode
/// holds the database, its `-wal` and its `-shm`; a PostgreSQL one a socket.
pub const RESERVE_PER_POOL_CONNECTION: u64 = 4;

/// The fewest connections a cap leaves, however low the limit: below it the
/// service is of little use, and the operator is warned.
pub const MIN_CONNECTIONS: u64 = 16;

/// The soft limit before and after `raise`, and the hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimits {
    pub was: u64,
    pub soft: u64,
    pub hard: u64,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (systemd's default is
/// soft 1024 with a much higher hard limit). On failure, keeps what it has.
pub fn raise() -> std::io::Result<OpenFileLimits> {
    let (was, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let soft = match rlimit::increase_nofile_limit(hard) {
        Ok(now) => now,
        Err(e) => {
            log::warn!("cannot raise the open-file limit from {was}: {e}");
            was
        }
    };
    Ok(OpenFileLimits { was, soft, hard })
}

/// Descriptors kept for everything but connections.
pub fn reserve(pool_size: u32) -> u64 {
    RESERVE_BASE + RESERVE_PER_POOL_CONNECTION * u64::from(pool_size)
}

/// The connection cap: `requested` (`--max-connections`) or else all the
/// limit leaves after the reserve; never above that, never below
/// `MIN_CONNECTIONS`.
pub fn connection_cap(limit: u64, pool_size: u32, requested: Option<u64>) -> u64 {
    let room = limit
        .saturating_sub(reserve(pool_size))
        .max(MIN_CONNECTIONS);
    requested.map_or(room, |r| r.min(room)).max(1)
}

/// actix counts connections per worker: the cap split evenly, rounded down
/// so that the total stays within it (at least one each).
pub fn per_worker(cap: u64, workers: usize) -> usize {
    let workers = workers.max(1) as u64;
    usize::try_from((cap / workers).max(1)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_the_reserve() {
        // 1024 less 64 and 8 pooled connections of 4.
        assert_eq!(connection_cap(1024, 8, None), 928);
        assert_eq!(connection_cap(1024, 8, Some(500)), 500);
        assert_eq!(connection_cap(1024, 8, Some(5000)), 928);
        assert_eq!(connection_cap(50, 8, None), MIN_CONNECTIONS);
        assert_eq!(connection_cap(1024, 8, Some(0)), 1);
    }

    #[test]
    fn the_cap_is_split_between_workers_without_going_over() {
        assert_eq!(per_worker(928, 2), 464);
        assert_eq!(per_worker(929, 2), 464);
        assert_eq!(per_worker(1, 4), 1);
        assert_eq!(per_worker(10, 0), 10);
    }
}
