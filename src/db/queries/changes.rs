//! The one write path of memberships. Every change to a membership (the
//! API, the page's forms, the deletion of a user group or a user, `syncd
//! import`, and the routes to come) is made here, and each appends its
//! event (API.md 8.7) in the same transaction, with the `Changer`'s actor
//! and `via`. Nothing else in the crate inserts or deletes a membership or
//! an event (a test in `tests/api/history.rs` reads the source to keep it
//! so), and the database refuses a delete without its event and an event
//! that names no membership (`migrations/*/..._membership_events`).

use std::fmt::Write;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use crate::db::DbConnection;
use crate::db::models::{Membership, now};
use crate::db::queries::{is_foreign_key_violation, is_unique_violation, memberships, sets};
use crate::db::schema::{
    membership_events as ev, user_group_memberships as ugm, user_groups, users,
};
use crate::domain::Refusal;
use crate::domain::history::{Action, Changer};
use crate::domain::sync::{
    Change, ChangeAction, ChangeDone, ChangeResult, MAX_NAMED_UNKNOWN, Named, SetChange, SetReport,
    Users, ascending, change_problem, if_match_holds, plan_exactly, plan_patch, set_etag,
    unknown_users,
};

/// Why a change's transaction was rolled back: the database failed, or the
/// change was refused partway (a duplicate, or a user or group deleted
/// meanwhile).
enum Failed {
    Db(diesel::result::Error),
    Refused(Vec<Refusal>),
}

impl From<diesel::result::Error> for Failed {
    fn from(e: diesel::result::Error) -> Self {
        Failed::Db(e)
    }
}

fn settle<T>(result: Result<T, Failed>) -> QueryResult<Result<T, Vec<Refusal>>> {
    match result {
        Ok(t) => Ok(Ok(t)),
        Err(Failed::Refused(r)) => Ok(Err(r)),
        Err(Failed::Db(e)) => Err(e),
    }
}

#[derive(Insertable)]
#[diesel(table_name = ugm, treat_none_as_default_value = false)]
struct NewMembership {
    user_id: i64,
    user_group_id: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// An event as appended. `treat_none_as_default_value = false` keeps the
/// insert's prepared statement cached (see `NewMembership`'s history in
/// docs/PERFORMANCE.md) and stores a `None` actor as NULL.
#[derive(Insertable)]
#[diesel(table_name = ev, treat_none_as_default_value = false)]
struct NewEvent {
    action: &'static str,
    membership_id: i64,
    user_id: i64,
    user_group_id: i64,
    actor_id: Option<i64>,
    via: &'static str,
    created_at: NaiveDateTime,
}

/// Adds a user to a group, or says why it cannot: every problem, in order
/// (the user, the group, then the pair).
///
/// Uniqueness is the database's unique index, not the check before the
/// insert, so two concurrent adds of one pair give exactly one row and one
/// `added` event.
pub fn add(
    conn: &mut DbConnection,
    user_id: i64,
    user_group_id: i64,
    by: Changer,
) -> QueryResult<Result<Membership, Vec<Refusal>>> {
    use diesel::dsl::exists;
    // One round trip for the three checks, before the transaction, so that
    // its first statement is the insert (on SQLite that takes the write
    // lock at once, waiting on a busy database, instead of failing to
    // upgrade a read lock). The pair check is only a fast path: it spares
    // PostgreSQL a sequence number per refused duplicate, so ids stay dense
    // alike on both backends.
    let (user, group, pair): (bool, bool, bool) = diesel::select((
        exists(users::table.filter(users::id.eq(user_id))),
        exists(user_groups::table.filter(user_groups::id.eq(user_group_id))),
        exists(
            ugm::table
                .filter(ugm::user_id.eq(user_id))
                .filter(ugm::user_group_id.eq(user_group_id)),
        ),
    ))
    .get_result(conn)?;
    let mut problems = Vec::new();
    if !user {
        problems.push(Refusal::UnknownUser(user_id));
    }
    if !group {
        problems.push(Refusal::UnknownUserGroup(user_group_id));
    }
    if pair && problems.is_empty() {
        problems.push(Refusal::DuplicateMembership);
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let at = now();
    if let DbConnection::Postgres(pg) = conn {
        return add_in_one_statement(pg, user_id, user_group_id, at, by);
    }
    settle(conn.transaction(|c| {
        let inserted = diesel::insert_into(ugm::table)
            .values(NewMembership {
                user_id,
                user_group_id,
                created_at: at,
                updated_at: at,
            })
            .returning(ugm::id)
            .get_result::<i64>(c);
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                return Err(Failed::Refused(vec![Refusal::DuplicateMembership]));
            }
            // Deleted between the check and the insert.
            Err(e) if is_foreign_key_violation(&e) => {
                return Err(Failed::Refused(vec![Refusal::DeletedMeanwhile]));
            }
            Err(e) => return Err(e.into()),
        };
        diesel::insert_into(ev::table)
            .values(NewEvent {
                action: Action::Added.as_str(),
                membership_id: id,
                user_id,
                user_group_id,
                actor_id: by.actor,
                via: by.via.as_str(),
                created_at: at,
            })
            .execute(c)?;
        touch_groups(c, [user_group_id])?;
        Ok(Membership {
            id,
            user_id,
            user_group_id,
            created_at: at,
            updated_at: at,
        })
    }))
}

