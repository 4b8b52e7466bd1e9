//! What SCIM (API.md 9) reads and writes of users and groups: the rows
//! with the columns SCIM shows (`externalId`, `active`, `meta.version`),
//! case-insensitive look-ups of `userName` and `displayName`, and creates.
//! Memberships still change only through `changes` (with `via` `scim`).

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::{columns, now};
use crate::db::queries::is_unique_violation;
use crate::db::schema::{user_groups, users};
use crate::db::timestamp::Stamp;
use crate::domain::Refusal;

/// A user as SCIM shows it.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = users)]
pub struct ScimUser {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub email_address: Option<String>,
    pub disabled_at: Option<chrono::NaiveDateTime>,
    pub external_id: Option<String>,
    pub version: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: chrono::NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: chrono::NaiveDateTime,
    /// `active` removed or never given by a SCIM client (shown absent).
    pub active_unset: bool,
}

/// A group as SCIM shows it (its members are read apart, when asked for).
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = user_groups)]
pub struct ScimGroup {
    pub id: i64,
    pub name: String,
    pub external_id: Option<String>,
    pub version: i64,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: chrono::NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: chrono::NaiveDateTime,
}

/// Which users or groups a list holds: all, or those a SCIM filter
/// matches (checked with [`user_condition`] or [`group_condition`] first).
pub type Only = Option<Filter>;

/// A translation error after the handler checked the filter: a bug.
fn unchecked(detail: Unsupported) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(detail.into())
}

pub fn find_user(c: &mut DbConnection, id: i64) -> QueryResult<Option<ScimUser>> {
    users::table
        .filter(users::id.eq(id))
        .select(ScimUser::as_select())
        .first(c)
        .optional()
}

pub fn find_group(c: &mut DbConnection, id: i64) -> QueryResult<Option<ScimGroup>> {
    let found: Option<ScimGroup> = user_groups::table
        .filter(user_groups::id.eq(id))
        .select(ScimGroup::as_select())
        .first(c)
        .optional()?;
    match found {
        Some(g) => Ok(with_member_changes(c, vec![g])?.pop()),
        None => Ok(None),
    }
}

#[derive(diesel::QueryableByName)]
struct Changes {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Groups with their members' changes added to `version` (the counts of
/// `group_versions`, which every change to members writes: `changes::
/// touch_groups`): a group's SCIM version, read in the same snapshot as
/// the group.
fn with_member_changes(
    c: &mut DbConnection,
    mut groups: Vec<ScimGroup>,
) -> QueryResult<Vec<ScimGroup>> {
    if groups.is_empty() {
        return Ok(groups);
    }
    let ids: Vec<String> = groups.iter().map(|g| g.id.to_string()).collect();
    let sql = format!(
        "SELECT user_group_id AS id, CAST(SUM(changes) AS BIGINT) AS n FROM group_versions \
         WHERE user_group_id IN ({}) GROUP BY user_group_id",
        ids.join(",")
    );
    let counted: std::collections::HashMap<i64, i64> = diesel::sql_query(sql)
        .load::<Changes>(c)?
        .into_iter()
        .map(|r| (r.id, r.n))
        .collect();
    for g in &mut groups {
        g.version += counted.get(&g.id).copied().unwrap_or(0);
    }
    Ok(groups)
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Users in id order: how many match, and `count` of them from the
/// `start`th (1-based, SCIM's `startIndex`).
pub fn users_page(
    c: &mut DbConnection,
    only: &Only,
    start: i64,
    count: i64,
) -> QueryResult<(i64, Vec<ScimUser>)> {
    let filtered = || -> QueryResult<_> {
        let q = users::table.into_boxed();
        Ok(match only {
            None => q,
            Some(f) => q.filter(user_condition(f).map_err(unchecked)?),
        })
    };
    let total: i64 = filtered()?.count().get_result(c)?;
    let rows = if count > 0 {
        filtered()?
            .order(users::id)
            .offset(start - 1)
            .limit(count)
            .select(ScimUser::as_select())
            .load(c)?
    } else {
        Vec::new()
    };
    Ok((total, rows))
}

/// Groups in id order, as [`users_page`].
pub fn groups_page(
    c: &mut DbConnection,
    only: &Only,
    start: i64,
    count: i64,
) -> QueryResult<(i64, Vec<ScimGroup>)> {
    let filtered = || -> QueryResult<_> {
        let q = user_groups::table.into_boxed();
        Ok(match only {
            None => q,
            Some(f) => q.filter(group_condition(f).map_err(unchecked)?),
        })
    };
    let total: i64 = filtered()?.count().get_result(c)?;
    let rows = if count > 0 {
        let rows = filtered()?
            .order(user_groups::id)
            .offset(start - 1)
            .limit(count)
            .select(ScimGroup::as_select())
            .load(c)?;
        with_member_changes(c, rows)?
    } else {
        Vec::new()
    };
    Ok((total, rows))
}

/// A user as an identity provider creates it: no password, no token, not a
/// manager.
pub struct NewScimUser<'a> {
    pub login: &'a str,
    pub name: &'a str,
    pub email_address: Option<&'a str>,
    pub external_id: Option<&'a str>,
    /// None: not given (enabled, and `active` left out).
    pub active: Option<bool>,
}

/// Whether another user (not `except`) has `login` in any case
/// (`userName` is not case-exact in SCIM; the `lower(login)` index).
fn login_taken(c: &mut DbConnection, login: &str, except: Option<i64>) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table
            .filter(lower(users::login).eq(login.to_lowercase()))
            .filter(users::id.ne(except.unwrap_or(0))),
    ))
    .get_result(c)
}

