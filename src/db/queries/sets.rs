//! Reads for member sets and change sets (API.md 8.4, 8.5), in bulk: a
//! group's members, the memberships of given pairs, and the users and
//! groups a body names by id, login or name, a few queries for any number
//! of them. The writes are in `changes`.

use std::collections::HashMap;
use std::fmt::Write;

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::queries::changes::PairRow;
use crate::db::schema::{user_group_memberships as ugm, user_groups, users};
use crate::domain::Refusal;
use crate::domain::sync::Named;

/// Values bound per statement: well under SQLite's 32,766.
const PER_STATEMENT: usize = 10_000;

/// A group's members: (user id, membership id), ascending by user id.
pub fn members_of(conn: &mut DbConnection, group: i64) -> QueryResult<Vec<(i64, i64)>> {
    ugm::table
        .filter(ugm::user_group_id.eq(group))
        .select((ugm::user_id, ugm::id))
        .order(ugm::user_id)
        .load(conn)
}

/// Which of `ids` (ascending, no repeats) are users, ascending.
pub fn existing_users(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(PER_STATEMENT) {
        let mut part: Vec<i64> = users::table
            .filter(users::id.eq_any(chunk))
            .select(users::id)
            .load(conn)?;
        found.append(&mut part);
    }
    found.sort_unstable();
    Ok(found)
}

/// Which of `ids` are user groups.
pub fn existing_groups(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(PER_STATEMENT) {
        let mut part: Vec<i64> = user_groups::table
            .filter(user_groups::id.eq_any(chunk))
            .select(user_groups::id)
            .load(conn)?;
        found.append(&mut part);
    }
    found.sort_unstable();
    Ok(found)
}

/// The ids of the users with these logins (those that exist).
pub fn users_by_login(
    conn: &mut DbConnection,
    logins: &[&str],
) -> QueryResult<HashMap<String, i64>> {
    let mut found = HashMap::with_capacity(logins.len());
    for chunk in logins.chunks(PER_STATEMENT) {
        let part: Vec<(String, i64)> = users::table
            .filter(users::login.eq_any(chunk))
            .select((users::login, users::id))
            .load(conn)?;
        found.extend(part);
    }
    Ok(found)
}

/// The ids of the groups with these names (those that exist).
pub fn groups_by_name(
    conn: &mut DbConnection,
    names: &[&str],
) -> QueryResult<HashMap<String, i64>> {
    let mut found = HashMap::with_capacity(names.len());
    for chunk in names.chunks(PER_STATEMENT) {
        let part: Vec<(String, i64)> = user_groups::table
            .filter(user_groups::name.eq_any(chunk))
            .select((user_groups::name, user_groups::id))
            .load(conn)?;
        found.extend(part);
    }
    Ok(found)
}

/// The user or the user group of a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    User,
    UserGroup,
}

/// The ids that `named` stand for, each resolved or refused, in order: a
/// handful of queries however many there are (ids checked in bulk, logins
/// or names looked up in bulk, an id and a name held against each other).
pub fn resolve(
    conn: &mut DbConnection,
    side: Side,
    named: &[&Named],
) -> QueryResult<Vec<Result<i64, Refusal>>> {
    let mut ids: Vec<i64> = named
        .iter()
        .filter_map(|n| match n {
            Named::Id(id) | Named::Both(id, _) => Some(*id),
            Named::Name(_) => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut names: Vec<&str> = named
        .iter()
        .filter_map(|n| match n {
            Named::Name(name) | Named::Both(_, name) => Some(name.as_str()),
            Named::Id(_) => None,
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    let (existing, by_name) = match side {
        Side::User => (existing_users(conn, &ids)?, users_by_login(conn, &names)?),
        Side::UserGroup => (existing_groups(conn, &ids)?, groups_by_name(conn, &names)?),
    };
    let unknown_id = |id: i64| match side {
        Side::User => Refusal::UnknownUser(id),
        Side::UserGroup => Refusal::UnknownUserGroup(id),
    };
    let unknown_name = |name: &str| match side {
        Side::User => Refusal::NoUserWithLogin(name.to_string()),
        Side::UserGroup => Refusal::NoGroupWithName(name.to_string()),
    };
    Ok(named
        .iter()
        .map(|n| match n {
            Named::Id(id) => existing
                .binary_search(id)
                .map(|_| *id)
                .map_err(|_| unknown_id(*id)),
            Named::Name(name) => by_name.get(name).copied().ok_or_else(|| unknown_name(name)),
            Named::Both(id, name) => match by_name.get(name) {
                None => Err(unknown_name(name)),
                Some(found) if found == id => Ok(*id),
                Some(_) => Err(match side {
                    Side::User => Refusal::UserIdAndLoginDisagree(*id, name.clone()),
                    Side::UserGroup => Refusal::GroupIdAndNameDisagree(*id, name.clone()),
                }),
            },
        })
        .collect())
}

/// The memberships of these (user id, group id) pairs that exist, by pair.
/// Plain SQL with the numbers inline (row values: `(user_id,
/// user_group_id) IN (VALUES ...)`), which both backends answer from the
/// unique index on the pair.
pub fn memberships_of_pairs(
    conn: &mut DbConnection,
    pairs: &[(i64, i64)],
) -> QueryResult<HashMap<(i64, i64), i64>> {
    let mut found = HashMap::with_capacity(pairs.len());
    let mut sql = String::new();
    for chunk in pairs.chunks(1000) {
        sql.clear();
        sql.push_str(
            "SELECT id, user_id, user_group_id FROM user_group_memberships \
             WHERE (user_id, user_group_id) IN (VALUES ",
        );
        for (i, (user, group)) in chunk.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            let _ = write!(sql, "{comma}({user},{group})");
        }
        sql.push(')');
        let rows: Vec<PairRow> = diesel::sql_query(&sql).load(conn)?;
        found.extend(
            rows.into_iter()
                .map(|r| ((r.user_id, r.user_group_id), r.id)),
        );
    }
    Ok(found)
}

/// The logins of these users (those that exist), for the command line's
/// report.
pub fn logins_of(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<HashMap<i64, String>> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(PER_STATEMENT) {
        let part: Vec<(i64, String)> = users::table
            .filter(users::id.eq_any(chunk))
            .select((users::id, users::login))
            .load(conn)?;
        found.extend(part);
    }
    Ok(found)
}
