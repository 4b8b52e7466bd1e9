//! Query parameters parsed once into valid types: `include` and the
//! `start`/`end` range of a list; the rules for text in [`text`] and for
//! passwords given to the command line in [`password`]; SCIM filters and
//! PATCH paths in [`scim_filter`]; why a thing asked for is refused, in the
//! contract's words, in [`refusal`].

pub mod history;
pub mod password;
pub mod refusal;
pub mod scim_filter;
pub mod sync;
pub mod text;

pub use refusal::Refusal;

/// The extra data a response carries (`include=users,user_groups,timestamps`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Include {
    pub users: bool,
    pub user_groups: bool,
    pub timestamps: bool,
}

/// At most this many names in `include` (all of them, repeats counted).
pub const MAX_INCLUDE_NAMES: usize = 32;

impl Include {
    /// Adds up every `include=` value: comma-separated names, spaces around
    /// commas tolerated, in any order.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Include, String> {
        let mut include = Include::default();
        let mut seen = 0;
        for value in values {
            for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                seen += 1;
                if seen > MAX_INCLUDE_NAMES {
                    return Err(format!("include names at most {MAX_INCLUDE_NAMES} items."));
                }
                match name {
                    "users" => include.users = true,
                    "user_groups" | "user-groups" => include.user_groups = true,
                    "timestamps" => include.timestamps = true,
                    other => {
                        return Err(format!(
                            "include has an unknown name \"{}\": the valid names are users, user_groups and timestamps.",
                            other.chars().take(40).collect::<String>()
                        ));
                    }
                }
            }
        }
        Ok(include)
    }

    /// True when the response needs each membership's user or user group.
    pub fn relations(&self) -> bool {
        self.users || self.user_groups
    }
}

/// `start` and `end`: 1-based, inclusive, over the id-ordered list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: i64,
    pub end: Option<i64>,
    /// True when the request gave `start` or `end`: the answer is a slice
    /// (and carries a `Link` header, API.md 8.3).
    pub asked: bool,
}

impl Default for Range {
    fn default() -> Self {
        Range {
            start: 1,
            end: None,
            asked: false,
        }
    }
}

/// Which part of a list of `total` items a range selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// Items to skip.
    pub offset: i64,
    /// Items to return (0 for an empty slice).
    pub count: i64,
}

impl Range {
    /// Parses the last `start` and `end` values given; an empty value counts
    /// as left out. Every problem is reported, one message each.
    pub fn parse(start: Option<&str>, end: Option<&str>) -> Result<Range, Vec<String>> {
        let mut problems = Vec::new();
        let start = parse_position("start", start, &mut problems);
        let end = parse_position("end", end, &mut problems);
        let range = Range {
            start: start.unwrap_or(1),
            end,
            asked: start.is_some() || end.is_some(),
        };
        if let Some(end) = range.end {
            if problems.is_empty() && end < range.start {
                problems.push(format!(
                    "end ({end}) must not be less than start ({}).",
                    range.start
                ));
            }
        }
        if problems.is_empty() {
            Ok(range)
        } else {
            Err(problems)
        }
    }

    /// The part of a list of `total` items this range covers: cut short at the
    /// end, empty when it starts past the end.
    pub fn slice(&self, total: i64) -> Slice {
        let offset = self.start - 1;
        let last = self.end.map_or(total, |e| e.min(total));
        Slice {
            offset,
            count: (last - offset).max(0),
        }
    }
}

fn parse_position(name: &str, value: Option<&str>, problems: &mut Vec<String>) -> Option<i64> {
    let value = value?.trim();
    if value.is_empty() {
        return None;
    }
    let digits = value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<i64>() {
        Ok(n) if n >= 1 && digits => Some(n),
        _ if value.bytes().all(|b| b.is_ascii_digit()) && value.bytes().any(|b| b != b'0') => {
            problems.push(format!(
                "{name} is too large: the largest value is {}.",
                i64::MAX
            ));
            None
        }
        _ => {
            problems.push(format!(
                "{name} must be a positive integer (1, 2, 3, ...), not \"{}\".",
                value.chars().take(40).collect::<String>()
            ));
            None
        }
    }
}

