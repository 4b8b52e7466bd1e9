//! Keeping groups in step (API.md 8.4, 8.5): a group's member set (GET,
//! PUT, PATCH; dry runs, `If-Match`, every encoding, large sets), change
//! sets across groups, and `syncd sync`. Runs on SQLite, and on PostgreSQL
//! in the second pass.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Guards, Resp, TestApp, execute_sql, spawn_app};

fn send(app: &TestApp, method: Method, path: &str, kind: &str, body: &str) -> Resp {
    app.send(
        app.request(method, path)
            .header("Content-Type", kind)
            .body(body.to_string()),
    )
}

fn put_json(app: &TestApp, group: i64, body: &str) -> Resp {
    send(
        app,
        Method::PUT,
        &format!("/user_groups/{group}/members.json"),
        "application/json",
        body,
    )
}

/// The group's user ids, as `GET .../members.json` answers them.
fn members(app: &TestApp, group: i64) -> Vec<i64> {
    let r = app.get(&format!("/user_groups/{group}/members.json"));
    assert_eq!(r.status, 200, "{r:?}");
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["user_group_id"], group);
    v["user_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_i64().unwrap())
        .collect()
}

fn etag(app: &TestApp, group: i64, ext: &str) -> String {
    let r = app.get(&format!("/user_groups/{group}/members.{ext}"));
    r.header("etag").unwrap().to_string()
}

/// The feed's events as (action, user id, group id, via, actor id).
fn events(app: &TestApp) -> Vec<(String, i64, i64, String, Option<i64>)> {
    let r = app.get("/membership-events.json");
    let list: Vec<Value> = serde_json::from_str(&r.body).unwrap();
    list.iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["user_id"].as_i64().unwrap(),
                e["user_group_id"].as_i64().unwrap(),
                e["via"].as_str().unwrap().to_string(),
                e["actor_id"].as_i64(),
            )
        })
        .collect()
}

fn manager_id(app: &TestApp) -> i64 {
    let me: Value = serde_json::from_str(&app.get("/me.json").body).unwrap();
    me["id"].as_i64().unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_i64().unwrap())
        .collect()
}

#[test]
fn a_member_set_reads_with_an_etag_that_depends_on_the_set_alone() {
    let app = spawn_app();
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let editors = app.group("Editors");

    let r = app.get("/user_groups/999/members.xml");
    assert_eq!(r.status, 404);
    assert_eq!(r.errors(), vec!["User group 999 does not exist."]);

    let r = app.get(&format!("/user_groups/{editors}/members.xml"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<user-group-members>\n  <user-group-id type=\"integer\">{editors}</user-group-id>\n  <user-ids type=\"array\"/>\n</user-group-members>\n"
        )
    );
    let empty = r.header("etag").unwrap().to_string();
    assert!(!empty.starts_with("W/"), "a strong ETag: {empty}");

    app.add(bob, editors);
    app.add(alice, editors);
    let r = app.get(&format!("/user-groups/{editors}/members.xml"));
    assert!(
        r.body.contains(&format!(
            "<user-ids type=\"array\">\n    <user-id type=\"integer\">{alice}</user-id>\n    <user-id type=\"integer\">{bob}</user-id>\n  </user-ids>"
        )),
        "{}",
        r.body
    );
    let two = r.header("etag").unwrap().to_string();
    assert_ne!(two, empty);
    assert_eq!(etag(&app, editors, "json"), two, "the same in XML and JSON");
    assert_eq!(members(&app, editors), vec![alice, bob]);

    // 304 when the client has it.
    let r = app.send(
        app.request(Method::GET, &format!("/user_groups/{editors}/members.json"))
            .header("If-None-Match", &two),
    );
    assert_eq!(r.status, 304);

    // Back to an earlier set, back to its tag.
    app.delete(&format!("/user_groups/{editors}/users/{alice}.xml"));
    app.delete(&format!("/user_groups/{editors}/users/{bob}.xml"));
    assert_eq!(etag(&app, editors, "xml"), empty);
}

