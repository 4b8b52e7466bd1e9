//! Idempotency keys (API.md 8.6): the first request with a key claims it,
//! its answer is kept against the key, and a retry gets that answer again.
//! Every step is one statement on its own, so it is atomic on both backends
//! without a transaction: two claims of one new key race on the primary key
//! `(caller_id, key)` and exactly one inserts; two take-overs of an expired
//! or abandoned row race on an `UPDATE` whose `WHERE` only the first still
//! satisfies (PostgreSQL checks it again on the row the first one wrote;
//! SQLite runs one writer at a time).

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::queries::on_backend;
use crate::db::schema::idempotency_keys as ik;

/// How long an answer is kept: a key older than this counts as never used.
pub const KEPT: TimeDelta = TimeDelta::hours(24);

/// How long a claim may run before it counts as abandoned (its process
/// crashed or was killed) and the next request with the key runs afresh.
/// Far longer than any request may take: the body must arrive within the
/// request timeout (10 s by default) before a key is claimed, and the work
/// is one database transaction.
pub const LEASE: TimeDelta = TimeDelta::minutes(5);

/// Expired keys are swept at most this often per process, by a claim.
pub const SWEEP_EVERY: TimeDelta = TimeDelta::minutes(1);

/// A key claimed by this request: it runs, then [`finish`] keeps its answer
/// or [`forget`] lets the key go. `claimed_at` tells this claim apart from a
/// later one that took the key over (after [`LEASE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub caller_id: i64,
    pub key: String,
    pub claimed_at: NaiveDateTime,
}

/// An answer as kept: what a replay sends again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The key is this request's: run it.
    New(Claim),
    /// The same request was answered before: this is its answer.
    Replay(Stored),
    /// The key was used with another method, path or body.
    Mismatch,
    /// The first request with the key is still running.
    Running,
}

/// Claims `key` for `caller_id` and a request whose digest is
/// `fingerprint`, or says what holds it. A row older than [`KEPT`], or still
/// running after [`LEASE`], is taken over as if it were not there.
pub fn claim(
    conn: &mut DbConnection,
    caller_id: i64,
    key: &str,
    fingerprint: &str,
    now: NaiveDateTime,
) -> QueryResult<Claimed> {
    let claim = Claim {
        caller_id,
        key: key.to_string(),
        claimed_at: now,
    };
    // A row found and then gone (forgotten after a 5xx, or swept) before it
    // could be read is claimed again; a few rounds settle any such race.
    for _ in 0..3 {
        let inserted = on_backend!(conn, |c| diesel::insert_into(ik::table)
            .values((
                ik::caller_id.eq(caller_id),
                ik::key.eq(key),
                ik::fingerprint.eq(fingerprint),
                ik::created_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        if inserted == 1 {
            return Ok(Claimed::New(claim));
        }
        let expired = ik::created_at.lt(now - KEPT);
        let abandoned = ik::status.is_null().and(ik::created_at.lt(now - LEASE));
        let taken_over = diesel::update(
            ik::table
                .filter(ik::caller_id.eq(caller_id))
                .filter(ik::key.eq(key))
                .filter(expired.or(abandoned)),
        )
        .set((
            ik::fingerprint.eq(fingerprint),
            ik::status.eq(None::<i32>),
            ik::content_type.eq(None::<String>),
            ik::location.eq(None::<String>),
            ik::etag.eq(None::<String>),
            ik::body.eq(None::<Vec<u8>>),
            ik::created_at.eq(now),
        ))
        .execute(conn)?;
        if taken_over == 1 {
            return Ok(Claimed::New(claim));
        }
        let found = ik::table
            .filter(ik::caller_id.eq(caller_id))
            .filter(ik::key.eq(key))
            .select((
                ik::fingerprint,
                ik::status,
                ik::content_type,
                ik::location,
                ik::etag,
                ik::body,
            ))
            .first::<Row>(conn)
            .optional()?;
        let Some((found_fingerprint, status, content_type, location, etag, body)) = found else {
            continue;
        };
        // Another request under the same key is refused whether or not the
        // first is still running: it will never be this one's answer.
        if found_fingerprint != fingerprint {
            return Ok(Claimed::Mismatch);
        }
        let Some(status) = status else {
            return Ok(Claimed::Running);
        };
        return Ok(Claimed::Replay(Stored {
            status: u16::try_from(status).unwrap_or(500),
            content_type,
            location,
            etag,
            body: body.unwrap_or_default(),
        }));
    }
    Ok(Claimed::Running)
}

type Row = (
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
);

/// Keeps the answer of a claimed request; false when the claim is no longer
/// this request's (it ran past [`LEASE`] and another took the key over).
pub fn finish(conn: &mut DbConnection, claim: &Claim, answer: &Stored) -> QueryResult<bool> {
    let n = diesel::update(
        ik::table
            .filter(ik::caller_id.eq(claim.caller_id))
            .filter(ik::key.eq(&claim.key))
            .filter(ik::created_at.eq(claim.claimed_at))
            .filter(ik::status.is_null()),
    )
    .set((
        ik::status.eq(Some(i32::from(answer.status))),
        ik::content_type.eq(answer.content_type.as_deref()),
        ik::location.eq(answer.location.as_deref()),
        ik::etag.eq(answer.etag.as_deref()),
        ik::body.eq(Some(answer.body.as_slice())),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Lets a claimed key go (its request failed with a 5xx), so that a retry
/// runs again. Only this claim's row: never a later claim's, nor an answer.
pub fn forget(conn: &mut DbConnection, claim: &Claim) -> QueryResult<bool> {
    let n = diesel::delete(
        ik::table
            .filter(ik::caller_id.eq(claim.caller_id))
            .filter(ik::key.eq(&claim.key))
            .filter(ik::created_at.eq(claim.claimed_at))
            .filter(ik::status.is_null()),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Deletes every key older than [`KEPT`] (answered, running or abandoned);
/// returns how many.
pub fn sweep(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(ik::table.filter(ik::created_at.lt(now - KEPT))).execute(conn)
}

/// When this process last swept, so that it sweeps at most once every
/// [`SWEEP_EVERY`] (in `AppState`; no cron job, no thread of its own).
#[derive(Debug, Default)]
pub struct Sweeper {
    /// Unix seconds from which the next sweep is due.
    next: AtomicI64,
}

impl Sweeper {
    /// True when a sweep is due at `now`, and then not again for
    /// [`SWEEP_EVERY`]: of concurrent callers, one gets true.
    pub fn due(&self, now: NaiveDateTime) -> bool {
        let now = now.and_utc().timestamp();
        let next = self.next.load(Ordering::Relaxed);
        now >= next
            && self
                .next
                .compare_exchange(
                    next,
                    now + SWEEP_EVERY.num_seconds(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn a_sweep_is_due_at_most_once_a_minute() {
        let sweeper = Sweeper::default();
        assert!(sweeper.due(at(1_000_000)));
        assert!(!sweeper.due(at(1_000_000)));
        assert!(!sweeper.due(at(1_000_059)));
        assert!(sweeper.due(at(1_000_060)));
        assert!(!sweeper.due(at(1_000_061)));
    }
}
