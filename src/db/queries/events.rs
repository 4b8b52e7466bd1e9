//! Reading history (API.md 8.7): the event feed, and the memberships of a
//! scope as they were at a moment (`as_of`), answered from the events.
//! Events are written only by [`crate::db::queries::changes`].

use chrono::NaiveDateTime;
use diesel::dsl::{exists, max, not};
use diesel::prelude::*;

use crate::db::models::{Event, EventRow, Membership, MembershipRow, User, UserGroup};
use crate::db::queries::memberships::Scope;
use crate::db::queries::{List, Position, from_position, ids_filtered, user_groups, users};
use crate::db::schema::{membership_events as ev, user_groups as groups_t, users as users_t};
use crate::db::{DbConnection, MultiBackend};
use crate::domain::IdFilter;
use crate::domain::history::{Action, EventFilter};

/// The event feed, narrowed by an [`EventFilter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    pub filter: EventFilter,
    /// Load each event's user and group (those that still exist).
    pub with_relations: bool,
}

/// The filters of a [`Feed`] on a boxed query of events (joined or not).
macro_rules! narrowed {
    ($query:expr, $feed:expr) => {{
        let feed: &EventFilter = &$feed.filter;
        let mut q = ids_filtered!($query, &feed.ids, ev::user_id, ev::user_group_id);
        if let Some(since) = feed.since {
            q = q.filter(ev::created_at.ge(since));
        }
        if feed.after_id > 0 {
            q = q.filter(ev::id.gt(feed.after_id));
        }
        q
    }};
}

/// Loads events as [`EventRow`]s: `$narrow` makes the query of `$q`, the
/// events boxed (joined to their user and group when `$with_relations`;
/// left joins, since either may be gone).
macro_rules! load_events {
    ($conn:expr, $with_relations:expr, |$q:ident| $narrow:expr) => {{
        if $with_relations {
            let $q = ev::table
                .left_join(users_t::table.on(users_t::id.eq(ev::user_id)))
                .left_join(groups_t::table.on(groups_t::id.eq(ev::user_group_id)))
                .select((
                    Event::as_select(),
                    Option::<User>::as_select(),
                    Option::<UserGroup>::as_select(),
                ))
                .into_boxed::<MultiBackend>();
            let rows: Vec<(Event, Option<User>, Option<UserGroup>)> = $narrow.load($conn)?;
            rows.into_iter()
                .map(|(event, user, user_group)| EventRow {
                    event,
                    user,
                    user_group,
                })
                .collect::<Vec<_>>()
        } else {
            let $q = ev::table
                .select(Event::as_select())
                .into_boxed::<MultiBackend>();
            let rows: Vec<Event> = $narrow.load($conn)?;
            rows.into_iter()
                .map(|event| EventRow {
                    event,
                    user: None,
                    user_group: None,
                })
                .collect::<Vec<_>>()
        }
    }};
}

/// A version of a list read from the events: `prefix` (what the list is)
/// and the newest event id, which changes with every change (events are
/// only appended); with relations, the users' and groups' versions too.
fn versioned(conn: &mut DbConnection, prefix: String, with_relations: bool) -> QueryResult<String> {
    let top: Option<i64> = ev::table.select(max(ev::id)).first(conn)?;
    let mut version = format!("{prefix}.{}", top.unwrap_or(0));
    if with_relations {
        version.push_str(&users::version(conn)?);
        version.push_str(&user_groups::version(conn)?);
    }
    Ok(version)
}

impl List for Feed {
    type Row = EventRow;

    fn count(&self, conn: &mut DbConnection) -> QueryResult<i64> {
        let q = narrowed!(ev::table.into_boxed::<MultiBackend>(), self);
        q.count().get_result(conn)
    }

    fn chunk(
        &self,
        conn: &mut DbConnection,
        from: Position,
        limit: i64,
    ) -> QueryResult<Vec<EventRow>> {
        Ok(load_events!(conn, self.with_relations, |q| from_position!(
            narrowed!(q, self),
            ev::id,
            from,
            limit
        )))
    }