/// Whether another group (not `except`) has `name` in any case.
fn name_taken(c: &mut DbConnection, name: &str, except: Option<i64>) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        user_groups::table
            .filter(lower(user_groups::name).eq(name.to_lowercase()))
            .filter(user_groups::id.ne(except.unwrap_or(0))),
    ))
    .get_result(c)
}

/// Creates a user; a login taken in any case is refused (`userName` is not
/// case-exact in SCIM).
pub fn create_user(
    c: &mut DbConnection,
    new: &NewScimUser<'_>,
) -> QueryResult<Result<ScimUser, Refusal>> {
    c.transaction(|c| {
        if login_taken(c, new.login, None)? {
            return Ok(Err(Refusal::LoginTaken(new.login.into())));
        }
        let at = now();
        let inserted = diesel::insert_into(users::table)
            .values((
                users::login.eq(new.login),
                users::name.eq(new.name),
                users::email_address.eq(new.email_address),
                users::user_group_manager.eq(false),
                users::external_id.eq(new.external_id),
                users::disabled_at.eq((new.active == Some(false)).then_some(at)),
                users::active_unset.eq(new.active.is_none()),
                users::created_at.eq(at),
                users::updated_at.eq(at),
            ))
            .returning(columns::<ScimUser>())
            .get_result(c);
        match inserted {
            Ok(u) => Ok(Ok(u)),
            Err(e) if is_unique_violation(&e) => Ok(Err(Refusal::LoginTaken(new.login.into()))),
            Err(e) => Err(e),
        }
    })
}

