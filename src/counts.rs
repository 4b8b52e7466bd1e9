//! What sign-in counts with, whatever the backend: failed password sign-ins
//! ([`SignInFailures`]) and requests per user ([`RateLimit`]), one
//! interface for `http::auth`.
//!
//! - On SQLite they live in this process's memory (`security::lockout`,
//!   `security::throttle`), exactly as before: one process serves a
//!   database file.
//! - On PostgreSQL, where several processes may serve one database behind a
//!   load balancer (issue 17), they live in the `throttle_counts` table
//!   (`db::queries::throttle_counts`), so that three processes do not let
//!   three times the guesses through. The guarantees are the lockout's
//!   (see `security::lockout`): an attempt is counted and checked in one
//!   statement when it starts, and refunded if it is not a failure; a
//!   refused attempt counts nowhere; a lockout lasts until its window ends;
//!   addresses and logins are counted apart. Rows whose window has ended
//!   are swept at most once a minute per process, by a count.
//!
//! The database's work runs on the blocking pool, never on an async worker.
//! When counting fails, the sign-in is not decided: 503, never a 500, and
//! never a request let through uncounted.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::web;
use diesel::QueryResult;
use diesel::pg::PgConnection;

use crate::db::queries::idempotency::Sweeper;
use crate::db::queries::throttle_counts::{self, Counted};
use crate::db::{DbConnection, DbPool};
use crate::http::errors::{ApiError, DATABASE_ERRORS};
use crate::security::lockout::{self, Locked, Lockout, Refusal, address_key};
use crate::security::throttle::{Limit, Throttle};

/// The counts' table on PostgreSQL, and when this process last swept it.
/// One per process, shared by the lockout and the rate limit.
#[derive(Clone)]
pub struct Shared {
    pool: DbPool,
    sweeper: Arc<Sweeper>,
}

impl Shared {
    pub fn new(pool: DbPool) -> Shared {
        Shared {
            pool,
            sweeper: Arc::new(Sweeper::default()),
        }
    }

    /// Runs `f` on a pooled PostgreSQL connection on the blocking pool;
    /// first sweeps ended windows when `count` (a write) and a sweep is due.
    /// Any failure is 503: what was asked is not decided.
    async fn run<T, F>(&self, what: &'static str, count: bool, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> QueryResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let sweep = count && self.sweeper.due(chrono::Utc::now().naive_utc());
        let done = web::block(move || {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let DbConnection::Postgres(pg) = &mut *conn else {
                return Err("not a PostgreSQL connection".to_string());
            };
            if sweep {
                match throttle_counts::sweep(pg) {
                    Ok(0) => {}
                    Ok(n) => log::debug!("swept {n} ended windows of sign-in and rate counts"),
                    // The count below says whether the database is usable.
                    Err(e) => log::warn!("sweeping ended sign-in and rate counts: {e}"),
                }
            }
            f(pg).map_err(|e| e.to_string())
        })
        .await;
        match done {
            Ok(Ok(t)) => Ok(t),
            Ok(Err(e)) => {
                DATABASE_ERRORS.fetch_add(1, Ordering::Relaxed);
                log::warn!("{what}: {e}");
                Err(ApiError::Unavailable)
            }
            Err(_) => {
                log::warn!("{what}: the blocking pool is gone");
                Err(ApiError::Unavailable)
            }
        }
    }
}

/// Failed password sign-ins, per client address and per login.
pub enum SignInFailures {
    /// This process's own counts (SQLite).
    Memory(Lockout),
    /// Counts every process on the database shares (PostgreSQL).
    Shared { limit: Limit, counts: Shared },
}

/// A sign-in attempt that has been counted: hand it back with the outcome.
#[derive(Debug)]
pub enum Attempt {
    Memory(lockout::Attempt),
    Shared {
        address: Counted,
        /// None when the login cannot exist (counted against the address
        /// alone, as in memory).
        login: Option<Counted>,
    },
}

impl SignInFailures {
    pub fn limit(&self) -> Limit {
        match self {
            SignInFailures::Memory(lockout) => lockout.limit(),
            SignInFailures::Shared { limit, .. } => *limit,
        }
    }

    /// Counts an attempt from `address` for `login` (its digest, from
    /// `lockout::login_key`; None for a login that cannot exist), unless
    /// either has used up its failures: then `Err(refusal)`, and nothing is
    /// counted. The outer error is a database that could not count (503).
    pub async fn begin(
        &self,
        address: Option<IpAddr>,
        login: Option<u128>,
    ) -> Result<Result<Attempt, Refusal>, ApiError> {
        let (limit, counts) = match self {
            SignInFailures::Memory(lockout) => {
                return Ok(lockout.begin(address, login).map(Attempt::Memory));
            }
            SignInFailures::Shared { limit, counts } => (*limit, counts),
        };
        let address = address_row(address_key(address));
        // Address first: every count locks its rows in this order.
        let mut keys = vec![address.clone()];
        keys.extend(login.map(login_row));
        let counted = counts
            .run("counting a password sign-in", true, move |pg| {
                throttle_counts::count_unless_blocked(pg, &keys, limit.count, limit.window)
            })
            .await?;
        let counted = match counted {
            Ok(counted) => counted,
            Err(wait) => return Ok(Err(Refusal::Blocked(wait))),
        };
        let (mut ours, mut theirs): (Vec<_>, Vec<_>) =
            counted.into_iter().partition(|c| c.key == address);
        let Some(address) = ours.pop() else {
            return Err(ApiError::Unavailable);
        };
        Ok(Ok(Attempt::Shared {
            address,
            login: theirs.pop(),
        }))
    }

