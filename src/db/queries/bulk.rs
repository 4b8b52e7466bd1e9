//! Bulk loading: many rows per statement, rows already there skipped (each
//! insert returns how many rows it really added), for `syncd import`.
//!
//! Multi-row inserts with `ON CONFLICT DO NOTHING` do not type-check on the
//! multi-backend connection, so users and groups go through each backend's
//! own connection (the same code, checked once per backend by a macro).
//! Memberships are added with their events by
//! [`crate::db::queries::changes::add_pairs`].

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::queries::on_backend;
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