/// Creates a group with no members; a name taken in any case is refused.
pub fn create_group(
    c: &mut DbConnection,
    name: &str,
    external_id: Option<&str>,
) -> QueryResult<Result<ScimGroup, Refusal>> {
    if name_taken(c, name, None)? {
        return Ok(Err(Refusal::GroupNameTaken(name.into())));
    }
    let at = now();
    let inserted = diesel::insert_into(user_groups::table)
        .values((
            user_groups::name.eq(name),
            user_groups::external_id.eq(external_id),
            user_groups::created_at.eq(at),
            user_groups::updated_at.eq(at),
        ))
        .returning(columns::<ScimGroup>())
        .get_result(c);
    match inserted {
        Ok(g) => Ok(Ok(g)),
        Err(e) if is_unique_violation(&e) => Ok(Err(Refusal::GroupNameTaken(name.into()))),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------- filters

use diesel::expression::BoxableExpression;
use diesel::sql_types::Bool;

use crate::db::MultiBackend;
use crate::db::schema::user_group_memberships as ugm;
use crate::domain::scim_filter::{AttrPath, CompareOp, Filter, Value};

/// A filter made SQL over users (`Only::Filter`).
pub type UserCondition = Box<dyn BoxableExpression<users::table, MultiBackend, SqlType = Bool>>;
/// A filter made SQL over groups.
pub type GroupCondition =
    Box<dyn BoxableExpression<user_groups::table, MultiBackend, SqlType = Bool>>;

/// Why a filter cannot be run: the `detail` of a 400 `invalidFilter`.
pub type Unsupported = String;

const USER_URI: &str = "urn:ietf:params:scim:schemas:core:2.0:user";
const GROUP_URI: &str = "urn:ietf:params:scim:schemas:core:2.0:group";

/// A path's attribute, its URI (if any) checked against the resource's
/// core schema: `name.sub` in lower case.
fn attribute(path: &AttrPath, core_uri: &str) -> Result<String, Unsupported> {
    if let Some(uri) = &path.uri
        && !uri.eq_ignore_ascii_case(core_uri)
    {
        return Err(format!("syncd does not filter on {path}."));
    }
    Ok(path.key())
}

fn text_of(value: &Value, path: &str) -> Result<String, Unsupported> {
    match value {
        Value::Str(s) => Ok(s.clone()),
        _ => Err(format!("{path} is compared with a string.")),
    }
}

/// `co`, `sw`, `ew` as a LIKE pattern, with LIKE's own characters escaped.
fn like_pattern(op: CompareOp, text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    for ch in text.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    match op {
        CompareOp::Co => format!("%{escaped}%"),
        CompareOp::Sw => format!("{escaped}%"),
        _ => format!("%{escaped}"),
    }
}

/// `meta.created` / `meta.lastModified` values: RFC 3339 datetimes.
fn datetime_of(value: &Value, path: &str) -> Result<chrono::NaiveDateTime, Unsupported> {
    let text = text_of(value, path)?;
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|t| t.naive_utc())
        .map_err(|_| format!("{path} is compared with a datetime such as 2026-01-31T12:00:00Z."))
}

fn id_of(value: &Value) -> Result<i64, Unsupported> {
    let parsed = match value {
        Value::Str(s) => s.trim().parse::<i64>().ok(),
        Value::Number(n) => n.parse::<i64>().ok(),
        _ => None,
    };
    // An id that cannot exist matches nothing rather than failing.
    Ok(parsed.unwrap_or(0))
}

/// One comparison of a text column, folded to lower case when `fold`
/// (attributes that are not case-exact). Ordering operators compare as
/// strings.
macro_rules! compare_text {
    ($cond:ty, $col:expr, $op:expr, $text:expr, $fold:expr) => {{
        let text: String = if $fold { $text.to_lowercase() } else { $text };
        macro_rules! with {
            ($c:expr) => {{
                let c = $c;
                let made: $cond = match $op {
                    CompareOp::Eq => Box::new(c.eq(text)),
                    CompareOp::Ne => Box::new(c.ne(text)),
                    CompareOp::Gt => Box::new(c.gt(text)),
                    CompareOp::Ge => Box::new(c.ge(text)),
                    CompareOp::Lt => Box::new(c.lt(text)),
                    CompareOp::Le => Box::new(c.le(text)),
                    op => Box::new(c.like(like_pattern(op, &text)).escape('\\')),
                };
                made
            }};
        }
        if $fold {
            with!(lower($col))
        } else {
            with!($col)
        }
    }};
}

macro_rules! compare_time {
    ($cond:ty, $col:expr, $op:expr, $at:expr, $path:expr) => {{
        let at = $at;
        let made: $cond = match $op {
            CompareOp::Eq => Box::new($col.eq(at)),
            CompareOp::Ne => Box::new($col.ne(at)),
            CompareOp::Gt => Box::new($col.gt(at)),
            CompareOp::Ge => Box::new($col.ge(at)),
            CompareOp::Lt => Box::new($col.lt(at)),
            CompareOp::Le => Box::new($col.le(at)),
            op => return Err(format!("{} is not an operator for {}.", op, $path)),
        };
        made
    }};
}

macro_rules! compare_id {
    ($cond:ty, $col:expr, $op:expr, $id:expr, $path:expr) => {{
        let id = $id;
        let made: $cond = match $op {
            CompareOp::Eq => Box::new($col.eq(id)),
            CompareOp::Ne => Box::new($col.ne(id)),
            CompareOp::Gt => Box::new($col.gt(id)),
            CompareOp::Ge => Box::new($col.ge(id)),
            CompareOp::Lt => Box::new($col.lt(id)),
            CompareOp::Le => Box::new($col.le(id)),
            op => return Err(format!("{} is not an operator for {}.", op, $path)),
        };
        made
    }};
}

/// A condition that is always (or never) true.
fn user_always(yes: bool) -> UserCondition {
    use diesel::IntoSql;
    Box::new(yes.into_sql::<Bool>())
}

fn group_always(yes: bool) -> GroupCondition {
    use diesel::IntoSql;
    Box::new(yes.into_sql::<Bool>())
}

/// A SCIM filter over users (API.md 9): `userName`, `name.formatted`,
/// `displayName`, `emails` / `emails.value` (and `emails[...]`), `active`,
/// `externalId`, `id`, `meta.created`, `meta.lastModified`.
pub fn user_condition(f: &Filter) -> Result<UserCondition, Unsupported> {
    Ok(match f {
        Filter::And(a, b) => Box::new(user_condition(a)?.and(user_condition(b)?)),
        Filter::Or(a, b) => Box::new(user_condition(a)?.or(user_condition(b)?)),
        Filter::Not(a) => Box::new(diesel::dsl::not(user_condition(a)?)),
        Filter::ValuePath { path, filter } => {
            if attribute(path, USER_URI)? != "emails" {
                return Err(format!("syncd does not filter on {path}[...]."));
            }
            email_condition(filter)?
        }
        Filter::Present(path) => match attribute(path, USER_URI)?.as_str() {
            "username" | "name" | "name.formatted" | "displayname" | "active" | "id"
            | "meta.created" | "meta.lastmodified" => user_always(true),
            "emails" | "emails.value" => Box::new(users::email_address.is_not_null()),
            "externalid" => Box::new(users::external_id.is_not_null()),
            _ => return Err(format!("syncd does not filter on {path}.")),
        },
        Filter::Compare { path, op, value } => {
            let key = attribute(path, USER_URI)?;
            let shown = path.to_string();
            match key.as_str() {
                "username" => {
                    compare_text!(
                        UserCondition,
                        users::login,
                        *op,
                        text_of(value, &shown)?,
                        true
                    )
                }
                "name.formatted" | "displayname" => {
                    compare_text!(
                        UserCondition,
                        users::name,
                        *op,
                        text_of(value, &shown)?,
                        true
                    )
                }
                "emails" | "emails.value" => email_compare(*op, text_of(value, &shown)?),
                "externalid" => compare_text!(
                    UserCondition,
                    users::external_id.assume_not_null(),
                    *op,
                    text_of(value, &shown)?,
                    false
                ),
                "active" => {
                    let wanted = match (op, value) {
                        (CompareOp::Eq, Value::Bool(b)) => *b,
                        (CompareOp::Ne, Value::Bool(b)) => !*b,
                        _ => {
                            return Err(
                                "active is compared with eq or ne and true or false.".into()
                            );
                        }
                    };
                    if wanted {
                        Box::new(users::disabled_at.is_null())
                    } else {
                        Box::new(users::disabled_at.is_not_null())
                    }
                }
                "id" => compare_id!(UserCondition, users::id, *op, id_of(value)?, shown),
                "meta.created" => {
                    compare_time!(
                        UserCondition,
                        users::created_at,
                        *op,
                        datetime_of(value, &shown)?,
                        shown
                    )
                }
                "meta.lastmodified" => {
                    compare_time!(
                        UserCondition,
                        users::updated_at,
                        *op,
                        datetime_of(value, &shown)?,
                        shown
                    )
                }
                _ => return Err(format!("syncd does not filter on {path}.")),
            }
        }
    })
}

/// A user's one email address, compared (not case-exact).
fn email_compare(op: CompareOp, text: String) -> UserCondition {
    let has = users::email_address.is_not_null();
    let compared = compare_text!(
        UserCondition,
        users::email_address.assume_not_null(),
        op,
        text,
        true
    );
    Box::new(has.and(compared))
}

/// Inside `emails[...]`: `value`, and `type` (syncd keeps one address, of
/// type `work`) and `primary` (it is the primary one).
fn email_condition(f: &Filter) -> Result<UserCondition, Unsupported> {
    Ok(match f {
        Filter::And(a, b) => Box::new(email_condition(a)?.and(email_condition(b)?)),
        Filter::Or(a, b) => Box::new(email_condition(a)?.or(email_condition(b)?)),
        Filter::Not(a) => Box::new(diesel::dsl::not(email_condition(a)?)),
        Filter::Present(p)
            if p.is("value", None) || p.is("type", None) || p.is("primary", None) =>
        {
            Box::new(users::email_address.is_not_null())
        }
        Filter::Compare { path, op, value } if path.is("value", None) => {
            email_compare(*op, text_of(value, "emails.value")?)
        }
        Filter::Compare { path, op, value } if path.is("type", None) => {
            let is_work = match value {
                Value::Str(s) => s.eq_ignore_ascii_case("work"),
                _ => false,
            };
            let matches = match op {
                CompareOp::Eq => is_work,
                CompareOp::Ne => !is_work,
                _ => return Err("emails.type is compared with eq or ne.".into()),
            };
            Box::new(users::email_address.is_not_null().and(user_always(matches)))
        }
        Filter::Compare { path, op, value } if path.is("primary", None) => {
            let matches = match (op, value) {
                (CompareOp::Eq, Value::Bool(b)) => *b,
                (CompareOp::Ne, Value::Bool(b)) => !*b,
                _ => return Err("emails.primary is compared with eq or ne and a boolean.".into()),
            };
            Box::new(users::email_address.is_not_null().and(user_always(matches)))
        }
        other => return Err(format!("syncd does not filter emails on {other}.")),
    })
}

/// A SCIM filter over groups: `displayName`, `externalId`, `id`,
/// `members` / `members.value` (and `members[value eq "7"]`),
/// `meta.created`, `meta.lastModified`.
pub fn group_condition(f: &Filter) -> Result<GroupCondition, Unsupported> {
    Ok(match f {
        Filter::And(a, b) => Box::new(group_condition(a)?.and(group_condition(b)?)),
        Filter::Or(a, b) => Box::new(group_condition(a)?.or(group_condition(b)?)),
        Filter::Not(a) => Box::new(diesel::dsl::not(group_condition(a)?)),
        Filter::ValuePath { path, filter } => {
            if attribute(path, GROUP_URI)? != "members" {
                return Err(format!("syncd does not filter on {path}[...]."));
            }
            match &**filter {
                Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value,
                } if path.is("value", None) => has_member(id_of(value)?),
                other => {
                    return Err(format!(
                        "syncd filters members only on value eq, not {other}."
                    ));
                }
            }
        }
        Filter::Present(path) => match attribute(path, GROUP_URI)?.as_str() {
            "displayname" | "id" | "meta.created" | "meta.lastmodified" => group_always(true),
            "externalid" => Box::new(user_groups::external_id.is_not_null()),
            "members" | "members.value" => Box::new(diesel::dsl::exists(
                ugm::table.filter(ugm::user_group_id.eq(user_groups::id)),
            )),
            _ => return Err(format!("syncd does not filter on {path}.")),
        },
        Filter::Compare { path, op, value } => {
            let key = attribute(path, GROUP_URI)?;
            let shown = path.to_string();
            match key.as_str() {
                "displayname" => compare_text!(
                    GroupCondition,
                    user_groups::name,
                    *op,
                    text_of(value, &shown)?,
                    true
                ),
                "externalid" => compare_text!(
                    GroupCondition,
                    user_groups::external_id.assume_not_null(),
                    *op,
                    text_of(value, &shown)?,
                    false
                ),
                "id" => compare_id!(GroupCondition, user_groups::id, *op, id_of(value)?, shown),
                "members" | "members.value" if *op == CompareOp::Eq => has_member(id_of(value)?),
                "meta.created" => compare_time!(
                    GroupCondition,
                    user_groups::created_at,
                    *op,
                    datetime_of(value, &shown)?,
                    shown
                ),
                "meta.lastmodified" => compare_time!(
                    GroupCondition,
                    user_groups::updated_at,
                    *op,
                    datetime_of(value, &shown)?,
                    shown
                ),
                _ => return Err(format!("syncd does not filter on {path} with {op}.")),
            }
        }
    })
}

