//! Member-set and change-set bodies (API.md 8.4, 8.5): large bodies (up to
//! `SYNCD_MAX_SYNC_BODY`) read into bounded values. Each parser stops at
//! the first value past its bound ([`MAX_SET_USERS`] users,
//! [`MAX_CHANGES`] changes), so a body of a million elements is refused
//! without building a million of anything.
//!
//! A member set that names no list at all (a typo such as `userIds`) is
//! refused rather than read as the empty set, which would empty the group.

use std::fmt;

use actix_web::HttpRequest;
use actix_web::http::header;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::domain::parse_id;
use crate::domain::sync::{MAX_CHANGES, MAX_SET_USERS, SetChange, Users};
use crate::http::body::{BodyKind, Fields, kind_of};
use crate::http::errors::ApiError;
use crate::xml::{Field, Node, read_nested};

/// The encodings of a member set: those of the API, and CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    Xml,
    Json,
    Csv,
}

/// Problems with values, named one by one up to this many.
const MAX_PROBLEMS: usize = 20;

/// The member-set body's encoding from its `Content-Type`; 415 otherwise.
pub fn set_kind(req: &HttpRequest) -> Result<SetKind, ApiError> {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if essence.as_deref() == Some("text/csv") {
        return Ok(SetKind::Csv);
    }
    match kind_of(req.headers()) {
        Ok(BodyKind::Xml) => Ok(SetKind::Xml),
        Ok(BodyKind::Json) => Ok(SetKind::Json),
        _ => Err(ApiError::UnsupportedMediaType(
            "Send a member set as application/xml, application/json or text/csv.".into(),
        )),
    }
}

/// The change-set body's encoding: XML or JSON; 415 otherwise.
pub fn change_set_kind(req: &HttpRequest) -> Result<SetKind, ApiError> {
    match kind_of(req.headers()) {
        Ok(BodyKind::Xml) => Ok(SetKind::Xml),
        Ok(BodyKind::Json) => Ok(SetKind::Json),
        _ => Err(ApiError::UnsupportedMediaType(
            "Send a change set as application/xml or application/json.".into(),
        )),
    }
}

/// The lists a member set may name, by their XML names; JSON's are the
/// same with underscores.
const PUT_LISTS: [&str; 2] = ["user-ids", "user-logins"];
const PATCH_LISTS: [&str; 4] = [
    "add-user-ids",
    "add-user-logins",
    "remove-user-ids",
    "remove-user-logins",
];

/// Reads a `PUT` (`patch` false) or `PATCH` body of a member set.
pub fn member_set(kind: SetKind, body: &[u8], patch: bool) -> Result<SetChange, ApiError> {
    let lists = if patch {
        &PATCH_LISTS[..]
    } else {
        &PUT_LISTS[..]
    };
    let named = match kind {
        SetKind::Xml => xml_lists(body, lists)?,
        SetKind::Json => json_lists(body, lists)?,
        SetKind::Csv if patch => {
            return Err(ApiError::UnsupportedMediaType(
                "A PATCH of a member set is sent as application/xml or application/json; CSV is for PUT."
                    .into(),
            ));
        }
        SetKind::Csv => csv_lists(body)?,
    };
    into_change(named, patch)
}

