//! Rows as they come out of the database. These are not wire types: the XML
//! and JSON writers decide what of them a client sees (never a digest).

use chrono::NaiveDateTime;
use diesel::Queryable;

use crate::db::schema::users;
use crate::db::timestamp::Stamp;

#[derive(Queryable, Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email_address: Option<String>,
    pub user_group_manager: bool,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

/// The columns of [`User`]: everything but the password and token digests.
pub const USER_COLUMNS: (
    users::id,
    users::login,
    users::name,
    users::email_address,
    users::user_group_manager,
    users::created_at,
    users::updated_at,
) = (
    users::id,
    users::login,
    users::name,
    users::email_address,
    users::user_group_manager,
    users::created_at,
    users::updated_at,
);

#[derive(Queryable, Debug, Clone, PartialEq, Eq)]
pub struct UserGroup {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

pub use crate::db::schema::user_groups::all_columns as USER_GROUP_COLUMNS;

#[derive(Queryable, Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub id: i64,
    pub user_id: i64,
    pub user_group_id: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

pub use crate::db::schema::user_group_memberships::all_columns as MEMBERSHIP_COLUMNS;

/// A membership with its user and user group, when a response includes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRow {
    pub membership: Membership,
    pub user: Option<User>,
    pub user_group: Option<UserGroup>,
}

/// The current time as stored: UTC, whole seconds, so that SQLite and
/// PostgreSQL answer byte for byte alike.
pub fn now() -> NaiveDateTime {
    let secs = chrono::Utc::now().timestamp();
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc()
}