/// Groups that have user `id` as a member (the pair's unique index).
fn has_member(id: i64) -> GroupCondition {
    Box::new(diesel::dsl::exists(
        ugm::table
            .filter(ugm::user_group_id.eq(user_groups::id))
            .filter(ugm::user_id.eq(id)),
    ))
}

// ---------------------------------------------------------------- writes

use crate::db::queries::{changes, sets};
use crate::domain::history::Changer;

/// Why a SCIM write changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    NotFound,
    /// `If-Match` named another version (412).
    Stale,
    /// A login or name taken (409 `uniqueness`).
    Taken(Refusal),
    /// A member that is no user (400 `invalidValue`).
    UnknownUser(i64),
}

/// A user as a PUT (or a PATCH, applied to the user first) leaves it.
pub struct UserWrite {
    pub login: String,
    pub name: String,
    pub email_address: Option<String>,
    pub external_id: Option<String>,
    /// None: not given (enabled, and `active` left out).
    pub active: Option<bool>,
}

/// Replaces what SCIM writes of a user, if its version is `if_match`
/// (when given); the version moves.
pub fn replace_user(
    c: &mut DbConnection,
    id: i64,
    w: &UserWrite,
    if_match: Option<i64>,
) -> QueryResult<Result<ScimUser, Refused>> {
    c.transaction(|c| {
        // Takes the row's lock (PostgreSQL) or the write lock (SQLite)
        // first, so what is read below stays so until the commit.
        let there = diesel::update(users::table.filter(users::id.eq(id)))
            .set(users::version.eq(users::version))
            .execute(c)?;
        let Some(current) = (there > 0).then(|| find_user(c, id)).transpose()?.flatten() else {
            return Ok(Err(Refused::NotFound));
        };
        if if_match.is_some_and(|v| v != current.version) {
            return Ok(Err(Refused::Stale));
        }
        if login_taken(c, &w.login, Some(id))? {
            return Ok(Err(Refused::Taken(Refusal::LoginTaken(w.login.clone()))));
        }
        let at = now();
        let disabled_at = match (w.active, current.disabled_at) {
            (Some(true) | None, _) => None,
            (Some(false), Some(since)) => Some(since),
            (Some(false), None) => Some(at),
        };
        let updated = diesel::update(users::table.filter(users::id.eq(id)))
            .set((
                users::login.eq(&w.login),
                users::name.eq(&w.name),
                users::email_address.eq(w.email_address.as_deref()),
                users::external_id.eq(w.external_id.as_deref()),
                users::disabled_at.eq(disabled_at),
                users::active_unset.eq(w.active.is_none()),
                users::updated_at.eq(at),
                users::version.eq(users::version + 1),
            ))
            .returning(columns::<ScimUser>())
            .get_result(c);
        match updated {
            Ok(u) => Ok(Ok(u)),
            Err(e) if is_unique_violation(&e) => {
                Ok(Err(Refused::Taken(Refusal::LoginTaken(w.login.clone()))))
            }
            Err(e) => Err(e),
        }
    })
}