#[test]
fn a_put_makes_the_members_exactly_the_set_and_reports_what_it_did() {
    let app = spawn_app();
    let manager = manager_id(&app);
    let users: Vec<i64> = (0..5).map(|i| app.user(&format!("u{i}"))).collect();
    let editors = app.group("Editors");
    app.add(users[0], editors);
    app.add(users[1], editors);
    let before = events(&app).len();

    // By ids and logins together; repeats collapse.
    let body = format!(
        "<user-group-members>\n  <user-ids type=\"array\"><user-id type=\"integer\">{}</user-id><user-id type=\"integer\">{}</user-id></user-ids>\n  <user-logins type=\"array\"><user-login>u3</user-login><user-login>u1</user-login></user-logins>\n</user-group-members>",
        users[1], users[2]
    );
    let r = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.xml"),
        "application/xml",
        &body,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<membership-sync>\n  <user-group-id type=\"integer\">{editors}</user-group-id>\n  <dry-run type=\"boolean\">false</dry-run>\n  <added type=\"array\">\n    <user-id type=\"integer\">{}</user-id>\n    <user-id type=\"integer\">{}</user-id>\n  </added>\n  <removed type=\"array\">\n    <user-id type=\"integer\">{}</user-id>\n  </removed>\n  <unchanged type=\"integer\">1</unchanged>\n</membership-sync>\n",
            users[2], users[3], users[0]
        )
    );
    assert_eq!(members(&app, editors), vec![users[1], users[2], users[3]]);
    assert_eq!(
        r.header("etag").unwrap(),
        etag(&app, editors, "xml"),
        "the answer carries the new set's ETag"
    );
    let new_events = events(&app).split_off(before);
    assert_eq!(
        new_events,
        vec![
            (
                "added".into(),
                users[2],
                editors,
                "sync".into(),
                Some(manager)
            ),
            (
                "added".into(),
                users[3],
                editors,
                "sync".into(),
                Some(manager)
            ),
            (
                "removed".into(),
                users[0],
                editors,
                "sync".into(),
                Some(manager)
            ),
        ]
    );

    // The same PUT again changes nothing and writes no event.
    let r = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.xml"),
        "application/xml",
        &body,
    );
    assert!(r.body.contains("<added type=\"array\"/>"), "{}", r.body);
    assert!(r.body.contains("<unchanged type=\"integer\">3</unchanged>"));
    assert_eq!(events(&app).len(), before + 3);

    // JSON, and an empty set empties the group.
    let r = put_json(&app, editors, &format!("{{\"user_ids\": [{}]}}", users[4]));
    assert_eq!(r.status, 200, "{r:?}");
    let report: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(report["user_group_id"], editors);
    assert_eq!(report["dry_run"], false);
    assert_eq!(ids(&report["added"]), vec![users[4]]);
    assert_eq!(ids(&report["removed"]), vec![users[1], users[2], users[3]]);
    assert_eq!(report["unchanged"], 0);
    let r = put_json(&app, editors, r#"{"user_ids": [], "user_logins": []}"#);
    assert_eq!(r.status, 200);
    assert_eq!(members(&app, editors), Vec::<i64>::new());

    // CSV, by login, with other columns beside it.
    let csv = "name,login\nU Zero,u0\nU Four,u4\n";
    let r = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.xml"),
        "text/csv",
        csv,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(members(&app, editors), vec![users[0], users[4]]);
}

#[test]
fn a_dry_run_reports_and_changes_nothing() {
    let app = spawn_app();
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let editors = app.group("Editors");
    app.add(alice, editors);
    let tag = etag(&app, editors, "json");
    let before = events(&app);
    for dry in ["true", "1"] {
        let r = send(
            &app,
            Method::PUT,
            &format!("/user_groups/{editors}/members.json?dry_run={dry}"),
            "application/json",
            r#"{"user_logins": ["bob"]}"#,
        );
        assert_eq!(r.status, 200, "{r:?}");
        let report: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(report["dry_run"], true);
        assert_eq!(ids(&report["added"]), vec![bob]);
        assert_eq!(ids(&report["removed"]), vec![alice]);
        assert_eq!(r.header("etag"), Some(tag.as_str()), "the current set's");
    }
    assert_eq!(members(&app, editors), vec![alice]);
    assert_eq!(events(&app), before);
    let r = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.json?dry_run=maybe"),
        "application/json",
        r#"{"user_logins": ["bob"]}"#,
    );
    assert_eq!(r.status, 400);
}

