//! The HTML pages for managers, written with maud, which escapes every value
//! it is given. No JavaScript: plain forms that POST, and one inline
//! stylesheet that the Content-Security-Policy allows by its hash alone.

use std::sync::LazyLock;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, HttpResponseBuilder};
use base64::Engine;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use crate::db::models::{EventRow, MembershipRow, User, UserGroup};

/// The managers' page.
pub const PAGE_PATH: &str = "/user-group-memberships.html";
/// Memberships on a page when `end` is not given.
pub const PAGE_SIZE: i64 = 50;
/// The most memberships one page shows, whatever `start` and `end` say.
pub const MAX_PAGE_ROWS: i64 = 500;
/// Users and groups offered in a choice list; past this, the form asks for
/// an id instead (a select of thousands helps no one).
pub const MAX_CHOICES: i64 = 1000;
/// The history page (`GET /membership-events` from a browser).
pub const HISTORY_PATH: &str = "/membership-events.html";
/// Changes the managers' page shows under "Latest changes".
pub const LATEST_CHANGES: i64 = 20;
/// Changes the history page shows.
pub const HISTORY_ROWS: i64 = 100;
/// Users a group's members page lists in each of its tables (the members,
/// those a preview adds, those it removes); the rest are counted.
pub const MAX_LISTED: usize = 1000;

/// A group's members page (`GET /user_groups/{id}/members.html`), where
/// its member set is previewed and applied; its forms post here too.
pub fn members_path(user_group: i64) -> String {
    format!("/user_groups/{user_group}/members.html")
}

const CSS: &str = "\
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:62rem;padding:1rem 1.5rem;color:#1b1b1b;background:#fff}\
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin:1.8rem 0 .6rem}h3{font-size:1.05rem}\
header p{margin:0;color:#555}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd}\
th{background:#f3f4f6}tr:target{background:#fff6c8}\
form.inline{display:inline;margin:0}\
form.fields{display:flex;flex-wrap:wrap;gap:.8rem;align-items:end;padding:.8rem;background:#f7f7f9;border:1px solid #e2e2e8;border-radius:6px}\
form.fields div{display:flex;flex-direction:column;gap:.2rem}\
label{font-weight:600;font-size:.9rem}\
input,select,button{font:inherit;padding:.3rem .5rem}\
button{cursor:pointer;border:1px solid #666;border-radius:4px;background:#fff}\
button.primary{background:#1f5fbf;border-color:#1f5fbf;color:#fff}\
.errors{margin-top:1rem;border:2px solid #b3261e;background:#fdecea;color:#5c0f0b;padding:.6rem 1rem;border-radius:6px}\
.errors h2{margin:0 0 .3rem;font-size:1.05rem}.errors ul{margin:0;padding-left:1.2rem}\
nav.pages{display:flex;gap:1.2rem;margin:.6rem 0}\
.muted{color:#555}\
textarea{font:inherit;padding:.3rem .5rem;min-width:18rem}\
.notice{margin-top:1rem;border:2px solid #1f5fbf;background:#eef4fd;padding:.6rem 1rem;border-radius:6px}\
.warning{border-left:4px solid #b3261e;padding-left:.6rem;font-weight:600}";

/// `Content-Security-Policy` for every HTML response: nothing may load or
/// run but the stylesheet above, forms post only here, and no one frames us.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
});

/// Adds the headers every HTML response carries.
pub fn secure(builder: &mut HttpResponseBuilder) {
    builder
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP.as_str()))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        // The page shows who belongs where: no shared cache keeps it.
        .insert_header((header::CACHE_CONTROL, "no-store"));
}

/// A whole HTML response.
pub fn response(status: StatusCode, page: Markup) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    secure(&mut builder);
    builder.body(page.into_string())
}

/// A 303 to the page after a form post, so that reloading does not post
/// again.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn layout(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · syncd" }
                style { (PreEscaped(CSS)) }
            }
            body { (content) }
        }
    }
}

fn errors_box(messages: &[String]) -> Markup {
    html! {
        @if !messages.is_empty() {
            div.errors role="alert" {
                h2 { "That did not work:" }
                ul { @for m in messages { li { (m) } } }
            }
        }
    }
}

