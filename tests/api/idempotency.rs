//! Retrying safely with `Idempotency-Key` (API.md 8.6): a retry gets the
//! first answer again and changes nothing; another request under the key is
//! 422; a key still running is 409; keys are per caller, bounded, kept in
//! the database (across a restart) for 24 hours, and a claim abandoned by a
//! crash is taken over after its lease. Runs on SQLite, and on PostgreSQL
//! in the test command's second pass (the tests that write rows straight
//! into `idempotency_keys` use the test's pool, which is either).

use chrono::Utc;
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use syncd::db::DbPool;
use syncd::db::schema::idempotency_keys as ik;

use crate::helpers::{
    Daemon, Resp, TestApp, TestDatabase, execute_sql, id_of, insert_manager, insert_user,
    membership_xml, spawn_app,
};

const XML: &str = "application/xml";
const JSON: &str = "application/json";

fn group_xml(name: &str) -> String {
    format!("<user-group><name>{name}</name></user-group>")
}

/// A POST as the app's manager, with `key` as its `Idempotency-Key`.
fn post(app: &TestApp, path: &str, kind: &str, body: &str, key: &str) -> Resp {
    post_as(app, &app.token, path, kind, body, key)
}

fn post_as(app: &TestApp, token: &str, path: &str, kind: &str, body: &str, key: &str) -> Resp {
    app.send(
        app.client
            .post(app.url(path))
            .header("X-API-KEY", token)
            .header("Content-Type", kind)
            .header("Idempotency-Key", key)
            .body(body.to_string()),
    )
}

/// How many items a list holds (its `X-Total-Count`).
fn total(app: &TestApp, path: &str) -> i64 {
    let r = app.get(path);
    assert_eq!(r.status, 200, "{r:?}");
    r.header("x-total-count").unwrap().parse().unwrap()
}

fn groups(app: &TestApp) -> i64 {
    total(app, "/user_groups.xml")
}

fn events(app: &TestApp) -> i64 {
    total(app, "/membership-events.xml")
}

/// `again` is `first` replayed: the same status, body, content type and
/// `Location`, marked as a replay.
fn assert_replayed(first: &Resp, again: &Resp) {
    assert_eq!(first.header("idempotent-replayed"), None, "{first:?}");
    assert_eq!(
        again.header("idempotent-replayed"),
        Some("true"),
        "{again:?}"
    );
    assert_eq!(again.status, first.status);
    assert_eq!(again.body, first.body);
    for name in ["content-type", "location", "etag"] {
        assert_eq!(again.header(name), first.header(name), "{name}");
    }
    // The headers every answer gets are there too.
    assert_eq!(again.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(again.header("cache-control"), Some("private, no-cache"));
}

/// The digest syncd keeps of a request (API.md: method, path with its
/// extension and query, body).
fn fingerprint(method: &str, target: &str, body: &str) -> String {
    let mut d = Sha256::new();
    d.update(format!("{method} {target}\n{body}"));
    hex::encode(d.finalize())
}

/// A timestamp `secs` seconds ago as both backends read it in SQL.
fn ago(secs: i64) -> String {
    (Utc::now() - chrono::TimeDelta::seconds(secs))
        .naive_utc()
        .format("'%Y-%m-%d %H:%M:%S'")
        .to_string()
}

fn my_id(app: &TestApp) -> i64 {
    let me: Value = serde_json::from_str(&app.get("/me.json").body).unwrap();
    me["id"].as_i64().unwrap()
}

/// Keys kept for `caller`.
fn keys_of(pool: &DbPool, caller: i64) -> Vec<String> {
    let mut c = pool.get().unwrap();
    ik::table
        .filter(ik::caller_id.eq(caller))
        .select(ik::key)
        .order(ik::key)
        .load(&mut *c)
        .unwrap()
}

#[test]
fn a_retried_group_create_gets_the_first_answer_and_makes_one_group() {
    let app = spawn_app();
    let first = post(&app, "/user_groups.xml", XML, &group_xml("Editors"), "k-1");
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.header("location"), Some("/user_groups/1.xml"));
    for _ in 0..3 {
        let again = post(&app, "/user_groups.xml", XML, &group_xml("Editors"), "k-1");
        assert_replayed(&first, &again);
    }
    assert_eq!(groups(&app), 1);

    // JSON the same way, and a key is not tied to a format but to a request.
    let body = r#"{"user_group": {"name": "Readers", "description": "Who reads"}}"#;
    let first = post(&app, "/user_groups.json", JSON, body, "k-2");
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(
        first.body,
        "{\"id\":2,\"name\":\"Readers\",\"description\":\"Who reads\"}\n"
    );
    assert_eq!(first.header("location"), Some("/user_groups/2.json"));
    let again = post(&app, "/user_groups.json", JSON, body, "k-2");
    assert_replayed(&first, &again);
    assert_eq!(groups(&app), 2);

    // Without a key, nothing changes: each request runs.
    let plain = app.post_xml("/user_groups.xml", &group_xml("Editors"));
    assert_eq!(plain.status, 422);
    assert_eq!(plain.header("idempotent-replayed"), None);
}

