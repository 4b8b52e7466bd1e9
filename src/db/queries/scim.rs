//! What SCIM (API.md 9) reads and writes of users and groups: the rows
//! with the columns SCIM shows (`externalId`, `active`, `meta.version`),
//! case-insensitive look-ups of `userName` and `displayName`, and creates.
//! Memberships still change only through `changes` (with `via` `scim`).

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::{columns, now};
use crate::db::queries::is_unique_violation;
use crate::db::schema::{user_groups, users};
use crate::db::timestamp::Stamp;
use crate::domain::Refusal;

/// A user as SCIM shows it.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = users)]
pub struct ScimUser {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email_address: Option<String>,
    pub disabled_at: Option<chrono::NaiveDateTime>,
    pub external_id: Option<String>,
    pub version: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: chrono::NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: chrono::NaiveDateTime,
}

/// A group as SCIM shows it (its members are read apart, when asked for).
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = user_groups)]
pub struct ScimGroup {
    pub id: i64,
    pub name: String,
    pub external_id: Option<String>,
    pub version: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: chrono::NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: chrono::NaiveDateTime,
}

/// Which users or groups a list holds: the filters identity providers send
/// to find one before creating it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Only {
    All,
    /// `userName eq` / `displayName eq`: compared in lower case.
    Name(String),
    /// `externalId eq`: exact.
    ExternalId(String),
}

pub fn find_user(c: &mut DbConnection, id: i64) -> QueryResult<Option<ScimUser>> {
    users::table
        .filter(users::id.eq(id))
        .select(ScimUser::as_select())
        .first(c)
        .optional()
}

pub fn find_group(c: &mut DbConnection, id: i64) -> QueryResult<Option<ScimGroup>> {
    user_groups::table
        .filter(user_groups::id.eq(id))
        .select(ScimGroup::as_select())
        .first(c)
        .optional()
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Users in id order: how many match, and `count` of them from the
/// `start`th (1-based, SCIM's `startIndex`).
pub fn users_page(
    c: &mut DbConnection,
    only: &Only,
    start: i64,
    count: i64,
) -> QueryResult<(i64, Vec<ScimUser>)> {
    let filtered = || {
        let q = users::table.into_boxed();
        match only {
            Only::All => q,
            Only::Name(n) => q.filter(lower(users::login).eq(n.to_lowercase())),
            Only::ExternalId(e) => q.filter(users::external_id.eq(e.clone())),
        }
    };
    let total: i64 = filtered().count().get_result(c)?;
    let rows = if count > 0 {
        filtered()
            .order(users::id)
            .offset(start - 1)
            .limit(count)
            .select(ScimUser::as_select())
            .load(c)?
    } else {
        Vec::new()
    };
    Ok((total, rows))
}

/// Groups in id order, as [`users_page`].
pub fn groups_page(
    c: &mut DbConnection,
    only: &Only,
    start: i64,
    count: i64,
) -> QueryResult<(i64, Vec<ScimGroup>)> {
    let filtered = || {
        let q = user_groups::table.into_boxed();
        match only {
            Only::All => q,
            Only::Name(n) => q.filter(lower(user_groups::name).eq(n.to_lowercase())),
            Only::ExternalId(e) => q.filter(user_groups::external_id.eq(e.clone())),
        }
    };
    let total: i64 = filtered().count().get_result(c)?;
    let rows = if count > 0 {
        filtered()
            .order(user_groups::id)
            .offset(start - 1)
            .limit(count)
            .select(ScimGroup::as_select())
            .load(c)?
    } else {
        Vec::new()
    };
    Ok((total, rows))
}

/// A user as an identity provider creates it: no password, no token, not a
/// manager.
pub struct NewScimUser<'a> {
    pub login: &'a str,
    pub name: &'a str,
    pub email_address: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub active: bool,
}

/// Creates a user; a login taken in any case is refused (`userName` is not
/// case-exact in SCIM).
pub fn create_user(
    c: &mut DbConnection,
    new: &NewScimUser<'_>,
) -> QueryResult<Result<ScimUser, Refusal>> {
    c.transaction(|c| {
        let taken: bool = diesel::select(diesel::dsl::exists(
            users::table.filter(lower(users::login).eq(new.login.to_lowercase())),
        ))
        .get_result(c)?;
        if taken {
            return Ok(Err(Refusal::LoginTaken(new.login.into())));
        }
        let at = now();
        let inserted = diesel::insert_into(users::table)
            .values((
                users::login.eq(new.login),
                users::name.eq(new.name),
                users::email_address.eq(new.email_address),
                users::user_group_manager.eq(false),
                users::external_id.eq(new.external_id),
                users::disabled_at.eq((!new.active).then_some(at)),
                users::created_at.eq(at),
                users::updated_at.eq(at),
            ))
            .returning(columns::<ScimUser>())
            .get_result(c);
        match inserted {
            Ok(u) => Ok(Ok(u)),
            Err(e) if is_unique_violation(&e) => Ok(Err(Refusal::LoginTaken(new.login.into()))),
            Err(e) => Err(e),
        }
    })
}

/// Creates a group with no members; a name taken in any case is refused.
pub fn create_group(
    c: &mut DbConnection,
    name: &str,
    external_id: Option<&str>,
) -> QueryResult<Result<ScimGroup, Refusal>> {
    let taken: bool = diesel::select(diesel::dsl::exists(
        user_groups::table.filter(lower(user_groups::name).eq(name.to_lowercase())),
    ))
    .get_result(c)?;
    if taken {
        return Ok(Err(Refusal::GroupNameTaken(name.into())));
    }
    let at = now();
    let inserted = diesel::insert_into(user_groups::table)
        .values((
            user_groups::name.eq(name),
            user_groups::external_id.eq(external_id),
            user_groups::created_at.eq(at),
            user_groups::updated_at.eq(at),
        ))
        .returning(columns::<ScimGroup>())
        .get_result(c);
    match inserted {
        Ok(g) => Ok(Ok(g)),
        Err(e) if is_unique_violation(&e) => Ok(Err(Refusal::GroupNameTaken(name.into()))),
        Err(e) => Err(e),
    }
}