/// The page for an error, in the same plain words as the XML.
pub fn error_page(status: StatusCode, messages: &[String]) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    layout(
        title,
        html! {
            h1 { (title) }
            (errors_box(messages))
            p { a href=(PAGE_PATH) { "Go to the user group memberships" } }
        },
    )
}

/// Which memberships a page shows: 1-based, inclusive, like `start`/`end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    /// The window of [`PAGE_SIZE`] that holds the item at `position`.
    pub fn around(position: i64) -> Window {
        let start = (position.max(1) - 1) / PAGE_SIZE * PAGE_SIZE + 1;
        Window {
            start,
            end: start + PAGE_SIZE - 1,
        }
    }

    pub fn query(&self) -> String {
        format!("?start={}&end={}", self.start, self.end)
    }

    pub fn url(&self) -> String {
        format!("{PAGE_PATH}{}", self.query())
    }

    fn size(&self) -> i64 {
        self.end - self.start + 1
    }
}

/// What a form sent, shown again when the page comes back with a problem.
#[derive(Debug, Default, Clone)]
pub struct Echo {
    pub user_id: String,
    pub user_group_id: String,
    pub name: String,
    pub description: String,
}

/// Everything the memberships page shows.
pub struct MembershipsPage<'a> {
    pub caller: &'a User,
    pub window: Window,
    pub total: i64,
    pub rows: &'a [MembershipRow],
    pub users: &'a [User],
    pub users_total: i64,
    pub groups: &'a [UserGroup],
    pub groups_total: i64,
    pub errors: &'a [String],
    pub echo: &'a Echo,
    pub changes: Changes<'a>,
}

pub fn memberships_page(p: &MembershipsPage<'_>) -> Markup {
    layout(
        "User group memberships",
        html! {
            header {
                h1 { "User group memberships" }
                p { "Signed in as " strong { (p.caller.login) } "." }
            }
            (errors_box(p.errors))
            (add_form(p))
            (memberships_table(p))
            (user_groups_section(p))
            (latest_changes(&p.changes))
        },
    )
}

fn add_form(p: &MembershipsPage<'_>) -> Markup {
    let users = p
        .users
        .iter()
        .map(|u| (u.id, format!("{} ({})", u.login, u.name)));
    let groups = p.groups.iter().map(|g| (g.id, g.name.clone()));
    html! {
        section aria-labelledby="add-heading" {
            h2 #add-heading { "Add a membership" }
            form.fields method="post" action=(p.window.url()) {
                (choice(Choice {
                    id: "membership-user",
                    label: "User",
                    name: "user_group_membership[user_id]",
                    what: "user",
                    chosen: &p.echo.user_id,
                    listed: p.users_total <= MAX_CHOICES,
                }, users))
                (choice(Choice {
                    id: "membership-group",
                    label: "User group",
                    name: "user_group_membership[user_group_id]",
                    what: "user group",
                    chosen: &p.echo.user_group_id,
                    listed: p.groups_total <= MAX_CHOICES,
                }, groups))
                button.primary type="submit" { "Add membership" }
            }
        }
    }
}

/// A labelled field that picks a record: a choice list, or an id field when
/// there are too many to list.
struct Choice<'a> {
    id: &'a str,
    label: &'a str,
    name: &'a str,
    what: &'a str,
    chosen: &'a str,
    listed: bool,
}

fn choice(c: Choice<'_>, options: impl Iterator<Item = (i64, String)>) -> Markup {
    html! {
        div {
            label for=(c.id) { (c.label) }
            @if c.listed {
                select id=(c.id) name=(c.name) required {
                    option value="" { "Choose a " (c.what) }
                    @for (id, text) in options {
                        option value=(id) selected[c.chosen == id.to_string()] { (text) }
                    }
                }
            } @else {
                input id=(c.id) type="number" min="1" required name=(c.name) value=(c.chosen)
                    placeholder={ (c.what) " id" };
            }
        }
    }
}