/// The membership and its `added` event in one statement (PostgreSQL): a
/// data-modifying `WITH` feeds the new row to the event's insert. A
/// statement on its own is its own transaction, so this is one round trip
/// where `BEGIN`, two inserts and `COMMIT` were four; with 32 connections
/// on 2 cores those round trips, not the rows, were what bench C measured
/// (2,960 -> 1,885 creates/s with the four, A/B; docs/PERFORMANCE.md,
/// "History (issue 14)"). The event's trigger sees the new membership (a
/// volatile function sees what its own statement did before it), and the
/// deferred check that the membership has its event runs at the
/// statement's end. The group's change is counted in the same statement
/// (`touch_groups`).
const ADD_WITH_EVENT: &str = "WITH m AS (\
    INSERT INTO user_group_memberships (user_id, user_group_id, created_at, updated_at) \
    VALUES ($1, $2, $3, $3) RETURNING id), \
    g AS (INSERT INTO group_versions (user_group_id, shard, changes) \
    SELECT $2, pg_backend_pid() % 8, 1 FROM m \
    ON CONFLICT (user_group_id, shard) DO UPDATE SET changes = group_versions.changes + 1) \
    INSERT INTO membership_events \
    (action, membership_id, user_id, user_group_id, actor_id, via, created_at) \
    SELECT $6, m.id, $1, $2, $4, $5, $3 FROM m RETURNING membership_id AS id";

#[derive(QueryableByName)]
struct NewId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn add_in_one_statement(
    pg: &mut PgConnection,
    user_id: i64,
    user_group_id: i64,
    at: NaiveDateTime,
    by: Changer,
) -> QueryResult<Result<Membership, Vec<Refusal>>> {
    let inserted = diesel::sql_query(ADD_WITH_EVENT)
        .bind::<BigInt, _>(user_id)
        .bind::<BigInt, _>(user_group_id)
        .bind::<Timestamp, _>(at)
        .bind::<Nullable<BigInt>, _>(by.actor)
        .bind::<Text, _>(by.via.as_str())
        .bind::<Text, _>(Action::Added.as_str())
        .get_result::<NewId>(pg);
    match inserted {
        Ok(NewId { id }) => Ok(Ok(Membership {
            id,
            user_id,
            user_group_id,
            created_at: at,
            updated_at: at,
        })),
        Err(e) if is_unique_violation(&e) => Ok(Err(vec![Refusal::DuplicateMembership])),
        // Deleted between the check and the insert.
        Err(e) if is_foreign_key_violation(&e) => Ok(Err(vec![Refusal::DeletedMeanwhile])),
        Err(e) => Err(e),
    }
}

/// `INSERT INTO membership_events (...) SELECT 'removed', id, ... FROM
/// user_group_memberships WHERE ...`: a `removed` event for every
/// membership `of` selects.
macro_rules! removed_events_of {
    ($of:expr, $by:expr, $at:expr) => {
        diesel::insert_into(ev::table)
            .values($of.select((
                Action::Removed.as_str().into_sql::<Text>(),
                ugm::id,
                ugm::user_id,
                ugm::user_group_id,
                $by.actor.into_sql::<Nullable<BigInt>>(),
                $by.via.as_str().into_sql::<Text>(),
                $at.into_sql::<Timestamp>(),
            )))
            .into_columns((
                ev::action,
                ev::membership_id,
                ev::user_id,
                ev::user_group_id,
                ev::actor_id,
                ev::via,
                ev::created_at,
            ))
    };
}

