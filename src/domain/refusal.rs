//! Why something asked of syncd is refused for a reason its sender can fix:
//! a missing user, group or membership, a taken name or login, a duplicate
//! membership, text that breaks a rule of [`crate::domain::text`].
//!
//! The queries, the API, the managers' page, the command line and the import
//! all refuse with these, and their words (the contract's exact sentences,
//! `docs/API.md`) are written here and nowhere else. What status a refusal
//! answers over HTTP is decided in one place, `From<Refusal> for ApiError`
//! in `src/http/errors.rs`.

use crate::domain::text::printable;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No user has this id.
    #[error("User {0} does not exist.")]
    UnknownUser(i64),
    /// No user group has this id.
    #[error("User group {0} does not exist.")]
    UnknownUserGroup(i64),
    /// No membership has this id.
    #[error("Membership {0} does not exist.")]
    UnknownMembership(i64),
    /// The user is already in the group.
    #[error("Membership with this User and Group already exists.")]
    DuplicateMembership,
    /// The user or the group was deleted between the check and the insert.
    #[error("The user or the user group was deleted meanwhile.")]
    DeletedMeanwhile,
    /// The user is not in the group (a membership addressed by its pair).
    #[error("User {0} is not a member of user group {1}.")]
    NotAMember(i64, i64),
    /// No user has the login a body names.
    #[error("There is no user with the login \"{}\".", clip(.0))]
    NoUserWithLogin(String),
    /// No user group has the name a body names.
    #[error("There is no user group named \"{}\".", clip(.0))]
    NoGroupWithName(String),
    /// A body names a user by id and by login, and they are two users.
    #[error("user-id {0} and user-login \"{login}\" name different users.", login = clip(.1))]
    UserIdAndLoginDisagree(i64, String),
    /// A body names a group by id and by name, and they are two groups.
    #[error("user-group-id {0} and user-group-name \"{name}\" name different user groups.", name = clip(.1))]
    GroupIdAndNameDisagree(i64, String),
    /// Another group has this name.
    #[error("A user group named \"{0}\" already exists.")]
    GroupNameTaken(String),
    /// Another user has this login (`users create`).
    #[error("a user with login '{0}' already exists")]
    LoginTaken(String),
    /// No user has this login (the command line, the import); printed with
    /// anything a terminal would act on escaped.
    #[error("there is no user with login '{}'", printable(.0))]
    UnknownLogin(String),
    /// No user group has this name (the import); escaped as above.
    #[error("there is no user group named '{}'", printable(.0))]
    UnknownGroupName(String),
    /// More unknown users than a 422 names one by one.
    #[error("And {0} more users that do not exist.")]
    MoreUnknownUsers(usize),
    /// `If-Match` named a member set that is no longer the group's.
    #[error("The members of user group {0} changed since you read them.")]
    MembersChanged(i64),
    /// A `PATCH` of a member set both adds and removes this user.
    #[error("User {0} is both added and removed.")]
    AddedAndRemoved(i64),
    /// A change set names one pair twice (in change `.2`, 1-based).
    #[error("user {0} and user group {1} are named in change {2} already.")]
    PairNamedTwice(i64, i64, usize),
    /// Text that breaks a rule of [`crate::domain::text`], in that rule's
    /// words.
    #[error("{0}")]
    Invalid(String),
}

/// A name or login as echoed in a message: at most 100 characters (the
/// writer escapes it).
fn clip(text: &str) -> String {
    text.chars().take(100).collect()
}

impl Refusal {
    /// True when the refusal is that a thing named by its id does not exist.
    pub fn is_unknown_id(&self) -> bool {
        matches!(
            self,
            Refusal::UnknownUser(_)
                | Refusal::UnknownUserGroup(_)
                | Refusal::UnknownMembership(_)
                | Refusal::NotAMember(..)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Refusal;

    #[test]
    fn the_contracts_words() {
        assert_eq!(
            Refusal::UnknownUser(7).to_string(),
            "User 7 does not exist."
        );
        assert_eq!(
            Refusal::UnknownUserGroup(7).to_string(),
            "User group 7 does not exist."
        );
        assert_eq!(
            Refusal::UnknownMembership(7).to_string(),
            "Membership 7 does not exist."
        );
        assert_eq!(
            Refusal::DuplicateMembership.to_string(),
            "Membership with this User and Group already exists."
        );
        assert_eq!(
            Refusal::GroupNameTaken("Editors".into()).to_string(),
            "A user group named \"Editors\" already exists."
        );
        assert_eq!(
            Refusal::UnknownLogin("a\u{1b}b".into()).to_string(),
            "there is no user with login 'a\\u{1b}b'"
        );
        assert_eq!(
            Refusal::Invalid("Name can't be blank.".into()).to_string(),
            "Name can't be blank."
        );
    }
}