fn memberships_table(p: &MembershipsPage<'_>) -> Markup {
    let w = p.window;
    let shown = p.rows.len() as i64;
    html! {
        section aria-labelledby="memberships-heading" {
            h2 #memberships-heading { "Memberships" }
            p.muted {
                @if p.total == 0 {
                    "There are no memberships yet."
                } @else if shown == 0 {
                    "There are " (p.total) " memberships; none from number " (w.start) " on."
                } @else {
                    "Showing " (w.start) "–" (w.start + shown - 1) " of " (p.total) "."
                }
            }
            @if shown > 0 {
                table {
                    thead { tr { th { "Id" } th { "User" } th { "User group" } th { "Added (UTC)" } th { "Remove" } } }
                    tbody {
                        @for row in p.rows {
                            @let m = &row.membership;
                            @let login = row.user.as_ref().map_or("(gone)", |u| u.login.as_str());
                            @let group = row.user_group.as_ref().map_or("(gone)", |g| g.name.as_str());
                            tr #{ "membership-" (m.id) } {
                                td { (m.id) }
                                td { (login) }
                                td { (group) }
                                td { (m.created_at.format("%Y-%m-%d %H:%M")) }
                                td {
                                    form.inline method="post"
                                        action={ "/user-group-memberships/" (m.id) ".html" (w.query()) } {
                                        input type="hidden" name="_method" value="delete";
                                        button type="submit" aria-label={ "Delete " (login) " from " (group) } {
                                            "Delete"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            nav.pages aria-label="Pages of memberships" {
                @if w.start > 1 {
                    @let size = w.size();
                    @let prev = Window { start: (w.start - size).max(1), end: w.start - 1 };
                    a rel="prev" href=(prev.url()) { "← Previous" }
                }
                @if w.end < p.total {
                    @let next = Window { start: w.end + 1, end: w.end.saturating_add(w.size()) };
                    a rel="next" href=(next.url()) { "Next →" }
                }
            }
        }
    }
}

fn user_groups_section(p: &MembershipsPage<'_>) -> Markup {
    html! {
        section #user-groups aria-labelledby="groups-heading" {
            h2 #groups-heading { "User groups" }
            @if p.groups.is_empty() {
                p.muted { "There are no user groups yet." }
            } @else {
                table {
                    thead { tr { th { "Id" } th { "Name" } th { "Description" } th { "Members" } th { "Changes" } } }
                    tbody {
                        @for g in p.groups {
                            tr {
                                td { (g.id) } td { (g.name) } td { (g.description.as_deref().unwrap_or("")) }
                                td { a href=(members_path(g.id)) { "members" } }
                                td { a href={ (HISTORY_PATH) "?user_group_id=" (g.id) } { "history" } }
                            }
                        }
                    }
                }
                @if p.groups_total > p.groups.len() as i64 {
                    p.muted { "…and " (p.groups_total - p.groups.len() as i64) " more." }
                }
            }
            h3 { "Create a user group" }
            form.fields method="post" action={ "/user_groups.html" (p.window.query()) } {
                div {
                    label for="group-name" { "Name" }
                    input #group-name type="text" name="user_group[name]" required maxlength="255"
                        value=(p.echo.name);
                }
                div {
                    label for="group-description" { "Description" }
                    input #group-description type="text" name="user_group[description]"
                        value=(p.echo.description);
                }
                button.primary type="submit" { "Create user group" }
            }
        }
    }
}

/// Changes to memberships, newest first, with the users who made them
/// (those that still exist).
#[derive(Debug, Clone, Copy)]
pub struct Changes<'a> {
    pub rows: &'a [EventRow],
    pub actors: &'a [User],
}

fn latest_changes(changes: &Changes<'_>) -> Markup {
    html! {
        section #latest-changes aria-labelledby="changes-heading" {
            h2 #changes-heading { "Latest changes" }
            (changes_table(changes))
            p { a href=(HISTORY_PATH) { "All changes" } }
        }
    }
}

/// The table of changes, on the managers' page and the history page alike:
/// when (UTC), who, what, and how (the `via` of each event).
fn changes_table(changes: &Changes<'_>) -> Markup {
    html! {
        @if changes.rows.is_empty() {
            p.muted { "No changes yet." }
        } @else {
            table {
                thead { tr { th { "When (UTC)" } th { "Who" } th { "What" } th { "How" } } }
                tbody {
                    @for row in changes.rows {
                        (change_row(row, changes.actors))
                    }
                }
            }
        }
    }
}

fn change_row(row: &EventRow, actors: &[User]) -> Markup {
    let e = &row.event;
    let at = e.created_at;
    let to = if e.action == "removed" { "from" } else { "to" };
    html! {
        tr #{ "event-" (e.id) } {
            td { time datetime=(at.format("%Y-%m-%dT%H:%M:%SZ")) { (at.format("%Y-%m-%d %H:%M:%S")) } }
            td {
                @match e.actor_id {
                    None => { "command line" }
                    Some(id) => {
                        @match actors.iter().find(|u| u.id == id) {
                            Some(u) => { (u.login) " (" (u.name) ")" }
                            None => { "user #" (id) }
                        }
                    }
                }
            }
            td {
                (e.action) " "
                @match &row.user {
                    Some(u) => { (u.login) " (" (u.name) ")" }
                    None => { "user #" (e.user_id) }
                }
                " " (to) " "
                @match &row.user_group {
                    Some(g) => { (g.name) }
                    None => { "group #" (e.user_group_id) }
                }
            }
            td { (e.via) }
        }
    }
}

/// Whose changes the history page shows: all, or one group's (by its id,
/// with the group when it still exists).
#[derive(Debug, Clone, Copy)]
pub enum HistoryOf<'a> {
    All,
    UserGroup(i64, Option<&'a UserGroup>),
}

/// Everything the history page shows.
pub struct HistoryPage<'a> {
    pub caller: &'a User,
    pub of: HistoryOf<'a>,
    pub changes: Changes<'a>,
}

/// The history page: the newest [`HISTORY_ROWS`] changes, of every group
/// or of one.
pub fn history_page(p: &HistoryPage<'_>) -> Markup {
    let title = match p.of {
        HistoryOf::All => "Changes".to_string(),
        HistoryOf::UserGroup(_, Some(g)) => format!("Changes to user group {}", g.name),
        HistoryOf::UserGroup(id, None) => format!("Changes to user group #{id}"),
    };
    let shown = p.changes.rows.len() as i64;
    layout(
        &title,
        html! {
            header {
                h1 { (title) }
                p { "Signed in as " strong { (p.caller.login) } "." }
            }
            nav.pages aria-label="Related pages" {
                a href=(PAGE_PATH) { "← User group memberships" }
                @if let HistoryOf::UserGroup(..) = p.of {
                    a href=(HISTORY_PATH) { "All changes" }
                }
            }
            @if shown >= HISTORY_ROWS {
                p.muted {
                    "The newest " (HISTORY_ROWS) " changes, newest first; the whole history is in "
                    code { "/membership-events.xml" } "."
                }
            }
            (changes_table(&p.changes))
        },
    )
}

/// What a group's members page says above its forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The manager's changes were applied (from the 303's query).
    Applied {
        added: u64,
        removed: u64,
        unchanged: u64,
    },
    /// The group changed between the preview and the apply: the preview
    /// shown is a new one.
    Changed,
}

/// Users listed in a table of the members page: how many there are, and
/// the first [`MAX_LISTED`] of them that still exist.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    pub total: usize,
    pub users: &'a [User],
}

