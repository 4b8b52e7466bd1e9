//! The managers' HTML page at /user-group-memberships(.html), and the
//! answers to the forms it posts. (tests/browser drives it in Chromium.)

use reqwest::Method;

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
