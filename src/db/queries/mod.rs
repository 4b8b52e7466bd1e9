//! Plain functions over a `&mut DbConnection`, one module per resource. They
//! return Diesel's errors; the API layer decides what a client sees of them.

pub mod bulk;
pub mod memberships;
pub mod user_groups;
pub mod users;

use diesel::result::{DatabaseErrorKind, Error};

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