    /// Events are only ever appended: the count and the newest id pin the
    /// feed down; with relations, the users' and groups' versions too.
    fn version(&self, conn: &mut DbConnection, total: i64) -> QueryResult<String> {
        versioned(conn, format!("e{total}"), self.with_relations)
    }

    fn id(row: &EventRow) -> i64 {
        row.event.id
    }
}

// The events table again, for the `removed` event looked up beside each
// `added` one (a query may not name one table twice).
diesel::alias!(ev as removed: Removed);

/// The memberships of a scope that existed at a moment: those whose `added`
/// event is at or before it and whose `removed` event (if any) is not. A
/// membership's id, user and group are its `added` event's, and its
/// timestamps that event's time (memberships are never updated). In
/// membership id order, like the live lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsOf {
    pub scope: Scope,
    /// `user_id` and `user_group_id`, within the scope.
    pub ids: IdFilter,
    pub at: NaiveDateTime,
    /// Load each membership's user and group as they are now (a deleted
    /// one is shown by its id).
    pub with_relations: bool,
}

/// The `added` events of the memberships an [`AsOf`] selects, on a boxed
/// query of events (joined or not).
macro_rules! existing_at {
    ($query:expr, $as_of:expr) => {{
        let as_of: &AsOf = $as_of;
        let at = as_of.at;
        let mut q = $query
            .filter(ev::action.eq(Action::Added.as_str()))
            .filter(ev::created_at.le(at))
            .filter(not(exists(
                removed
                    .filter(removed.field(ev::membership_id).eq(ev::membership_id))
                    .filter(removed.field(ev::action).eq(Action::Removed.as_str()))
                    .filter(removed.field(ev::created_at).le(at)),
            )));
        match as_of.scope {
            Scope::All => {}
            Scope::User(id) => q = q.filter(ev::user_id.eq(id)),
            Scope::UserGroup(id) => q = q.filter(ev::user_group_id.eq(id)),
        }
        ids_filtered!(q, &as_of.ids, ev::user_id, ev::user_group_id)
    }};
}

fn membership_of(event: &Event) -> Membership {
    Membership {
        id: event.membership_id,
        user_id: event.user_id,
        user_group_id: event.user_group_id,
        created_at: event.created_at,
        updated_at: event.created_at,
    }
}

impl List for AsOf {
    type Row = MembershipRow;

    fn count(&self, conn: &mut DbConnection) -> QueryResult<i64> {
        let q = existing_at!(ev::table.into_boxed::<MultiBackend>(), self);
        q.count().get_result(conn)
    }

    fn chunk(
        &self,
        conn: &mut DbConnection,
        from: Position,
        limit: i64,
    ) -> QueryResult<Vec<MembershipRow>> {
        let rows = load_events!(conn, self.with_relations, |q| from_position!(
            existing_at!(q, self),
            ev::membership_id,
            from,
            limit
        ));
        Ok(rows
            .into_iter()
            .map(|row| MembershipRow {
                membership: membership_of(&row.event),
                user: row.user,
                user_group: row.user_group,
            })
            .collect())
    }

    /// What the list was at a moment changes only while events at or
    /// before it are still being appended: the count and the newest event
    /// id pin it down.
    fn version(&self, conn: &mut DbConnection, total: i64) -> QueryResult<String> {
        let at = self.at.and_utc().timestamp();
        versioned(conn, format!("a{at}.{total}"), self.with_relations)
    }

    fn id(row: &MembershipRow) -> i64 {
        row.membership.id
    }
}

/// The newest events, newest first, with their users and groups (those that
/// still exist): the managers' page. `user_group` narrows them to a group.
pub fn latest(
    conn: &mut DbConnection,
    user_group: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    Ok(load_events!(conn, true, |q| {
        let mut q = q;
        if let Some(id) = user_group {
            q = q.filter(ev::user_group_id.eq(id));
        }
        q.order(ev::id.desc()).limit(limit)
    }))
}
