//! Records as the client sees them, in XML or JSON. Rows are not wire types:
//! this is where a row becomes a record, with only what `include` asks for.
//! One [`Encoder`] serves both formats, so each record is described once.

use chrono::NaiveDateTime;

use crate::db::models::{EventRow, MembershipRow, User, UserGroup};
use crate::domain::Include;
use crate::domain::sync::{ChangeDone, SetReport};
use crate::http::format::ApiFormat;
use crate::views::json::JsonWriter;
use crate::xml::XmlWriter;

/// A field or record name: dasherized in XML, snake_case in JSON.
#[derive(Clone, Copy)]
pub struct Name {
    pub xml: &'static str,
    pub json: &'static str,
}

macro_rules! names {
    ($($konst:ident = $json:literal / $xml:literal;)*) => {
        $(pub const $konst: Name = Name { xml: $xml, json: $json };)*
    };
}

names! {
    ID = "id" / "id";
    LOGIN = "login" / "login";
    NAME = "name" / "name";
    EMAIL_ADDRESS = "email_address" / "email-address";
    USER_GROUP_MANAGER = "user_group_manager" / "user-group-manager";
    DESCRIPTION = "description" / "description";
    USER_ID = "user_id" / "user-id";
    USER_GROUP_ID = "user_group_id" / "user-group-id";
    CREATED_AT = "created_at" / "created-at";
    UPDATED_AT = "updated_at" / "updated-at";
    USER = "user" / "user";
    USERS = "users" / "users";
    USER_GROUP = "user_group" / "user-group";
    USER_GROUPS = "user_groups" / "user-groups";
    MEMBERSHIP = "user_group_membership" / "user-group-membership";
    MEMBERSHIPS = "user_group_memberships" / "user-group-memberships";
    EVENT = "membership_event" / "membership-event";
    EVENTS = "membership_events" / "membership-events";
    ACTION = "action" / "action";
    MEMBERSHIP_ID = "membership_id" / "membership-id";
    ACTOR_ID = "actor_id" / "actor-id";
    VIA = "via" / "via";
    MEMBERS = "user_group_members" / "user-group-members";
    USER_IDS = "user_ids" / "user-ids";
    SYNC = "membership_sync" / "membership-sync";
    DRY_RUN = "dry_run" / "dry-run";
    ADDED = "added" / "added";
    REMOVED = "removed" / "removed";
    UNCHANGED = "unchanged" / "unchanged";
    CHANGES = "membership_changes" / "membership-changes";
    CHANGE = "membership_change" / "membership-change";
    RESULT = "result" / "result";
}

/// Writes records in the response's format, whole or in streamed pieces.
pub enum Encoder {
    Xml(XmlWriter),
    Json(JsonWriter),
}

impl Encoder {
    /// A new document (XML starts with its declaration).
    pub fn new(format: ApiFormat) -> Encoder {
        match format {
            ApiFormat::Json => Encoder::Json(JsonWriter::new()),
            ApiFormat::Xml => {
                let mut w = XmlWriter::new();
                w.declaration();
                Encoder::Xml(w)
            }
        }
    }

    pub fn begin(&mut self, name: Name) {
        match self {
            Encoder::Xml(w) => w.start(name.xml),
            Encoder::Json(w) => w.begin_object(name.json),
        }
    }

    pub fn end(&mut self, name: Name) {
        match self {
            Encoder::Xml(w) => w.end(name.xml),
            Encoder::Json(w) => w.end_object(),
        }
    }

    pub fn begin_list(&mut self, name: Name) {
        match self {
            Encoder::Xml(w) => w.start_array(name.xml),
            Encoder::Json(w) => w.begin_array(name.json),
        }
    }

    pub fn end_list(&mut self, name: Name) {
        match self {
            Encoder::Xml(w) => w.end(name.xml),
            Encoder::Json(w) => w.end_array(),
        }
    }

    /// `<name type="array"/>` or `[]`.
    pub fn empty_list(&mut self, name: Name) {
        match self {
            Encoder::Xml(w) => w.empty_array(name.xml),
            Encoder::Json(w) => {
                w.begin_array(name.json);
                w.end_array();
            }
        }
    }

