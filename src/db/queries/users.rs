//! Users and their credentials. Digests are read here and nowhere else leaves
//! this module with them: [`User`] has no digest fields.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::{User, columns, now};
use crate::db::schema::users;
use crate::domain::Refusal;
use crate::domain::history::{Changer, Via};

use crate::db::queries::changes::{self, Deleting};
use crate::db::queries::{List, Position, is_unique_violation, load_from};

/// What `users create` stores (with the time it was created). A `None` is
/// bound as NULL, so the statement is the same whatever is left out.
#[derive(Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
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

/// The id of the user with this login, if any.
pub fn id_by_login(conn: &mut DbConnection, login: &str) -> QueryResult<Option<i64>> {
    users::table
        .filter(users::login.eq(login))
        .select(users::id)
        .first(conn)
        .optional()
}

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<User>> {
    users::table
        .filter(users::id.eq(id))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The users with these ids that still exist, in id order (one query,
/// whatever the number of ids).
pub fn find_many(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    users::table
        .filter(users::id.eq_any(ids))
        .select(User::as_select())
        .order(users::id.asc())
        .load(conn)
}

/// The enabled user holding a token with this digest (a disabled user
/// cannot sign in, whatever it holds).
pub fn find_by_token_digest(conn: &mut DbConnection, digest: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::token_digest.eq(digest))
        .filter(users::disabled_at.is_null())
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// A login's user and password digest (None when it has no password).
/// A disabled user is not found: the caller then checks the password
/// against a dummy hash, so a disabled login looks like an unknown one.
pub fn find_with_password(
    conn: &mut DbConnection,
    login: &str,
) -> QueryResult<Option<(User, Option<String>)>> {
    users::table
        .filter(users::login.eq(login))
        .filter(users::disabled_at.is_null())
        .select((User::as_select(), users::password_digest))
        .first(conn)
        .optional()
}

/// All users in id order, each with whether it is disabled (for `users list`;
/// [`User`] itself has no such field, so the API's rows stay as they were).
pub fn all_with_state(conn: &mut DbConnection) -> QueryResult<Vec<(User, bool)>> {
    users::table
        .select((User::as_select(), users::disabled_at.is_not_null()))
        .order(users::id.asc())
        .load(conn)
}

/// Creates a user; `Err(LoginTaken)` when the login is taken.
pub fn create(conn: &mut DbConnection, new: &NewUser<'_>) -> QueryResult<Result<User, Refusal>> {
    let at = now();
    let inserted = diesel::insert_into(users::table)
        .values((new, users::created_at.eq(at), users::updated_at.eq(at)))
        .returning(columns::<User>())
        .get_result::<User>(conn);
    match inserted {
        Ok(u) => Ok(Ok(u)),
        Err(e) if is_unique_violation(&e) => Ok(Err(Refusal::LoginTaken(new.login.into()))),
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

/// Replaces a user's password digest; false when the login does not exist.
pub fn set_password_digest(
    conn: &mut DbConnection,
    login: &str,
    digest: &str,
) -> QueryResult<bool> {
    let n = diesel::update(users::table.filter(users::login.eq(login)))
        .set((
            users::password_digest.eq(Some(digest)),
            users::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

/// Forgets a user's token digest, so that no token signs in as it until a
/// new one is issued; false when the login does not exist.
pub fn clear_token_digest(conn: &mut DbConnection, login: &str) -> QueryResult<bool> {
    let n = diesel::update(users::table.filter(users::login.eq(login)))
        .set((
            users::token_digest.eq(None::<String>),
            users::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

/// What `users update` changes: each field left `None` stays as it is.
/// `email_address: Some(None)` removes the address.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub name: Option<&'a str>,
    pub email_address: Option<Option<&'a str>>,
    pub user_group_manager: Option<bool>,
}

/// Changes a user's name, email address or manager flag; the user as it is
/// now, or None when the login does not exist.
pub fn update(
    conn: &mut DbConnection,
    login: &str,
    changes: &UserChanges<'_>,
) -> QueryResult<Option<User>> {
    diesel::update(users::table.filter(users::login.eq(login)))
        .set((
            changes,
            users::updated_at.eq(now()),
            users::version.eq(users::version + 1),
        ))
        .returning(columns::<User>())
        .get_result(conn)
        .optional()
}

/// Whether `set_disabled` changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    Changed,
    AlreadySo,
    NoSuchUser,
}

/// Disables a user (it keeps everything but cannot sign in) or enables it
/// again. Disabling an already disabled user keeps the time it was first
/// disabled.
pub fn set_disabled(
    conn: &mut DbConnection,
    login: &str,
    disabled: bool,
) -> QueryResult<StateChange> {
    let at = now();
    let target = users::table.filter(users::login.eq(login));
    let n = if disabled {
        diesel::update(target.filter(users::disabled_at.is_null()))
            .set((
                users::disabled_at.eq(Some(at)),
                users::updated_at.eq(at),
                users::version.eq(users::version + 1),
            ))
            .execute(conn)?
    } else {
        diesel::update(target.filter(users::disabled_at.is_not_null()))
            .set((
                users::disabled_at.eq(None::<chrono::NaiveDateTime>),
                users::updated_at.eq(at),
                users::version.eq(users::version + 1),
            ))
            .execute(conn)?
    };
    if n > 0 {
        return Ok(StateChange::Changed);
    }
    let exists: bool = diesel::select(diesel::dsl::exists(target)).get_result(conn)?;
    Ok(if exists {
        StateChange::AlreadySo
    } else {
        StateChange::NoSuchUser
    })
}

/// What deleting a user took with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub id: i64,
    pub memberships: usize,
}

/// Deletes a user and its memberships, each with its `removed` event
/// (`via` `user-delete`), in one transaction: all go, or none. None when the
/// login does not exist (nothing changes).
pub fn delete_by_login(conn: &mut DbConnection, login: &str) -> QueryResult<Option<Deleted>> {
    let Some(id) = id_by_login(conn, login)? else {
        return Ok(None);
    };
    let by = Changer::command_line(Via::UserDelete);
    let deleted = changes::delete_with_memberships(conn, Deleting::User(id), by)?;
    Ok(deleted.map(|memberships| Deleted { id, memberships }))
}

/// The user with a login (`GET /users?login=alice`): a list of one, or
/// empty.
#[derive(Debug, Clone)]
pub struct WithLogin(pub String);

impl List for WithLogin {
    type Row = User;

    fn count(&self, conn: &mut DbConnection) -> QueryResult<i64> {
        users::table
            .filter(users::login.eq(&self.0))
            .count()
            .get_result(conn)
    }

    fn chunk(&self, conn: &mut DbConnection, from: Position, limit: i64) -> QueryResult<Vec<User>> {
        let q = users::table
            .filter(users::login.eq(&self.0))
            .select(User::as_select());
        load_from!(conn, q, users::id, from, limit)
    }

    fn version(&self, conn: &mut DbConnection, _total: i64) -> QueryResult<String> {
        version(conn)
    }

    fn id(row: &User) -> i64 {
        row.id
    }
}

/// Every user, as a [`List`].
#[derive(Debug, Clone, Copy)]
pub struct AllUsers;

impl List for AllUsers {
    type Row = User;

    fn count(&self, conn: &mut DbConnection) -> QueryResult<i64> {
        count(conn)
    }

    fn chunk(&self, conn: &mut DbConnection, from: Position, limit: i64) -> QueryResult<Vec<User>> {
        let q = users::table.select(User::as_select());
        load_from!(conn, q, users::id, from, limit)
    }

    fn version(&self, conn: &mut DbConnection, _total: i64) -> QueryResult<String> {
        version(conn)
    }

    fn id(user: &User) -> i64 {
        user.id
    }
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