#[test]
fn a_retried_membership_create_makes_one_membership_and_one_event_on_every_route() {
    let app = spawn_app();
    let editors = app.group("Editors");
    let users: Vec<i64> = (0..4).map(|i| app.user(&format!("user{i}"))).collect();
    let cases = [
        (
            "/user-group-memberships.xml".to_string(),
            XML,
            membership_xml(users[0], editors),
        ),
        (
            format!("/users/{}/user-group-memberships.json", users[1]),
            JSON,
            format!(r#"{{"user_group_id": {editors}}}"#),
        ),
        (
            format!("/user_groups/{editors}/user-group-memberships.xml"),
            XML,
            format!(
                "<user-group-membership><user-id>{}</user-id></user-group-membership>",
                users[2]
            ),
        ),
        (
            format!("/user-groups/{editors}/user-group-memberships.json"),
            JSON,
            format!(r#"{{"user": {}}}"#, users[3]),
        ),
    ];
    for (n, (path, kind, body)) in cases.iter().enumerate() {
        let key = format!("add-{n}");
        let first = post(&app, path, kind, body, &key);
        assert_eq!(first.status, 201, "{path}: {first:?}");
        assert!(first.header("location").is_some());
        let again = post(&app, path, kind, body, &key);
        assert_replayed(&first, &again);
        assert_eq!(events(&app), n as i64 + 1, "{path}");
    }
    assert_eq!(total(&app, "/user-group-memberships.xml"), 4);
}

#[test]
fn error_answers_are_kept_and_replayed_too() {
    let app = spawn_app();
    let taken = app.group("Editors");
    let first = post(&app, "/user_groups.xml", XML, &group_xml("Editors"), "dup");
    assert_eq!(first.status, 422);
    assert_eq!(
        first.errors(),
        ["A user group named \"Editors\" already exists."]
    );
    // The name is free now, but the retry gets the answer it had.
    assert_eq!(app.delete(&format!("/user_groups/{taken}.xml")).status, 200);
    let again = post(&app, "/user_groups.xml", XML, &group_xml("Editors"), "dup");
    assert_replayed(&first, &again);
    assert_eq!(groups(&app), 0);

    // A body that cannot be read (400), in JSON.
    let first = post(&app, "/user_groups.json", JSON, "{not json", "broken");
    assert_eq!(first.status, 400);
    assert_eq!(
        first.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let again = post(&app, "/user_groups.json", JSON, "{not json", "broken");
    assert_replayed(&first, &again);

    // A missing parent (404) of a nested create.
    let path = "/user_groups/99/user-group-memberships.xml";
    let body = "<user-group-membership><user-id>1</user-id></user-group-membership>";
    let first = post(&app, path, XML, body, "no-parent");
    assert_eq!(first.status, 404);
    let again = post(&app, path, XML, body, "no-parent");
    assert_replayed(&first, &again);
}

#[test]
fn the_same_key_with_another_request_is_422_and_does_nothing() {
    let app = spawn_app();
    let first = post(&app, "/user_groups.xml", XML, &group_xml("Editors"), "k");
    assert_eq!(first.status, 201);
    let message = ["This Idempotency-Key was used with a different request."];
    for (path, body) in [
        // Another body.
        ("/user_groups.xml", group_xml("Readers")),
        // Another path: the extension, the query string, the alias.
        ("/user_groups.json", group_xml("Editors")),
        ("/user_groups.xml?include=timestamps", group_xml("Editors")),
        ("/user-groups.xml", group_xml("Editors")),
        // Another route altogether.
        ("/user-group-memberships.xml", membership_xml(1, 1)),
    ] {
        let r = post(&app, path, XML, &body, "k");
        assert_eq!(r.status, 422, "{path}: {r:?}");
        assert_eq!(r.header("idempotent-replayed"), None);
        if path.contains(".json") {
            assert_eq!(
                r.body,
                "{\"errors\":[\"This Idempotency-Key was used with a different request.\"]}"
            );
        } else {
            assert_eq!(r.errors(), message);
        }
    }
    assert_eq!(groups(&app), 1);
    assert_eq!(total(&app, "/user-group-memberships.xml"), 0);
    // The first request is still answered as before.
    let again = post(&app, "/user_groups.xml", XML, &group_xml("Editors"), "k");
    assert_replayed(&first, &again);
}

#[test]
fn each_caller_has_keys_of_their_own() {
    let app = spawn_app();
    let (_, other) = insert_user(&app.pool, "other-manager", true, None);
    let first = post(
        &app,
        "/user_groups.xml",
        XML,
        &group_xml("Editors"),
        "shared",
    );
    assert_eq!(first.status, 201);
    // The same request and key from someone else runs afresh: the name is
    // taken now.
    let theirs = post_as(
        &app,
        &other,
        "/user_groups.xml",
        XML,
        &group_xml("Editors"),
        "shared",
    );
    assert_eq!(theirs.status, 422, "{theirs:?}");
    assert_eq!(theirs.header("idempotent-replayed"), None);
    // Another body under the same key is theirs to use, not a mismatch.
    let theirs = post_as(
        &app,
        &other,
        "/user_groups.xml",
        XML,
        &group_xml("Readers"),
        "k2",
    );
    assert_eq!(theirs.status, 201);
    let mine = post(&app, "/user_groups.xml", XML, &group_xml("Admins"), "k2");
    assert_eq!(mine.status, 201);
    assert_eq!(groups(&app), 3);
    // And each gets their own answer again.
    let again = post(
        &app,
        "/user_groups.xml",
        XML,
        &group_xml("Editors"),
        "shared",
    );
    assert_replayed(&first, &again);
}

#[test]
fn a_key_whose_first_request_is_still_running_is_409() {
    let app = spawn_app();
    let me = my_id(&app);
    let body = group_xml("Editors");
    // A claim just made, by a request still running (in another process).
    execute_sql(
        &app.pool,
        &format!(
            "INSERT INTO idempotency_keys (caller_id, key, fingerprint, created_at) \
             VALUES ({me}, 'busy', '{}', {})",
            fingerprint("POST", "/user_groups.xml", &body),
            ago(10)
        ),
    );
    let r = post(&app, "/user_groups.xml", XML, &body, "busy");
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(
        r.errors(),
        ["A request with this Idempotency-Key is still being processed; retry later."]
    );
    let r = post(&app, "/user_groups.json", XML, &body, "busy");
    assert_eq!(r.status, 422, "another request under a running key");
    assert_eq!(groups(&app), 0);
}

#[test]
fn concurrent_retries_make_one_group_and_each_gets_the_answer_or_409() {
    let app = spawn_app();
    let body = group_xml("Editors");
    let answers: Vec<Resp> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..12)
            .map(|_| s.spawn(|| post(&app, "/user_groups.xml", XML, &body, "race")))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(groups(&app), 1);
    let firsts: Vec<&Resp> = answers
        .iter()
        .filter(|r| r.status == 201 && r.header("idempotent-replayed").is_none())
        .collect();
    assert_eq!(firsts.len(), 1, "{answers:?}");
    for r in &answers {
        match r.status {
            201 => assert_eq!(r.body, firsts[0].body),
            409 => {}
            _ => panic!("{r:?}"),
        }
    }
    let again = post(&app, "/user_groups.xml", XML, &body, "race");
    assert_replayed(firsts[0], &again);
}

#[test]
fn bad_keys_are_400_after_sign_in_and_do_nothing() {
    let app = spawn_app();
    let message = ["An Idempotency-Key must be 1 to 255 printable ASCII characters."];
    let long = "k".repeat(256);
    let bad: Vec<HeaderValue> = vec![
        HeaderValue::from_static(""),
        HeaderValue::from_static("   "),
        HeaderValue::from_str(&long).unwrap(),
        HeaderValue::from_bytes("caf\u{e9}".as_bytes()).unwrap(),
        HeaderValue::from_bytes(b"tab\tinside").unwrap(),
    ];
    for key in bad {
        for (path, body) in [
            ("/user_groups.xml", group_xml("Editors")),
            ("/user-group-memberships.xml", membership_xml(1, 1)),
        ] {
            let r = app.send(
                app.request(Method::POST, path)
                    .header("Content-Type", XML)
                    .header("Idempotency-Key", key.clone())
                    .body(body.clone()),
            );
            assert_eq!(r.status, 400, "{key:?}: {r:?}");
            assert_eq!(r.errors(), message);
        }
        // Without credentials, sign-in answers first.
        let r = app.send(
            app.client
                .post(app.url("/user_groups.xml"))
                .header("Content-Type", XML)
                .header("Idempotency-Key", key.clone())
                .body(group_xml("Editors")),
        );
        assert_eq!(r.status, 401);
    }
    // Two keys are one too many.
    let r = app.send(
        app.request(Method::POST, "/user_groups.xml")
            .header("Content-Type", XML)
            .header("Idempotency-Key", "a")
            .header("Idempotency-Key", "b")
            .body(group_xml("Editors")),
    );
    assert_eq!(r.status, 400);
    assert_eq!(groups(&app), 0);
    assert_eq!(total(&app, "/user-group-memberships.xml"), 0);
    // The longest key and every printable character, space included, work.
    let longest = "k".repeat(255);
    let r = post(&app, "/user_groups.xml", XML, &group_xml("A"), &longest);
    assert_eq!(r.status, 201);
    let printable: String = (0x20u8..=0x7E).map(char::from).collect();
    let key = printable.trim();
    let first = post(&app, "/user_groups.xml", XML, &group_xml("B"), key);
    assert_eq!(first.status, 201);
    let again = post(&app, "/user_groups.xml", XML, &group_xml("B"), key);
    assert_replayed(&first, &again);
}

#[test]
fn a_key_is_kept_across_a_restart() {
    let database = TestDatabase::new();
    let url = database.url.clone();
    let token = insert_manager(&url, "manager");
    let send = |daemon: &Daemon| {
        // A client of its own: no kept-alive connection holds up the stop.
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/user_groups.xml", daemon.address))
            .header("X-API-KEY", &token)
            .header("Content-Type", XML)
            .header("Idempotency-Key", "across-restarts")
            .body(group_xml("Editors"))
            .send()
            .unwrap();
        let replayed = r.headers().get("idempotent-replayed").cloned();
        let location = r.headers().get("location").cloned();
        (r.status().as_u16(), replayed, location, r.text().unwrap())
    };
    let daemon = Daemon::start(&url);
    let (status, replayed, location, body) = send(&daemon);
    assert_eq!((status, replayed), (201, None));
    assert_eq!(daemon.signal_and_wait("-TERM"), 0);

    let daemon = Daemon::start(&url);
    let (again, replayed, again_location, again_body) = send(&daemon);
    assert_eq!(again, 201);
    assert_eq!(replayed, Some(HeaderValue::from_static("true")));
    assert_eq!(again_location, location);
    assert_eq!(again_body, body);
    assert_eq!(id_of(&body), 1);
    assert_eq!(daemon.signal_and_wait("-TERM"), 0);
}

#[test]
fn a_key_older_than_24_hours_runs_afresh_and_is_swept() {
    let app = spawn_app();
    let me = my_id(&app);
    let body = group_xml("Editors");
    let fp = fingerprint("POST", "/user_groups.xml", &body);
    // Answers kept 25 hours ago, before this server's first sweep.
    for key in ["old", "forgotten"] {
        execute_sql(
            &app.pool,
            &format!(
                "INSERT INTO idempotency_keys \
                 (caller_id, key, fingerprint, status, content_type, body, created_at) \
                 VALUES ({me}, '{key}', '{fp}', 201, 'text/plain', 'stale', {})",
                ago(25 * 3600)
            ),
        );
    }
    // The first claim sweeps: both are gone, and "old" runs as new.
    let r = post(&app, "/user_groups.xml", XML, &body, "old");
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("idempotent-replayed"), None);
    assert_eq!(keys_of(&app.pool, me), ["old"]);

    // An expired key not swept yet (the next sweep is a minute away) is
    // absent all the same, and so is another request's expired key.
    for (key, fingerprint) in [("later", fp.as_str()), ("other", "0123")] {
        execute_sql(
            &app.pool,
            &format!(
                "INSERT INTO idempotency_keys \
                 (caller_id, key, fingerprint, status, content_type, body, created_at) \
                 VALUES ({me}, '{key}', '{fingerprint}', 201, 'text/plain', 'stale', {})",
                ago(24 * 3600 + 5)
            ),
        );
        let r = post(&app, "/user_groups.xml", XML, &body, key);
        assert_eq!(r.status, 422, "ran afresh: the name is taken now: {r:?}");
        assert_eq!(r.header("idempotent-replayed"), None);
        let again = post(&app, "/user_groups.xml", XML, &body, key);
        assert_replayed(&r, &again);
    }
    assert_eq!(groups(&app), 1);
}

#[test]
fn a_claim_abandoned_by_a_crash_is_taken_over_after_its_lease() {
    let app = spawn_app();
    let me = my_id(&app);
    let body = group_xml("Editors");
    let fp = fingerprint("POST", "/user_groups.xml", &body);
    // Claimed six minutes ago by a process that died before answering; and
    // another four minutes ago, still within its lease.
    for (key, secs) in [("crashed", 6 * 60), ("slow", 4 * 60)] {
        execute_sql(
            &app.pool,
            &format!(
                "INSERT INTO idempotency_keys (caller_id, key, fingerprint, created_at) \
                 VALUES ({me}, '{key}', '{fp}', {})",
                ago(secs)
            ),
        );
    }
    assert_eq!(
        post(&app, "/user_groups.xml", XML, &body, "slow").status,
        409
    );
    let first = post(&app, "/user_groups.xml", XML, &body, "crashed");
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = post(&app, "/user_groups.xml", XML, &body, "crashed");
    assert_replayed(&first, &again);
    assert_eq!(groups(&app), 1);
    // A retry that is another request takes an abandoned claim over too.
    execute_sql(
        &app.pool,
        &format!(
            "INSERT INTO idempotency_keys (caller_id, key, fingerprint, created_at) \
             VALUES ({me}, 'crashed-2', 'f00', {})",
            ago(6 * 60)
        ),
    );
    let r = post(
        &app,
        "/user_groups.xml",
        XML,
        &group_xml("Readers"),
        "crashed-2",
    );
    assert_eq!(r.status, 201, "{r:?}");
}

#[test]
fn a_users_keys_go_with_the_user() {
    let app = spawn_app();
    let (id, token) = insert_user(&app.pool, "leaving", true, None);
    let r = post_as(
        &app,
        &token,
        "/user_groups.xml",
        XML,
        &group_xml("Editors"),
        "k",
    );
    assert_eq!(r.status, 201);
    assert_eq!(keys_of(&app.pool, id), ["k"]);
    execute_sql(&app.pool, &format!("DELETE FROM users WHERE id = {id}"));
    assert!(keys_of(&app.pool, id).is_empty());
}

#[test]
fn a_client_that_goes_away_leaves_no_key_stuck() {
    use std::io::Write;
    let app = spawn_app();
    let body = group_xml("Editors");
    let port = app.address.rsplit(':').next().unwrap();
    // The whole request, then the connection closed without reading the
    // answer.
    let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    write!(
        stream,
        "POST /user_groups.xml HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: {}\r\n\
         Content-Type: application/xml\r\nIdempotency-Key: gone\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        app.token,
        body.len()
    )
    .unwrap();
    drop(stream);
    // The retry gets an answer: the first one kept (or, if the server never
    // started the first, its own), never a 409 for ever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let r = loop {
        let r = post(&app, "/user_groups.xml", XML, &body, "gone");
        if r.status != 409 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(groups(&app), 1);
}
