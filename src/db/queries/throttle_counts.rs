//! Counts in fixed windows that every syncd process on one PostgreSQL
//! database shares (issue 17): failed password sign-ins per address and per
//! login (`crate::counts::SignInFailures`), requests per user
//! (`crate::counts::RateLimit`). PostgreSQL only; on SQLite the counts stay
//! in memory (`security::lockout`, `security::throttle`).
//!
//! As with idempotency keys, each step is one statement, atomic on its own
//! without a transaction, and time is the database's (`now()`), so that
//! processes on skewed clocks agree on when a window ends:
//! - Counting is an `INSERT ... ON CONFLICT DO UPDATE ... WHERE <not over
//!   the limit>`. Concurrent counts of one key queue on its row, and
//!   PostgreSQL evaluates the `WHERE` on the newest version of the row, so
//!   no key ever goes past its limit, however many processes count it.
//! - A sign-in counts two keys (address and login) in one statement, which
//!   first checks both against its snapshot: a key already over the limit
//!   means neither is counted. Rows are locked address first, then login
//!   (the order of the keys, `a:` before `l:`), so two counts cannot
//!   deadlock. If the other key went over its limit meanwhile (between the
//!   snapshot and the row lock: a race of concurrent guesses), what was
//!   counted is refunded at once, and the attempt is refused.
//! - Refunds and resets touch one row each, and the sweep skips locked rows,
//!   so neither ever waits on a count while holding another row.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Double, Integer, Nullable, Text, Timestamptz};

/// A key counted by this attempt, as the count left it: its count and the
/// end of its window (which tells this window apart from a later one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub key: String,
    pub count: u32,
    pub window_ends_at: DateTime<Utc>,
}

/// Both checks and both counts: for each key, the check `count >= limit`
/// in an unended window against the statement's snapshot (`blocked`), then
/// the count itself, guarded again on the row's newest version. When
/// blocked, nothing is inserted and the one row says how long to wait.
const COUNT_UNLESS_BLOCKED: &str = "\
WITH blocked AS (
    SELECT max(window_ends_at) AS until FROM throttle_counts
    WHERE key = ANY($1) AND count >= $2 AND window_ends_at > now()
), counted AS (
    INSERT INTO throttle_counts AS t (key, window_ends_at, count)
    SELECT u.key, now() + make_interval(secs => $3), 1
    FROM unnest($1::text[]) WITH ORDINALITY AS u(key, n)
    WHERE (SELECT until FROM blocked) IS NULL
    ORDER BY u.n
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN t.window_ends_at <= now() THEN 1 ELSE t.count + 1 END,
        window_ends_at = CASE WHEN t.window_ends_at <= now()
            THEN excluded.window_ends_at ELSE t.window_ends_at END
    WHERE t.count < $2 OR t.window_ends_at <= now()
    RETURNING t.key, t.count, t.window_ends_at
)
SELECT c.key, c.count, c.window_ends_at,
       EXTRACT(EPOCH FROM b.until - now())::float8 AS wait
FROM blocked b LEFT JOIN counted c ON true";

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = Nullable<Text>)]
    key: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    count: Option<i32>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    window_ends_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Double>)]
    wait: Option<f64>,
}

/// How long the longest unended lockout among `keys` has left (the
/// database's clock), if any.
const BLOCKED_FOR: &str = "\
SELECT EXTRACT(EPOCH FROM max(window_ends_at) - now())::float8 AS wait
FROM throttle_counts
WHERE key = ANY($1) AND count >= $2 AND window_ends_at > now()";

#[derive(QueryableByName)]
struct WaitRow {
    #[diesel(sql_type = Nullable<Double>)]
    wait: Option<f64>,
}

/// Counts one event for every key in `keys` (in that order), unless one of
/// them has `limit` events in an unended window: then nothing is counted,
/// and the answer is how long until that window ends. A new window of
/// `window` starts for a key whose window has ended.
pub fn count_unless_blocked(
    pg: &mut PgConnection,
    keys: &[String],
    limit: u32,
    window: Duration,
) -> QueryResult<Result<Vec<Counted>, Duration>> {
    let limit = limit_param(limit);
    // A round ends in a race only when a key went over its limit during
    // the statement; a few rounds settle any such race.
    for _ in 0..3 {
        let rows: Vec<CountRow> = diesel::sql_query(COUNT_UNLESS_BLOCKED)
            .bind::<Array<Text>, _>(keys)
            .bind::<Integer, _>(limit)
            .bind::<Double, _>(window.as_secs_f64())
            .load(pg)?;
        if let Some(wait) = rows.iter().find_map(|r| r.wait) {
            return Ok(Err(seconds(wait)));
        }
        let counted: Vec<Counted> = rows
            .into_iter()
            .filter_map(|r| {
                Some(Counted {
                    key: r.key?,
                    count: u32::try_from(r.count?).unwrap_or(0),
                    window_ends_at: r.window_ends_at?,
                })
            })
            .collect();
        if counted.len() == keys.len() {
            return Ok(Ok(counted));
        }
        // Raced: a key went over its limit after the snapshot. What was
        // counted is given back, so that the refused attempt counts nowhere.
        log::debug!(
            "sign-in counts: a lockout came into place during the count; {} refunded",
            counted.len()
        );
        for c in &counted {
            refund(pg, c)?;
        }
        let blocked: WaitRow = diesel::sql_query(BLOCKED_FOR)
            .bind::<Array<Text>, _>(keys)
            .bind::<Integer, _>(limit)
            .get_result(pg)?;
        if let Some(wait) = blocked.wait {
            return Ok(Err(seconds(wait)));
        }
        // Refunded meanwhile: count again.
    }
    // Still racing: refuse (nothing is counted), which errs towards the
    // limit, for a moment.
    Ok(Err(Duration::from_secs(1)))
}

