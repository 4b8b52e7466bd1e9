//! Users and their credentials. Digests are read here and nowhere else leaves
//! this module with them: [`User`] has no digest fields.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::{USER_COLUMNS, User, now};
use crate::db::schema::users;

use super::is_unique_violation;

/// What `users create` stores.
pub struct NewUser<'a> {
    pub login: &'a str,
    pub name: &'a str,
    pub email_address: Option<&'a str>,
    pub user_group_manager: bool,
    pub password_digest: Option<&'a str>,
    pub token_digest: &'a str,
}

pub fn exists(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.filter(users::id.eq(id)))).get_result(conn)
}

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<User>> {
    users::table
        .filter(users::id.eq(id))
        .select(USER_COLUMNS)
        .first(conn)
        .optional()
}

/// The user holding a token with this digest.
pub fn find_by_token_digest(conn: &mut DbConnection, digest: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::token_digest.eq(digest))
        .select(USER_COLUMNS)
        .first(conn)
        .optional()
}

/// A login's user and password digest (None when it has no password).
pub fn find_with_password(
    conn: &mut DbConnection,
    login: &str,
) -> QueryResult<Option<(User, Option<String>)>> {
    users::table
        .filter(users::login.eq(login))
        .select((USER_COLUMNS, users::password_digest))
        .first(conn)
        .optional()
}

/// All users in id order.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<User>> {
    users::table
        .select(USER_COLUMNS)
        .order(users::id.asc())
        .load(conn)
}

/// Creates a user; `Err(message)` when the login is taken.
pub fn create(conn: &mut DbConnection, new: &NewUser<'_>) -> QueryResult<Result<User, String>> {
    let at = now();
    let inserted = diesel::insert_into(users::table)
        .values((
            users::login.eq(new.login),
            users::name.eq(new.name),
            users::email_address.eq(new.email_address),
            users::user_group_manager.eq(new.user_group_manager),
            users::password_digest.eq(new.password_digest),
            users::token_digest.eq(Some(new.token_digest)),
            users::created_at.eq(at),
            users::updated_at.eq(at),
        ))
        .returning(USER_COLUMNS)
        .get_result::<User>(conn);
    match inserted {
        Ok(u) => Ok(Ok(u)),
        Err(e) if is_unique_violation(&e) => Ok(Err(format!(
            "a user with login '{}' already exists",
            new.login
        ))),
        Err(e) => Err(e),
    }
}

/// Replaces a user's token digest; false when the login does not exist.
pub fn set_token_digest(conn: &mut DbConnection, login: &str, digest: &str) -> QueryResult<bool> {
    let n = diesel::update(users::table.filter(users::login.eq(login)))
        .set((
            users::token_digest.eq(Some(digest)),
            users::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

/// A page of users in id order: after an id, or skipping `offset`.
pub fn page(
    conn: &mut DbConnection,
    after_id: Option<i64>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<User>> {
    let mut q = users::table
        .select(USER_COLUMNS)
        .order(users::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after_id {
        q = q.filter(users::id.gt(after));
    }
    if offset > 0 {
        q = q.offset(offset);
    }
    q.load(conn)
}

/// Changes whenever the list of users does: count, highest id (ids are
/// never reused) and latest update.
pub fn version(conn: &mut DbConnection) -> QueryResult<String> {
    use diesel::dsl::max;
    let (n, top, at): (i64, Option<i64>, Option<chrono::NaiveDateTime>) = users::table
        .select((
            diesel::dsl::count_star(),
            max(users::id),
            max(users::updated_at),
        ))
        .first(conn)?;
    Ok(format!(
        "u{n}.{}.{}",
        top.unwrap_or(0),
        at.map(|t| t.and_utc().timestamp()).unwrap_or(0)
    ))
}
