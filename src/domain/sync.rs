//! Keeping groups in step (API.md 8.4 and 8.5): what a member-set or a
//! change-set body asks for, the plan that takes a group's members from
//! what they are to what was asked, the `ETag` of a set, and the words of
//! their refusals. No HTTP and no SQL: the parsers in `http::sync_bodies` make
//! these values, `db::queries::changes` carries them out.

use std::fmt::Write;

use crate::domain::Refusal;

/// Users in one member set, ids and logins together: more is refused
/// before anything is looked up. A set of 100,000 must pass (API.md 8.4);
/// a body of a million elements must not.
pub const MAX_SET_USERS: usize = 250_000;

/// Changes in one change set (API.md 8.5).
pub const MAX_CHANGES: usize = 10_000;

/// Unknown users named one by one in a 422; the rest are counted.
pub const MAX_NAMED_UNKNOWN: usize = 20;

/// One side of a membership as a body names it: by id, by login (or group
/// name), or both, which must then be the same user (or group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Id(i64),
    Name(String),
    Both(i64, String),
}

/// Users as a member-set body names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users {
    pub ids: Vec<i64>,
    pub logins: Vec<String>,
}

impl Users {
    pub fn len(&self) -> usize {
        self.ids.len() + self.logins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a member-set request asks of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetChange {
    /// `PUT`: exactly these members.
    Exactly(Users),
    /// `PATCH`: add these, remove those, leave the rest.
    Patch { add: Users, remove: Users },
}

/// How to take a group from its members to the ones asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// User ids to add, ascending.
    pub add: Vec<i64>,
    /// Memberships to remove: (user id, membership id), by user id.
    pub remove: Vec<(i64, i64)>,
    /// Members before who stay.
    pub unchanged: usize,
}

/// What a member-set request did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetReport {
    pub user_group_id: i64,
    pub dry_run: bool,
    pub added: Vec<i64>,
    pub removed: Vec<i64>,
    pub unchanged: usize,
    /// The `ETag` of the set after the request (before it, in a dry run).
    pub etag: String,
}

/// The plan for a `PUT`: `current` is the group's (user id, membership
/// id), and `wanted` the user ids asked for; both ascending by user id,
/// `wanted` without repeats.
pub fn plan_exactly(current: &[(i64, i64)], wanted: &[i64]) -> Plan {
    let mut plan = Plan::default();
    let (mut i, mut j) = (0, 0);
    while i < current.len() || j < wanted.len() {
        match (current.get(i), wanted.get(j)) {
            (Some(&(have, _)), Some(&want)) if have == want => {
                plan.unchanged += 1;
                i += 1;
                j += 1;
            }
            (Some(&(have, id)), Some(&want)) if have < want => {
                plan.remove.push((have, id));
                i += 1;
            }
            (Some(&(have, id)), None) => {
                plan.remove.push((have, id));
                i += 1;
            }
            (_, Some(&want)) => {
                plan.add.push(want);
                j += 1;
            }
            (None, None) => unreachable!("the loop ends first"),
        }
    }
    plan
}

/// The plan for a `PATCH`: add what is not there, remove what is; both
/// lists ascending without repeats and disjoint.
pub fn plan_patch(current: &[(i64, i64)], add: &[i64], remove: &[i64]) -> Plan {
    let is_member = |user: i64| current.binary_search_by_key(&user, |&(u, _)| u);
    let mut plan = Plan {
        add: add
            .iter()
            .copied()
            .filter(|&u| is_member(u).is_err())
            .collect(),
        ..Plan::default()
    };
    plan.remove = remove
        .iter()
        .filter_map(|&u| is_member(u).ok().map(|at| current[at]))
        .collect();
    plan.unchanged = current.len() - plan.remove.len();
    plan
}

/// Sorts and removes repeats.
pub fn ascending(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The strong `ETag` of a set of user ids (ascending): a digest of the set
/// alone, so it is the same in XML and JSON, and the same again when the
/// set returns to an earlier state.
pub fn set_etag(ascending_ids: impl IntoIterator<Item = i64>) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for id in ascending_ids {
        hasher.update(&id.to_le_bytes());
    }
    format!("\"members-{:032x}\"", hasher.digest128())
}

/// True when an `If-Match` value names `etag` (strong comparison), or is
/// `*` (any set: the group exists).
pub fn if_match_holds(if_match: &str, etag: &str) -> bool {
    if_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == etag)
}