/// The values of each list named, as text, by list name.
type Lists = Vec<(&'static str, Vec<String>)>;

fn into_change(named: Lists, patch: bool) -> Result<SetChange, ApiError> {
    if named.is_empty() {
        let expected = if patch {
            "add-user-ids, add-user-logins, remove-user-ids or remove-user-logins"
        } else {
            "user-ids or user-logins (an empty list empties the group)"
        };
        return Err(ApiError::unprocessable(format!(
            "The body names no users: send {expected}."
        )));
    }
    let mut problems = Vec::new();
    let mut users = |wanted_ids: &str, wanted_logins: &str| -> Users {
        let mut out = Users::default();
        for (list, values) in &named {
            if *list == wanted_ids {
                for v in values {
                    match parse_id(v) {
                        Some(id) => out.ids.push(id),
                        None if problems.len() < MAX_PROBLEMS => problems.push(format!(
                            "{list} has \"{}\", which is not a user id.",
                            v.chars().take(40).collect::<String>()
                        )),
                        None => {}
                    }
                }
            } else if *list == wanted_logins {
                out.logins.extend(values.iter().cloned());
            }
        }
        out
    };
    let change = if patch {
        let add = users("add-user-ids", "add-user-logins");
        let remove = users("remove-user-ids", "remove-user-logins");
        SetChange::Patch { add, remove }
    } else {
        SetChange::Exactly(users("user-ids", "user-logins"))
    };
    if !problems.is_empty() {
        return Err(ApiError::Unprocessable(problems));
    }
    Ok(change)
}

/// Logins pasted into the managers' page, one a line: each line trimmed,
/// blank lines skipped, repeats left for the plan to collapse. No lines
/// at all is the empty set, which the page previews before it is applied.
pub fn pasted_logins(text: &str) -> Result<Users, ApiError> {
    let mut logins = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if logins.len() == MAX_SET_USERS {
            return Err(too_many_users());
        }
        logins.push(line.to_string());
    }
    Ok(Users {
        ids: Vec::new(),
        logins,
    })
}

/// User ids as the page's apply form carries them: comma-separated,
/// ascending or not, blank for the empty set; 400 for anything else (the
/// page wrote them, so a bad one is a form that was tampered with).
pub fn id_list(text: &str) -> Result<Vec<i64>, ApiError> {
    let mut ids = Vec::new();
    for value in text.split(',').map(str::trim).filter(|v| !v.is_empty()) {
        if ids.len() == MAX_SET_USERS {
            return Err(too_many_users());
        }
        ids.push(parse_id(value).ok_or_else(|| {
            ApiError::bad_request(format!(
                "user_ids has \"{}\", which is not a user id.",
                value.chars().take(40).collect::<String>()
            ))
        })?);
    }
    Ok(ids)
}

fn too_many_users() -> ApiError {
    ApiError::unprocessable(format!(
        "A member set may name at most {MAX_SET_USERS} users."
    ))
}

/// `<user-group-members><user-ids type="array"><user-id>3</user-id>...`.
/// A `<user-group-id>` is allowed (a set read from one group may be put to
/// another) and ignored; any other child is refused.
fn xml_lists(body: &[u8], lists: &[&'static str]) -> Result<Lists, ApiError> {
    // The lists and the group id, then one element per user: a million
    // elements stop at the bound, not at the end of the body.
    let nodes = read_nested(body, "user-group-members", MAX_SET_USERS + 8).map_err(|e| {
        if matches!(e, crate::xml::XmlError::TooManyElements(_)) {
            too_many_users()
        } else {
            e.into()
        }
    })?;
    let mut named: Lists = Vec::new();
    for Node { field, children } in nodes {
        if field.name == "user-group-id" {
            continue;
        }
        let Some(list) = lists.iter().find(|l| **l == field.name) else {
            return Err(ApiError::unprocessable(format!(
                "<user-group-members> has an unknown element <{}>: expected {}.",
                field.name.chars().take(40).collect::<String>(),
                lists.join(", ")
            )));
        };
        let item = list.strip_suffix('s').unwrap_or(list);
        let item = item
            .strip_prefix("add-")
            .or_else(|| item.strip_prefix("remove-"))
            .unwrap_or(item);
        let mut values = Vec::with_capacity(children.len());
        for Field { name, value } in children {
            if name != item {
                return Err(ApiError::unprocessable(format!(
                    "<{list}> holds <{item}> elements, not <{}>.",
                    name.chars().take(40).collect::<String>()
                )));
            }
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                values.push(v);
            }
        }
        push_list(&mut named, list, values);
    }
    Ok(named)
}

fn push_list(named: &mut Lists, list: &'static str, values: Vec<String>) {
    match named.iter_mut().find(|(l, _)| *l == list) {
        Some((_, v)) => v.extend(values),
        None => named.push((list, values)),
    }
}

