//! Memberships: id-ordered chunks (offset once, then keyset), counts,
//! position. (Memberships are added and removed by
//! [`crate::db::queries::changes`], with their events.)

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::{Membership, MembershipRow, User, UserGroup};
use crate::db::schema::{user_group_memberships as ugm, user_groups, users};

use crate::db::MultiBackend;
use crate::db::queries::{List, Position, from_position, ids_filtered};
use crate::domain::IdFilter;

/// Which memberships a list covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    User(i64),
    UserGroup(i64),
}

/// The memberships of a scope as a [`List`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InScope {
    pub scope: Scope,
    /// `user_id` and `user_group_id`, within the scope (empty: all of it).
    pub ids: IdFilter,
    /// Load each membership's user and user group in the same query.
    pub with_relations: bool,
}

impl List for InScope {
    type Row = MembershipRow;

    fn count(&self, conn: &mut DbConnection) -> QueryResult<i64> {
        if self.ids.is_empty() {
            return count(conn, self.scope);
        }
        let q = ids_filtered!(
            scoped(self.scope),
            &self.ids,
            ugm::user_id,
            ugm::user_group_id
        );
        q.count().get_result(conn)
    }

    fn chunk(
        &self,
        conn: &mut DbConnection,
        from: Position,
        limit: i64,
    ) -> QueryResult<Vec<MembershipRow>> {
        if self.ids.is_empty() {
            chunk(conn, self.scope, self.with_relations, from, limit)
        } else {
            filtered_chunk(conn, self, from, limit)
        }
    }

    fn version(&self, conn: &mut DbConnection, total: i64) -> QueryResult<String> {
        version(conn, self.scope, total, self.with_relations)
    }

    fn id(row: &MembershipRow) -> i64 {
        row.membership.id
    }
}

// The memberships table again, for the subquery that finds a chunk's first
// id (a query may not name one table twice).
diesel::alias!(ugm as ids: FirstIds);

/// Loads a chunk of `$query` (memberships, joined or not, narrowed to a
/// scope): after an id (keyset), or from the `offset`-th row, found by an
/// id-only subquery (`$ids`, narrowed alike) so the rows skipped are never
/// joined or loaded.
macro_rules! chunk_of {
    ($conn:expr, $from:expr, $limit:expr, $query:expr, $ids:expr) => {{
        let limit: i64 = $limit;
        match $from {
            Position::After(after) => $query
                .filter(ugm::id.gt(after))
                .order(ugm::id.asc())
                .limit(limit)
                .load($conn),
            Position::Offset(offset) => {
                let first = $ids
                    .select(ids.field(ugm::id))
                    .order(ids.field(ugm::id).asc())
                    .offset(offset)
                    .limit(1)
                    .single_value();
                $query
                    .filter(ugm::id.nullable().ge(first))
                    .order(ugm::id.asc())
                    .limit(limit)
                    .load($conn)
            }
        }
    }};
}

/// [`chunk_of`] in each scope. Each arm has its own type, so no query is
/// boxed: Diesel keeps prepared statements only for queries whose shape is
/// known at compile time, and a boxed one is parsed again every time.
macro_rules! load_chunk {
    ($conn:expr, $scope:expr, $from:expr, $limit:expr, $query:expr) => {
        match $scope {
            Scope::All => chunk_of!($conn, $from, $limit, $query, ids),
            Scope::User(id) => chunk_of!(
                $conn,
                $from,
                $limit,
                $query.filter(ugm::user_id.eq(id)),
                ids.filter(ids.field(ugm::user_id).eq(id))
            ),
            Scope::UserGroup(id) => chunk_of!(
                $conn,
                $from,
                $limit,
                $query.filter(ugm::user_group_id.eq(id)),
                ids.filter(ids.field(ugm::user_group_id).eq(id))
            ),
        }
    };
}

/// The memberships of a scope, as a boxed query (for the filtered lists,
/// whose shape varies with the filters given).
fn scoped(scope: Scope) -> ugm::BoxedQuery<'static, MultiBackend> {
    narrow_to_scope!(ugm::table.into_boxed::<MultiBackend>(), scope)
}

macro_rules! narrow_to_scope {
    ($query:expr, $scope:expr) => {
        match $scope {
            Scope::All => $query,
            Scope::User(id) => $query.filter(ugm::user_id.eq(id)),
            Scope::UserGroup(id) => $query.filter(ugm::user_group_id.eq(id)),
        }
    };
}
use narrow_to_scope;

