//! Path and query parameters of API requests, parsed into [`crate::domain`]
//! types; every problem is a 400 with its own message.

use chrono::NaiveDateTime;

use crate::domain::history::{EventFilter, Round, parse_after_id, parse_datetime};
use crate::domain::{IdFilter, Include, Range, parse_id, parse_id_list};
use crate::http::errors::ApiError;
use crate::http::limits::MAX_QUERY_PARAMS;

fn pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| ApiError::bad_request("The query string could not be read."))?;
    if pairs.len() > MAX_QUERY_PARAMS {
        return Err(ApiError::bad_request(format!(
            "The query string has more than {MAX_QUERY_PARAMS} parameters."
        )));
    }
    Ok(pairs)
}

fn parse_include(pairs: &[(String, String)]) -> Result<Include, String> {
    Include::parse(
        pairs
            .iter()
            .filter(|(k, _)| k == "include")
            .map(|(_, v)| v.as_str()),
    )
}

fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `include` from a query string.
pub fn include_query(query: &str) -> Result<Include, ApiError> {
    parse_include(&pairs(query)?).map_err(ApiError::bad_request)
}

/// `include`, `start` and `end` from a query string.
pub fn list_query(query: &str) -> Result<(Include, Range), ApiError> {
    let pairs = pairs(query)?;
    let mut problems = Vec::new();
    let found = include_and_range(&pairs, &mut problems);
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(ApiError::BadRequest(problems))
    }
}

/// `include`, `start` and `end`, each problem added to `problems`.
fn include_and_range(pairs: &[(String, String)], problems: &mut Vec<String>) -> (Include, Range) {
    let include = parse_include(pairs).unwrap_or_else(|m| {
        problems.push(m);
        Include::default()
    });
    let range = Range::parse(last(pairs, "start"), last(pairs, "end")).unwrap_or_else(|m| {
        problems.extend(m);
        Range::default()
    });
    (include, range)
}

fn all<'a>(pairs: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    pairs
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The last value of the parameter `name`, if given.
pub fn single_value(query: &str, name: &str) -> Result<Option<String>, ApiError> {
    Ok(last(&pairs(query)?, name).map(str::to_string))
}

/// `include`, `start`, `end`, `user_id`, `user_group_id`, `since` and
/// `after_id` of the event feed; every problem is reported.
pub fn feed_query(query: &str) -> Result<(Include, Range, EventFilter), ApiError> {
    let pairs = pairs(query)?;
    let mut problems = Vec::new();
    let (include, range) = include_and_range(&pairs, &mut problems);
    let ids = id_filter(&pairs, &mut problems);
    let since = last(&pairs, "since").map(|v| parse_datetime("since", v, Round::Up));
    let after_id = last(&pairs, "after_id").map(parse_after_id);
    let filter = EventFilter {
        ids,
        since: since.transpose().unwrap_or_else(|m| {
            problems.push(m);
            None
        }),
        after_id: after_id
            .transpose()
            .unwrap_or_else(|m| {
                problems.push(m);
                None
            })
            .unwrap_or(0),
    };
    if problems.is_empty() {
        Ok((include, range, filter))
    } else {
        Err(ApiError::BadRequest(problems))
    }
}

/// `user_group_id` of the managers' history page: one group, if given. 400
/// unless it is given at most once, as a single positive integer.
pub fn history_query(query: &str) -> Result<Option<i64>, ApiError> {
    let pairs = pairs(query)?;
    let mut values = all(&pairs, "user_group_id");
    let Some(text) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "user_group_id names one user group here: give it once.",
        ));
    }
    parse_id(text.trim()).map(Some).ok_or_else(|| {
        ApiError::bad_request(format!(
            "user_group_id must be a positive integer, not \"{}\".",
            text.chars().take(40).collect::<String>()
        ))
    })
}

/// `added`, `removed` and `unchanged` of a group's members page, which
/// the page's apply form redirects to: what was done, to say so. All three
/// or none; each a count (400 otherwise).
pub fn applied_query(query: &str) -> Result<Option<[u64; 3]>, ApiError> {
    let pairs = pairs(query)?;
    let names = ["added", "removed", "unchanged"];
    let values = names.map(|name| last(&pairs, name));
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut counts = [0; 3];
    for ((name, value), count) in names.iter().zip(values).zip(&mut counts) {
        let text = value.unwrap_or("");
        *count = text.trim().parse().map_err(|_| {
            ApiError::bad_request(format!(
                "{name} must be a count, not \"{}\".",
                text.chars().take(40).collect::<String>()
            ))
        })?;
    }
    Ok(Some(counts))
}

/// `user_id` and `user_group_id`: each comma-separated, repeats adding up.
fn id_filter(pairs: &[(String, String)], problems: &mut Vec<String>) -> IdFilter {
    let mut ids = |name| {
        parse_id_list(name, all(pairs, name)).unwrap_or_else(|m| {
            problems.push(m);
            Vec::new()
        })
    };
    IdFilter {
        users: ids("user_id"),
        user_groups: ids("user_group_id"),
    }
}

/// `include`, `start`, `end`, `as_of`, `user_id` and `user_group_id` of a
/// membership list; every problem is reported.
pub fn memberships_query(
    query: &str,
) -> Result<(Include, Range, Option<NaiveDateTime>, IdFilter), ApiError> {
    let pairs = pairs(query)?;
    let mut problems = Vec::new();
    let (include, range) = include_and_range(&pairs, &mut problems);
    let as_of = last(&pairs, "as_of")
        .map(|v| parse_datetime("as_of", v, Round::Down))
        .transpose()
        .unwrap_or_else(|m| {
            problems.push(m);
            None
        });
    let ids = id_filter(&pairs, &mut problems);
    if problems.is_empty() {
        Ok((include, range, as_of, ids))
    } else {
        Err(ApiError::BadRequest(problems))
    }
}

/// An id from the path; 400 when it is not a positive integer.
pub fn parse_path_id(text: &str) -> Result<i64, ApiError> {
    parse_id(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "The id in the path must be a positive integer, not \"{}\".",
            text.chars().take(40).collect::<String>()
        ))
    })
}