/// `{"user_ids": [3], "user_logins": ["alice"]}`; ids as numbers or
/// digits in strings; an unknown key is refused.
///
/// A body with as many commas as a set may name users is read twice, as
/// `xml::read_nested` does: first keeping nothing, so that one refused for
/// too many values costs no memory beyond its own (keeping each value up to
/// the bound cost about 60 bytes: `{"user_ids": [1,1,...]}` of 1,000,000,
/// 2 MB, took 15 MiB before its 422). The first reading stops at the same
/// refusals as the second.
fn json_lists(body: &[u8], lists: &[&'static str]) -> Result<Lists, ApiError> {
    let read = |keep| {
        let mut de = serde_json::Deserializer::from_slice(body);
        de.deserialize_map(ListsVisitor { lists, keep })
            .and_then(|named| de.end().map(|()| named))
    };
    let may_be_too_many =
        body.len() >= MAX_SET_USERS && body.iter().filter(|&&b| b == b',').count() >= MAX_SET_USERS;
    let named = match may_be_too_many {
        true => read(false).and_then(|_| read(true)),
        false => read(true),
    };
    named.map_err(|e| {
        if e.to_string().starts_with(TOO_MANY) {
            too_many_users()
        } else if e.is_data() {
            ApiError::unprocessable(format!("The member set is not as expected: {e}."))
        } else {
            ApiError::bad_request(format!(
                "The request body is not valid JSON (line {}, column {}).",
                e.line(),
                e.column()
            ))
        }
    })
}

const TOO_MANY: &str = "too many values";

/// The lists of a member set in JSON; with `keep` false it only counts
/// (and answers no lists, or the refusal).
struct ListsVisitor<'a> {
    lists: &'a [&'static str],
    keep: bool,
}

impl<'de> Visitor<'de> for ListsVisitor<'_> {
    type Value = Lists;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of lists of users")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lists, A::Error> {
        let mut named: Lists = Vec::new();
        let mut budget = MAX_SET_USERS;
        while let Some(key) = map.next_key::<String>()? {
            let dashed = key.replace('_', "-");
            if dashed == "user-group-id" {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let Some(list) = self.lists.iter().find(|l| **l == dashed) else {
                return Err(de::Error::custom(format_args!(
                    "unknown key \"{}\", expected {}",
                    key.chars().take(40).collect::<String>(),
                    self.lists
                        .iter()
                        .map(|l| l.replace('-', "_"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            let keep = self.keep;
            let (count, values) = map.next_value_seed(Bounded { budget, keep })?;
            budget -= count;
            if keep {
                push_list(&mut named, list, values);
            }
        }
        Ok(named)
    }
}

/// A JSON list of scalars, at most `budget` of them (`null` is none): how
/// many, and the values when `keep` is true.
struct Bounded {
    budget: usize,
    keep: bool,
}

impl<'de> de::DeserializeSeed<'de> for Bounded {
    type Value = (usize, Vec<String>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded {
    type Value = (usize, Vec<String>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of user ids or logins")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok((0, Vec::new()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (mut count, mut values) = (0, Vec::new());
        // A value not kept is dropped at once: its text is never held.
        while let Some(Scalar(v)) = seq.next_element()? {
            if count == self.budget {
                return Err(de::Error::custom(TOO_MANY));
            }
            if let Some(v) = v {
                count += 1;
                if self.keep {
                    values.push(v);
                }
            }
        }
        Ok((count, values))
    }
}

/// A JSON number or string as text (trimmed); `null` is none.
struct Scalar(Option<String>);

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.trim().to_string())).filter_empty())
            }
        }
        d.deserialize_any(V)
    }
}

impl Scalar {
    fn filter_empty(self) -> Scalar {
        Scalar(self.0.filter(|v| !v.is_empty()))
    }
}

