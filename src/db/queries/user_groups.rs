//! User groups.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::{UserGroup, columns, now};
use crate::db::schema::user_groups;
use crate::domain::Refusal;
use crate::domain::history::Changer;
use crate::domain::text;

use crate::db::queries::changes::{self, Deleting};
use crate::db::queries::{List, Position, is_unique_violation, load_from};

pub fn exists(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        user_groups::table.filter(user_groups::id.eq(id)),
    ))
    .get_result(conn)
}

/// The id of the user group with this name, if any.
pub fn id_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<i64>> {
    user_groups::table
        .filter(user_groups::name.eq(name))
        .select(user_groups::id)
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<UserGroup>> {
    user_groups::table
        .filter(user_groups::id.eq(id))
        .select(UserGroup::as_select())
        .first(conn)
        .optional()
}

/// All user groups in id order.
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<UserGroup>> {
    user_groups::table
        .select(UserGroup::as_select())
        .order(user_groups::id.asc())
        .load(conn)
}

/// Creates a group, or says why not: the name and description's problems
/// (both, in that order), or a taken name.
pub fn create(
    conn: &mut DbConnection,
    name: &str,
    description: Option<&str>,
) -> QueryResult<Result<UserGroup, Vec<Refusal>>> {
    let name = name.trim();
    if let Err(problems) = check_fields(Some(name), description) {
        return Ok(Err(problems));
    }
    let at = now();
    let inserted = diesel::insert_into(user_groups::table)
        .values(NewUserGroup {
            name,
            description,
            created_at: at,
            updated_at: at,
        })
        .returning(columns::<UserGroup>())
        .get_result::<UserGroup>(conn);
    match inserted {
        Ok(g) => Ok(Ok(g)),
        Err(e) if is_unique_violation(&e) => Ok(Err(vec![Refusal::GroupNameTaken(name.into())])),
        Err(e) => Err(e),
    }
}

/// A group as inserted (no description bound as NULL, as before).
#[derive(Insertable)]
#[diesel(table_name = user_groups, treat_none_as_default_value = false)]
struct NewUserGroup<'a> {
    name: &'a str,
    description: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    user_groups::table.count().get_result(conn)
}

/// The user group with a name (`GET /user_groups?name=Editors`): a list
/// of one, or empty.
#[derive(Debug, Clone)]
pub struct Named(pub String);

impl List for Named {
    type Row = UserGroup;

    fn count(&self, conn: &mut DbConnection) -> QueryResult<i64> {
        user_groups::table
            .filter(user_groups::name.eq(&self.0))
            .count()
            .get_result(conn)
    }

    fn chunk(
        &self,
        conn: &mut DbConnection,
        from: Position,
        limit: i64,
    ) -> QueryResult<Vec<UserGroup>> {
        let q = user_groups::table
            .filter(user_groups::name.eq(&self.0))
            .select(UserGroup::as_select());
        load_from!(conn, q, user_groups::id, from, limit)
    }

    fn version(&self, conn: &mut DbConnection, _total: i64) -> QueryResult<String> {
        version(conn)
    }

    fn id(group: &UserGroup) -> i64 {
        group.id
    }
}

/// Every user group, as a [`List`].
#[derive(Debug, Clone, Copy)]
pub struct AllGroups;

impl List for AllGroups {
    type Row = UserGroup;

    fn count(&self, conn: &mut DbConnection) -> QueryResult<i64> {
        count(conn)
    }

    fn chunk(
        &self,
        conn: &mut DbConnection,
        from: Position,
        limit: i64,
    ) -> QueryResult<Vec<UserGroup>> {
        let q = user_groups::table.select(UserGroup::as_select());
        load_from!(conn, q, user_groups::id, from, limit)
    }

    fn version(&self, conn: &mut DbConnection, _total: i64) -> QueryResult<String> {
        version(conn)
    }

    fn id(group: &UserGroup) -> i64 {
        group.id
    }
}

/// Changes whenever the list of groups does: count, highest id (ids are
/// never reused) and latest update.
pub fn version(conn: &mut DbConnection) -> QueryResult<String> {
    use diesel::dsl::max;
    let (n, top, at): (i64, Option<i64>, Option<NaiveDateTime>) = user_groups::table
        .select((
            diesel::dsl::count_star(),
            max(user_groups::id),
            max(user_groups::updated_at),
        ))
        .first(conn)?;
    Ok(format!(
        "g{n}.{}.{}",
        top.unwrap_or(0),
        at.map(|t| t.and_utc().timestamp()).unwrap_or(0)
    ))
}

/// The name and description rules of `domain::text`: every problem, the
/// name's first.
fn check_fields(name: Option<&str>, description: Option<&str>) -> Result<(), Vec<Refusal>> {
    let problems: Vec<Refusal> = [
        name.map(|n| text::GroupName::parse(n).map(drop)),
        description.map(text::check_description),
    ]
    .into_iter()
    .flatten()
    .filter_map(Result::err)
    .map(Refusal::Invalid)
    .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// What an update sets: each field left `None` stays as it is
/// (`description: Some(None)` clears it); `updated_at` always changes.
#[derive(AsChangeset)]
#[diesel(table_name = user_groups)]
struct GroupChanges<'a> {
    name: Option<&'a str>,
    description: Option<Option<&'a str>>,
    updated_at: NaiveDateTime,
}

/// Changes what is given: `name` when Some, `description` when Some (Some(None)
/// clears it). `Ok(None)` when there is no such group.
pub fn update(
    conn: &mut DbConnection,
    id: i64,
    name: Option<&str>,
    description: Option<Option<&str>>,
) -> QueryResult<Result<Option<UserGroup>, Vec<Refusal>>> {
    let name = name.map(str::trim);
    if let Err(problems) = check_fields(name, description.flatten()) {
        return Ok(Err(problems));
    }
    let changes = GroupChanges {
        name,
        description,
        updated_at: now(),
    };
    let result = diesel::update(user_groups::table.filter(user_groups::id.eq(id)))
        .set((&changes, user_groups::version.eq(user_groups::version + 1)))
        .execute(conn);
    match result {
        Ok(0) => Ok(Ok(None)),
        Ok(_) => Ok(Ok(find(conn, id)?)),
        Err(e) if is_unique_violation(&e) => Ok(Err(vec![Refusal::GroupNameTaken(
            name.unwrap_or_default().into(),
        )])),
        Err(e) => Err(e),
    }
}

/// Deletes a group and its memberships, each with its `removed` event, in
/// one transaction; false when there was no such group.
pub fn delete(conn: &mut DbConnection, id: i64, by: Changer) -> QueryResult<bool> {
    let deleted = changes::delete_with_memberships(conn, Deleting::UserGroup(id), by)?;
    Ok(deleted.is_some())
}