/// One step of a change to a group's members, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberStep {
    Add(Vec<i64>),
    Remove(Vec<i64>),
    /// The members become exactly these (a PUT, a `replace`, or a
    /// `remove` of all members, which is `Exactly(vec![])`).
    Exactly(Vec<i64>),
}

/// What a group PUT or PATCH changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GroupWrite {
    pub name: Option<String>,
    pub external_id: Option<Option<String>>,
    pub members: Vec<MemberStep>,
}

/// The members' net change: users to add and to remove, or the exact set.
enum Net {
    Edit {
        add: std::collections::BTreeSet<i64>,
        remove: std::collections::BTreeSet<i64>,
    },
    Exactly(std::collections::BTreeSet<i64>),
}

fn net(steps: &[MemberStep]) -> Net {
    let mut net = Net::Edit {
        add: Default::default(),
        remove: Default::default(),
    };
    for step in steps {
        match (step, &mut net) {
            (MemberStep::Exactly(ids), _) => net = Net::Exactly(ids.iter().copied().collect()),
            (MemberStep::Add(ids), Net::Edit { add, remove }) => {
                for id in ids {
                    remove.remove(id);
                    add.insert(*id);
                }
            }
            (MemberStep::Remove(ids), Net::Edit { add, remove }) => {
                for id in ids {
                    add.remove(id);
                    remove.insert(*id);
                }
            }
            (MemberStep::Add(ids), Net::Exactly(set)) => set.extend(ids.iter().copied()),
            (MemberStep::Remove(ids), Net::Exactly(set)) => {
                for id in ids {
                    set.remove(id);
                }
            }
        }
    }
    net
}