/// CSV: a header line naming a `user_id` or a `login` column (or both;
/// other columns, such as the rest of an HR export, are ignored), then one
/// user a line. A byte-order mark is skipped.
///
/// A body with more lines than a set may name users is read twice: first
/// counting without keeping, so that one refused for too many costs no
/// memory beyond its own (1,000,000 lines, 2 MB, took 15 MiB before its
/// 422 when each value up to the bound was kept).
fn csv_lists(body: &[u8]) -> Result<Lists, ApiError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = csv_reader(body);
    let headers = reader.headers().map_err(unreadable_csv)?.clone();
    let column = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&h.to_ascii_lowercase().as_str()))
    };
    let id_column = column(&["user_id", "user-id", "id"]);
    let login_column = column(&["login", "user_login", "user-login"]);
    if id_column.is_none() && login_column.is_none() {
        return Err(ApiError::unprocessable(
            "The CSV's first line must name a user_id or a login column.",
        ));
    }
    // At most a record a line (\r, \n or both end one), and a value a
    // column named.
    let lines = body.iter().filter(|&&b| b == b'\n' || b == b'\r').count() + 1;
    let columns = usize::from(id_column.is_some()) + usize::from(login_column.is_some());
    if lines.saturating_mul(columns) > MAX_SET_USERS {
        csv_values(reader, id_column, login_column, false)?;
        reader = csv_reader(body);
        reader.headers().map_err(unreadable_csv)?;
    }
    let (ids, logins) = csv_values(reader, id_column, login_column, true)?;
    let mut named: Lists = Vec::new();
    if id_column.is_some() {
        named.push(("user-ids", ids));
    }
    if login_column.is_some() {
        named.push(("user-logins", logins));
    }
    Ok(named)
}

fn csv_reader(body: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body)
}

fn unreadable_csv(e: csv::Error) -> ApiError {
    let line = e.position().map_or(0, csv::Position::line);
    ApiError::bad_request(format!("The CSV could not be read (line {line})."))
}

/// The ids and logins of the records after the header, at most
/// [`MAX_SET_USERS`] in all; with `keep` false only counted (none
/// returned).
fn csv_values(
    mut reader: csv::Reader<&[u8]>,
    id_column: Option<usize>,
    login_column: Option<usize>,
    keep: bool,
) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let (mut ids, mut logins) = (Vec::new(), Vec::new());
    let mut values = 0usize;
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(unreadable_csv)? {
        for (column, out) in [(id_column, &mut ids), (login_column, &mut logins)] {
            if let Some(value) = column.and_then(|c| record.get(c)).filter(|v| !v.is_empty()) {
                values += 1;
                if keep {
                    out.push(value.to_string());
                }
            }
        }
        if values > MAX_SET_USERS {
            return Err(too_many_users());
        }
    }
    Ok((ids, logins))
}

/// Reads a change set: one [`Fields`] per change, in order, at most
/// [`MAX_CHANGES`] (422 past that).
pub fn change_set(kind: SetKind, body: &[u8]) -> Result<Vec<Fields>, ApiError> {
    let too_many = || {
        ApiError::unprocessable(format!(
            "A change set may hold at most {MAX_CHANGES} changes."
        ))
    };
    match kind {
        SetKind::Xml => {
            // A change is its element and up to five fields (more are
            // refused by the element bound, not read).
            let nodes = read_nested(body, "membership-changes", (MAX_CHANGES + 1) * 8).map_err(
                |e| match e {
                    crate::xml::XmlError::TooManyElements(_) => too_many(),
                    e => e.into(),
                },
            )?;
            if nodes.len() > MAX_CHANGES {
                return Err(too_many());
            }
            let mut changes = Vec::with_capacity(nodes.len());
            for (i, Node { field, children }) in nodes.into_iter().enumerate() {
                if field.name != "membership-change" {
                    return Err(ApiError::unprocessable(format!(
                        "Change {}: <membership-changes> holds <membership-change> elements, not <{}>.",
                        i + 1,
                        field.name.chars().take(40).collect::<String>()
                    )));
                }
                changes.push(Fields::new(
                    children.into_iter().map(|f| (f.name, f.value)).collect(),
                ));
            }
            Ok(changes)
        }
        SetKind::Json => {
            let mut de = serde_json::Deserializer::from_slice(body);
            let changes = de
                .deserialize_seq(ChangesVisitor)
                .and_then(|c| de.end().map(|()| c));
            changes.map_err(|e| {
                if e.to_string().starts_with(TOO_MANY) {
                    too_many()
                } else if e.is_data() {
                    ApiError::unprocessable(format!("The change set is not as expected: {e}."))
                } else {
                    ApiError::bad_request(format!(
                        "The request body is not valid JSON (line {}, column {}).",
                        e.line(),
                        e.column()
                    ))
                }
            })
        }
        SetKind::Csv => Err(ApiError::UnsupportedMediaType(
            "Send a change set as application/xml or application/json.".into(),
        )),
    }
}

