//! Bulk loading: many rows per statement, rows already there skipped (each
//! insert returns how many rows it really added), for `syncd import`.
//!
//! Multi-row inserts with `ON CONFLICT DO NOTHING` do not type-check on the
//! multi-backend connection, so users and groups go through each backend's
//! own connection (the same code, checked once per backend by a macro).
//! Memberships are pairs of integers: their statement is plain SQL with the
//! numbers inline, which is the fastest form on both backends and cannot
//! inject anything.

use std::collections::HashMap;
use std::fmt::Write;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{user_groups, users};

/// A user as imported: no password; a token digest no one knows (a token
/// is issued later with `syncd users token`). A `None` is stored as NULL,
/// not written as `DEFAULT`, which SQLite's multi-row insert cannot take.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct ImportedUser {
    pub login: String,
    pub name: String,
    pub email_address: Option<String>,
    pub user_group_manager: bool,
    pub token_digest: String,
}

/// A user group as imported (`None` stored as NULL, as above).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = user_groups, treat_none_as_default_value = false)]
pub struct ImportedGroup {
    pub name: String,
    pub description: Option<String>,
}

/// Runs the same Diesel code on whichever backend the connection is.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Sqlite($c) => $body,
            DbConnection::Postgres($c) => $body,
        }
    };
}

/// Rows per statement: well under SQLite's 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 1000;

/// Inserts users whose login is not taken; returns how many were added.
pub fn insert_users(
    conn: &mut DbConnection,
    rows: &[ImportedUser],
    at: NaiveDateTime,
) -> QueryResult<usize> {
    let mut added = 0;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<_> = chunk
            .iter()
            .map(|u| (u, users::created_at.eq(at), users::updated_at.eq(at)))
            .collect();
        added += on_backend!(conn, |c| diesel::insert_into(users::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(added)
}

/// Inserts user groups whose name is not taken; returns how many were added.
pub fn insert_groups(
    conn: &mut DbConnection,
    rows: &[ImportedGroup],
    at: NaiveDateTime,
) -> QueryResult<usize> {
    let mut added = 0;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<_> = chunk
            .iter()
            .map(|g| {
                (
                    g,
                    user_groups::created_at.eq(at),
                    user_groups::updated_at.eq(at),
                )
            })
            .collect();
        added += on_backend!(conn, |c| diesel::insert_into(user_groups::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(added)
}

/// Inserts (user id, user group id) pairs not there yet; returns how many
/// were added. The ids must exist (they come from [`user_ids`] and
/// [`group_ids`]).
pub fn insert_memberships(
    conn: &mut DbConnection,
    pairs: &[(i64, i64)],
    at: NaiveDateTime,
) -> QueryResult<usize> {
    let at = at.format("%Y-%m-%d %H:%M:%S").to_string();
    let mut added = 0;
    let mut sql = String::new();
    for chunk in pairs.chunks(ROWS_PER_STATEMENT) {
        sql.clear();
        sql.push_str(
            "INSERT INTO user_group_memberships (user_id, user_group_id, created_at, updated_at) VALUES ",
        );
        for (i, (user, group)) in chunk.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            // Integers we hold and a timestamp we formatted: nothing to escape.
            let _ = write!(sql, "{comma}({user},{group},'{at}','{at}')");
        }
        sql.push_str(" ON CONFLICT (user_id, user_group_id) DO NOTHING");
        added += diesel::sql_query(&sql).execute(conn)?;
    }
    Ok(added)
}

/// Every user's id by login.
pub fn user_ids(conn: &mut DbConnection) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(i64, String)> = users::table.select((users::id, users::login)).load(conn)?;
    Ok(rows.into_iter().map(|(id, login)| (login, id)).collect())
}

/// Every user group's id by name.
pub fn group_ids(conn: &mut DbConnection) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(i64, String)> = user_groups::table
        .select((user_groups::id, user_groups::name))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, name)| (name, id)).collect())
}