#[test]
fn if_match_applies_only_to_the_set_that_was_read() {
    let app = spawn_app();
    let (alice, bob, carol) = (app.user("alice"), app.user("bob"), app.user("carol"));
    let editors = app.group("Editors");
    app.add(alice, editors);

    // Preview, then someone else changes the group, then apply: 412.
    let preview = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.xml?dry_run=true"),
        "application/json",
        r#"{"user_logins": ["bob"]}"#,
    );
    let read = preview.header("etag").unwrap().to_string();
    app.add(carol, editors);
    let before = events(&app);
    let r = app.send(
        app.request(Method::PUT, &format!("/user_groups/{editors}/members.xml"))
            .header("Content-Type", "application/json")
            .header("If-Match", &read)
            .body(r#"{"user_logins": ["bob"]}"#),
    );
    assert_eq!(r.status, 412, "{r:?}");
    assert_eq!(
        r.errors(),
        vec![format!(
            "The members of user group {editors} changed since you read them."
        )]
    );
    assert_eq!(members(&app, editors), vec![alice, carol]);
    assert_eq!(events(&app), before);

    // With the tag as it is now, it applies; PATCH takes If-Match too.
    let now = etag(&app, editors, "xml");
    let r = app.send(
        app.request(Method::PUT, &format!("/user_groups/{editors}/members.xml"))
            .header("Content-Type", "application/json")
            .header("If-Match", &now)
            .body(r#"{"user_logins": ["bob"]}"#),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(members(&app, editors), vec![bob]);
    let r = app.send(
        app.request(
            Method::PATCH,
            &format!("/user_groups/{editors}/members.xml"),
        )
        .header("Content-Type", "application/json")
        .header("If-Match", &now)
        .body(r#"{"add_user_logins": ["alice"]}"#),
    );
    assert_eq!(r.status, 412);
    assert_eq!(members(&app, editors), vec![bob]);
}

#[test]
fn unknown_users_are_all_named_in_one_422_and_nothing_changes() {
    let app = spawn_app();
    let alice = app.user("alice");
    let editors = app.group("Editors");
    let body = format!(
        "{{\"user_ids\": [{alice}, 9001, 9000], \"user_logins\": [\"nobody\", \"alice\", \"nobody\"]}}"
    );
    let r = put_json(&app, editors, &body);
    assert_eq!(r.status, 422);
    let errors: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        errors["errors"],
        serde_json::json!([
            "User 9000 does not exist.",
            "User 9001 does not exist.",
            "There is no user with the login \"nobody\"."
        ])
    );
    assert_eq!(members(&app, editors), Vec::<i64>::new());

    // Past twenty, the rest are counted.
    let many: Vec<String> = (100_000..100_030).map(|i| i.to_string()).collect();
    let r = put_json(
        &app,
        editors,
        &format!("{{\"user_ids\": [{}]}}", many.join(",")),
    );
    let errors: Value = serde_json::from_str(&r.body).unwrap();
    let errors = errors["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 21);
    assert_eq!(errors[20], "And 10 more users that do not exist.");
    assert!(events(&app).is_empty());

    // A typo is not the empty set.
    let r = put_json(&app, editors, r#"{"userIds": [1]}"#);
    assert_eq!(r.status, 422, "{r:?}");
    let r = put_json(&app, 999, &format!("{{\"user_ids\": [{alice}]}}"));
    assert_eq!(r.status, 404);
}

#[test]
fn a_patch_adds_and_removes_only_what_it_names() {
    let app = spawn_app();
    let manager = manager_id(&app);
    let (alice, bob, carol) = (app.user("alice"), app.user("bob"), app.user("carol"));
    let editors = app.group("Editors");
    app.add(alice, editors);
    app.add(bob, editors);
    let before = events(&app).len();
    let body = "<user-group-members>\
        <add-user-logins type=\"array\"><user-login>carol</user-login><user-login>alice</user-login></add-user-logins>\
        <remove-user-ids type=\"array\"><user-id>".to_string()
        + &bob.to_string()
        + "</user-id><user-id>424242</user-id></remove-user-ids></user-group-members>";
    let r = send(
        &app,
        Method::PATCH,
        &format!("/user_groups/{editors}/members.xml"),
        "application/xml",
        &body,
    );
    // An unknown user is unknown to a removal too.
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.errors(), vec!["User 424242 does not exist."]);
    let body = body.replace("<user-id>424242</user-id>", "");
    let r = send(
        &app,
        Method::PATCH,
        &format!("/user_groups/{editors}/members.xml"),
        "application/xml",
        &body,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains(&format!(
        "<added type=\"array\">\n    <user-id type=\"integer\">{carol}</user-id>"
    )));
    assert!(r.body.contains(&format!(
        "<removed type=\"array\">\n    <user-id type=\"integer\">{bob}</user-id>"
    )));
    assert!(r.body.contains("<unchanged type=\"integer\">1</unchanged>"));
    assert_eq!(members(&app, editors), vec![alice, carol]);
    let new_events = events(&app).split_off(before);
    assert_eq!(
        new_events,
        vec![
            ("added".into(), carol, editors, "sync".into(), Some(manager)),
            ("removed".into(), bob, editors, "sync".into(), Some(manager)),
        ]
    );

    // Added and removed at once, even under two names: 422.
    let r = send(
        &app,
        Method::PATCH,
        &format!("/user_groups/{editors}/members.json"),
        "application/json",
        &format!("{{\"add_user_ids\": [{bob}], \"remove_user_logins\": [\"bob\"]}}"),
    );
    assert_eq!(r.status, 422);
    assert!(
        r.body
            .contains(&format!("User {bob} is both added and removed.")),
        "{}",
        r.body
    );
    assert_eq!(members(&app, editors), vec![alice, carol]);
}

#[test]
fn member_set_bodies_are_refused_clearly() {
    let app = spawn_app();
    let editors = app.group("Editors");
    let path = format!("/user_groups/{editors}/members.xml");
    let r = send(&app, Method::PUT, &path, "text/plain", "user_id\n1\n");
    assert_eq!(r.status, 415);
    let r = send(&app, Method::PATCH, &path, "text/csv", "user_id\n1\n");
    assert_eq!(r.status, 415);
    let r = send(
        &app,
        Method::PUT,
        &path,
        "application/xml",
        "<user-group-members>",
    );
    assert_eq!(r.status, 400);
    let r = send(
        &app,
        Method::PUT,
        &path,
        "application/json",
        "{\"user_ids\": [\"x\"]}",
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        r.errors(),
        vec!["user-ids has \"x\", which is not a user id."]
    );
    let r = app.send(app.request(Method::DELETE, &path));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PUT, PATCH"));
    // Credentials first.
    let r = app.send(
        app.client
            .put(app.url(&path))
            .header("Content-Type", "text/plain")
            .body("x"),
    );
    assert_eq!(r.status, 401);
}

/// Inserts `n` users `bulk0..` straight in the database; their ids.
fn bulk_users(app: &TestApp, n: usize) -> Vec<i64> {
    execute_sql(
        &app.pool,
        &format!(
            "INSERT INTO users (login, name, user_group_manager, created_at, updated_at) \
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
             SELECT 'bulk' || i, 'Bulk ' || i, false, '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM n",
            n - 1
        ),
    );
    let r = app.get("/users.json?login=bulk0");
    let first: Value = serde_json::from_str(&r.body).unwrap();
    let first = first[0]["id"].as_i64().unwrap();
    (first..first + n as i64).collect()
}

#[test]
fn a_set_of_100000_users_is_accepted_in_every_encoding_and_other_bodies_keep_64_kib() {
    let app = spawn_app();
    let users = bulk_users(&app, 100_000);
    let editors = app.group("Editors");
    let logins: Vec<String> = (0..100_000).map(|i| format!("bulk{i}")).collect();

    // CSV of logins: every user added.
    let csv = format!("login\n{}\n", logins.join("\n"));
    let r = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.json"),
        "text/csv",
        &csv,
    );
    assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(300)]);
    let report: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(report["added"].as_array().unwrap().len(), 100_000);
    assert_eq!(members(&app, editors), users);

    // XML of logins, the same set: unchanged.
    let xml = format!(
        "<user-group-members><user-logins type=\"array\">{}</user-logins></user-group-members>",
        logins
            .iter()
            .map(|l| format!("<user-login>{l}</user-login>"))
            .collect::<String>()
    );
    assert!(xml.len() > 2 * 1024 * 1024);
    let r = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.json"),
        "application/xml",
        &xml,
    );
    assert_eq!(r.status, 200, "{}", &r.body[..r.body.len().min(300)]);
    let report: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(report["unchanged"], 100_000);

    // JSON of ids, 1,000 fewer: 1,000 removed.
    let ids: Vec<String> = users[1000..].iter().map(i64::to_string).collect();
    let r = put_json(
        &app,
        editors,
        &format!("{{\"user_ids\": [{}]}}", ids.join(",")),
    );
    assert_eq!(r.status, 200);
    let report: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(report["removed"].as_array().unwrap().len(), 1000);
    assert_eq!(report["unchanged"], 99_000);

    // Every other body keeps its limit.
    let big = format!(
        "<user-group><name>{}</name></user-group>",
        "x".repeat(70 * 1024)
    );
    let r = send(
        &app,
        Method::POST,
        "/user_groups.xml",
        "application/xml",
        &big,
    );
    assert_eq!(r.status, 413);
    assert_eq!(r.errors(), vec!["The request body is larger than 64 KiB."]);
}