/// Removes a membership by id; false when there was none (or a concurrent
/// request removed it first).
pub fn remove(conn: &mut DbConnection, id: i64, by: Changer) -> QueryResult<bool> {
    conn.transaction(|c| {
        // The event first (the database refuses the delete without it),
        // copied from the row, so a membership that is not there gets none.
        // On PostgreSQL, lock the row first: a concurrent remove of the same
        // membership waits here, then finds it gone. (Without the lock both
        // would read the row, and the second's event would name a
        // membership deleted meanwhile, which the database refuses.) On
        // SQLite the first write takes the database's one write lock.
        if let DbConnection::Postgres(pg) = c {
            let found: Option<i64> = ugm::table
                .filter(ugm::id.eq(id))
                .select(ugm::id)
                .for_update()
                .first(pg)
                .optional()?;
            if found.is_none() {
                return Ok(false);
            }
        }
        let at = now();
        let of = ugm::table.filter(ugm::id.eq(id));
        if removed_events_of!(of, by, at).execute(c)? == 0 {
            return Ok(false);
        }
        let group: i64 = diesel::delete(ugm::table.filter(ugm::id.eq(id)))
            .returning(ugm::user_group_id)
            .get_result(c)?;
        touch_groups(c, [group])?;
        Ok(true)
    })
}

/// Makes a user a member of a group (API.md 8.1's PUT): the membership,
/// and true when this call added it; false when it was there already (no
/// event then). Refused like [`add`] for a missing user or group.
pub fn put(
    conn: &mut DbConnection,
    user_id: i64,
    user_group_id: i64,
    by: Changer,
) -> QueryResult<Result<(i64, bool), Vec<Refusal>>> {
    match add(conn, user_id, user_group_id, by)? {
        Ok(m) => Ok(Ok((m.id, true))),
        Err(refusals) if refusals == [Refusal::DuplicateMembership] => {
            // There, or added by a concurrent request that won the insert
            // (its row is committed by the time ours is refused).
            match memberships::id_of_pair(conn, user_id, user_group_id)? {
                Some(id) => Ok(Ok((id, false))),
                // Removed again meanwhile: what was asked holds no more.
                None => Ok(Err(vec![Refusal::DeletedMeanwhile])),
            }
        }
        Err(refusals) => Ok(Err(refusals)),
    }
}

/// Removes a user from a group (API.md 8.1's DELETE); false when the user
/// was not in it (no event then).
pub fn remove_pair(
    conn: &mut DbConnection,
    user_id: i64,
    user_group_id: i64,
    by: Changer,
) -> QueryResult<bool> {
    match memberships::id_of_pair(conn, user_id, user_group_id)? {
        Some(id) => remove(conn, id, by),
        None => Ok(false),
    }
}

/// Whose memberships [`remove_all`] removes, with the thing itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleting {
    UserGroup(i64),
    User(i64),
}

