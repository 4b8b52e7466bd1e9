//! What a membership body names (API.md 8.2): each side, the user and the
//! user group, by id, by login or name, or both; read from the body's
//! fields once, then resolved against the database, and held against the
//! ids of the path where the route has them.

use crate::db::DbConnection;
use crate::db::queries::{user_groups, users};
use crate::domain::Refusal;
use crate::http::body::{Fields, required_id};
use crate::http::errors::ApiError;

pub use crate::domain::sync::Named;

/// The user or the user group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    User,
    UserGroup,
}

impl Side {
    /// Field names the side's id may come in (`user` and `user-group` are
    /// Syncano's).
    fn id_fields(self) -> &'static [&'static str] {
        match self {
            Side::User => &["user-id", "user"],
            Side::UserGroup => &["user-group-id", "user-group"],
        }
    }

    /// Field names of the login or the group name.
    fn name_fields(self) -> &'static [&'static str] {
        match self {
            Side::User => &["user-login"],
            Side::UserGroup => &["user-group-name"],
        }
    }

    /// The id field's name in messages.
    pub fn id_label(self) -> &'static str {
        match self {
            Side::User => "user-id",
            Side::UserGroup => "user-group-id",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Side::User => "user",
            Side::UserGroup => "user group",
        }
    }

    fn name_label(self) -> &'static str {
        match self {
            Side::User => "user-login",
            Side::UserGroup => "user-group-name",
        }
    }
}

/// What a body says of one side: nothing, a usable [`Named`], or a
/// problem with the values given (a malformed id).
pub fn named(fields: &Fields, side: Side) -> Result<Option<Named>, String> {
    let present = |names| {
        fields
            .get(names)
            .flatten()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let id = present(side.id_fields())
        .map(|v| required_id(side.id_label(), Some(v)))
        .transpose()?;
    let name = present(side.name_fields()).map(str::to_string);
    Ok(match (id, name) {
        (None, None) => None,
        (Some(id), None) => Some(Named::Id(id)),
        (None, Some(name)) => Some(Named::Name(name)),
        (Some(id), Some(name)) => Some(Named::Both(id, name)),
    })
}

/// The id a [`Named`] side stands for: a login or name looked up, an id
/// and a name that must agree. (Whether an id exists is for the change
/// itself to say.)
pub fn resolve(
    c: &mut DbConnection,
    side: Side,
    named: &Named,
) -> Result<Result<i64, Refusal>, ApiError> {
    let by_name = |c: &mut DbConnection, name: &str| -> Result<Option<i64>, ApiError> {
        Ok(match side {
            Side::User => users::id_by_login(c, name)?,
            Side::UserGroup => user_groups::id_by_name(c, name)?,
        })
    };
    let unknown = |name: &str| match side {
        Side::User => Refusal::NoUserWithLogin(name.to_string()),
        Side::UserGroup => Refusal::NoGroupWithName(name.to_string()),
    };
    Ok(match named {
        Named::Id(id) => Ok(*id),
        Named::Name(name) => by_name(c, name)?.ok_or_else(|| unknown(name)),
        Named::Both(id, name) => match by_name(c, name)? {
            None => Err(unknown(name)),
            Some(found) if found == *id => Ok(found),
            Some(_) => Err(match side {
                Side::User => Refusal::UserIdAndLoginDisagree(*id, name.clone()),
                Side::UserGroup => Refusal::GroupIdAndNameDisagree(*id, name.clone()),
            }),
        },
    })
}

/// One side of a change: what the body names, held against the path's id
/// when the route has one. The body may leave out a side the path gives;
/// where both give it, they must agree. Problems are messages for a 422.
pub fn side_id(
    c: &mut DbConnection,
    side: Side,
    body: &Result<Option<Named>, String>,
    path: Option<i64>,
) -> Result<Result<i64, String>, ApiError> {
    let named = match body {
        Err(problem) => return Ok(Err(problem.clone())),
        Ok(named) => named,
    };
    let label = side.id_label();
    Ok(match (named, path) {
        (None, None) => Err(format!("{label} is missing.")),
        (None, Some(id)) => Ok(id),
        (Some(named), path) => match resolve(c, side, named)? {
            Err(refusal) => Err(refusal.to_string()),
            Ok(id) => match path {
                Some(p) if p != id => Err(match named {
                    Named::Id(_) => format!(
                        "{label} in the body ({id}) does not match the one in the path ({p})."
                    ),
                    Named::Name(name) | Named::Both(_, name) => format!(
                        "{} \"{}\" in the body is {} {id}, not the one in the path ({p}).",
                        side.name_label(),
                        name.chars().take(100).collect::<String>(),
                        side.noun()
                    ),
                }),
                _ => Ok(id),
            },
        },
    })
}