#[test]
fn sync_bodies_have_their_own_limit() {
    let app = TestApp::builder()
        .guards(Guards {
            max_sync_body: 128 * 1024,
            ..Guards::default()
        })
        .spawn();
    let editors = app.group("Editors");
    let body = format!("user_id\n{}", "1\n".repeat(70_000));
    let r = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.xml"),
        "text/csv",
        &body,
    );
    assert_eq!(r.status, 413);
    assert_eq!(r.errors(), vec!["The request body is larger than 128 KiB."]);
    let r = send(
        &app,
        Method::POST,
        "/membership-changes.xml",
        "application/json",
        &body,
    );
    assert_eq!(r.status, 413);
}

#[test]
fn a_million_elements_are_refused_fast() {
    let app = spawn_app();
    let editors = app.group("Editors");
    let body = format!(
        "<user-group-members><user-ids>{}</user-ids></user-group-members>",
        "<a/>".repeat(1_000_000)
    );
    let started = std::time::Instant::now();
    let r = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.xml"),
        "application/xml",
        &body,
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(
        r.errors(),
        vec!["A member set may name at most 250000 users."]
    );
    // Bounded, not timed tightly: a parse stopped early, well inside the
    // request timeout even on a loaded machine.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let garbage: String = (0..16 * 1024 * 1024 - 100)
        .map(|i| (b'!' + (i % 90) as u8) as char)
        .collect();
    for kind in ["application/xml", "application/json", "text/csv"] {
        let r = send(
            &app,
            Method::PUT,
            &format!("/user_groups/{editors}/members.xml"),
            kind,
            &garbage,
        );
        assert!(r.status == 400 || r.status == 422, "{kind}: {r:?}");
    }
    assert_eq!(members(&app, editors), Vec::<i64>::new());
}