    pub fn integer(&mut self, name: Name, value: i64) {
        match self {
            Encoder::Xml(w) => w.integer(name.xml, value),
            Encoder::Json(w) => w.integer(name.json, value),
        }
    }

    pub fn boolean(&mut self, name: Name, value: bool) {
        match self {
            Encoder::Xml(w) => w.boolean(name.xml, value),
            Encoder::Json(w) => w.boolean(name.json, value),
        }
    }

    pub fn string(&mut self, name: Name, value: &str) {
        match self {
            Encoder::Xml(w) => w.string(name.xml, value),
            Encoder::Json(w) => w.string(name.json, value),
        }
    }

    pub fn optional_string(&mut self, name: Name, value: Option<&str>) {
        match self {
            Encoder::Xml(w) => w.optional_string(name.xml, value),
            Encoder::Json(w) => w.optional_string(name.json, value),
        }
    }

    pub fn optional_integer(&mut self, name: Name, value: Option<i64>) {
        match self {
            Encoder::Xml(w) => w.optional_integer(name.xml, value),
            Encoder::Json(w) => w.optional_integer(name.json, value),
        }
    }

    pub fn datetime(&mut self, name: Name, value: NaiveDateTime) {
        match self {
            Encoder::Xml(w) => w.datetime(name.xml, value),
            Encoder::Json(w) => w.datetime(name.json, value),
        }
    }

    /// Bytes written since the last `take`.
    pub fn written(&self) -> usize {
        match self {
            Encoder::Xml(w) => w.written(),
            Encoder::Json(w) => w.written(),
        }
    }

    /// Room for `more` bytes.
    pub fn reserve(&mut self, more: usize) {
        match self {
            Encoder::Xml(w) => w.reserve(more),
            Encoder::Json(w) => w.reserve(more),
        }
    }

    /// Writes rows, making room for all of them once the first shows their
    /// size (a list of 100 with includes is 88 KB: growing the buffer by
    /// doubling copied it about twice over).
    pub fn rows<R>(&mut self, rows: &[R], write: impl Fn(&mut Encoder, &R)) {
        let Some((first, rest)) = rows.split_first() else {
            return;
        };
        let before = self.written();
        write(self, first);
        let each = self.written() - before;
        self.reserve(each.saturating_mul(rest.len()) + each / 2 + 64);
        for row in rest {
            write(self, row);
        }
    }

    /// The bytes written since the last call, for streaming.
    pub fn take(&mut self) -> Vec<u8> {
        match self {
            Encoder::Xml(w) => w.take(),
            Encoder::Json(w) => w.take(),
        }
    }

    /// The rest of the document, with its final newline.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Encoder::Xml(w) => w.finish(),
            Encoder::Json(mut w) => {
                let mut out = w.take();
                out.push(b'\n');
                out
            }
        }
    }

    fn timestamps(&mut self, created_at: NaiveDateTime, updated_at: NaiveDateTime) {
        self.datetime(CREATED_AT, created_at);
        self.datetime(UPDATED_AT, updated_at);
    }
}

/// A membership, with its user and user group nested when included, and
/// timestamps (on nested records too) when included.
pub fn membership(e: &mut Encoder, row: &MembershipRow, include: Include) {
    let m = &row.membership;
    e.begin(MEMBERSHIP);
    e.integer(ID, m.id);
    match (&row.user, include.users) {
        (Some(u), true) => user(e, u, include.timestamps),
        _ => e.integer(USER_ID, m.user_id),
    }
    match (&row.user_group, include.user_groups) {
        (Some(g), true) => user_group(e, g, include.timestamps),
        _ => e.integer(USER_GROUP_ID, m.user_group_id),
    }
    if include.timestamps {
        e.timestamps(m.created_at, m.updated_at);
    }
    e.end(MEMBERSHIP);
}

