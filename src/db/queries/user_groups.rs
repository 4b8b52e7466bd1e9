//! User groups.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::{USER_GROUP_COLUMNS, UserGroup, now};
use crate::db::schema::user_groups;

use super::is_unique_violation;

pub fn exists(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        user_groups::table.filter(user_groups::id.eq(id)),
    ))
    .get_result(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<UserGroup>> {
    user_groups::table
        .filter(user_groups::id.eq(id))
        .select(USER_GROUP_COLUMNS)
        .first(conn)
        .optional()
}

/// All user groups in id order.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<UserGroup>> {
    user_groups::table
        .select(USER_GROUP_COLUMNS)
        .order(user_groups::id.asc())
        .load(conn)
}

/// Creates a group, or says why not (a blank or taken name).
pub fn create(
    conn: &mut DbConnection,
    name: &str,
    description: Option<&str>,
) -> QueryResult<Result<UserGroup, Vec<String>>> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(Err(vec!["Name can't be blank.".to_string()]));
    }
    let at = now();
    let inserted = diesel::insert_into(user_groups::table)
        .values((
            user_groups::name.eq(name),
            user_groups::description.eq(description),
            user_groups::created_at.eq(at),
            user_groups::updated_at.eq(at),
        ))
        .returning(USER_GROUP_COLUMNS)
        .get_result::<UserGroup>(conn);
    match inserted {
        Ok(g) => Ok(Ok(g)),
        Err(e) if is_unique_violation(&e) => Ok(Err(vec![format!(
            "A user group named \"{name}\" already exists."
        )])),
        Err(e) => Err(e),
    }
}