/// A member set previewed: what applying it would change, and what the
/// apply form carries (the set's user ids and the `ETag` it was planned
/// against).
#[derive(Debug, Clone, Copy)]
pub struct Preview<'a> {
    pub added: Listed<'a>,
    pub removed: Listed<'a>,
    pub unchanged: usize,
    pub user_ids: &'a str,
    pub etag: &'a str,
}

/// Everything a group's members page shows.
pub struct MembersPage<'a> {
    pub caller: &'a User,
    pub group: &'a UserGroup,
    pub members: Listed<'a>,
    pub notice: Option<Notice>,
    pub preview: Option<Preview<'a>>,
    pub errors: &'a [String],
    /// The logins pasted, shown again in the text area.
    pub pasted: &'a str,
    pub changes: Changes<'a>,
}

/// A group's members page: its members, the form that previews a new set
/// (pasted logins or a CSV file), the preview with its apply form, and the
/// group's latest changes.
pub fn members_page(p: &MembersPage<'_>) -> Markup {
    let g = p.group;
    let title = format!("Members of {}", g.name);
    layout(
        &title,
        html! {
            header {
                h1 { (title) }
                p { "Signed in as " strong { (p.caller.login) } "." }
            }
            nav.pages aria-label="Related pages" {
                a href=(PAGE_PATH) { "← User group memberships" }
                a href={ (HISTORY_PATH) "?user_group_id=" (g.id) } { "All changes to this group" }
            }
            (errors_box(p.errors))
            @match p.notice {
                Some(Notice::Changed) => {
                    div.notice #notice role="alert" {
                        "The members of this group changed since your preview; here is the new preview."
                    }
                }
                Some(Notice::Applied { added, removed, unchanged }) => {
                    div.notice #notice role="status" {
                        "Applied: " (added) " added, " (removed) " removed, " (unchanged) " unchanged."
                    }
                }
                None => {}
            }
            @if let Some(preview) = &p.preview {
                (preview_section(g, preview))
            }
            (set_form(g, p.pasted))
            section #members aria-labelledby="members-heading" {
                h2 #members-heading { "Members (" (p.members.total) ")" }
                @if p.members.total == 0 {
                    p.muted { "This group has no members." }
                } @else {
                    (users_table(p.members, "member-"))
                }
            }
            section #latest-changes aria-labelledby="changes-heading" {
                h2 #changes-heading { "Latest changes" }
                (changes_table(&p.changes))
            }
        },
    )
}