/// `user_id` and `user_group_id` of a membership list or the event feed
/// (API.md 8.3): each set narrows to those ids (empty: any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdFilter {
    pub users: Vec<i64>,
    pub user_groups: Vec<i64>,
}

impl IdFilter {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.user_groups.is_empty()
    }
}

/// At most this many ids in a `user_id` or `user_group_id` filter.
pub const MAX_FILTER_IDS: usize = 100;

/// Parses the values of an id filter (`user_id=3,4`; repeated parameters
/// add up): positive integers, at most [`MAX_FILTER_IDS`] of them, sorted
/// and without repeats. `name` is the parameter, for the message.
pub fn parse_id_list<'a>(
    name: &str,
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<i64>, String> {
    let mut ids = Vec::new();
    for value in values {
        for item in value.split(',').map(str::trim) {
            if ids.len() == MAX_FILTER_IDS {
                return Err(format!("{name} names at most {MAX_FILTER_IDS} ids."));
            }
            match parse_id(item) {
                Some(id) => ids.push(id),
                None => {
                    return Err(format!(
                        "{name} must be ids (positive integers) separated by commas, not \"{}\".",
                        value.chars().take(40).collect::<String>()
                    ));
                }
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Parses an id from a path: a positive integer, or None.
pub fn parse_id(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().filter(|&n| n >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_adds_up_and_tolerates_spaces() {
        let inc = Include::parse(["users , timestamps", "user-groups"]).unwrap();
        assert_eq!(
            inc,
            Include {
                users: true,
                user_groups: true,
                timestamps: true
            }
        );
        assert_eq!(Include::parse(["", ","]).unwrap(), Include::default());
        let err = Include::parse(["users,bogus"]).unwrap_err();
        assert!(err.contains("\"bogus\"") && err.contains("users, user_groups and timestamps"));
    }

    #[test]
    fn range_parses_and_slices() {
        let r = Range::parse(Some("1"), Some("4")).unwrap();
        assert_eq!(
            r.slice(10),
            Slice {
                offset: 0,
                count: 4
            }
        );
        assert_eq!(
            r.slice(2),
            Slice {
                offset: 0,
                count: 2
            }
        );
        let r = Range::parse(Some("3"), None).unwrap();
        assert_eq!(
            r.slice(10),
            Slice {
                offset: 2,
                count: 8
            }
        );
        let r = Range::parse(None, Some("2")).unwrap();
        assert_eq!(
            r.slice(10),
            Slice {
                offset: 0,
                count: 2
            }
        );
        let r = Range::parse(Some("11"), Some("20")).unwrap();
        assert_eq!(r.slice(10).count, 0);
        assert_eq!(Range::parse(Some(""), Some("")).unwrap(), Range::default());
    }

    #[test]
    fn range_refuses_bad_values() {
        for (start, end) in [
            (Some("0"), None),
            (Some("-1"), None),
            (Some("abc"), None),
            (None, Some("1.5")),
            (Some("5"), Some("4")),
            (Some("99999999999999999999"), None),
            (Some("+5"), None),
        ] {
            assert!(Range::parse(start, end).is_err(), "{start:?} {end:?}");
        }
        assert_eq!(Range::parse(Some("x"), Some("y")).unwrap_err().len(), 2);
    }

    #[test]
    fn id_lists_add_up_and_are_bounded() {
        assert_eq!(parse_id_list("user_id", ["3, 4", "3"]), Ok(vec![3, 4]));
        assert_eq!(parse_id_list("user_id", []), Ok(vec![]));
        for bad in ["", "3,", "3,,4", "0", "x", "-2"] {
            let e = parse_id_list("user_id", [bad]).unwrap_err();
            assert!(e.starts_with("user_id must be ids"), "{bad}: {e}");
        }
        let many = (1..=101)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let e = parse_id_list("user_group_id", [many.as_str()]).unwrap_err();
        assert_eq!(e, "user_group_id names at most 100 ids.");
        let hundred = (1..=100)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            parse_id_list("user_id", [hundred.as_str()]).unwrap().len(),
            100
        );
    }

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(parse_id("7"), Some(7));
        for bad in ["0", "-1", "+1", "1.0", "abc", "", "99999999999999999999"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }
}