/// Changes a group as a SCIM PUT or PATCH asks, in one transaction, if its
/// version is `if_match` (when given): its name and `externalId`, and its
/// members, each added or removed with its event (`by`, `via` `scim`).
/// Adding one member to a large group reads and writes that member only.
pub fn change_group(
    c: &mut DbConnection,
    id: i64,
    w: &GroupWrite,
    if_match: Option<i64>,
    by: Changer,
) -> QueryResult<Result<ScimGroup, Refused>> {
    c.transaction(|c| {
        // The group's row lock (PostgreSQL) or the write lock (SQLite):
        // no other change to it or its members until the commit.
        let there = diesel::update(user_groups::table.filter(user_groups::id.eq(id)))
            .set(user_groups::version.eq(user_groups::version))
            .execute(c)?;
        let Some(current) = (there > 0)
            .then(|| find_group(c, id))
            .transpose()?
            .flatten()
        else {
            return Ok(Err(Refused::NotFound));
        };
        if if_match.is_some_and(|v| v != current.version) {
            return Ok(Err(Refused::Stale));
        }
        if let Some(name) = &w.name {
            if name_taken(c, name, Some(id))? {
                return Ok(Err(Refused::Taken(Refusal::GroupNameTaken(name.clone()))));
            }
        }
        let (add, remove): (Vec<i64>, Vec<i64>) = match net(&w.members) {
            Net::Edit { add, remove } => (add.into_iter().collect(), remove.into_iter().collect()),
            Net::Exactly(wanted) => {
                let now_in: std::collections::BTreeSet<i64> = sets::members_of(c, id)?
                    .into_iter()
                    .map(|(u, _)| u)
                    .collect();
                (
                    wanted.difference(&now_in).copied().collect(),
                    now_in.difference(&wanted).copied().collect(),
                )
            }
        };
        let known: std::collections::HashSet<i64> =
            sets::existing_users(c, &add)?.into_iter().collect();
        if let Some(missing) = add.iter().find(|u| !known.contains(u)) {
            return Ok(Err(Refused::UnknownUser(*missing)));
        }
        let at = now();
        if !remove.is_empty() {
            let pairs: Vec<(i64, i64)> = remove.iter().map(|u| (*u, id)).collect();
            let found = sets::memberships_of_pairs(c, &pairs)?;
            let ids: Vec<i64> = found.into_values().collect();
            changes::remove_many(c, &ids, at, by)?;
        }
        if !add.is_empty() {
            let pairs: Vec<(i64, i64)> = add.iter().map(|u| (*u, id)).collect();
            changes::add_pairs(c, &pairs, at, by)?;
        }
        if w.name.is_some() || w.external_id.is_some() {
            let name = w.name.as_deref().unwrap_or(&current.name);
            let external = match &w.external_id {
                Some(e) => e.as_deref(),
                None => current.external_id.as_deref(),
            };
            let updated = diesel::update(user_groups::table.filter(user_groups::id.eq(id)))
                .set((
                    user_groups::name.eq(name),
                    user_groups::external_id.eq(external),
                    user_groups::updated_at.eq(at),
                    user_groups::version.eq(user_groups::version + 1),
                ))
                .execute(c);
            match updated {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Ok(Err(Refused::Taken(Refusal::GroupNameTaken(name.into()))));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(find_group(c, id)?.ok_or(Refused::NotFound))
    })
}
