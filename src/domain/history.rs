//! History (API.md 8.7): what a membership event says (`Action`, `Via`),
//! who made a change and how (`Changer`), and the datetimes of `since` and
//! `as_of`, parsed once.

use chrono::{DateTime, NaiveDateTime, Timelike};

use crate::domain::IdFilter;

/// What happened to a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Added,
    Removed,
}

impl Action {
    /// The word stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Added => "added",
            Action::Removed => "removed",
        }
    }
}

/// How a change was made: the route, form or command behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An API request with an XML or JSON body, or a DELETE.
    Api,
    /// A browser form: the managers' page, or a form posted to the API.
    Form,
    ChangeSet,
    Sync,
    Import,
    GroupDelete,
    UserDelete,
    Scim,
    /// The events given to memberships that existed before history was kept.
    Migration,
}

impl Via {
    pub const ALL: [Via; 9] = [
        Via::Api,
        Via::Form,
        Via::ChangeSet,
        Via::Sync,
        Via::Import,
        Via::GroupDelete,
        Via::UserDelete,
        Via::Scim,
        Via::Migration,
    ];

    /// The contract's word (also the stored one; the table's CHECK lists
    /// the same words).
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Api => "api",
            Via::Form => "form",
            Via::ChangeSet => "change-set",
            Via::Sync => "sync",
            Via::Import => "import",
            Via::GroupDelete => "group-delete",
            Via::UserDelete => "user-delete",
            Via::Scim => "scim",
            Via::Migration => "migration",
        }
    }

    /// The `Via` a stored word names.
    pub fn from_stored(word: &str) -> Option<Via> {
        Via::ALL.into_iter().find(|v| v.as_str() == word)
    }
}

/// Who changes a membership and how: the signed-in manager (None for the
/// command line) and the way in. Every change is written with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changer {
    pub actor: Option<i64>,
    pub via: Via,
}

impl Changer {
    /// A manager, through an HTTP route.
    pub fn manager(id: i64, via: Via) -> Changer {
        Changer {
            actor: Some(id),
            via,
        }
    }

    /// The command line (no signed-in user).
    pub const fn command_line(via: Via) -> Changer {
        Changer { actor: None, via }
    }
}

/// What the event feed is narrowed to (`GET /membership-events`): every
/// filter that is set applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Events of these users and groups (`user_id`, `user_group_id`).
    pub ids: IdFilter,
    /// Events at or after this moment.
    pub since: Option<NaiveDateTime>,
    /// Events with a larger id (0: all): the cursor a mirror keeps.
    pub after_id: i64,
}

/// Parses `after_id`: a whole number, 0 or more (a mirror that has seen
/// nothing yet may start from 0).
pub fn parse_after_id(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = t.parse::<i64>() {
            return Ok(n);
        }
    }
    Err(format!(
        "after_id must be an event id (0, 1, 2, ...), not \"{}\".",
        t.chars().take(40).collect::<String>()
    ))
}

/// Which way a datetime with a fraction of a second is rounded to the
/// whole seconds events are stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// `as_of`: the state at 09:14:03.5 is the state at 09:14:03.
    Down,
    /// `since`: events at or after 09:14:03.5 are those from 09:14:04.
    Up,
}

/// Parses an RFC 3339 datetime with an offset (`2026-12-01T09:14:03Z`,
/// `2026-12-01T10:14:03+01:00`) into UTC whole seconds; `name` is the
/// parameter, for the message. A `+` in a query string arrives as a space
/// unless it was percent-encoded, so a space before the offset is read as
/// `+`.
pub fn parse_datetime(name: &str, text: &str, round: Round) -> Result<NaiveDateTime, String> {
    let trimmed = text.trim();
    let mut fixed = trimmed.to_string();
    if let Some(i) = trimmed.rfind(' ') {
        if i > 10 {
            fixed.replace_range(i..i + 1, "+");
        }
    }
    let parsed = DateTime::parse_from_rfc3339(&fixed).map_err(|_| {
        format!(
            "{name} must be a date and time with an offset, such as 2026-12-01T09:14:03Z, not \"{}\".",
            trimmed.chars().take(40).collect::<String>()
        )
    })?;
    let utc = parsed.naive_utc();
    let whole = utc.with_nanosecond(0).unwrap_or(utc);
    Ok(match round {
        Round::Up if whole != utc => whole + chrono::Duration::seconds(1),
        _ => whole,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn datetimes_need_an_offset_and_become_utc_seconds() {
        let d = |t| parse_datetime("since", t, Round::Down);
        assert_eq!(d("2026-12-01T09:14:03Z"), Ok(at("2026-12-01 09:14:03")));
        assert_eq!(
            d("2026-12-01T10:14:03+01:00"),
            Ok(at("2026-12-01 09:14:03"))
        );
        // A `+` that a query string turned into a space.
        assert_eq!(
            d("2026-12-01T10:14:03 01:00"),
            Ok(at("2026-12-01 09:14:03"))
        );
        assert_eq!(d("2026-12-01T09:14:03.9Z"), Ok(at("2026-12-01 09:14:03")));
        let up = parse_datetime("since", "2026-12-01T09:14:03.1Z", Round::Up);
        assert_eq!(up, Ok(at("2026-12-01 09:14:04")));
        let exact = parse_datetime("since", "2026-12-01T09:14:03Z", Round::Up);
        assert_eq!(exact, Ok(at("2026-12-01 09:14:03")));
        for bad in [
            "2026-12-01T09:14:03",
            "2026-12-01",
            "yesterday",
            "",
            "2026-13-01T00:00:00Z",
            "1764580443",
        ] {
            let e = d(bad).unwrap_err();
            assert!(e.starts_with("since must be a date and time"), "{bad}: {e}");
        }
    }

    #[test]
    fn after_id_is_a_whole_number() {
        assert_eq!(parse_after_id("0"), Ok(0));
        assert_eq!(parse_after_id(" 812 "), Ok(812));
        for bad in ["-1", "1.5", "x", "", "+3", "99999999999999999999"] {
            assert!(
                parse_after_id(bad)
                    .unwrap_err()
                    .starts_with("after_id must"),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_via_is_read_back_from_its_word() {
        for via in Via::ALL {
            assert_eq!(Via::from_stored(via.as_str()), Some(via));
        }
        assert_eq!(Via::from_stored("ftp"), None);
    }
}
