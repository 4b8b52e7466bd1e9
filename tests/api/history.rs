//! History (API.md 8.7): every change to a membership appends its event in
//! the same transaction, the feed, `as_of`, the backfill of memberships
//! that existed before, and what the database itself refuses. Runs on
//! SQLite, and on PostgreSQL in the test command's second pass.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::RunQueryDsl;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{
    TestApp, TestDatabase, ids_in_list, insert_user, membership_xml, postgres_admin_url, spawn_app,
    syncd_command,
};
use syncd::db;
use syncd::db::PoolSettings;

/// The feed as JSON, and its `X-Total-Count`.
fn feed(app: &TestApp, query: &str) -> (Vec<Value>, i64) {
    let r = app.get(&format!("/membership-events.json{query}"));
    assert_eq!(r.status, 200, "{r:?}");
    let total = r.header("x-total-count").unwrap().parse().unwrap();
    (serde_json::from_str(&r.body).unwrap(), total)
}

/// An event's (action, membership id, user id, group id, actor, via).
fn summary(e: &Value) -> (String, i64, i64, i64, Option<i64>, String) {
    (
        e["action"].as_str().unwrap().to_string(),
        e["membership_id"].as_i64().unwrap(),
        e["user_id"].as_i64().unwrap(),
        e["user_group_id"].as_i64().unwrap(),
        e["actor_id"].as_i64(),
        e["via"].as_str().unwrap().to_string(),
    )
}

fn ev(
    action: &str,
    membership: i64,
    user: i64,
    group: i64,
    actor: Option<i64>,
    via: &str,
) -> (String, i64, i64, i64, Option<i64>, String) {
    (action.into(), membership, user, group, actor, via.into())
}

fn manager_id(app: &TestApp) -> i64 {
    let me: Value = serde_json::from_str(&app.get("/me.json").body).unwrap();
    me["id"].as_i64().unwrap()
}

fn post_form(app: &TestApp, path: &str, body: &str) -> crate::helpers::Resp {
    app.send(
        app.request(Method::POST, path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Origin", app.address.clone())
            .body(body.to_string()),
    )
}

#[test]
fn every_change_over_http_appends_one_event_with_its_actor_and_via() {
    let app = spawn_app();
    let me = manager_id(&app);
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let (editors, readers) = (app.group("Editors"), app.group("Readers"));

    let m1 = app.add(alice, editors);
    let r = post_form(
        &app,
        "/user-group-memberships.xml",
        &format!("user_id={bob}&user_group_id={editors}"),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let m2 = crate::helpers::id_of(&r.body);
    assert_eq!(
        app.delete(&format!("/user-group-memberships/{m1}.xml"))
            .status,
        200
    );
    let r = post_form(
        &app,
        &format!("/user-group-memberships/{m2}"),
        "_method=delete",
    );
    assert_eq!(r.status, 200, "{r:?}");
    // Refused changes leave no event.
    assert_eq!(
        app.delete(&format!("/user-group-memberships/{m1}.xml"))
            .status,
        404
    );
    let m3 = app.add(alice, readers);
    assert_eq!(
        app.post_xml(
            "/user-group-memberships.xml",
            &membership_xml(alice, readers)
        )
        .status,
        422
    );
    let m4 = app.add(bob, readers);
    assert_eq!(
        app.delete(&format!("/user_groups/{readers}.xml")).status,
        200
    );

    let (events, total) = feed(&app, "");
    assert_eq!(total, 8);
    let got: Vec<_> = events.iter().map(summary).collect();
    assert_eq!(
        got,
        vec![
            ev("added", m1, alice, editors, Some(me), "api"),
            ev("added", m2, bob, editors, Some(me), "form"),
            ev("removed", m1, alice, editors, Some(me), "api"),
            ev("removed", m2, bob, editors, Some(me), "form"),
            ev("added", m3, alice, readers, Some(me), "api"),
            ev("added", m4, bob, readers, Some(me), "api"),
            ev("removed", m3, alice, readers, Some(me), "group-delete"),
            ev("removed", m4, bob, readers, Some(me), "group-delete"),
        ]
    );
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ascending ids: {ids:?}"
    );
    // Each event is dated now, in the contract's form.
    for e in &events {
        let at = DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap()).unwrap();
        assert!((Utc::now() - at.with_timezone(&Utc)).num_seconds().abs() < 60);
    }
}