fn preview_section(g: &UserGroup, p: &Preview<'_>) -> Markup {
    let nothing = p.added.total == 0 && p.removed.total == 0;
    html! {
        section #preview aria-labelledby="preview-heading" {
            h2 #preview-heading { "Preview" }
            @if nothing {
                p { "Nothing to change: the group already has exactly these members." }
            } @else {
                p.muted { "Nothing has changed yet." }
                @if p.unchanged == 0 && p.added.total == 0 {
                    p.warning { "This empties the group: every member (" (p.removed.total) ") will be removed." }
                }
                h3 #to-add { "To be added (" (p.added.total) ")" }
                @if p.added.total == 0 { p.muted { "No one." } } @else { (users_table(p.added, "add-")) }
                h3 #to-remove { "To be removed (" (p.removed.total) ")" }
                @if p.removed.total == 0 { p.muted { "No one." } } @else { (users_table(p.removed, "remove-")) }
                p #unchanged {
                    @if p.unchanged == 1 { "1 member stays as it is." }
                    @else { (p.unchanged) " members stay as they are." }
                }
                form.fields method="post" action=(members_path(g.id)) {
                    input type="hidden" name="step" value="apply";
                    input type="hidden" name="user_ids" value=(p.user_ids);
                    input type="hidden" name="if_match" value=(p.etag);
                    button.primary type="submit" { "Apply these changes" }
                }
            }
        }
    }
}

fn set_form(g: &UserGroup, pasted: &str) -> Markup {
    html! {
        section #set-members aria-labelledby="set-heading" {
            h2 #set-heading { "Set the members" }
            p.muted {
                "Paste logins, one a line, or choose a CSV file whose first line names a "
                code { "login" } " or " code { "user_id" } " column. The preview shows who would "
                "be added and who removed; nothing changes until you apply it."
            }
            form.fields method="post" enctype="multipart/form-data" action=(members_path(g.id)) {
                input type="hidden" name="step" value="preview";
                div {
                    label for="member-logins" { "Logins, one a line" }
                    textarea #member-logins name="logins" rows="8" { (pasted) }
                }
                div {
                    label for="member-csv" { "Or a CSV file" }
                    input #member-csv type="file" name="csv" accept=".csv,text/csv";
                }
                button.primary type="submit" { "Preview" }
            }
        }
    }
}