/// Takes one event back from a key, in the window it was counted in (a
/// later window's count is not this attempt's).
pub fn refund(pg: &mut PgConnection, counted: &Counted) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE throttle_counts SET count = count - 1 \
         WHERE key = $1 AND window_ends_at = $2 AND count > 0",
    )
    .bind::<Text, _>(&counted.key)
    .bind::<Timestamptz, _>(counted.window_ends_at)
    .execute(pg)?;
    Ok(())
}

/// Forgets a key's count (a login that has just signed in starts again).
pub fn forget(pg: &mut PgConnection, key: &str) -> QueryResult<()> {
    diesel::sql_query("DELETE FROM throttle_counts WHERE key = $1")
        .bind::<Text, _>(key)
        .execute(pg)?;
    Ok(())
}

/// One event for `key`, counted up to `limit + 1` and no further: once a key
/// is over its limit, its row is only locked and read, not written again,
/// until the window ends. `hit` is empty then, and the row as the snapshot
/// saw it gives the wait.
const HIT: &str = "\
WITH hit AS (
    INSERT INTO throttle_counts AS t (key, window_ends_at, count)
    VALUES ($1, now() + make_interval(secs => $3), 1)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN t.window_ends_at <= now() THEN 1 ELSE t.count + 1 END,
        window_ends_at = CASE WHEN t.window_ends_at <= now()
            THEN excluded.window_ends_at ELSE t.window_ends_at END
    WHERE t.count <= $2 OR t.window_ends_at <= now()
    RETURNING t.count, t.window_ends_at
)
SELECT h.count, EXTRACT(EPOCH FROM h.window_ends_at - now())::float8 AS wait FROM hit h
UNION ALL
SELECT NULL, EXTRACT(EPOCH FROM s.window_ends_at - now())::float8
FROM throttle_counts s WHERE s.key = $1 AND NOT EXISTS (SELECT 1 FROM hit)";

#[derive(QueryableByName)]
struct HitRow {
    #[diesel(sql_type = Nullable<Integer>)]
    count: Option<i32>,
    #[diesel(sql_type = Nullable<Double>)]
    wait: Option<f64>,
}

/// Counts one event for `key`; how long it must wait if that was over
/// `limit` in the current window (of `window`, started by its first event).
pub fn hit(
    pg: &mut PgConnection,
    key: &str,
    limit: u32,
    window: Duration,
) -> QueryResult<Option<Duration>> {
    let row: Option<HitRow> = diesel::sql_query(HIT)
        .bind::<Text, _>(key)
        .bind::<Integer, _>(limit_param(limit))
        .bind::<Double, _>(window.as_secs_f64())
        .get_result(pg)
        .optional()?;
    Ok(match row {
        Some(HitRow {
            count: Some(count),
            wait,
        }) => (u32::try_from(count).unwrap_or(0) > limit).then(|| seconds(wait.unwrap_or(0.0))),
        // Not written: over the limit in its newest version. The snapshot's
        // row may be of an ended window (a new one began since): then the
        // new window has about all of its length left.
        Some(HitRow { count: None, wait }) => Some(match wait {
            Some(w) if w > 0.0 => seconds(w),
            _ => window,
        }),
        None => Some(window),
    })
}

/// Deletes the rows whose window has ended; how many. Rows being counted
/// right now are skipped (the next sweep gets them), so a sweep never waits
/// on a sign-in, and never holds a row a sign-in waits on while it waits
/// itself.
pub fn sweep(pg: &mut PgConnection) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM throttle_counts WHERE key IN (\
         SELECT key FROM throttle_counts WHERE window_ends_at <= now() \
         FOR UPDATE SKIP LOCKED)",
    )
    .execute(pg)
}

/// A limit as the `INTEGER` column holds it.
fn limit_param(limit: u32) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
}

/// Seconds from the database as a wait; never negative.
fn seconds(wait: f64) -> Duration {
    Duration::try_from_secs_f64(wait.max(0.0)).unwrap_or(Duration::ZERO)
}