    /// The attempt signed in: it is not a failure of its address, and its
    /// login starts again. (An address's earlier failures stay: else one
    /// account of an attacker's own would reset their count.)
    pub async fn succeeded(&self, attempt: Attempt) {
        match (self, attempt) {
            (SignInFailures::Memory(lockout), Attempt::Memory(a)) => lockout.succeeded(a),
            (SignInFailures::Shared { counts, .. }, Attempt::Shared { address, login }) => {
                // Two statements of one row each: never two rows locked at
                // once against a count locking them in the other order. The
                // user is signed in even if they fail (logged): the counts
                // then err towards the limit.
                let _ = counts
                    .run("refunding a sign-in", false, move |pg| {
                        throttle_counts::refund(pg, &address)?;
                        if let Some(login) = login {
                            throttle_counts::forget(pg, &login.key)?;
                        }
                        Ok(())
                    })
                    .await;
            }
            _ => debug_assert!(false, "an attempt of another kind of counts"),
        }
    }

    /// The attempt was never decided (the database was down, or the
    /// password checkers were busy): it counts against nobody.
    pub async fn abandoned(&self, attempt: Attempt) {
        match (self, attempt) {
            (SignInFailures::Memory(lockout), Attempt::Memory(a)) => lockout.abandoned(a),
            (SignInFailures::Shared { counts, .. }, Attempt::Shared { address, login }) => {
                let _ = counts
                    .run("refunding an undecided sign-in", false, move |pg| {
                        throttle_counts::refund(pg, &address)?;
                        if let Some(login) = &login {
                            throttle_counts::refund(pg, login)?;
                        }
                        Ok(())
                    })
                    .await;
            }
            _ => debug_assert!(false, "an attempt of another kind of counts"),
        }
    }

    /// The attempt failed: it stays counted. Says which keys it was the last
    /// allowed failure of, so that each lockout is logged once (by the one
    /// process whose count reached the limit).
    pub fn failed(&self, attempt: Attempt) -> Locked {
        match (self, attempt) {
            (SignInFailures::Memory(lockout), Attempt::Memory(a)) => lockout.failed(a),
            (SignInFailures::Shared { limit, .. }, Attempt::Shared { address, login }) => Locked {
                address: address.count == limit.count,
                login: login.is_some_and(|l| l.count == limit.count),
            },
            _ => Locked::default(),
        }
    }
}

/// Requests per signed-in user (`SYNCD_RATE_LIMIT`).
pub enum RateLimit {
    /// This process's own counts (SQLite).
    Memory(Throttle),
    /// Counts every process on the database shares (PostgreSQL): one
    /// upsert per request.
    Shared { limit: Limit, counts: Shared },
}

impl RateLimit {
    pub fn limit(&self) -> Limit {
        match self {
            RateLimit::Memory(throttle) => throttle.limit(),
            RateLimit::Shared { limit, .. } => *limit,
        }
    }

    /// Counts one request by `user_id`; how long they must wait if that was
    /// over the limit. The error is a database that could not count (503).
    pub async fn hit(&self, user_id: i64) -> Result<Option<Duration>, ApiError> {
        match self {
            RateLimit::Memory(throttle) => Ok(throttle.hit(&format!("user:{user_id}"))),
            RateLimit::Shared { limit, counts } => {
                let limit = *limit;
                counts
                    .run("counting a request under the rate limit", true, move |pg| {
                        throttle_counts::hit(pg, &format!("u:{user_id}"), limit.count, limit.window)
                    })
                    .await
            }
        }
    }
}

/// The row of an address key: `a:` and 32 hex digits.
fn address_row(key: u128) -> String {
    format!("a:{key:032x}")
}

/// The row of a login key (a digest, never the login): `l:` and 32 hex
/// digits.
fn login_row(key: u128) -> String {
    format!("l:{key:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_named_by_kind_and_digest_never_the_login() {
        let address = address_row(address_key(Some("10.0.0.1".parse().unwrap())));
        assert_eq!(address, "a:00000000000000000000ffff0a000001");
        let login = login_row(lockout::login_key("alice"));
        assert!(login.starts_with("l:") && login.len() == 34, "{login}");
        assert!(!login.contains("alice"));
        // Address rows sort before login rows: the order counts lock them in.
        assert!(address < login);
    }
}