/// Users by login and name, with how many more there are than shown; each
/// row's id is `id_prefix` and the user's id.
fn users_table(listed: Listed<'_>, id_prefix: &str) -> Markup {
    let more = listed.total.saturating_sub(listed.users.len());
    html! {
        table {
            thead { tr { th { "Login" } th { "Name" } } }
            tbody {
                @for u in listed.users {
                    tr #{ (id_prefix) (u.id) } { td { (u.login) } td { (u.name) } }
                }
            }
        }
        @if more > 0 {
            p.muted { "…and " (more) " more." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_of_page_size() {
        assert_eq!(Window::around(1), Window { start: 1, end: 50 });
        assert_eq!(Window::around(50), Window { start: 1, end: 50 });
        assert_eq!(
            Window::around(51),
            Window {
                start: 51,
                end: 100
            }
        );
        assert_eq!(Window::around(0), Window { start: 1, end: 50 });
    }

    #[test]
    fn the_error_page_escapes_messages() {
        let page = error_page(
            StatusCode::NOT_FOUND,
            &["<script>alert(1)</script> & \"x\"".into()],
        )
        .into_string();
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("<title>Not Found · syncd</title>"));
    }

    fn render(users_total: i64, groups_total: i64) -> String {
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc();
        let user = User {
            id: 7,
            login: "alice".into(),
            name: "Alice".into(),
            email_address: None,
            user_group_manager: true,
            created_at: at,
            updated_at: at,
        };
        let group = UserGroup {
            id: 9,
            name: "Editors".into(),
            description: None,
            created_at: at,
            updated_at: at,
        };
        let echo = Echo {
            user_id: "7".into(),
            ..Echo::default()
        };
        memberships_page(&MembershipsPage {
            caller: &user,
            window: Window::around(1),
            total: 0,
            rows: &[],
            users: std::slice::from_ref(&user),
            users_total,
            groups: std::slice::from_ref(&group),
            groups_total,
            errors: &[],
            echo: &echo,
            changes: Changes {
                rows: &[],
                actors: &[],
            },
        })
        .into_string()
    }

    #[test]
    fn too_many_to_list_asks_for_an_id() {
        let listed = render(1, MAX_CHOICES);
        assert!(listed.contains(r#"<option value="7" selected>alice (Alice)</option>"#));
        assert!(listed.contains(r#"<option value="9">Editors</option>"#));
        let ids = render(MAX_CHOICES + 1, MAX_CHOICES + 1);
        assert!(!ids.contains("<select"));
        assert!(ids.contains(
            r#"<input id="membership-user" type="number" min="1" required name="user_group_membership[user_id]" value="7" placeholder="user id">"#
        ));
        assert!(ids.contains(
            r#"name="user_group_membership[user_group_id]" value="" placeholder="user group id">"#
        ));
        assert!(ids.contains(r#"<label for="membership-group">User group</label>"#));
    }

    #[test]
    fn a_members_page_counts_what_it_does_not_list_and_escapes_the_set() {
        let at = chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc();
        let user = |id: i64| User {
            id,
            login: format!("user{id}"),
            name: "<i>x</i>".into(),
            email_address: None,
            user_group_manager: false,
            created_at: at,
            updated_at: at,
        };
        let removed: Vec<User> = (1..=3).map(user).collect();
        let group = UserGroup {
            id: 9,
            name: "Editors".into(),
            description: None,
            created_at: at,
            updated_at: at,
        };
        let page = members_page(&MembersPage {
            caller: &removed[0],
            group: &group,
            members: Listed {
                total: 1500,
                users: &removed,
            },
            notice: None,
            preview: Some(Preview {
                added: Listed {
                    total: 0,
                    users: &[],
                },
                removed: Listed {
                    total: 1500,
                    users: &removed,
                },
                unchanged: 0,
                user_ids: "",
                etag: "\"members-1\"",
            }),
            errors: &[],
            pasted: "</textarea><b>",
            changes: Changes {
                rows: &[],
                actors: &[],
            },
        })
        .into_string();
        assert_eq!(page.matches("…and 1497 more.").count(), 2, "{page}");
        assert!(page.contains("This empties the group: every member (1500) will be removed."));
        assert!(page.contains(r#"name="if_match" value="&quot;members-1&quot;""#));
        assert!(page.contains(r#"name="user_ids" value="""#));
        assert!(page.contains("&lt;/textarea&gt;&lt;b&gt;</textarea>"));
        assert!(page.contains("<td>&lt;i&gt;x&lt;/i&gt;</td>"));
        assert!(!page.contains("<b>") && !page.contains("<i>"));
    }

    #[test]
    fn the_policy_names_the_hash_of_the_stylesheet() {
        let expected =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(CSS.as_bytes()));
        assert!(CSP.contains(&format!("style-src 'sha256-{expected}'")));
        assert!(CSP.starts_with("default-src 'none'"));
    }
}