/// Deletes a user group or a user and every membership of it, each with
/// its `removed` event, in one transaction. None when there was no such
/// group or user (nothing changes); else how many memberships went.
pub fn delete_with_memberships(
    conn: &mut DbConnection,
    what: Deleting,
    by: Changer,
) -> QueryResult<Option<usize>> {
    conn.transaction(|c| {
        // On PostgreSQL, lock the row first: a concurrent add's foreign-key
        // check waits on it and then finds it gone (DeletedMeanwhile), so no
        // membership slips in between the events and the delete. (On
        // SQLite the first write takes the database's one write lock.)
        if let DbConnection::Postgres(pg) = c {
            let found: Option<i64> = match what {
                Deleting::UserGroup(id) => user_groups::table
                    .filter(user_groups::id.eq(id))
                    .select(user_groups::id)
                    .for_update()
                    .first(pg)
                    .optional()?,
                Deleting::User(id) => users::table
                    .filter(users::id.eq(id))
                    .select(users::id)
                    .for_update()
                    .first(pg)
                    .optional()?,
            };
            if found.is_none() {
                return Ok(None);
            }
            // And its memberships: a concurrent remove of one of them waits
            // (or has finished), so each gets exactly one `removed` event.
            let _: Vec<i64> = match what {
                Deleting::UserGroup(id) => ugm::table
                    .filter(ugm::user_group_id.eq(id))
                    .select(ugm::id)
                    .for_update()
                    .load(pg)?,
                Deleting::User(id) => ugm::table
                    .filter(ugm::user_id.eq(id))
                    .select(ugm::id)
                    .for_update()
                    .load(pg)?,
            };
        }
        let at = now();
        let (events, gone) = match what {
            Deleting::UserGroup(id) => {
                let of = ugm::table.filter(ugm::user_group_id.eq(id));
                let events = removed_events_of!(of, by, at).execute(c)?;
                diesel::delete(ugm::table.filter(ugm::user_group_id.eq(id))).execute(c)?;
                let gone =
                    diesel::delete(user_groups::table.filter(user_groups::id.eq(id))).execute(c)?;
                (events, gone)
            }
            Deleting::User(id) => {
                let of = ugm::table.filter(ugm::user_id.eq(id));
                let events = removed_events_of!(of, by, at).execute(c)?;
                let groups: Vec<i64> = diesel::delete(ugm::table.filter(ugm::user_id.eq(id)))
                    .returning(ugm::user_group_id)
                    .load(c)?;
                touch_groups(c, groups)?;
                let gone = diesel::delete(users::table.filter(users::id.eq(id))).execute(c)?;
                (events, gone)
            }
        };
        if gone == 0 {
            // Not there: undo the (empty) event insert with the rest.
            return Err(diesel::result::Error::RollbackTransaction);
        }
        Ok(Some(events))
    })
    .or_else(|e| match e {
        diesel::result::Error::RollbackTransaction => Ok(None),
        e => Err(e),
    })
}

/// A membership added or removed in bulk: its id, user and group.
#[derive(QueryableByName, Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = BigInt)]
    pub user_group_id: i64,
}

/// Rows per statement: well under SQLite's 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 1000;

/// Adds (user id, user group id) pairs not there yet, each with its `added`
/// event, in one transaction (a savepoint inside a caller's); returns the
/// memberships added. The ids must exist (the import looked up its logins
/// and names; a sync checked its users under its lock): a user or group
/// deleted meanwhile fails the whole statement with a foreign-key error.
///
/// Memberships are pairs of integers: the statements are plain SQL with the
/// numbers inline, the fastest form on both backends, and nothing to
/// escape. `RETURNING` gives exactly the rows added (a pair already there
/// is skipped by `ON CONFLICT DO NOTHING` and returns nothing), so each
/// gets one event even while other writers add memberships.
pub fn add_pairs(
    conn: &mut DbConnection,
    pairs: &[(i64, i64)],
    at: NaiveDateTime,
    by: Changer,
) -> QueryResult<Vec<PairRow>> {
    let at = at.format("%Y-%m-%d %H:%M:%S").to_string();
    let actor = by.actor.map_or("NULL".to_string(), |id| id.to_string());
    let (added_word, via) = (Action::Added.as_str(), by.via.as_str());
    conn.transaction(|conn| {
        let mut added = Vec::new();
        let mut sql = String::new();
        for chunk in pairs.chunks(ROWS_PER_STATEMENT) {
            sql.clear();
            sql.push_str(
                "INSERT INTO user_group_memberships (user_id, user_group_id, created_at, updated_at) VALUES ",
            );
            for (i, (user, group)) in chunk.iter().enumerate() {
                let comma = if i == 0 { "" } else { "," };
                let _ = write!(sql, "{comma}({user},{group},'{at}','{at}')");
            }
            sql.push_str(
                " ON CONFLICT (user_id, user_group_id) DO NOTHING RETURNING id, user_id, user_group_id",
            );
            let rows: Vec<PairRow> = diesel::sql_query(&sql).load(conn)?;
            if rows.is_empty() {
                continue;
            }
            sql.clear();
            sql.push_str(
                "INSERT INTO membership_events \
                 (action, membership_id, user_id, user_group_id, actor_id, via, created_at) VALUES ",
            );
            for (i, row) in rows.iter().enumerate() {
                let comma = if i == 0 { "" } else { "," };
                let (id, user, group) = (row.id, row.user_id, row.user_group_id);
                let _ = write!(
                    sql,
                    "{comma}('{added_word}',{id},{user},{group},{actor},'{via}','{at}')"
                );
            }
            diesel::sql_query(&sql).execute(conn)?;
            added.extend(rows);
        }
        touch_groups(conn, added.iter().map(|r| r.user_group_id))?;
        Ok(added)
    })
}

