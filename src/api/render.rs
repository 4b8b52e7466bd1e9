//! Records as the client sees them. Rows are not wire types: this is where a
//! row becomes XML, with only what the `include` set asks for.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use super::format::Format;
use crate::db::models::{MembershipRow, User, UserGroup};
use crate::domain::Include;
use crate::xml::XmlWriter;

pub const MEMBERSHIP: &str = "user-group-membership";
pub const MEMBERSHIPS: &str = "user-group-memberships";

/// `<user-group-membership>`, with its user and user group nested when
/// included, and timestamps (on nested records too) when included.
pub fn membership(w: &mut XmlWriter, row: &MembershipRow, include: Include) {
    let m = &row.membership;
    w.start(MEMBERSHIP);
    w.integer("id", m.id);
    match (&row.user, include.users) {
        (Some(u), true) => user(w, u, include.timestamps),
        _ => w.integer("user-id", m.user_id),
    }
    match (&row.user_group, include.user_groups) {
        (Some(g), true) => user_group(w, g, include.timestamps),
        _ => w.integer("user-group-id", m.user_group_id),
    }
    if include.timestamps {
        w.datetime("created-at", m.created_at);
        w.datetime("updated-at", m.updated_at);
    }
    w.end(MEMBERSHIP);
}

/// `<user>`: never a password, a token or a digest (the row has none).
pub fn user(w: &mut XmlWriter, u: &User, timestamps: bool) {
    w.start("user");
    w.integer("id", u.id);
    w.string("login", &u.login);
    w.string("name", &u.name);
    w.optional_string("email-address", u.email_address.as_deref());
    w.boolean("user-group-manager", u.user_group_manager);
    if timestamps {
        w.datetime("created-at", u.created_at);
        w.datetime("updated-at", u.updated_at);
    }
    w.end("user");
}

/// `<user-group>`.
pub fn user_group(w: &mut XmlWriter, g: &UserGroup, timestamps: bool) {
    w.start("user-group");
    w.integer("id", g.id);
    w.string("name", &g.name);
    w.optional_string("description", g.description.as_deref());
    if timestamps {
        w.datetime("created-at", g.created_at);
        w.datetime("updated-at", g.updated_at);
    }
    w.end("user-group");
}

/// A whole XML document holding what `body` writes.
pub fn document(body: impl FnOnce(&mut XmlWriter)) -> Vec<u8> {
    let mut w = XmlWriter::new();
    w.declaration();
    body(&mut w);
    w.finish()
}

/// A complete XML response.
pub fn xml(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(Format::Xml.content_type())
        .body(body)
}
