//! Rows as they come out of the database. These are not wire types: the XML
//! and JSON writers decide what of them a client sees (never a digest).

use chrono::NaiveDateTime;
use diesel::{Queryable, Selectable};

use crate::db::MultiBackend;
use crate::db::schema::{membership_events, user_group_memberships, user_groups, users};
use crate::db::timestamp::Stamp;

/// A user: every column but the password and token digests (`Selectable`
/// selects exactly the fields, so `User::as_select()` never reads them).
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = users)]
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

#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = user_groups)]
pub struct UserGroup {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = user_group_memberships)]
pub struct Membership {
    pub id: i64,
    pub user_id: i64,
    pub user_group_id: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
}

/// A membership event (API.md 8.7): `action` and `via` as stored, which
/// are the contract's words.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = membership_events)]
pub struct Event {
    pub id: i64,
    pub action: String,
    pub membership_id: i64,
    pub user_id: i64,
    pub user_group_id: i64,
    pub actor_id: Option<i64>,
    pub via: String,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

/// An event with its user and user group, when the feed includes them and
/// they still exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub event: Event,
    pub user: Option<User>,
    pub user_group: Option<UserGroup>,
}

/// The columns a model's `Selectable` derive names, as a plain tuple of
/// columns: what `.returning(..)` takes on the multi-backend connection,
/// where `Model::as_returning()` does not compile (docs/ARCHITECTURE.md).
pub fn columns<T: Selectable<MultiBackend>>() -> T::SelectExpression {
    T::construct_selection()
}

/// A membership with its user and user group, when a response includes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRow {
    pub membership: Membership,
    pub user: Option<User>,
    pub user_group: Option<UserGroup>,
}

impl MembershipRow {
    /// A membership alone (no `include` of its user or group).
    pub fn bare(membership: Membership) -> MembershipRow {
        MembershipRow {
            membership,
            user: None,
            user_group: None,
        }
    }

    /// A membership loaded with its user and group.
    pub fn joined((membership, user, user_group): (Membership, User, UserGroup)) -> MembershipRow {
        MembershipRow {
            membership,
            user: Some(user),
            user_group: Some(user_group),
        }
    }
}

/// The current time as stored: UTC, whole seconds, so that SQLite and
/// PostgreSQL answer byte for byte alike.
pub fn now() -> NaiveDateTime {
    let secs = chrono::Utc::now().timestamp();
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc()
}