/// Removes memberships by id, each with its `removed` event, in one
/// transaction (a savepoint inside a caller's); returns those removed
/// (fewer than asked when a concurrent request removed some first).
pub fn remove_many(
    conn: &mut DbConnection,
    ids: &[i64],
    at: NaiveDateTime,
    by: Changer,
) -> QueryResult<Vec<PairRow>> {
    conn.transaction(|c| {
        let mut removed = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ROWS_PER_STATEMENT * 10) {
            let present = ugm::table.filter(ugm::id.eq_any(chunk)).select((
                ugm::id,
                ugm::user_id,
                ugm::user_group_id,
            ));
            // On PostgreSQL, lock the rows first, as `remove` does: a
            // concurrent remove of one of them waits, or has finished and
            // the row is not there to get a second event.
            let rows: Vec<(i64, i64, i64)> = match c {
                DbConnection::Postgres(pg) => present.for_update().load(pg)?,
                DbConnection::Sqlite(_) => present.load(c)?,
            };
            let of = ugm::table.filter(ugm::id.eq_any(chunk));
            removed_events_of!(of, by, at).execute(c)?;
            diesel::delete(ugm::table.filter(ugm::id.eq_any(chunk))).execute(c)?;
            removed.extend(
                rows.into_iter()
                    .map(|(id, user_id, user_group_id)| PairRow {
                        id,
                        user_id,
                        user_group_id,
                    }),
            );
        }
        touch_groups(c, removed.iter().map(|r| r.user_group_id))?;
        Ok(removed)
    })
}

/// Counts a change to the members of each group in `groups`, for its SCIM
/// version (`meta.version` and `ETag`: `user_groups.version` plus these
/// counts, see `queries::scim`): called in the transaction of every change
/// to a group's members, so a large group's version is never a read of its
/// members. In `group_versions`, one row per (group, shard): on PostgreSQL
/// each connection counts in its own shard, so concurrent creates in one
/// group do not queue on one row until their commits; SQLite has one
/// writer at a time and uses shard 0. Groups in ascending id order, the
/// order in which change sets lock them.
fn touch_groups(c: &mut DbConnection, groups: impl IntoIterator<Item = i64>) -> QueryResult<()> {
    let mut ids: Vec<i64> = groups.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let shard = match c {
        DbConnection::Postgres(_) => "pg_backend_pid() % 8",
        DbConnection::Sqlite(_) => "0",
    };
    let mut sql = String::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        sql.clear();
        sql.push_str("INSERT INTO group_versions (user_group_id, shard, changes) VALUES ");
        for (i, id) in chunk.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            let _ = write!(sql, "{comma}({id},{shard},1)");
        }
        sql.push_str(
            " ON CONFLICT (user_group_id, shard) DO UPDATE SET changes = group_versions.changes + 1",
        );
        diesel::sql_query(&sql).execute(c)?;
    }
    Ok(())
}

/// Starts a transaction's writing at once. On SQLite a transaction that
/// reads first and writes later cannot take the write lock if another
/// connection committed in between (`SQLITE_BUSY_SNAPSHOT`, with no wait),
/// so a change that must read before it writes (a sync, a change set)
/// writes first: an `UPDATE` that matches no row still takes the lock,
/// waiting on a busy database like any write. (PostgreSQL locks rows
/// instead: `lock_groups`.)
fn begin_writing(c: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Sqlite(_) = c {
        diesel::sql_query("UPDATE user_groups SET id = id WHERE 0").execute(c)?;
    }
    Ok(())
}

/// The groups among `ids` (ascending) that exist; on PostgreSQL their rows
/// are locked for the transaction, which keeps any other membership of
/// them from being added until it ends (an insert's foreign-key check
/// waits on the lock). Ascending, so two transactions lock in one order.
fn lock_groups(c: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    match c {
        DbConnection::Postgres(pg) => user_groups::table
            .filter(user_groups::id.eq_any(ids))
            .select(user_groups::id)
            .order(user_groups::id)
            .for_update()
            .load(pg),
        DbConnection::Sqlite(_) => sets::existing_groups(c, ids),
    }
}

/// Why a member-set request changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetRefused {
    /// No such group (404).
    NoGroup,
    /// `If-Match` named another set (412).
    Changed,
    /// Unknown users, or a user both added and removed (422).
    Problems(Vec<String>),
}

