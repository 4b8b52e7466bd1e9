//! The managers' HTML page at /user-group-memberships(.html), and the
//! answers to the forms it posts. (tests/browser drives it in Chromium.)

use reqwest::Method;

use crate::helpers::{Resp, TestApp, insert_user, spawn_app};

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