#[test]
fn a_change_set_applies_across_groups_all_or_nothing() {
    let app = spawn_app();
    let manager = manager_id(&app);
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let (editors, readers) = (app.group("Editors"), app.group("Readers"));
    let kept = app.add(bob, readers);
    let gone = app.add(alice, readers);
    let before = events(&app).len();

    let body = format!(
        "<membership-changes type=\"array\">\
          <membership-change><action>add</action><user-login>alice</user-login><user-group-name>Editors</user-group-name></membership-change>\
          <membership-change><action>remove</action><user-id type=\"integer\">{alice}</user-id><user-group-id type=\"integer\">{readers}</user-group-id></membership-change>\
          <membership-change><action>add</action><user-id>{bob}</user-id><user-group-id>{readers}</user-group-id></membership-change>\
          <membership-change><action>remove</action><user-id>{bob}</user-id><user-group-id>{editors}</user-group-id></membership-change>\
        </membership-changes>"
    );
    let r = send(
        &app,
        Method::POST,
        "/membership-changes.xml",
        "application/xml",
        &body,
    );
    assert_eq!(r.status, 200, "{r:?}");
    let added = members(&app, editors);
    assert_eq!(added, vec![alice]);
    assert_eq!(members(&app, readers), vec![bob]);
    let list = app.get(&format!(
        "/user_groups/{editors}/user-group-memberships.json"
    ));
    let list: Value = serde_json::from_str(&list.body).unwrap();
    let new_id = list[0]["id"].as_i64().unwrap();
    assert_eq!(
        r.body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<membership-changes type=\"array\">\n  \
<membership-change>\n    <action>add</action>\n    <user-id type=\"integer\">{alice}</user-id>\n    <user-group-id type=\"integer\">{editors}</user-group-id>\n    <result>added</result>\n    <membership-id type=\"integer\">{new_id}</membership-id>\n  </membership-change>\n  \
<membership-change>\n    <action>remove</action>\n    <user-id type=\"integer\">{alice}</user-id>\n    <user-group-id type=\"integer\">{readers}</user-group-id>\n    <result>removed</result>\n    <membership-id type=\"integer\">{gone}</membership-id>\n  </membership-change>\n  \
<membership-change>\n    <action>add</action>\n    <user-id type=\"integer\">{bob}</user-id>\n    <user-group-id type=\"integer\">{readers}</user-group-id>\n    <result>unchanged</result>\n    <membership-id type=\"integer\">{kept}</membership-id>\n  </membership-change>\n  \
<membership-change>\n    <action>remove</action>\n    <user-id type=\"integer\">{bob}</user-id>\n    <user-group-id type=\"integer\">{editors}</user-group-id>\n    <result>unchanged</result>\n  </membership-change>\n\
</membership-changes>\n"
        )
    );
    assert_eq!(
        events(&app).split_off(before),
        vec![
            (
                "added".into(),
                alice,
                editors,
                "change-set".into(),
                Some(manager)
            ),
            (
                "removed".into(),
                alice,
                readers,
                "change-set".into(),
                Some(manager)
            ),
        ]
    );

    // One bad change refuses the set: every problem, by change number.
    let before = events(&app);
    let body = serde_json::json!([
        {"action": "remove", "user_login": "alice", "user_group_id": editors},
        {"action": "delete", "user_id": bob, "user_group_id": readers},
        {"action": "add", "user_login": "nobody", "user_group_name": "Nothing"},
        {"action": "add", "user_id": bob},
        {"action": "add", "user_id": alice, "user_group_name": "Editors"},
    ]);
    let r = send(
        &app,
        Method::POST,
        "/membership-changes.json",
        "application/json",
        &body.to_string(),
    );
    assert_eq!(r.status, 422, "{r:?}");
    let errors: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        errors["errors"],
        serde_json::json!([
            "Change 2: action must be add or remove, not \"delete\".",
            "Change 3: There is no user with the login \"nobody\".",
            "Change 3: There is no user group named \"Nothing\".",
            "Change 4: user-group-id is missing."
        ])
    );
    let body = serde_json::json!([
        {"action": "remove", "user_login": "alice", "user_group_id": editors},
        {"action": "add", "user_login": "nobody", "user_group_name": "Nothing"},
        {"action": "add", "user_id": alice, "user_group_name": "Editors"},
    ]);
    let r = send(
        &app,
        Method::POST,
        "/membership-changes.json",
        "application/json",
        &body.to_string(),
    );
    assert_eq!(r.status, 422, "{r:?}");
    let errors: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        errors["errors"],
        serde_json::json!([
            "Change 2: There is no user with the login \"nobody\".",
            "Change 2: There is no user group named \"Nothing\".",
            format!(
                "Change 3: user {alice} and user group {editors} are named in change 1 already."
            ),
        ])
    );
    assert_eq!(events(&app), before, "nothing changed");
    assert_eq!(members(&app, editors), vec![alice]);

    // JSON in, JSON out: result and membership_id added.
    let body = serde_json::json!([{"action": "add", "user_id": bob, "user_group_id": editors}]);
    let r = send(
        &app,
        Method::POST,
        "/membership-changes.json",
        "application/json",
        &body.to_string(),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let done: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(done[0]["action"], "add");
    assert_eq!(done[0]["user_id"], bob);
    assert_eq!(done[0]["user_group_id"], editors);
    assert_eq!(done[0]["result"], "added");
    assert!(done[0]["membership_id"].as_i64().is_some());
}