/// Makes a group's members what `change` asks (API.md 8.4), in one
/// transaction: the group is locked, its members read, the users the body
/// names looked up in bulk, `If-Match` held against the set, then the
/// difference written, every added or removed member with its event. A
/// dry run stops before writing. Either way the report says what the
/// request did or would do.
pub fn sync_members(
    conn: &mut DbConnection,
    group: i64,
    change: &SetChange,
    if_match: Option<&str>,
    dry_run: bool,
    by: Changer,
) -> QueryResult<Result<SetReport, SetRefused>> {
    let outcome = conn.transaction(|c| {
        begin_writing(c)?;
        if lock_groups(c, &[group])?.is_empty() {
            return Ok(Err(SetRefused::NoGroup));
        }
        let current = sets::members_of(c, group)?;
        let etag_before = set_etag(current.iter().map(|&(user, _)| user));
        if if_match.is_some_and(|m| !if_match_holds(m, &etag_before)) {
            return Ok(Err(SetRefused::Changed));
        }
        let mut unknown = Vec::new();
        let mut both = Vec::new();
        let plan = match change {
            SetChange::Exactly(users) => {
                let wanted = resolve_users(c, users, &mut unknown)?;
                plan_exactly(&current, &wanted)
            }
            SetChange::Patch { add, remove } => {
                let add = resolve_users(c, add, &mut unknown)?;
                let remove = resolve_users(c, remove, &mut unknown)?;
                both = add
                    .iter()
                    .filter(|u| remove.binary_search(u).is_ok())
                    .take(MAX_NAMED_UNKNOWN)
                    .map(|&u| Refusal::AddedAndRemoved(u).to_string())
                    .collect();
                plan_patch(&current, &add, &remove)
            }
        };
        if !unknown.is_empty() || !both.is_empty() {
            let mut problems = unknown_users(unknown);
            problems.append(&mut both);
            return Ok(Err(SetRefused::Problems(problems)));
        }
        let mut report = SetReport {
            user_group_id: group,
            dry_run,
            added: plan.add.clone(),
            removed: plan.remove.iter().map(|&(user, _)| user).collect(),
            unchanged: plan.unchanged,
            etag: etag_before,
        };
        if dry_run {
            return Ok(Ok(report));
        }
        let at = now();
        let pairs: Vec<(i64, i64)> = plan.add.iter().map(|&u| (u, group)).collect();
        let added = add_pairs(c, &pairs, at, by)?;
        let ids: Vec<i64> = plan.remove.iter().map(|&(_, id)| id).collect();
        let removed = remove_many(c, &ids, at, by)?;
        // The group is locked, so what was planned is what happened; on
        // PostgreSQL a concurrent remove of one of these members may have
        // come first (its own event says so).
        report.added = added.iter().map(|r| r.user_id).collect();
        report.added.sort_unstable();
        report.removed = removed.iter().map(|r| r.user_id).collect();
        report.removed.sort_unstable();
        // The set now, from what was read under the lock and what changed
        // (no second read of a large group).
        let mut now: Vec<i64> = current
            .iter()
            .map(|&(user, _)| user)
            .filter(|u| report.removed.binary_search(u).is_err())
            .chain(report.added.iter().copied())
            .collect();
        now.sort_unstable();
        report.etag = set_etag(now);
        Ok(Ok(report))
    });
    match outcome {
        // A user deleted between the look-up and the insert (PostgreSQL).
        Err(e) if is_foreign_key_violation(&e) => Ok(Err(SetRefused::Problems(vec![
            Refusal::DeletedMeanwhile.to_string(),
        ]))),
        other => other,
    }
}

/// The user ids that `users` name, ascending without repeats; the unknown
/// ids and logins go to `unknown`, ids first.
fn resolve_users(
    c: &mut DbConnection,
    users: &Users,
    unknown: &mut Vec<Refusal>,
) -> QueryResult<Vec<i64>> {
    let ids = ascending(users.ids.clone());
    let existing = sets::existing_users(c, &ids)?;
    if existing.len() < ids.len() {
        unknown.extend(
            ids.iter()
                .filter(|id| existing.binary_search(id).is_err())
                .map(|&id| Refusal::UnknownUser(id)),
        );
    }
    let mut logins: Vec<&str> = users.logins.iter().map(String::as_str).collect();
    logins.sort_unstable();
    logins.dedup();
    let by_login = sets::users_by_login(c, &logins)?;
    let mut wanted = existing;
    let mut seen_missing = std::collections::HashSet::new();
    for login in &users.logins {
        match by_login.get(login) {
            Some(&id) => wanted.push(id),
            None if seen_missing.insert(login.as_str()) => {
                unknown.push(Refusal::NoUserWithLogin(login.clone()));
            }
            None => {}
        }
    }
    Ok(ascending(wanted))
}