/// The unknown users of a set, as a 422's messages: the first
/// [`MAX_NAMED_UNKNOWN`], then how many more.
pub fn unknown_users(mut refusals: Vec<Refusal>) -> Vec<String> {
    let more = refusals.len().saturating_sub(MAX_NAMED_UNKNOWN);
    refusals.truncate(MAX_NAMED_UNKNOWN);
    let mut messages: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    if more > 0 {
        messages.push(Refusal::MoreUnknownUsers(more).to_string());
    }
    messages
}

/// What one change of a change set does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeAction {
    Add,
    Remove,
}

impl ChangeAction {
    /// The contract's word.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Add => "add",
            ChangeAction::Remove => "remove",
        }
    }

    pub fn parse(word: &str) -> Result<ChangeAction, String> {
        match word.trim() {
            "add" => Ok(ChangeAction::Add),
            "remove" => Ok(ChangeAction::Remove),
            other => Err(format!(
                "action must be add or remove, not \"{}\".",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// One change of a change set, as its body names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: ChangeAction,
    pub user: Named,
    pub user_group: Named,
}

/// What became of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeResult {
    Added,
    Removed,
    Unchanged,
}

impl ChangeResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeResult::Added => "added",
            ChangeResult::Removed => "removed",
            ChangeResult::Unchanged => "unchanged",
        }
    }
}

/// A change carried out: what it asked, with the ids it resolved to, what
/// became of it, and its membership's id where one exists (the removed
/// one's, for a removal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeDone {
    pub action: ChangeAction,
    pub user_id: i64,
    pub user_group_id: i64,
    pub result: ChangeResult,
    pub membership_id: Option<i64>,
}

/// A problem with change `n` (1-based), as the 422 says it.
pub fn change_problem(n: usize, problem: impl std::fmt::Display) -> String {
    let mut s = String::new();
    let _ = write!(s, "Change {n}: {problem}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_plans_the_difference() {
        let current = [(1, 10), (3, 30), (5, 50)];
        let plan = plan_exactly(&current, &[2, 3, 6]);
        assert_eq!(plan.add, vec![2, 6]);
        assert_eq!(plan.remove, vec![(1, 10), (5, 50)]);
        assert_eq!(plan.unchanged, 1);
        let plan = plan_exactly(&current, &[]);
        assert_eq!(plan.remove.len(), 3);
        assert_eq!(plan.unchanged, 0);
        let plan = plan_exactly(&[], &[4]);
        assert_eq!((plan.add, plan.unchanged), (vec![4], 0));
        assert_eq!(plan_exactly(&current, &[1, 3, 5]).unchanged, 3);
    }

    #[test]
    fn a_patch_plans_only_what_it_names() {
        let current = [(1, 10), (3, 30), (5, 50)];
        let plan = plan_patch(&current, &[1, 2], &[4, 5]);
        assert_eq!(plan.add, vec![2]);
        assert_eq!(plan.remove, vec![(5, 50)]);
        assert_eq!(plan.unchanged, 2);
    }

    #[test]
    fn the_etag_depends_on_the_set_alone() {
        assert_eq!(set_etag([3, 9]), set_etag(vec![3, 9]));
        assert_ne!(set_etag([3, 9]), set_etag([3]));
        assert_ne!(set_etag([]), set_etag([0]));
        assert!(set_etag([1]).starts_with('"'));
        assert!(if_match_holds(
            &format!("\"x\", {}", set_etag([1])),
            &set_etag([1])
        ));
        assert!(if_match_holds("*", &set_etag([1])));
        assert!(!if_match_holds(&set_etag([2]), &set_etag([1])));
    }

    #[test]
    fn unknown_users_name_twenty_then_count() {
        let refusals = (1..=25).map(Refusal::UnknownUser).collect();
        let messages = unknown_users(refusals);
        assert_eq!(messages.len(), 21);
        assert_eq!(messages[0], "User 1 does not exist.");
        assert_eq!(messages[20], "And 5 more users that do not exist.");
    }

    #[test]
    fn actions() {
        assert_eq!(ChangeAction::parse("add"), Ok(ChangeAction::Add));
        assert_eq!(ChangeAction::parse(" remove "), Ok(ChangeAction::Remove));
        assert!(ChangeAction::parse("delete").is_err());
        assert_eq!(change_problem(3, "x"), "Change 3: x");
    }
}