/// The keys of a change, in JSON (underscored or dashed); others are
/// skipped without being kept.
const CHANGE_KEYS: [&str; 5] = [
    "action",
    "user-id",
    "user-login",
    "user-group-id",
    "user-group-name",
];

struct ChangesVisitor;

impl<'de> Visitor<'de> for ChangesVisitor {
    type Value = Vec<Fields>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of changes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Fields>, A::Error> {
        let mut changes = Vec::new();
        while let Some(ChangeFields(fields)) = seq.next_element()? {
            if changes.len() == MAX_CHANGES {
                return Err(de::Error::custom(TOO_MANY));
            }
            changes.push(fields);
        }
        Ok(changes)
    }
}

struct ChangeFields(Fields);

impl<'de> de::Deserialize<'de> for ChangeFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ChangeFields, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ChangeFields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a change: an object with action, user_id or user_login, and user_group_id or user_group_name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChangeFields, A::Error> {
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let dashed = key.replace('_', "-");
                    match CHANGE_KEYS.iter().find(|k| **k == dashed) {
                        Some(k) if fields.len() < CHANGE_KEYS.len() * 2 => {
                            let Scalar(value) = map.next_value()?;
                            fields.push((k.to_string(), value));
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(ChangeFields(Fields::new(fields)))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(kind: SetKind, body: &str) -> Result<SetChange, ApiError> {
        member_set(kind, body.as_bytes(), false)
    }

    fn exactly(ids: &[i64], logins: &[&str]) -> SetChange {
        SetChange::Exactly(Users {
            ids: ids.to_vec(),
            logins: logins.iter().map(|l| l.to_string()).collect(),
        })
    }

    #[test]
    fn pasted_logins_one_a_line() {
        let users = pasted_logins("alice\r\n  bob \n\n\talice\n").unwrap();
        assert_eq!(users.logins, vec!["alice", "bob", "alice"]);
        assert!(users.ids.is_empty());
        assert!(pasted_logins(" \n \r\n").unwrap().is_empty());
        let many = "a\n".repeat(MAX_SET_USERS + 1);
        assert!(matches!(
            pasted_logins(&many),
            Err(ApiError::Unprocessable(_))
        ));
    }

    #[test]
    fn id_lists_from_the_apply_form() {
        assert_eq!(id_list("3,9, 4").unwrap(), vec![3, 9, 4]);
        assert_eq!(id_list("").unwrap(), Vec::<i64>::new());
        for bad in ["3,x", "0", "-1", "1.5"] {
            assert!(
                matches!(id_list(bad), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_put_in_every_encoding() {
        let xml = r#"<?xml version="1.0"?><user-group-members>
            <user-group-id type="integer">5</user-group-id>
            <user-ids type="array"><user-id type="integer">3</user-id><user-id>9</user-id></user-ids>
            <user-logins type="array"><user-login>alice</user-login></user-logins>
            </user-group-members>"#;
        assert_eq!(
            put(SetKind::Xml, xml).unwrap(),
            exactly(&[3, 9], &["alice"])
        );
        let json = r#"{"user_ids": [3, "9"], "user_logins": ["alice"], "user_group_id": 5}"#;
        assert_eq!(
            put(SetKind::Json, json).unwrap(),
            exactly(&[3, 9], &["alice"])
        );
        let csv = "\u{feff}user_id\n3\n 9 \n\n";
        assert_eq!(put(SetKind::Csv, csv).unwrap(), exactly(&[3, 9], &[]));
        let csv = "name,login,dept\nAlice,alice,HR\nBob,,IT\n";
        assert_eq!(put(SetKind::Csv, csv).unwrap(), exactly(&[], &["alice"]));
    }

    #[test]
    fn an_empty_set_is_asked_for_by_an_empty_list() {
        assert_eq!(
            put(
                SetKind::Xml,
                r#"<user-group-members><user-ids type="array"/></user-group-members>"#
            )
            .unwrap(),
            exactly(&[], &[])
        );
        assert_eq!(
            put(SetKind::Json, r#"{"user_ids": []}"#).unwrap(),
            exactly(&[], &[])
        );
        assert_eq!(put(SetKind::Csv, "login\n").unwrap(), exactly(&[], &[]));
        for (kind, body) in [
            (SetKind::Json, "{}"),
            (SetKind::Xml, "<user-group-members/>"),
        ] {
            assert!(
                matches!(put(kind, body), Err(ApiError::Unprocessable(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn typos_are_refused_not_read_as_an_empty_set() {
        for (kind, body) in [
            (SetKind::Json, r#"{"userIds": [1]}"#),
            (
                SetKind::Xml,
                "<user-group-members><userids/></user-group-members>",
            ),
            (
                SetKind::Xml,
                "<user-group-members><user-ids><id>1</id></user-ids></user-group-members>",
            ),
            (SetKind::Csv, "email\na@b\n"),
            (SetKind::Json, r#"{"user_ids": [{"id": 1}]}"#),
            (SetKind::Json, r#"{"user_ids": ["x"]}"#),
            (SetKind::Json, "[]"),
        ] {
            assert!(
                matches!(put(kind, body), Err(ApiError::Unprocessable(_))),
                "{body}"
            );
        }
        for (kind, body) in [
            (SetKind::Json, "{"),
            (SetKind::Xml, "<user-group-members>"),
            (SetKind::Xml, "<other/>"),
        ] {
            assert!(
                matches!(put(kind, body), Err(ApiError::BadRequest(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn a_patch_names_adds_and_removes() {
        let json = r#"{"add_user_ids": [1], "remove_user_logins": ["bob"]}"#;
        assert_eq!(
            member_set(SetKind::Json, json.as_bytes(), true).unwrap(),
            SetChange::Patch {
                add: Users {
                    ids: vec![1],
                    logins: vec![]
                },
                remove: Users {
                    ids: vec![],
                    logins: vec!["bob".into()]
                },
            }
        );
        let xml = "<user-group-members><add-user-logins><add-user-login>x</add-user-login></add-user-logins></user-group-members>";
        assert!(member_set(SetKind::Xml, xml.as_bytes(), true).is_err());
        let xml = "<user-group-members><add-user-logins><user-login>x</user-login></add-user-logins></user-group-members>";
        assert!(member_set(SetKind::Xml, xml.as_bytes(), true).is_ok());
        assert!(matches!(
            member_set(SetKind::Csv, b"user_id\n1\n", true),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn a_million_elements_stop_at_the_bound() {
        let many = format!(
            "<user-group-members><user-ids>{}</user-ids></user-group-members>",
            "<user-id>1</user-id>".repeat(MAX_SET_USERS + 10)
        );
        assert!(matches!(
            put(SetKind::Xml, &many),
            Err(ApiError::Unprocessable(_))
        ));
        let many = format!("{{\"user_ids\": [{}1]}}", "1,".repeat(MAX_SET_USERS));
        assert!(matches!(
            put(SetKind::Json, &many),
            Err(ApiError::Unprocessable(_))
        ));
        let many = format!("user_id\n{}", "1\n".repeat(MAX_SET_USERS + 1));
        assert!(matches!(
            put(SetKind::Csv, &many),
            Err(ApiError::Unprocessable(_))
        ));
        let exactly_max = format!("user_id\n{}", "1\n".repeat(MAX_SET_USERS));
        assert!(put(SetKind::Csv, &exactly_max).is_ok());
    }

    /// Bodies that may hold more values than allowed are counted before
    /// anything is kept; what they are refused for is what keeping found.
    #[test]
    fn counting_first_refuses_as_keeping_did() {
        let text = |e: ApiError| match e {
            ApiError::Unprocessable(p) | ApiError::BadRequest(p) => p.join(" "),
            other => format!("{other:?}"),
        };
        // An unknown key before the many values: named, as before.
        let many = format!(
            "{{\"userIds\": 1, \"user_ids\": [{}1]}}",
            "1,".repeat(MAX_SET_USERS)
        );
        assert!(text(put(SetKind::Json, &many).unwrap_err()).contains("unknown key"));
        // Blank values are not counted, as they are not kept.
        let blanks = format!(
            "{{\"user_logins\": [\"\", null, \" \"], \"user_ids\": [{}1]}}",
            "2,".repeat(MAX_SET_USERS - 1)
        );
        assert!(put(SetKind::Json, &blanks).is_ok());
        // ... but past the bound, any element is one too many.
        let one_more = format!(
            "{{\"user_ids\": [{}1, null]}}",
            "2,".repeat(MAX_SET_USERS - 1)
        );
        assert!(text(put(SetKind::Json, &one_more).unwrap_err()).contains("at most"));
        // A bad value before the bound is what is said.
        let bad = format!("{{\"user_ids\": [{{}}, {}1]}}", "1,".repeat(MAX_SET_USERS));
        assert!(text(put(SetKind::Json, &bad).unwrap_err()).contains("not as expected"));
        // XML: a DOCTYPE, or the wrong root, is refused as such.
        let elements = "<user-id>1</user-id>".repeat(MAX_SET_USERS + 10);
        let doctype = format!(
            "<!DOCTYPE x><user-group-members><user-ids>{elements}</user-ids></user-group-members>"
        );
        assert!(text(put(SetKind::Xml, &doctype).unwrap_err()).contains("DOCTYPE"));
        let other = format!("<other><user-ids>{elements}</user-ids></other>");
        assert!(text(put(SetKind::Xml, &other).unwrap_err()).contains("root"));
        // CSV: lines ended by \r alone count as lines.
        let cr = format!("user_id\r{}", "1\r".repeat(MAX_SET_USERS + 1));
        assert!(text(put(SetKind::Csv, &cr).unwrap_err()).contains("at most"));
        // A CSV both ids and logins, under the bound with both: kept.
        let both = format!("user_id,login\n{}", "1,a\n".repeat(MAX_SET_USERS / 2));
        let Ok(SetChange::Exactly(users)) = put(SetKind::Csv, &both) else {
            panic!("refused")
        };
        assert_eq!(users.len(), MAX_SET_USERS);
    }

    #[test]
    fn change_sets_in_xml_and_json() {
        let xml = r#"<membership-changes type="array">
          <membership-change><action>add</action><user-login>alice</user-login><user-group-name>Editors</user-group-name></membership-change>
          <membership-change><action>remove</action><user-id type="integer">3</user-id><user-group-id type="integer">5</user-group-id></membership-change>
        </membership-changes>"#;
        let changes = change_set(SetKind::Xml, xml.as_bytes()).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].get(&["user-login"]), Some(Some("alice")));
        assert_eq!(changes[1].get(&["user-group-id"]), Some(Some("5")));
        let json =
            r#"[{"action": "add", "user_id": 3, "user_group_name": "Editors", "note": [1,2]}]"#;
        let changes = change_set(SetKind::Json, json.as_bytes()).unwrap();
        assert_eq!(changes[0].get(&["user-id"]), Some(Some("3")));
        assert_eq!(changes[0].get(&["note"]), None);
        let too_many = format!("[{}{{}}]", "{},".repeat(MAX_CHANGES));
        assert!(matches!(
            change_set(SetKind::Json, too_many.as_bytes()),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(matches!(
            change_set(SetKind::Json, b"{}"),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(matches!(
            change_set(SetKind::Json, b"[{\"action\""),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            change_set(SetKind::Json, b"[1]"),
            Err(ApiError::Unprocessable(_))
        ));
    }
}