/// A membership event (API.md 8.7), with its user and user group nested
/// when included and they still exist (a deleted one is shown by its id);
/// nested records carry timestamps when included. The event's own time is
/// always there: it is what the event says.
pub fn event(e: &mut Encoder, row: &EventRow, include: Include) {
    let ev = &row.event;
    e.begin(EVENT);
    e.integer(ID, ev.id);
    e.string(ACTION, &ev.action);
    e.integer(MEMBERSHIP_ID, ev.membership_id);
    match (&row.user, include.users) {
        (Some(u), true) => user(e, u, include.timestamps),
        _ => e.integer(USER_ID, ev.user_id),
    }
    match (&row.user_group, include.user_groups) {
        (Some(g), true) => user_group(e, g, include.timestamps),
        _ => e.integer(USER_GROUP_ID, ev.user_group_id),
    }
    e.optional_integer(ACTOR_ID, ev.actor_id);
    e.string(VIA, &ev.via);
    e.datetime(CREATED_AT, ev.created_at);
    e.end(EVENT);
}

/// A user: never a password, a token or a digest (the row has none).
pub fn user(e: &mut Encoder, u: &User, timestamps: bool) {
    e.begin(USER);
    e.integer(ID, u.id);
    e.string(LOGIN, &u.login);
    e.string(NAME, &u.name);
    e.optional_string(EMAIL_ADDRESS, u.email_address.as_deref());
    e.boolean(USER_GROUP_MANAGER, u.user_group_manager);
    if timestamps {
        e.timestamps(u.created_at, u.updated_at);
    }
    e.end(USER);
}

/// A user group.
pub fn user_group(e: &mut Encoder, g: &UserGroup, timestamps: bool) {
    e.begin(USER_GROUP);
    e.integer(ID, g.id);
    e.string(NAME, &g.name);
    e.optional_string(DESCRIPTION, g.description.as_deref());
    if timestamps {
        e.timestamps(g.created_at, g.updated_at);
    }
    e.end(USER_GROUP);
}

/// A list of user ids, `<user-ids type="array"><user-id
/// type="integer">3</user-id>...` or `"user_ids": [3, ...]`.
fn user_ids(e: &mut Encoder, list: Name, ids: &[i64]) {
    if ids.is_empty() {
        return e.empty_list(list);
    }
    e.reserve(ids.len() * 40);
    e.begin_list(list);
    for &id in ids {
        e.integer(USER_ID, id);
    }
    e.end_list(list);
}

/// A group's member set (API.md 8.4): its id and its users' ids,
/// ascending.
pub fn member_set(e: &mut Encoder, user_group_id: i64, ids: &[i64]) {
    e.begin(MEMBERS);
    e.integer(USER_GROUP_ID, user_group_id);
    user_ids(e, USER_IDS, ids);
    e.end(MEMBERS);
}

/// What a `PUT` or `PATCH` of a member set did (or would do).
pub fn set_report(e: &mut Encoder, r: &SetReport) {
    e.begin(SYNC);
    e.integer(USER_GROUP_ID, r.user_group_id);
    e.boolean(DRY_RUN, r.dry_run);
    user_ids(e, ADDED, &r.added);
    user_ids(e, REMOVED, &r.removed);
    e.integer(UNCHANGED, r.unchanged as i64);
    e.end(SYNC);
}

/// A change set's changes, each with what became of it (API.md 8.5).
pub fn change_results(e: &mut Encoder, done: &[ChangeDone]) {
    if done.is_empty() {
        return e.empty_list(CHANGES);
    }
    e.begin_list(CHANGES);
    e.rows(done, |e, d| {
        e.begin(CHANGE);
        e.string(ACTION, d.action.as_str());
        e.integer(USER_ID, d.user_id);
        e.integer(USER_GROUP_ID, d.user_group_id);
        e.string(RESULT, d.result.as_str());
        if let Some(id) = d.membership_id {
            e.integer(MEMBERSHIP_ID, id);
        }
        e.end(CHANGE);
    });
    e.end_list(CHANGES);
}

/// A whole document holding what `body` writes.
pub fn document(format: ApiFormat, body: impl FnOnce(&mut Encoder)) -> Vec<u8> {
    let mut e = Encoder::new(format);
    body(&mut e);
    e.finish()
}