#[test]
fn the_command_line_and_the_import_write_events_without_an_actor() {
    let database = TestDatabase::new();
    let url = database.url.clone();
    let pool = db::open(&url, &PoolSettings::default()).unwrap();
    let app = TestApp::builder().on(database, pool).spawn();
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let editors = app.group("Editors");
    let kept = app.add(bob, editors);

    let csv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(csv.path(), "login,group_name\nalice,Editors\nbob,Editors\n").unwrap();
    let out = syncd_command(&url)
        .args(["import", "memberships"])
        .arg(csv.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = syncd_command(&url)
        .args(["users", "delete", "alice"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let (events, total) = feed(&app, "");
    assert_eq!(total, 3, "{events:?}");
    let imported = events[1]["membership_id"].as_i64().unwrap();
    assert_eq!(
        events.iter().map(summary).collect::<Vec<_>>(),
        vec![
            ev("added", kept, bob, editors, Some(manager_id(&app)), "api"),
            ev("added", imported, alice, editors, None, "import"),
            ev("removed", imported, alice, editors, None, "user-delete"),
        ]
    );
    // XML says so with nil, as Rails writes a NULL integer.
    let r = app.get("/membership-events.xml?start=2&end=2");
    assert!(
        r.body.contains("<actor-id type=\"integer\" nil=\"true\"/>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<via>import</via>"));
}

#[test]
fn the_feed_narrows_by_user_group_since_and_after_id_and_slices() {
    let app = spawn_app();
    let users: Vec<i64> = (0..3).map(|i| app.user(&format!("u{i}"))).collect();
    let groups: Vec<i64> = (0..3).map(|i| app.group(&format!("g{i}"))).collect();
    for &u in &users {
        for &g in &groups {
            app.add(u, g);
        }
    }
    let (all, total) = feed(&app, "");
    assert_eq!((all.len(), total), (9, 9));

    let (some, total) = feed(
        &app,
        &format!(
            "?user_id={},{}&user_group_id={}",
            users[0], users[2], groups[1]
        ),
    );
    assert_eq!(total, 2);
    let pairs: Vec<(i64, i64)> = some
        .iter()
        .map(|e| {
            (
                e["user_id"].as_i64().unwrap(),
                e["user_group_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(pairs, vec![(users[0], groups[1]), (users[2], groups[1])]);
    // Repeated parameters add up.
    let (_, total) = feed(
        &app,
        &format!("?user_group_id={}&user_group_id={}", groups[0], groups[2]),
    );
    assert_eq!(total, 6);

    let fifth = all[4]["id"].as_i64().unwrap();
    let (after, total) = feed(&app, &format!("?after_id={fifth}"));
    assert_eq!(total, 4);
    assert_eq!(
        after[0]["id"].as_i64().unwrap(),
        all[5]["id"].as_i64().unwrap()
    );
    let (_, total) = feed(&app, "?after_id=0");
    assert_eq!(total, 9);

    let first_at = all[0]["created_at"].as_str().unwrap();
    let (_, total) = feed(&app, &format!("?since={first_at}"));
    assert_eq!(total, 9);
    let (none, total) = feed(&app, "?since=2999-01-01T00:00:00Z");
    assert_eq!((none.len(), total), (0, 0));
    // An offset is honoured: midnight at UTC-02:00 is 02:00 UTC.
    let (_, total) = feed(&app, "?since=2999-01-01T00:00:00%2B14:00");
    assert_eq!(total, 0);

    let r = app.get("/membership-events.json?start=3&end=4");
    assert_eq!(r.header("x-total-count"), Some("9"));
    let slice: Vec<Value> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(slice, all[2..4].to_vec());

    // include nests the user and group that still exist; a deleted group
    // is shown by its id.
    assert_eq!(
        app.delete(&format!("/user_groups/{}.xml", groups[2]))
            .status,
        200
    );
    let (included, _) = feed(&app, "?include=users,user_groups&start=1&end=3");
    assert_eq!(included[0]["user"]["login"], "u0");
    assert_eq!(included[0]["user_group"]["name"], "g0");
    assert!(included[0].get("user_id").is_none());
    assert_eq!(included[2]["user_group_id"].as_i64(), Some(groups[2]));
    assert!(included[2].get("user_group").is_none());
    let r = app.get("/membership-events.xml?include=users&start=1&end=1");
    assert!(r.body.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<membership-events type=\"array\">\n  <membership-event>\n    <id type=\"integer\">"
    ), "{}", r.body);
    assert!(
        r.body.contains("<user>\n      <id type=\"integer\">"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<action>added</action>"));
    assert!(r.body.contains("<created-at type=\"datetime\">"));
}

#[test]
fn bad_feed_and_as_of_values_are_400s_that_say_what_is_wrong() {
    let app = spawn_app();
    for (query, message) in [
        (
            "since=2026-12-01T09:14:03",
            "since must be a date and time with an offset, such as 2026-12-01T09:14:03Z, not \"2026-12-01T09:14:03\".",
        ),
        (
            "since=yesterday",
            "since must be a date and time with an offset, such as 2026-12-01T09:14:03Z, not \"yesterday\".",
        ),
        (
            "after_id=-3",
            "after_id must be an event id (0, 1, 2, ...), not \"-3\".",
        ),
        (
            "user_id=3,x",
            "user_id must be ids (positive integers) separated by commas, not \"3,x\".",
        ),
        (
            "user_group_id=0",
            "user_group_id must be ids (positive integers) separated by commas, not \"0\".",
        ),
    ] {
        let r = app.get(&format!("/membership-events.xml?{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.errors(), vec![message.to_string()], "{query}");
    }
    let many = (1..=101)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let r = app.get(&format!("/membership-events.xml?user_id={many}"));
    assert_eq!(r.errors(), vec!["user_id names at most 100 ids."]);
    // Every problem at once.
    let r = app.get("/membership-events.xml?since=x&after_id=y");
    assert_eq!(r.errors().len(), 2);

    let user = app.user("alice");
    let group = app.group("Editors");
    for path in [
        "/user-group-memberships.xml".to_string(),
        format!("/users/{user}/user-group-memberships.xml"),
        format!("/user_groups/{group}/user-group-memberships.xml"),
    ] {
        let r = app.get(&format!("{path}?as_of=2026-12-01"));
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(
            r.errors(),
            vec![
                "as_of must be a date and time with an offset, such as 2026-12-01T09:14:03Z, not \"2026-12-01\"."
            ]
        );
    }
    // Without credentials it is a 401 first, whatever the query.
    let r = app.send(app.client.get(app.url("/membership-events.xml?since=x")));
    assert_eq!(r.status, 401);
}

/// Waits until the clock has passed `at` by a whole second, so the next
/// change is dated after it.
fn wait_past(at: NaiveDateTime) {
    while Utc::now().naive_utc() < at + chrono::Duration::milliseconds(1100) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn event_time(e: &Value) -> NaiveDateTime {
    DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap())
        .unwrap()
        .naive_utc()
}

#[test]
fn as_of_answers_the_memberships_of_a_past_moment() {
    let app = spawn_app();
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let (editors, readers) = (app.group("Editors"), app.group("Readers"));
    let m1 = app.add(alice, editors);
    let m2 = app.add(bob, editors);
    let (events, _) = feed(&app, "");
    let then = event_time(&events[1]);
    wait_past(then);
    assert_eq!(
        app.delete(&format!("/user-group-memberships/{m1}.xml"))
            .status,
        200
    );
    let m3 = app.add(alice, readers);
    assert_eq!(
        app.delete(&format!("/user_groups/{editors}.xml")).status,
        200
    );
    assert_eq!(
        ids_in_list(&app.get("/user-group-memberships.xml").body),
        vec![m3]
    );

    let at = then.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let r = app.get(&format!("/user-group-memberships.xml?as_of={at}"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(ids_in_list(&r.body), vec![m1, m2]);
    assert_eq!(r.header("x-total-count"), Some("2"));
    // The same moment with an offset, and with a fraction of a second.
    let later = (then + chrono::Duration::hours(2)).format("%Y-%m-%dT%H:%M:%S.5%%2B02:00");
    let r = app.get(&format!("/user-group-memberships.xml?as_of={later}"));
    assert_eq!(ids_in_list(&r.body), vec![m1, m2]);
    // The deleted group's past memberships show in the user lists too; the
    // group itself is gone, so its nested list is a 404, and included
    // groups that no longer exist are shown by id.
    let r = app.get(&format!(
        "/users/{bob}/user-group-memberships.json?as_of={at}&include=user_groups,timestamps"
    ));
    let list: Vec<Value> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"].as_i64(), Some(m2));
    assert_eq!(list[0]["user_group_id"].as_i64(), Some(editors));
    assert_eq!(list[0]["created_at"], events[1]["created_at"]);
    let r = app.get(&format!(
        "/user_groups/{editors}/user-group-memberships.xml?as_of={at}"
    ));
    assert_eq!(r.status, 404);
    let r = app.get(&format!(
        "/user_groups/{readers}/user-group-memberships.xml?as_of={at}"
    ));
    assert_eq!(ids_in_list(&r.body), Vec::<i64>::new());
    // include=users: users as they are now.
    let r = app.get(&format!(
        "/user-group-memberships.json?as_of={at}&include=users&start=2&end=2"
    ));
    let list: Vec<Value> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(list[0]["user"]["login"], "bob");
    assert_eq!(r.header("x-total-count"), Some("2"));

    // Before anything, and in the future (as of now).
    let r = app.get("/user-group-memberships.xml?as_of=2000-01-01T00:00:00Z");
    assert_eq!(r.header("x-total-count"), Some("0"));
    assert!(r.body.contains("<user-group-memberships type=\"array\"/>"));
    let r = app.get("/user-group-memberships.xml?as_of=2999-01-01T00:00:00Z");
    assert_eq!(ids_in_list(&r.body), vec![m3]);
    let r = app.get(&format!(
        "/user_groups/{readers}/user-group-memberships.xml?as_of=2999-01-01T00:00:00Z"
    ));
    assert_eq!(ids_in_list(&r.body), vec![m3]);
}

#[test]
fn twenty_concurrent_adds_of_one_pair_leave_one_added_event() {
    let app = std::sync::Arc::new(spawn_app());
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let (app, barrier) = (app.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                app.post_xml("/user-group-memberships.xml", &membership_xml(u, g))
                    .status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 201).count(), 1);
    let (events, total) = feed(&app, "");
    assert_eq!(total, 1, "{events:?}");
    assert_eq!(events[0]["action"], "added");
    // And twenty concurrent deletes of it leave one removed event.
    let id = events[0]["membership_id"].as_i64().unwrap();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let (app, barrier) = (app.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                app.delete(&format!("/user-group-memberships/{id}.xml"))
                    .status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        (
            statuses.iter().filter(|&&s| s == 200).count(),
            statuses.iter().filter(|&&s| s == 404).count()
        ),
        (1, 19),
        "{statuses:?}"
    );
    let (events, total) = feed(&app, "");
    assert_eq!(total, 2, "{events:?}");
    assert_eq!(events[1]["action"], "removed");
}

#[test]
fn the_database_refuses_a_change_without_its_event_and_an_event_without_its_change() {
    let app = spawn_app();
    let (alice, editors) = (app.user("alice"), app.group("Editors"));
    let m = app.add(alice, editors);
    let bob = app.user("bob");
    let mut conn = app.pool.get().unwrap();
    let mut refused = |sql: &str| {
        let result = diesel::sql_query(sql).execute(&mut *conn);
        assert!(result.is_err(), "the database took: {sql}");
    };
    refused(&format!(
        "DELETE FROM user_group_memberships WHERE id = {m}"
    ));
    // A delete that cascades from the group or the user.
    refused(&format!("DELETE FROM user_groups WHERE id = {editors}"));
    refused(&format!("DELETE FROM users WHERE id = {alice}"));
    refused(&format!(
        "INSERT INTO membership_events (action, membership_id, user_id, user_group_id, actor_id, via, created_at) \
         VALUES ('added', {}, {alice}, {editors}, NULL, 'api', '2026-12-01 00:00:00')",
        m + 100
    ));
    refused("UPDATE membership_events SET via = 'scim'");
    refused("DELETE FROM membership_events");
    // A membership added without its event is refused at commit (a
    // deferred foreign key on SQLite, a deferred constraint trigger on
    // PostgreSQL).
    refused(&format!(
        "INSERT INTO user_group_memberships (user_id, user_group_id, created_at, updated_at) \
         VALUES ({bob}, {editors}, '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
    ));
    drop(conn);
    assert_eq!(
        ids_in_list(&app.get("/user-group-memberships.xml").body),
        vec![m]
    );
    assert_eq!(feed(&app, "").1, 1);
}

/// The one write path is `db::queries::changes`: no other file of `src/`
/// inserts or deletes a membership or an event, by Diesel or by SQL.
#[test]
fn one_write_path_in_the_source() {
    let writes = [
        "insert_into(ugm::",
        "insert_into(user_group_memberships::",
        "insert_into(ev::",
        "insert_into(membership_events::",
        "delete(ugm::",
        "delete(user_group_memberships::",
        "delete(ev::",
        "delete(membership_events::",
        "INSERT INTO user_group_memberships",
        "INSERT INTO membership_events",
        "DELETE FROM user_group_memberships",
        "DELETE FROM membership_events",
        "update(ugm::",
        "update(ev::",
    ];
    let mut found = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    let mut files = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            let compact: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let squeezed = compact.replace("( ", "(");
            for w in writes {
                let hit = if w.contains(' ') {
                    compact.contains(w)
                } else {
                    squeezed.contains(w)
                };
                if hit && !path.ends_with("db/queries/changes.rs") {
                    found.push(format!("{}: {w}", path.display()));
                }
            }
        }
    }
    assert!(files > 30, "read the source ({files} files)");
    assert!(
        found.is_empty(),
        "membership writes outside changes.rs: {found:?}"
    );
}

#[test]
fn memberships_from_before_history_get_one_added_event_from_the_migration() {
    use diesel::Connection;
    use diesel_migrations::{FileBasedMigrations, MigrationHarness};
    let database = TestDatabase::new();
    let url = database.url.clone();
    let postgres = postgres_admin_url().is_some();
    let dir = if postgres { "postgres" } else { "sqlite" };
    let migrations = FileBasedMigrations::from_path(
        concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/").to_string() + dir,
    )
    .unwrap();
    // The schema as it was before history: every migration but its own.
    let setup = "INSERT INTO users (login, name, user_group_manager, created_at, updated_at) \
                 VALUES ('alice', 'Alice', false, '2020-01-02 03:04:05', '2020-01-02 03:04:05'), \
                        ('bob', 'Bob', false, '2020-01-02 03:04:05', '2020-01-02 03:04:05'); \
                 INSERT INTO user_groups (name, created_at, updated_at) \
                 VALUES ('Editors', '2020-01-02 03:04:05', '2020-01-02 03:04:05'), \
                        ('Readers', '2020-01-02 03:04:05', '2020-01-02 03:04:05'); \
                 INSERT INTO user_group_memberships (user_id, user_group_id, created_at, updated_at) \
                 VALUES (2, 1, '2021-05-06 07:08:09', '2021-05-06 07:08:09'), \
                        (1, 1, '2022-01-01 00:00:00', '2022-01-01 00:00:00'), \
                        (1, 2, '2022-01-01 00:00:00', '2022-01-01 00:00:00'); \
                 DELETE FROM user_group_memberships WHERE id = 3;";
    fn before_history<C, B>(conn: &mut C, migrations: &FileBasedMigrations, setup: &str)
    where
        C: MigrationHarness<B> + Connection<Backend = B> + diesel::migration::MigrationConnection,
        B: diesel::backend::Backend,
    {
        use diesel::migration::MigrationSource;
        conn.setup().unwrap();
        let all = MigrationSource::<B>::migrations(migrations).unwrap();
        let mut all: Vec<_> = all.into_iter().collect();
        all.sort_by_key(|m| m.name().to_string());
        for m in all
            .iter()
            .filter(|m| !m.name().to_string().contains("membership_events"))
        {
            conn.run_migration(m.as_ref()).unwrap();
        }
        conn.batch_execute(setup).unwrap();
    }
    if postgres {
        let mut c = diesel::pg::PgConnection::establish(&url).unwrap();
        before_history(&mut c, &migrations, setup);
    } else {
        let path = url.strip_prefix("sqlite://").unwrap();
        let mut c = diesel::sqlite::SqliteConnection::establish(path).unwrap();
        before_history(&mut c, &migrations, setup);
    }

    // syncd applies the pending migration when it opens the database.
    let pool = db::open(&url, &PoolSettings::default()).unwrap();
    let (_, token) = insert_user(&pool, "manager", true, None);
    let app = TestApp::builder().on(database, pool).token(token).spawn();
    let (events, total) = feed(&app, "");
    assert_eq!(total, 2);
    assert_eq!(
        events.iter().map(summary).collect::<Vec<_>>(),
        vec![
            ev("added", 1, 2, 1, None, "migration"),
            ev("added", 2, 1, 1, None, "migration"),
        ]
    );
    assert_eq!(events[0]["created_at"], "2021-05-06T07:08:09Z");
    assert_eq!(events[1]["created_at"], "2022-01-01T00:00:00Z");
    // as_of reads them: bob was in Editors at the end of 2021, alice not yet.
    let r = app.get("/user-group-memberships.xml?as_of=2021-12-31T00:00:00Z");
    assert_eq!(ids_in_list(&r.body), vec![1]);
    // And they are removed with their events like any other.
    assert_eq!(app.delete("/user-group-memberships/1.xml").status, 200);
    assert_eq!(feed(&app, "").1, 3);
    // Ids are still never reused: membership 3 was deleted before the
    // migration (which rebuilds the SQLite table), so the next is 4.
    assert_eq!(app.add(1, 2), 4);
}