/// Carries out a change set (API.md 8.5) in one transaction: every user
/// and group named is looked up in bulk, and any problem (an unknown user
/// or group, a pair named twice) refuses the whole set, one message per
/// bad change, `Change N: ...`. Else each change is done or found done
/// already (`unchanged`), each added or removed membership with its event.
pub fn apply_changes(
    conn: &mut DbConnection,
    changes: &[Change],
    by: Changer,
) -> QueryResult<Result<Vec<ChangeDone>, Vec<String>>> {
    let outcome = conn.transaction(|c| {
        begin_writing(c)?;
        let users: Vec<&Named> = changes.iter().map(|ch| &ch.user).collect();
        let groups: Vec<&Named> = changes.iter().map(|ch| &ch.user_group).collect();
        let users = sets::resolve(c, sets::Side::User, &users)?;
        let groups = sets::resolve(c, sets::Side::UserGroup, &groups)?;
        let mut problems = Vec::new();
        let mut pairs = Vec::with_capacity(changes.len());
        let mut first = std::collections::HashMap::with_capacity(changes.len());
        for (i, (user, group)) in users.into_iter().zip(groups).enumerate() {
            let n = i + 1;
            match (user, group) {
                (Ok(u), Ok(g)) => {
                    if let Some(&earlier) = first.get(&(u, g)) {
                        problems.push(change_problem(n, Refusal::PairNamedTwice(u, g, earlier)));
                    } else {
                        first.insert((u, g), n);
                    }
                    pairs.push((u, g));
                }
                (user, group) => {
                    for refusal in [user.err(), group.err()].into_iter().flatten() {
                        problems.push(change_problem(n, refusal));
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Ok(Err(problems));
        }
        let mut group_ids: Vec<i64> = pairs.iter().map(|&(_, g)| g).collect();
        group_ids = ascending(group_ids);
        if lock_groups(c, &group_ids)?.len() < group_ids.len() {
            // Deleted between the look-up and the lock (PostgreSQL).
            return Ok(Err(vec![Refusal::DeletedMeanwhile.to_string()]));
        }
        let existing = sets::memberships_of_pairs(c, &pairs)?;
        let at = now();
        let to_add: Vec<(i64, i64)> = changes
            .iter()
            .zip(&pairs)
            .filter(|(ch, p)| ch.action == ChangeAction::Add && !existing.contains_key(p))
            .map(|(_, &p)| p)
            .collect();
        let to_remove: Vec<i64> = changes
            .iter()
            .zip(&pairs)
            .filter(|(ch, _)| ch.action == ChangeAction::Remove)
            .filter_map(|(_, p)| existing.get(p).copied())
            .collect();
        let added: std::collections::HashMap<(i64, i64), i64> = add_pairs(c, &to_add, at, by)?
            .into_iter()
            .map(|r| ((r.user_id, r.user_group_id), r.id))
            .collect();
        let removed: std::collections::HashSet<i64> = remove_many(c, &to_remove, at, by)?
            .into_iter()
            .map(|r| r.id)
            .collect();
        Ok(Ok(changes
            .iter()
            .zip(pairs)
            .map(|(ch, (u, g))| {
                let there = existing.get(&(u, g)).copied();
                let (result, membership_id) = match ch.action {
                    ChangeAction::Add => match added.get(&(u, g)) {
                        Some(&id) => (ChangeResult::Added, Some(id)),
                        None => (ChangeResult::Unchanged, there),
                    },
                    ChangeAction::Remove => match there {
                        Some(id) if removed.contains(&id) => (ChangeResult::Removed, Some(id)),
                        _ => (ChangeResult::Unchanged, None),
                    },
                };
                ChangeDone {
                    action: ch.action,
                    user_id: u,
                    user_group_id: g,
                    result,
                    membership_id,
                }
            })
            .collect()))
    });
    match outcome {
        // A user deleted between the look-up and the insert (PostgreSQL).
        Err(e) if is_foreign_key_violation(&e) => {
            Ok(Err(vec![Refusal::DeletedMeanwhile.to_string()]))
        }
        other => other,
    }
}
