//! The managers' HTML page at /user-group-memberships(.html), and the
//! answers to the forms it posts. (tests/browser drives it in Chromium.)

use reqwest::Method;
use reqwest::blocking::multipart::{Form, Part};

use crate::helpers::{Resp, TestApp, ids_in_list, insert_user, membership_xml, spawn_app};

const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";

fn page(app: &TestApp, path: &str) -> Resp {
    let r = app.get(path);
    assert_eq!(r.status, 200, "{r:?}");
    assert_html(&r);
    r
}

fn assert_html(r: &Resp) {
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert!(csp.contains("form-action 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(!r.body.contains("<script"), "no script on the page");
}

/// A form post from the page itself.
fn submit(app: &TestApp, path: &str, body: &str) -> Resp {
    app.send(
        app.request(Method::POST, path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", BROWSER_ACCEPT)
            .header("Origin", &app.address)
            .body(body.to_string()),
    )
}

fn row_ids(body: &str) -> Vec<i64> {
    body.split("<tr id=\"membership-")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

fn error_messages(body: &str) -> Vec<String> {
    let Some(start) = body.find("<div class=\"errors\" role=\"alert\">") else {
        return Vec::new();
    };
    let block = &body[start..start + body[start..].find("</div>").unwrap()];
    block
        .split("<li>")
        .skip(1)
        .map(|s| s[..s.find("</li>").unwrap()].to_string())
        .collect()
}

#[test]
fn browsers_get_the_page_and_scripts_get_xml() {
    let app = spawn_app();
    page(&app, "/user-group-memberships.html");
    let r = app.send(
        app.request(Method::GET, "/user-group-memberships")
            .header("Accept", BROWSER_ACCEPT),
    );
    assert_eq!(r.status, 200);
    assert_html(&r);
    for accept in ["*/*", "application/xml", "text/xml, text/html;q=0.5"] {
        let r = app.send(
            app.request(Method::GET, "/user-group-memberships")
                .header("Accept", accept),
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/xml; charset=utf-8"),
            "{accept}"
        );
    }
    let head = app.send(app.request(Method::HEAD, "/user-group-memberships.html"));
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
}

#[test]
fn the_page_shows_logins_and_group_names_escaped() {
    let app = spawn_app();
    let alice = app.user("alice");
    let group = app.group("<script>alert(\"x\")</script> & Co");
    let id = app.add(alice, group);
    let r = page(&app, "/user-group-memberships.html");
    assert_eq!(row_ids(&r.body), vec![id]);
    let row = &r.body[r
        .body
        .find(&format!("<tr id=\"membership-{id}\">"))
        .unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<td>alice</td>"), "{row}");
    assert!(
        row.contains("<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co</td>"),
        "{row}"
    );
    // Its delete button, labelled with what it deletes.
    assert!(row.contains(&format!(
        "action=\"/user-group-memberships/{id}.html?start=1&amp;end=50\""
    )));
    assert!(row.contains("<input type=\"hidden\" name=\"_method\" value=\"delete\">"));
    assert!(row.contains("aria-label=\"Delete alice from &lt;script&gt;"));
    assert!(r.body.contains("Signed in as <strong>manager</strong>."));
}

#[test]
fn every_control_has_a_label() {
    let app = spawn_app();
    let id = app.add(app.user("alice"), app.group("Editors"));
    let body = page(&app, "/user-group-memberships.html").body;
    let mut controls = 0;
    for tag in ["<select ", "<input ", "<textarea "] {
        for part in body.split(tag).skip(1) {
            let attrs = &part[..part.find('>').unwrap()];
            if attrs.contains("type=\"hidden\"") {
                continue;
            }
            let id = attrs
                .split("id=\"")
                .nth(1)
                .map(|s| &s[..s.find('"').unwrap()])
                .unwrap_or_else(|| panic!("a control without an id: {attrs}"));
            assert!(
                body.contains(&format!("<label for=\"{id}\">")),
                "no label for {id}"
            );
            controls += 1;
        }
    }
    assert_eq!(controls, 4, "user, group, name, description");
    for button in body.split("<button ").skip(1) {
        let text = &button[button.find('>').unwrap() + 1..button.find("</button>").unwrap()];
        assert!(!text.trim().is_empty(), "a button without words");
    }
    assert!(body.contains(&format!("<tr id=\"membership-{id}\">")));
}

#[test]
fn the_page_is_paged_with_start_and_end() {
    let app = spawn_app();
    let group = app.group("Editors");
    let ids: Vec<i64> = (0..60)
        .map(|i| app.add_directly(app.user(&format!("user{i}")), group))
        .collect();
    let first = page(&app, "/user-group-memberships.html").body;
    assert_eq!(row_ids(&first), ids[..50]);
    assert!(first.contains("Showing 1–50 of 60."));
    assert!(
        first.contains(
            "<a rel=\"next\" href=\"/user-group-memberships.html?start=51&amp;end=100\">"
        )
    );
    assert!(!first.contains("rel=\"prev\""));
    let second = page(&app, "/user-group-memberships.html?start=51&end=100").body;
    assert_eq!(row_ids(&second), ids[50..]);
    assert!(second.contains("Showing 51–60 of 60."));
    assert!(
        second
            .contains("<a rel=\"prev\" href=\"/user-group-memberships.html?start=1&amp;end=50\">")
    );
    assert!(!second.contains("rel=\"next\""));
    let narrow = page(&app, "/user-group-memberships.html?start=3&end=4").body;
    assert_eq!(row_ids(&narrow), ids[2..4]);
    let past = page(&app, "/user-group-memberships.html?start=100").body;
    assert!(row_ids(&past).is_empty());
    assert!(past.contains("There are 60 memberships; none from number 100 on."));

    let bad = app.get("/user-group-memberships.html?start=0");
    assert_eq!(bad.status, 400);
    assert_html(&bad);
    assert!(
        bad.body.contains("start must be a positive integer"),
        "{}",
        bad.body
    );
}

#[test]
fn adding_from_the_page_redirects_to_the_page_that_shows_it() {
    let app = spawn_app();
    let group = app.group("Editors");
    for i in 0..50 {
        app.add_directly(app.user(&format!("user{i}")), group);
    }
    let alice = app.user("alice");
    let r = submit(
        &app,
        "/user-group-memberships.html?start=1&end=50",
        &format!(
            "user_group_membership%5Buser_id%5D={alice}&user_group_membership%5Buser_group_id%5D={group}"
        ),
    );
    assert_eq!(r.status, 303, "{r:?}");
    let location = r.header("location").unwrap();
    let id = row_ids(&page(&app, "/user-group-memberships.html?start=51").body)[0];
    assert_eq!(
        location,
        format!("/user-group-memberships.html?start=51&end=100#membership-{id}")
    );
    let shown = page(&app, location.split('#').next().unwrap()).body;
    assert!(shown.contains(&format!(
        "<tr id=\"membership-{id}\"><td>{id}</td><td>alice</td><td>Editors</td>"
    )));
}

#[test]
fn problems_come_back_on_the_page_in_plain_words() {
    let app = spawn_app();
    let (alice, group) = (app.user("alice"), app.group("Editors"));
    app.add(alice, group);
    let body = format!("user_id={alice}&user_group_id={group}");
    let r = submit(&app, "/user-group-memberships.html", &body);
    assert_eq!(r.status, 422);
    assert_html(&r);
    assert_eq!(
        error_messages(&r.body),
        vec!["Membership with this User and Group already exists."]
    );
    // The choices stay as they were.
    assert!(
        r.body
            .contains(&format!("<option value=\"{alice}\" selected>alice"))
    );
    assert!(
        r.body
            .contains(&format!("<option value=\"{group}\" selected>Editors"))
    );

    let r = submit(
        &app,
        "/user-group-memberships",
        "user_id=999&user_group_id=998",
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        error_messages(&r.body),
        vec!["User 999 does not exist.", "User group 998 does not exist."]
    );
    let r = submit(
        &app,
        "/user_groups.html",
        "user_group%5Bname%5D=Editors&user_group%5Bdescription%5D=%3Cb%3E",
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        error_messages(&r.body),
        vec!["A user group named &quot;Editors&quot; already exists."]
    );
    assert!(
        r.body
            .contains("name=\"user_group[description]\" value=\"&lt;b&gt;\"")
    );
    let r = submit(&app, "/user-group-memberships/12345.html", "_method=delete");
    assert_eq!(r.status, 404);
    assert_eq!(
        error_messages(&r.body),
        vec!["Membership 12345 does not exist."]
    );
}

#[test]
fn deleting_and_creating_groups_from_the_page_redirect_back() {
    let app = spawn_app();
    let id = app.add(app.user("alice"), app.group("Editors"));
    let r = submit(
        &app,
        &format!("/user-group-memberships/{id}.html?start=1&end=50"),
        "_method=delete",
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(
        r.header("location"),
        Some("/user-group-memberships.html?start=1&end=50#memberships-heading")
    );
    assert!(row_ids(&page(&app, "/user-group-memberships.html").body).is_empty());

    let r = submit(
        &app,
        "/user_groups.html?start=51&end=100",
        "user_group%5Bname%5D=Writers&user_group%5Bdescription%5D=They+write",
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(
        r.header("location"),
        Some("/user-group-memberships.html?start=51&end=100#user-groups")
    );
    let body = page(&app, "/user-group-memberships.html").body;
    assert!(
        body.contains("<td>Writers</td><td>They write</td>"),
        "{body}"
    );
    assert!(body.contains(">Writers</option>"));
}

#[test]
fn signing_in_and_the_role_check_are_pages_too() {
    let app = spawn_app();
    let r = app.send(
        app.client
            .get(app.url("/user-group-memberships"))
            .header("Accept", BROWSER_ACCEPT),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"Syncd\""));
    assert_html(&r);
    assert!(r.body.contains("Sign in"));
    let (_, token) = insert_user(&app.pool, "bob", false, Some("secret-pass"));
    let r = app.send(
        app.client
            .get(app.url("/user-group-memberships.html"))
            .basic_auth(&token, Some("X")),
    );
    assert_eq!(r.status, 403);
    assert_html(&r);
    assert!(r.body.contains("Only User Group Managers"));
    let r = app.send(
        app.client
            .get(app.url("/user-group-memberships.html"))
            .basic_auth("bob", Some("secret-pass")),
    );
    assert_eq!(r.status, 403);
}

/// The changes a page shows, newest first: each event's id and its cells
/// (when, who, what, how), the markup between `<td>` and `</td>`.
fn changes(body: &str) -> Vec<(i64, Vec<String>)> {
    body.split("<tr id=\"event-")
        .skip(1)
        .map(|s| {
            let id = s[..s.find('"').unwrap()].parse().unwrap();
            let row = &s[..s.find("</tr>").unwrap()];
            let cells = row
                .split("<td>")
                .skip(1)
                .map(|c| c[..c.find("</td>").unwrap()].to_string())
                .collect();
            (id, cells)
        })
        .collect()
}

/// The (who, what, how) of each change, newest first.
fn change_words(body: &str) -> Vec<(String, String, String)> {
    changes(body)
        .into_iter()
        .map(|(_, c)| (c[1].clone(), c[2].clone(), c[3].clone()))
        .collect()
}

fn words(who: &str, what: &str, how: &str) -> (String, String, String) {
    (who.into(), what.into(), how.into())
}

/// The part of the managers' page under "Latest changes".
fn latest_section(body: &str) -> &str {
    let start = body
        .find("<section id=\"latest-changes\"")
        .expect("a Latest changes section");
    let rest = &body[start..];
    &rest[..rest.find("</section>").unwrap()]
}

#[test]
fn the_page_shows_the_latest_changes_who_what_how_and_when() {
    let app = spawn_app();
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let (editors, writers) = (app.group("Editors"), app.group("Writers"));
    // Older changes from the command line: only the newest 20 are shown.
    let seeded = app.group("Seeded");
    for i in 0..20 {
        app.add_directly(app.user(&format!("user{i}")), seeded);
    }
    let add = |user: i64, group: i64| {
        let body = format!(
            "user_group_membership%5Buser_id%5D={user}&user_group_membership%5Buser_group_id%5D={group}"
        );
        let r = submit(&app, "/user-group-memberships.html", &body);
        assert_eq!(r.status, 303, "{r:?}");
    };
    add(alice, editors);
    let id = *row_ids(&page(&app, "/user-group-memberships.html?end=500").body)
        .last()
        .unwrap();
    let r = submit(
        &app,
        &format!("/user-group-memberships/{id}.html"),
        "_method=delete",
    );
    assert_eq!(r.status, 303, "{r:?}");
    add(bob, writers);
    // Another manager adds through the API, and is then deleted.
    let (carol, carol_token) = insert_user(&app.pool, "carol", true, None);
    let r = app.send(
        app.client
            .post(app.url("/user-group-memberships.xml"))
            .header("X-API-KEY", &carol_token)
            .header("Content-Type", "application/xml")
            .body(membership_xml(alice, writers)),
    );
    assert_eq!(r.status, 201, "{r:?}");
    {
        let mut conn = app.pool.get().unwrap();
        syncd::db::queries::users::delete_by_login(&mut conn, "carol")
            .unwrap()
            .unwrap();
    }
    let r = app.delete(&format!("/user_groups/{writers}.xml"));
    assert!(r.status == 200 || r.status == 204, "{r:?}");

    let body = page(&app, "/user-group-memberships.html").body;
    let section = latest_section(&body);
    assert!(section.contains("<h2 id=\"changes-heading\">Latest changes</h2>"));
    assert!(section.contains("<a href=\"/membership-events.html\">All changes</a>"));
    let shown = changes(section);
    assert_eq!(shown.len(), 20, "the newest 20 of 26");
    let ids: Vec<i64> = shown.iter().map(|(id, _)| *id).collect();
    let mut newest_first = ids.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first);
    let manager = "manager (manager name)";
    let mut shown_words = change_words(section);
    // Deleting the group removed both its members at once, by the manager
    // (in whichever order the database took them).
    shown_words[..2].sort();
    assert_eq!(
        shown_words[..7],
        [
            words(
                manager,
                &format!("removed alice (alice name) from group #{writers}"),
                "group-delete"
            ),
            words(
                manager,
                &format!("removed bob (bob name) from group #{writers}"),
                "group-delete"
            ),
            words(
                &format!("user #{carol}"),
                &format!("added alice (alice name) to group #{writers}"),
                "api"
            ),
            words(
                manager,
                &format!("added bob (bob name) to group #{writers}"),
                "form"
            ),
            words(manager, "removed alice (alice name) from Editors", "form"),
            words(manager, "added alice (alice name) to Editors", "form"),
            words(
                "command line",
                "added user19 (user19 name) to Seeded",
                "import"
            ),
        ]
    );
    // When: the event's time as the feed has it, in a <time> element.
    let feed = app.get(&format!("/membership-events.xml?after_id={}", ids[1]));
    let tag = "<created-at type=\"datetime\">";
    let at = &feed.body[feed.body.find(tag).unwrap() + tag.len()..];
    let at = &at[..at.find('<').unwrap()];
    assert!(at.ends_with('Z'), "{at}");
    let shown_at = format!("{} {}", &at[..10], &at[11..19]);
    assert_eq!(
        shown[0].1[0],
        format!("<time datetime=\"{at}\">{shown_at}</time>")
    );
    assert!(
        !section.contains("user0 (user0 name)"),
        "older than the newest 20"
    );
}

#[test]
fn each_group_has_its_history_one_click_away() {
    let app = spawn_app();
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let (editors, writers) = (app.group("Editors"), app.group("Writers"));
    app.add(alice, editors);
    app.add(bob, writers);
    app.add(bob, editors);
    let body = page(&app, "/user-group-memberships.html").body;
    for g in [editors, writers] {
        assert!(
            body.contains(&format!(
                "<a href=\"/membership-events.html?user_group_id={g}\">history</a>"
            )),
            "{body}"
        );
    }

    let r = page(
        &app,
        &format!("/membership-events.html?user_group_id={editors}"),
    );
    assert!(
        r.body
            .contains("<title>Changes to user group Editors · syncd</title>")
    );
    assert!(r.body.contains("<h1>Changes to user group Editors</h1>"));
    assert!(r.body.contains("<a href=\"/user-group-memberships.html\">"));
    assert_eq!(
        change_words(&r.body),
        [
            words(
                "manager (manager name)",
                "added bob (bob name) to Editors",
                "api"
            ),
            words(
                "manager (manager name)",
                "added alice (alice name) to Editors",
                "api"
            ),
        ]
    );
    let mut feed = ids_in_list(
        &app.get(&format!("/membership-events.xml?user_group_id={editors}"))
            .body,
    );
    feed.reverse();
    let shown: Vec<i64> = changes(&r.body).iter().map(|(id, _)| *id).collect();
    assert_eq!(shown, feed);

    // Every group's changes, from a browser asking for the feed's path.
    let all = app.send(
        app.request(Method::GET, "/membership-events")
            .header("Accept", BROWSER_ACCEPT),
    );
    assert_eq!(all.status, 200);
    assert_html(&all);
    assert!(all.body.contains("<h1>Changes</h1>"));
    assert_eq!(changes(&all.body).len(), 3);

    // A deleted group's history stays, named by its id.
    assert!(app.delete(&format!("/user_groups/{writers}.xml")).status < 300);
    let gone = page(
        &app,
        &format!("/membership-events.html?user_group_id={writers}"),
    )
    .body;
    assert!(gone.contains(&format!("<h1>Changes to user group #{writers}</h1>")));
    assert_eq!(
        change_words(&gone),
        [
            words(
                "manager (manager name)",
                &format!("removed bob (bob name) from group #{writers}"),
                "group-delete"
            ),
            words(
                "manager (manager name)",
                &format!("added bob (bob name) to group #{writers}"),
                "api"
            ),
        ]
    );
    let none = page(&app, "/membership-events.html?user_group_id=99999").body;
    assert!(none.contains("<h1>Changes to user group #99999</h1>"));
    assert!(none.contains("No changes yet."));
    assert!(changes(&none).is_empty());
}

#[test]
fn the_history_escapes_what_it_shows() {
    let app = spawn_app();
    let alice = app.user("alice");
    let group = app.group("<script>alert(\"x\")</script> & Co");
    app.add(alice, group);
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co";
    // page() checks that no <script> got through.
    let r = page(
        &app,
        &format!("/membership-events.html?user_group_id={group}"),
    );
    assert!(
        r.body
            .contains(&format!("<h1>Changes to user group {escaped}</h1>"))
    );
    assert!(r.body.contains(&format!(
        "<title>Changes to user group {escaped} · syncd</title>"
    )));
    assert_eq!(
        change_words(&r.body),
        [words(
            "manager (manager name)",
            &format!("added alice (alice name) to {escaped}"),
            "api"
        )]
    );
    let main = page(&app, "/user-group-memberships.html").body;
    assert_eq!(
        change_words(latest_section(&main))[0].1,
        format!("added alice (alice name) to {escaped}")
    );
}

#[test]
fn the_history_takes_one_positive_group_id() {
    let app = spawn_app();
    for (query, message) in [
        (
            "user_group_id=abc",
            "user_group_id must be a positive integer, not &quot;abc&quot;.",
        ),
        (
            "user_group_id=0",
            "user_group_id must be a positive integer, not &quot;0&quot;.",
        ),
        (
            "user_group_id=1,2",
            "user_group_id must be a positive integer, not &quot;1,2&quot;.",
        ),
        (
            "user_group_id=1&user_group_id=2",
            "user_group_id names one user group here: give it once.",
        ),
    ] {
        let r = app.get(&format!("/membership-events.html?{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert_html(&r);
        assert_eq!(error_messages(&r.body), vec![message], "{query}");
    }
    // The feed itself still takes lists of groups.
    let r = app.get("/membership-events.xml?user_group_id=1,2");
    assert_eq!(r.status, 200, "{r:?}");
}

// A group's members page: preview a set, then apply exactly it.

fn members_url(group: i64) -> String {
    format!("/user_groups/{group}/members.html")
}

/// The preview form as a browser sends it: multipart, with the logins
/// pasted and the file input (empty when no file was chosen).
fn preview_form(logins: &str, csv: Option<&str>) -> Form {
    let file = match csv {
        Some(text) => Part::bytes(text.as_bytes().to_vec())
            .file_name("members.csv")
            .mime_str("text/csv")
            .unwrap(),
        None => Part::bytes(Vec::new())
            .file_name("")
            .mime_str("application/octet-stream")
            .unwrap(),
    };
    Form::new()
        .text("step", "preview")
        .text("logins", logins.to_string())
        .part("csv", file)
}

fn post_preview(app: &TestApp, group: i64, form: Form) -> Resp {
    app.send(
        app.request(Method::POST, &members_url(group))
            .header("Origin", &app.address)
            .multipart(form),
    )
}

fn preview(app: &TestApp, group: i64, logins: &str) -> Resp {
    post_preview(app, group, preview_form(logins, None))
}

/// The value of the hidden field `name` of the apply form.
fn hidden(body: &str, name: &str) -> Option<String> {
    let key = format!("<input type=\"hidden\" name=\"{name}\" value=\"");
    let at = body.find(&key)? + key.len();
    Some(body[at..at + body[at..].find('"').unwrap()].replace("&quot;", "\""))
}

/// Posts the apply form of a preview, as shown.
fn apply_preview(app: &TestApp, group: i64, preview: &str) -> Resp {
    let ids = hidden(preview, "user_ids").expect("an apply form");
    let etag = hidden(preview, "if_match").unwrap();
    submit(
        app,
        &members_url(group),
        &serde_urlencoded::to_string([
            ("step", "apply"),
            ("user_ids", ids.as_str()),
            ("if_match", etag.as_str()),
        ])
        .unwrap(),
    )
}

/// The logins in a table of the members page whose rows' ids start with
/// `prefix` (`add-`, `remove-`, `member-`), with the names shown.
fn listed(body: &str, prefix: &str) -> Vec<String> {
    body.split(&format!("<tr id=\"{prefix}"))
        .skip(1)
        .map(|s| {
            let row = &s[s.find('>').unwrap() + 1..s.find("</tr>").unwrap()];
            row.replace("</td><td>", " / ")
                .replace("<td>", "")
                .replace("</td>", "")
        })
        .collect()
}

fn group_members(app: &TestApp, group: i64) -> Vec<i64> {
    let r = app.get(&format!("/user_groups/{group}/members.json"));
    assert_eq!(r.status, 200, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    v["user_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_i64().unwrap())
        .collect()
}

/// The feed's events as (action, user id, group id, via).
fn feed(app: &TestApp) -> Vec<(String, i64, i64, String)> {
    let r = app.get("/membership-events.json");
    let list: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap();
    list.iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["user_id"].as_i64().unwrap(),
                e["user_group_id"].as_i64().unwrap(),
                e["via"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn each_group_has_a_members_page_with_a_form_to_set_them() {
    let app = spawn_app();
    let alice = app.user("alice");
    let group = app.group("<b>Editors</b> & Co");
    app.add(alice, group);
    let main = page(&app, "/user-group-memberships.html").body;
    assert!(main.contains(&format!(
        "<a href=\"/user_groups/{group}/members.html\">members</a>"
    )));
    let r = page(&app, &members_url(group));
    let body = &r.body;
    assert!(body.contains("<h1>Members of &lt;b&gt;Editors&lt;/b&gt; &amp; Co</h1>"));
    assert_eq!(listed(body, "member-"), ["alice / alice name"]);
    assert!(body.contains("Members (1)"));
    assert!(body.contains(&format!(
        "<form class=\"fields\" method=\"post\" enctype=\"multipart/form-data\" action=\"/user_groups/{group}/members.html\">"
    )));
    assert!(body.contains("<label for=\"member-logins\">Logins, one a line</label>"));
    assert!(body.contains("<label for=\"member-csv\">Or a CSV file</label>"));
    assert!(body.contains("<button class=\"primary\" type=\"submit\">Preview</button>"));
    assert!(
        !body.contains("name=\"if_match\""),
        "no preview, no apply form"
    );
    // The group's latest changes.
    assert_eq!(
        change_words(body),
        [words(
            "manager (manager name)",
            "added alice (alice name) to &lt;b&gt;Editors&lt;/b&gt; &amp; Co",
            "api"
        )]
    );
    // Scripts still get the set; a group that does not exist is a 404 page.
    let r = app.get(&format!("/user_groups/{group}/members.xml"));
    assert_eq!(
        r.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    let r = app.send(
        app.request(Method::GET, &format!("/user-groups/{group}/members"))
            .header("Accept", BROWSER_ACCEPT),
    );
    assert_eq!(r.status, 200);
    assert_html(&r);
    let r = app.get("/user_groups/99999/members.html");
    assert_eq!(r.status, 404);
    assert_html(&r);
    assert_eq!(
        error_messages(&r.body),
        ["User group 99999 does not exist."]
    );
}

#[test]
fn a_preview_shows_who_is_added_and_removed_and_changes_nothing() {
    let app = spawn_app();
    let (alice, bob, carol) = (app.user("alice"), app.user("bob"), app.user("carol"));
    let group = app.group("Editors");
    app.add(alice, group);
    app.add(bob, group);
    let events_before = feed(&app);
    let etag = app
        .get(&format!("/user_groups/{group}/members.json"))
        .header("etag")
        .unwrap()
        .to_string();

    let r = preview(&app, group, "bob\r\n\r\n  carol  \r\ncarol\r\n");
    assert_eq!(r.status, 200, "{r:?}");
    assert_html(&r);
    let body = &r.body;
    assert_eq!(listed(body, "add-"), ["carol / carol name"]);
    assert_eq!(listed(body, "remove-"), ["alice / alice name"]);
    assert!(body.contains("<h3 id=\"to-add\">To be added (1)</h3>"));
    assert!(body.contains("<h3 id=\"to-remove\">To be removed (1)</h3>"));
    assert!(body.contains("<p id=\"unchanged\">1 member stays as it is.</p>"));
    assert!(body.contains("Nothing has changed yet."));
    // The apply form carries the set previewed, as user ids, and its ETag.
    assert!(body.contains("<input type=\"hidden\" name=\"step\" value=\"apply\">"));
    assert_eq!(hidden(body, "user_ids"), Some(format!("{bob},{carol}")));
    assert_eq!(hidden(body, "if_match"), Some(etag));
    assert!(
        body.contains("<button class=\"primary\" type=\"submit\">Apply these changes</button>")
    );
    // The pasted logins stay in the text area.
    assert!(
        body.contains("rows=\"8\">bob\r\n\r\n  carol  \r\ncarol</textarea>"),
        "{body}"
    );
    assert_eq!(group_members(&app, group), [alice, bob]);
    assert_eq!(feed(&app), events_before);

    // The same set again: nothing to apply.
    let r = preview(&app, group, "alice\nbob");
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains("Nothing to change: the group already has exactly these members.")
    );
    assert!(hidden(&r.body, "if_match").is_none());
}

#[test]
fn applying_a_preview_changes_exactly_that_via_sync() {
    let app = spawn_app();
    let (alice, bob, carol) = (app.user("alice"), app.user("bob"), app.user("carol"));
    let group = app.group("Editors");
    let other = app.group("Writers");
    app.add(alice, group);
    app.add(bob, group);
    app.add(alice, other);
    let before = feed(&app).len();
    let preview = preview(&app, group, "bob\ncarol").body;
    let r = apply_preview(&app, group, &preview);
    assert_eq!(r.status, 303, "{r:?}");
    let location = r.header("location").unwrap().to_string();
    assert_eq!(
        location,
        format!("/user_groups/{group}/members.html?added=1&removed=1&unchanged=1")
    );
    assert_eq!(group_members(&app, group), [bob, carol]);
    assert_eq!(group_members(&app, other), [alice]);
    let mut new: Vec<_> = feed(&app).split_off(before);
    new.sort();
    assert_eq!(
        new,
        [
            ("added".to_string(), carol, group, "sync".to_string()),
            ("removed".to_string(), alice, group, "sync".to_string()),
        ]
    );
    let events: Vec<serde_json::Value> =
        serde_json::from_str(&app.get("/membership-events.json").body).unwrap();
    let me: serde_json::Value = serde_json::from_str(&app.get("/me.json").body).unwrap();
    assert!(events[before..].iter().all(|e| e["actor_id"] == me["id"]));

    // The page it goes back to says what was done and shows the members.
    let shown = page(&app, &location).body;
    assert!(
        shown.contains("<div class=\"notice\" id=\"notice\" role=\"status\">Applied: 1 added, 1 removed, 1 unchanged.</div>"),
        "{shown}"
    );
    assert_eq!(
        listed(&shown, "member-"),
        ["bob / bob name", "carol / carol name"]
    );
    assert!(change_words(&shown).contains(&words(
        "manager (manager name)",
        "added carol (carol name) to Editors",
        "sync"
    )));
    let bad = app.get(&format!(
        "{}?added=1&removed=x&unchanged=1",
        members_url(group)
    ));
    assert_eq!(bad.status, 400);
    // Applying the same form again: the set is no longer the one previewed.
    let again = apply_preview(&app, group, &preview);
    assert_eq!(again.status, 412);
    assert!(again.body.contains("Nothing to change"));
    assert_eq!(group_members(&app, group), [bob, carol]);
}

#[test]
fn a_change_between_preview_and_apply_shows_the_new_diff_and_changes_nothing() {
    let app = spawn_app();
    let (alice, bob, carol, dave) = (
        app.user("alice"),
        app.user("bob"),
        app.user("carol"),
        app.user("dave"),
    );
    let group = app.group("Editors");
    app.add(alice, group);
    app.add(bob, group);
    let first = preview(&app, group, "bob\ncarol").body;
    // Someone else adds dave and removes bob meanwhile.
    app.add(dave, group);
    let r = app.delete(&format!("/user_groups/{group}/users/{bob}.xml"));
    assert_eq!(r.status, 200, "{r:?}");
    let before = feed(&app);

    let r = apply_preview(&app, group, &first);
    assert_eq!(r.status, 412, "{r:?}");
    assert_html(&r);
    assert!(r.body.contains(
        "<div class=\"notice\" id=\"notice\" role=\"alert\">The members of this group changed since your preview; here is the new preview.</div>"
    ));
    assert_eq!(group_members(&app, group), [alice, dave], "nothing changed");
    assert_eq!(feed(&app), before);
    // The new diff, of the same set against the members as they are now.
    assert_eq!(
        listed(&r.body, "add-"),
        ["bob / bob name", "carol / carol name"]
    );
    assert_eq!(
        listed(&r.body, "remove-"),
        ["alice / alice name", "dave / dave name"]
    );
    assert!(r.body.contains("0 members stay as they are."));
    assert_eq!(hidden(&r.body, "user_ids"), hidden(&first, "user_ids"));
    let etag = app
        .get(&format!("/user_groups/{group}/members.json"))
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(hidden(&r.body, "if_match"), Some(etag.clone()));
    assert_ne!(hidden(&first, "if_match"), Some(etag));

    // Applying the new preview works.
    let r = apply_preview(&app, group, &r.body);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(
        r.header("location").unwrap(),
        format!("/user_groups/{group}/members.html?added=2&removed=2&unchanged=0")
    );
    assert_eq!(group_members(&app, group), [bob, carol]);
}

#[test]
fn unknown_logins_are_named_on_the_page_and_nothing_changes() {
    let app = spawn_app();
    let alice = app.user("alice");
    let group = app.group("Editors");
    app.add(alice, group);
    let r = preview(&app, group, "alice\nnobody\n<ghost>\nnobody");
    assert_eq!(r.status, 422, "{r:?}");
    assert_html(&r);
    assert_eq!(
        error_messages(&r.body),
        [
            "There is no user with the login &quot;nobody&quot;.",
            "There is no user with the login &quot;&lt;ghost&gt;&quot;.",
        ]
    );
    assert!(hidden(&r.body, "if_match").is_none(), "nothing to apply");
    assert!(r.body.contains("nobody\n&lt;ghost&gt;\nnobody</textarea>"));
    assert_eq!(group_members(&app, group), [alice]);
    // Ids too, from a CSV, and from an apply form naming a deleted user.
    let r = post_preview(&app, group, preview_form("", Some("user_id\n999\n")));
    assert_eq!(r.status, 422);
    assert_eq!(error_messages(&r.body), ["User 999 does not exist."]);
    let etag = app
        .get(&format!("/user_groups/{group}/members.json"))
        .header("etag")
        .unwrap()
        .to_string();
    let r = submit(
        &app,
        &members_url(group),
        &serde_urlencoded::to_string([
            ("step", "apply"),
            ("user_ids", &format!("{alice},999")),
            ("if_match", &etag),
        ])
        .unwrap(),
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(error_messages(&r.body), ["User 999 does not exist."]);
    assert_eq!(group_members(&app, group), [alice]);
    // A form that is not the page's: 400.
    for body in [
        "step=apply&if_match=x".to_string(),
        format!("step=apply&user_ids={alice}"),
        "step=apply&user_ids=abc&if_match=x".to_string(),
        "step=other".to_string(),
    ] {
        let r = submit(&app, &members_url(group), &body);
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert_html(&r);
    }
}

#[test]
fn a_csv_file_previews_like_pasted_logins() {
    let app = spawn_app();
    let (alice, bob, carol) = (app.user("alice"), app.user("bob"), app.user("carol"));
    let group = app.group("Editors");
    app.add(alice, group);
    let csv = format!("\u{feff}login,user_id\r\nbob,\r\n,{carol}\r\n");
    let r = post_preview(&app, group, preview_form("", Some(&csv)));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        listed(&r.body, "add-"),
        ["bob / bob name", "carol / carol name"]
    );
    assert_eq!(listed(&r.body, "remove-"), ["alice / alice name"]);
    assert_eq!(hidden(&r.body, "user_ids"), Some(format!("{bob},{carol}")));
    assert_eq!(group_members(&app, group), [alice]);
    let r = apply_preview(&app, group, &r.body);
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(group_members(&app, group), [bob, carol]);

    // Both a file and pasted logins: which one was meant?
    let r = post_preview(&app, group, preview_form("alice", Some("login\nbob\n")));
    assert_eq!(r.status, 422);
    assert_eq!(
        error_messages(&r.body),
        ["Paste logins or choose a CSV file, not both."]
    );
    // A file that is not a member set.
    let r = post_preview(&app, group, preview_form("", Some("name\nbob\n")));
    assert_eq!(r.status, 422);
    assert_eq!(
        error_messages(&r.body),
        ["The CSV's first line must name a user_id or a login column."]
    );
    // The sync body limit, not the 64 KiB of other forms.
    let logins: String = (0..20_000).map(|i| format!("nobody{i}\n")).collect();
    assert!(logins.len() > 64 * 1024);
    let r = preview(&app, group, &logins);
    assert_eq!(r.status, 422, "{}", r.status);
    assert_eq!(error_messages(&r.body).len(), 21);
}

#[test]
fn an_empty_set_previews_removing_everyone_and_applies_only_when_asked() {
    let app = spawn_app();
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let group = app.group("Editors");
    app.add(alice, group);
    app.add(bob, group);
    let r = preview(&app, group, "  \r\n");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains(
        "<p class=\"warning\">This empties the group: every member (2) will be removed.</p>"
    ));
    assert_eq!(
        listed(&r.body, "remove-"),
        ["alice / alice name", "bob / bob name"]
    );
    assert_eq!(hidden(&r.body, "user_ids").as_deref(), Some(""));
    assert_eq!(group_members(&app, group), [alice, bob]);
    let r = apply_preview(&app, group, &r.body);
    assert_eq!(r.status, 303, "{r:?}");
    assert!(group_members(&app, group).is_empty());
    let shown = page(&app, &members_url(group)).body;
    assert!(shown.contains("This group has no members."));
}

#[test]
fn member_forms_from_another_site_are_refused() {
    let app = spawn_app();
    let alice = app.user("alice");
    let group = app.group("Editors");
    app.add(alice, group);
    // The multipart body in one piece: refused before it is read, a body
    // that reqwest streams could still be on its way when the answer comes.
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"step\"\r\n\r\npreview\r\n\
                     --XyZ\r\nContent-Disposition: form-data; name=\"logins\"\r\n\r\n\r\n--XyZ--\r\n";
    for origin in [Some("https://evil.example.com"), Some("null"), None] {
        let mut request = app
            .request(Method::POST, &members_url(group))
            .header("Content-Type", "multipart/form-data; boundary=XyZ")
            .body(multipart);
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let r = app.send(request);
        assert_eq!(r.status, 403, "{origin:?}");
        assert_html(&r);
        let mut request = app
            .request(Method::POST, &members_url(group))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("step=apply&user_ids=&if_match=*");
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        assert_eq!(app.send(request).status, 403, "{origin:?}");
    }
    assert_eq!(group_members(&app, group), [alice]);
    // The same form from the page itself is a preview.
    let r = app.send(
        app.request(Method::POST, &members_url(group))
            .header("Content-Type", "multipart/form-data; boundary=XyZ")
            .header("Origin", &app.address)
            .body(multipart),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(listed(&r.body, "remove-"), ["alice / alice name"]);
    // The page's POST is the page's alone: the API's path answers 405.
    let r = app.send(
        app.request(Method::POST, &format!("/user_groups/{group}/members.xml"))
            .header("Content-Type", "application/xml")
            .body("<user-group-members/>"),
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PUT, PATCH"));
    // An XML body to the page: 415.
    let r = app.send(
        app.request(Method::POST, &members_url(group))
            .header("Content-Type", "application/xml")
            .body("<user-group-members/>"),
    );
    assert_eq!(r.status, 415);
}

#[test]
fn every_control_of_the_members_page_has_a_label() {
    let app = spawn_app();
    let alice = app.user("alice");
    let group = app.group("Editors");
    app.add(alice, group);
    let body = preview(&app, group, "").body;
    let mut controls = 0;
    for tag in ["<select ", "<input ", "<textarea "] {
        for part in body.split(tag).skip(1) {
            let attrs = &part[..part.find('>').unwrap()];
            if attrs.contains("type=\"hidden\"") {
                continue;
            }
            let id = attrs
                .split("id=\"")
                .nth(1)
                .map(|s| &s[..s.find('"').unwrap()])
                .unwrap_or_else(|| panic!("a control without an id: {attrs}"));
            assert!(
                body.contains(&format!("<label for=\"{id}\">")),
                "no label for {id}"
            );
            controls += 1;
        }
    }
    assert_eq!(controls, 2, "logins, CSV file");
}