#[test]
fn a_change_set_holds_at_most_10000_changes() {
    let app = spawn_app();
    let alice = app.user("alice");
    let editors = app.group("Editors");
    let one = format!("{{\"action\":\"add\",\"user_id\":{alice},\"user_group_id\":{editors}}}");
    let body = format!("[{}]", vec![one.as_str(); 10_001].join(","));
    let r = send(
        &app,
        Method::POST,
        "/membership-changes.xml",
        "application/json",
        &body,
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        r.errors(),
        vec!["A change set may hold at most 10000 changes."]
    );
    let r = send(
        &app,
        Method::POST,
        "/membership-changes.xml",
        "text/csv",
        "a,b",
    );
    assert_eq!(r.status, 415);
    let r = app.get("/membership-changes.xml");
    assert_eq!(r.status, 405);
}

#[test]
fn a_change_set_of_10000_changes_is_applied() {
    let app = spawn_app();
    let users = bulk_users(&app, 2_500);
    let groups: Vec<i64> = (0..4).map(|i| app.group(&format!("G{i}"))).collect();
    let changes: Vec<Value> = users
        .iter()
        .flat_map(|&u| {
            groups.iter().map(
                move |&g| serde_json::json!({"action": "add", "user_id": u, "user_group_id": g}),
            )
        })
        .collect();
    assert_eq!(changes.len(), 10_000);
    let r = send(
        &app,
        Method::POST,
        "/membership-changes.json",
        "application/json",
        &Value::Array(changes).to_string(),
    );
    assert_eq!(r.status, 200);
    let done: Vec<Value> = serde_json::from_str(&r.body).unwrap();
    assert!(done.iter().all(|d| d["result"] == "added"));
    for g in groups {
        assert_eq!(members(&app, g), users);
    }
}

