//! Plain functions over a `&mut DbConnection`, one module per resource. They
//! return Diesel's errors; the API layer decides what a client sees of them.

pub mod bulk;
pub mod changes;
pub mod events;
pub mod idempotency;
pub mod memberships;
pub mod scim;
pub mod sets;
pub mod throttle_counts;
pub mod user_groups;
pub mod users;

use diesel::QueryResult;
use diesel::result::{DatabaseErrorKind, Error};

use crate::db::DbConnection;

/// Runs the same Diesel code on whichever backend the connection is: for
/// what does not type-check on the multi-backend connection (multi-row
/// inserts and `ON CONFLICT DO NOTHING`).
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Sqlite($c) => $body,
            DbConnection::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Narrows a boxed query by an [`crate::domain::IdFilter`] on its user and
/// group columns (`user_id=3,4&user_group_id=7`: user 3 or 4, and group 7).
macro_rules! ids_filtered {
    ($query:expr, $ids:expr, $user:expr, $group:expr) => {{
        let filter: &crate::domain::IdFilter = $ids;
        let mut q = $query;
        if !filter.users.is_empty() {
            q = q.filter($user.eq_any(filter.users.clone()));
        }
        if !filter.user_groups.is_empty() {
            q = q.filter($group.eq_any(filter.user_groups.clone()));
        }
        q
    }};
}
pub(crate) use ids_filtered;

/// A boxed query ordered by `$id`, cut to the chunk that starts at a
/// [`Position`] (both arms have the boxed query's type).
macro_rules! from_position {
    ($query:expr, $id:expr, $from:expr, $limit:expr) => {
        match $from {
            Position::After(after) => $query.filter($id.gt(after)).order($id.asc()).limit($limit),
            Position::Offset(n) => $query.order($id.asc()).offset(n).limit($limit),
        }
    };
}
pub(crate) use from_position;

/// Loads the chunk of a query, ordered by `$id`, that starts at a
/// [`Position`]. Each arm loads its own query, so an unboxed query keeps
/// its static type and its cached prepared statement.
macro_rules! load_from {
    ($conn:expr, $query:expr, $id:expr, $from:expr, $limit:expr) => {
        match $from {
            Position::After(after) => $query
                .filter($id.gt(after))
                .order($id.asc())
                .limit($limit)
                .load($conn),
            Position::Offset(n) => $query.order($id.asc()).offset(n).limit($limit).load($conn),
        }
    };
}
pub(crate) use load_from;

/// Where a chunk of an id-ordered list starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// After skipping this many rows: the first chunk of a slice.
    Offset(i64),
    /// After this id: every later chunk (a keyset scan, as cheap a million
    /// rows in as at the start).
    After(i64),
}

/// A list served in id order (memberships in a scope, all users, all user
/// groups): counted, read chunk by chunk, and versioned for a weak ETag.
pub trait List: Send + Sync + 'static {
    type Row: Send + 'static;
    /// How many rows the list holds.
    fn count(&self, conn: &mut DbConnection) -> QueryResult<i64>;
    /// At most `limit` rows in id order, from `from`.
    fn chunk(
        &self,
        conn: &mut DbConnection,
        from: Position,
        limit: i64,
    ) -> QueryResult<Vec<Self::Row>>;
    /// Changes whenever the list does; `total` is what `count` answered.
    fn version(&self, conn: &mut DbConnection, total: i64) -> QueryResult<String>;
    /// The id a row is ordered (and a keyset scan continued) by.
    fn id(row: &Self::Row) -> i64;
}

/// True for a unique-constraint violation, on either backend.
pub(crate) fn is_unique_violation(e: &Error) -> bool {
    matches!(
        e,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// True for a foreign-key violation, on either backend.
pub(crate) fn is_foreign_key_violation(e: &Error) -> bool {
    matches!(
        e,
        Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
    )
}