/// A chunk of a filtered list (`user_id`, `user_group_id`): a boxed query,
/// since its shape varies with the filters. The filter's ids find their
/// rows through the indexes that start with them ((user_id, user_group_id)
/// and (user_group_id, id)), so a filter of 100 users over a million
/// memberships reads theirs, not the table.
fn filtered_chunk(
    conn: &mut DbConnection,
    list: &InScope,
    from: Position,
    limit: i64,
) -> QueryResult<Vec<MembershipRow>> {
    macro_rules! load {
        ($query:expr) => {{
            let q = narrow_to_scope!($query.into_boxed::<MultiBackend>(), list.scope);
            let q = ids_filtered!(q, &list.ids, ugm::user_id, ugm::user_group_id);
            from_position!(q, ugm::id, from, limit).load(conn)?
        }};
    }
    if list.with_relations {
        let rows: Vec<(Membership, User, UserGroup)> = load!(
            ugm::table
                .inner_join(users::table)
                .inner_join(user_groups::table)
                .select((
                    Membership::as_select(),
                    User::as_select(),
                    UserGroup::as_select(),
                ))
        );
        Ok(rows.into_iter().map(MembershipRow::joined).collect())
    } else {
        let rows: Vec<Membership> = load!(ugm::table.select(Membership::as_select()));
        Ok(rows.into_iter().map(MembershipRow::bare).collect())
    }
}

/// Loads at most `limit` memberships of a scope in id order, from `from`.
fn chunk(
    conn: &mut DbConnection,
    scope: Scope,
    with_relations: bool,
    from: Position,
    limit: i64,
) -> QueryResult<Vec<MembershipRow>> {
    if with_relations {
        let rows: Vec<(Membership, User, UserGroup)> = load_chunk!(
            conn,
            scope,
            from,
            limit,
            ugm::table
                .inner_join(users::table)
                .inner_join(user_groups::table)
                .select((
                    Membership::as_select(),
                    User::as_select(),
                    UserGroup::as_select(),
                ))
        )?;
        Ok(rows.into_iter().map(MembershipRow::joined).collect())
    } else {
        let rows: Vec<Membership> = load_chunk!(
            conn,
            scope,
            from,
            limit,
            ugm::table.select(Membership::as_select())
        )?;
        Ok(rows.into_iter().map(MembershipRow::bare).collect())
    }
}

/// One membership by id, with its relations when asked for.
pub fn find(
    conn: &mut DbConnection,
    id: i64,
    with_relations: bool,
) -> QueryResult<Option<MembershipRow>> {
    if with_relations {
        let row: Option<(Membership, User, UserGroup)> = ugm::table
            .inner_join(users::table)
            .inner_join(user_groups::table)
            .filter(ugm::id.eq(id))
            .select((
                Membership::as_select(),
                User::as_select(),
                UserGroup::as_select(),
            ))
            .first(conn)
            .optional()?;
        Ok(row.map(MembershipRow::joined))
    } else {
        let row: Option<Membership> = ugm::table
            .filter(ugm::id.eq(id))
            .select(Membership::as_select())
            .first(conn)
            .optional()?;
        Ok(row.map(MembershipRow::bare))
    }
}

/// The id of the membership of a user in a group, if there is one.
pub fn id_of_pair(
    conn: &mut DbConnection,
    user_id: i64,
    user_group_id: i64,
) -> QueryResult<Option<i64>> {
    ugm::table
        .filter(ugm::user_id.eq(user_id))
        .filter(ugm::user_group_id.eq(user_group_id))
        .select(ugm::id)
        .first(conn)
        .optional()
}

/// How many memberships a scope holds.
pub fn count(conn: &mut DbConnection, scope: Scope) -> QueryResult<i64> {
    let mut q = ugm::table.into_boxed();
    match scope {
        Scope::All => {}
        Scope::User(id) => q = q.filter(ugm::user_id.eq(id)),
        Scope::UserGroup(id) => q = q.filter(ugm::user_group_id.eq(id)),
    }
    q.count().get_result(conn)
}

/// The 1-based place of a membership in the id-ordered list of them all.
pub fn position(conn: &mut DbConnection, id: i64) -> QueryResult<i64> {
    ugm::table.filter(ugm::id.le(id)).count().get_result(conn)
}

/// Changes whenever a scope's list does. Memberships are never updated and
/// ids are never reused, so the count (`total`, already known to the caller)
/// and the highest id pin down the set; with relations, the users' and
/// groups' versions are added. (The highest id is its own query: asking for
/// `count(*), max(id)` together makes SQLite scan every row, 110 ms over a
/// million, where each alone is a quick index walk.)
pub fn version(
    conn: &mut DbConnection,
    scope: Scope,
    total: i64,
    with_relations: bool,
) -> QueryResult<String> {
    use diesel::dsl::max;
    let top: Option<i64> = match scope {
        Scope::All => ugm::table.select(max(ugm::id)).first(conn)?,
        Scope::User(id) => ugm::table
            .filter(ugm::user_id.eq(id))
            .select(max(ugm::id))
            .first(conn)?,
        Scope::UserGroup(id) => ugm::table
            .filter(ugm::user_group_id.eq(id))
            .select(max(ugm::id))
            .first(conn)?,
    };
    let mut version = format!("m{total}.{}", top.unwrap_or(0));
    if with_relations {
        version.push_str(&crate::db::queries::users::version(conn)?);
        version.push_str(&crate::db::queries::user_groups::version(conn)?);
    }
    Ok(version)
}