#[test]
fn concurrent_puts_leave_one_of_the_sets_and_a_history_that_adds_up() {
    let app = spawn_app();
    let users: Vec<i64> = (0..12).map(|i| app.user(&format!("u{i}"))).collect();
    let editors = app.group("Editors");
    let sets: Vec<Vec<i64>> = (0..8)
        .map(|k| users.iter().copied().skip(k).step_by(2 + k % 3).collect())
        .collect();
    std::thread::scope(|s| {
        for set in &sets {
            let app = &app;
            s.spawn(move || {
                let body = serde_json::json!({ "user_ids": set }).to_string();
                let r = put_json(app, editors, &body);
                assert_eq!(r.status, 200, "{r:?}");
            });
        }
    });
    let now = members(&app, editors);
    assert!(sets.contains(&now), "{now:?} is one of the sets");
    // Replaying the events gives the members.
    let mut replayed = std::collections::BTreeSet::new();
    for (action, user, _, via, _) in events(&app) {
        assert_eq!(via, "sync");
        if action == "added" {
            assert!(replayed.insert(user), "added twice: {user}");
        } else {
            assert!(replayed.remove(&user), "removed while absent: {user}");
        }
    }
    assert_eq!(replayed.into_iter().collect::<Vec<_>>(), now);
}

mod command_line {
    use crate::cli::{fresh_url, stderr, stdout, syncd};
    use crate::helpers::TestApp;
    use syncd::db::PoolSettings;

    #[test]
    fn syncd_sync_sets_a_group_from_a_csv_and_says_what_it_did() {
        let (database, url) = fresh_url();
        let pool = syncd::db::open(&url, &PoolSettings::default()).unwrap();
        let app = TestApp::builder().on(database, pool).spawn();
        let (alice, bob, carol) = (app.user("alice"), app.user("bob"), app.user("carol"));
        let editors = app.group("Editors");
        app.add(alice, editors);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("editors.csv");
        std::fs::write(&file, "login\nbob\ncarol\n").unwrap();
        let file = file.to_str().unwrap();

        let out = syncd(&url, &["sync", "Editors", file, "--dry-run"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!(
                "+ {bob}\tbob\n+ {carol}\tcarol\n- {alice}\talice\nuser group {editors} (Editors): 2 added, 1 removed, 0 unchanged (dry run: nothing changed)\n"
            )
        );
        let r = app.get(&format!("/user_groups/{editors}/members.json"));
        assert!(r.body.contains(&format!("[{alice}]")), "{}", r.body);

        // By id, for real: the events say `sync`, with no actor.
        let out = syncd(&url, &["sync", &editors.to_string(), file]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).ends_with("2 added, 1 removed, 0 unchanged\n"));
        let r = app.get(&format!("/user_groups/{editors}/members.json"));
        assert!(r.body.contains(&format!("[{bob},{carol}]")), "{}", r.body);
        let r = app.get("/membership-events.json?after_id=1");
        assert_eq!(r.body.matches("\"via\":\"sync\"").count(), 3, "{}", r.body);
        assert_eq!(r.body.matches("\"actor_id\":null").count(), 3);

        // Unknown users: the problems, a failure, and nothing changed.
        std::fs::write(dir.path().join("bad.csv"), "login\nbob\nzed\n").unwrap();
        let bad = dir.path().join("bad.csv");
        let out = syncd(&url, &["sync", "Editors", bad.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("There is no user with the login \"zed\"."),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("nothing changed"));
        let r = app.get(&format!("/user_groups/{editors}/members.json"));
        assert!(r.body.contains(&format!("[{bob},{carol}]")), "{}", r.body);

        // From stdin, by name again: nothing to do.
        let out =
            crate::helpers::run_with_stdin(&url, &["sync", "Editors", "-"], b"login\nbob\ncarol\n");
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out),
            format!("user group {editors} (Editors): 0 added, 0 removed, 2 unchanged\n")
        );

        let out = syncd(&url, &["sync", "Nobody", file]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("there is no user group named or numbered 'Nobody'"));
    }
}

#[test]
fn member_set_changes_and_change_sets_take_an_idempotency_key() {
    let app = spawn_app();
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let editors = app.group("Editors");
    let with_key = |method: Method, path: &str, key: &str, body: &str| {
        app.send(
            app.request(method, path)
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", key)
                .body(body.to_string()),
        )
    };
    let path = format!("/user_groups/{editors}/members.json");
    let body = format!("{{\"user_ids\": [{alice}]}}");
    let first = with_key(Method::PUT, &path, "sync-1", &body);
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.header("idempotent-replayed"), None);
    // Someone else changes the group; the retry is answered from the key
    // and changes nothing (bob stays, no event).
    app.add(bob, editors);
    let before = events(&app);
    let again = with_key(Method::PUT, &path, "sync-1", &body);
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(events(&app), before);
    assert_eq!(members(&app, editors), vec![alice, bob]);
    // Another body, or PATCH, under the key: 422.
    let other = with_key(Method::PUT, &path, "sync-1", "{\"user_ids\": []}");
    assert_eq!(other.status, 422);
    let other = with_key(Method::PATCH, &path, "sync-1", &body);
    assert_eq!(other.status, 422);
    assert_eq!(members(&app, editors), vec![alice, bob]);

    let changes =
        format!("[{{\"action\": \"remove\", \"user_id\": {bob}, \"user_group_id\": {editors}}}]");
    let first = with_key(Method::POST, "/membership-changes.json", "cs-1", &changes);
    assert_eq!(first.status, 200, "{first:?}");
    assert!(first.body.contains("\"result\":\"removed\""));
    app.add(bob, editors);
    let again = with_key(Method::POST, "/membership-changes.json", "cs-1", &changes);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        members(&app, editors),
        vec![alice, bob],
        "not removed twice"
    );
}

#[test]
fn large_bodies_wait_for_a_slot_and_get_503_when_none_frees() {
    use std::io::Write;
    let app = TestApp::builder()
        .guards(Guards {
            sync_slots: 1,
            request_timeout: std::time::Duration::from_secs(2),
            ..Guards::default()
        })
        .spawn();
    let editors = app.group("Editors");
    // One client takes the only slot and stalls in its body.
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut stalled = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stalled,
        "PUT /user_groups/{editors}/members.xml HTTP/1.1\r\nHost: {addr}\r\nX-API-KEY: {}\r\nContent-Type: text/csv\r\nContent-Length: 100\r\n\r\nlogin\n",
        app.token
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    let r = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.xml"),
        "text/csv",
        "login\n",
    );
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(
        r.errors(),
        vec![
            "Too many member sets and change sets are being handled right now; try again in a moment."
        ]
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    // Other requests are not held up, and once the slot frees (the stalled
    // body times out) the next one gets it.
    assert_eq!(app.get("/user_groups.xml").status, 200);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let r = send(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/members.xml"),
        "text/csv",
        "login\n",
    );
    assert_eq!(r.status, 200, "{r:?}");
    drop(stalled);
}
