//! Answers kept (issue 17, `views::answers`): a read answered again while
//! the data has not changed, and never once it has. A write through a
//! process shows in that process's next read; another process's write (a
//! second replica, the command line) shows in the next read on SQLite and
//! within a second on PostgreSQL (docs/DEPLOY.md). Every test here can
//! fail: each reads, writes, and reads again the same request.

use std::time::{Duration, Instant};

use crate::cli::{fresh_url, stdout, syncd};
use crate::helpers::{
    Daemon, ids_in_list, insert_manager, membership_xml, postgres_admin_url, run_with_stdin,
    spawn_app,
};

/// What the documentation promises for another process's writes.
const ANOTHER_PROCESS: Duration = Duration::from_secs(1);

fn on_postgres() -> bool {
    postgres_admin_url().is_some()
}

#[test]
fn a_write_shows_in_the_next_read_of_the_same_request() {
    let app = spawn_app();
    let g = app.group("Editors");
    let users: Vec<i64> = (0..12).map(|i| app.user(&format!("u{i}"))).collect();
    let list = "/user-group-memberships.xml?include=users,user_groups&start=1&end=100";
    let nested = format!("/user_groups/{g}/user-group-memberships.json");
    let mut ids: Vec<i64> = Vec::new();
    for &u in &users {
        for _ in 0..3 {
            let r = app.get(list);
            assert_eq!(r.status, 200);
            let total = ids.len().to_string();
            assert_eq!(r.header("x-total-count"), Some(total.as_str()));
            assert_eq!(ids_in_list(&r.body), ids);
            let r = app.get(&nested);
            assert_eq!(r.header("x-total-count"), Some(total.as_str()));
        }
        ids.push(app.add(u, g));
    }
    for id in ids.clone() {
        let one = format!("/user-group-memberships/{id}.xml");
        assert_eq!(app.get(&one).status, 200);
        assert_eq!(app.get(&one).status, 200);
        assert_eq!(app.delete(&one).status, 200);
        assert_eq!(app.get(&one).status, 404, "the delete, at once");
        ids.retain(|&i| i != id);
        let r = app.get(list);
        assert_eq!(ids_in_list(&r.body), ids);
        assert_eq!(
            r.header("x-total-count"),
            Some(ids.len().to_string().as_str())
        );
    }

    // A rename shows in the group and in lists that include groups.
    let u = app.add(users[0], g);
    let with_groups = "/user-group-memberships.xml?include=user_groups";
    assert!(app.get(with_groups).body.contains("<name>Editors</name>"));
    assert!(app.get(with_groups).body.contains("<name>Editors</name>"));
    let r = app.send(
        app.request(reqwest::Method::PUT, &format!("/user_groups/{g}.xml"))
            .header("Content-Type", "application/xml")
            .body("<user-group><name>Writers</name></user-group>"),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = app.get(with_groups);
    assert!(r.body.contains("<name>Writers</name>"), "{}", r.body);
    assert!(
        app.get(&format!("/user_groups/{g}.xml"))
            .body
            .contains("Writers")
    );
    assert_eq!(ids_in_list(&r.body), vec![u]);
}

#[test]
fn a_kept_answer_keeps_its_format_etag_head_and_304() {
    let app = spawn_app();
    let g = app.group("Editors");
    let id = app.add(app.user("ann"), g);
    let path = format!("/user-group-memberships/{id}");
    let xml = app.get(&format!("{path}.xml"));
    let json = app.get(&format!("{path}.json"));
    for _ in 0..2 {
        let again = app.get(&format!("{path}.xml"));
        assert_eq!(again.body, xml.body);
        assert_eq!(again.header("etag"), xml.header("etag"));
        assert_eq!(again.header("content-type"), xml.header("content-type"));
        let again = app.get(&format!("{path}.json"));
        assert_eq!(again.body, json.body);
        assert!(again.body.starts_with('{'), "{}", again.body);
        // By Accept, not by extension: a request of its own, same bytes.
        let by_accept = app.send(
            app.request(reqwest::Method::GET, &path)
                .header("Accept", "application/json"),
        );
        assert_eq!(by_accept.body, json.body);
    }
    let etag = xml.header("etag").unwrap().to_string();
    for _ in 0..2 {
        let r = app.send(
            app.request(reqwest::Method::GET, &format!("{path}.xml"))
                .header("If-None-Match", &etag),
        );
        assert_eq!(r.status, 304);
        assert_eq!(r.header("etag"), Some(etag.as_str()));
        assert_eq!(r.body, "");
        let head = app.send(app.request(reqwest::Method::HEAD, &format!("{path}.xml")));
        assert_eq!(head.status, 200);
        assert_eq!(head.body, "");
        assert_eq!(head.header("etag"), Some(etag.as_str()));
    }
    // Lists carry their Link and X-Total-Count when kept.
    let list = "/user-group-memberships.xml?start=1&end=1";
    let first = app.get(list);
    let again = app.get(list);
    assert_eq!(again.header("x-total-count"), Some("1"));
    assert_eq!(again.header("link"), first.header("link"));
    assert_eq!(again.body, first.body);
}

/// Reads `path` from `d` until `seen` holds or `within` has passed; how long
/// it took, and the last body.
fn read_until(
    client: &reqwest::blocking::Client,
    d: &Daemon,
    token: &str,
    path: &str,
    within: Duration,
    seen: impl Fn(&reqwest::header::HeaderMap, &str) -> bool,
) -> (Option<Duration>, String) {
    let since = Instant::now();
    loop {
        let r = client
            .get(format!("{}{path}", d.address))
            .header("X-API-KEY", token)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let headers = r.headers().clone();
        let body = r.text().unwrap();
        if seen(&headers, &body) {
            return (Some(since.elapsed()), body);
        }
        if since.elapsed() > within {
            return (None, body);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn total_is(n: usize) -> impl Fn(&reqwest::header::HeaderMap, &str) -> bool {
    move |h, _| h["x-total-count"].to_str().unwrap() == n.to_string()
}

#[test]
fn another_replica_write_shows_within_a_second_and_its_own_at_once() {
    let (_database, url) = fresh_url();
    let token = insert_manager(&url, "boss");
    let out = syncd(&url, &["groups", "create", "Editors"]);
    let g: i64 = stdout(&out).trim().parse().unwrap();
    let mut users = Vec::new();
    for i in 0..6 {
        let out = syncd(&url, &["users", "create", &format!("u{i}")]);
        users.push(
            stdout(&out)
                .split(' ')
                .next()
                .unwrap()
                .parse::<i64>()
                .unwrap(),
        );
    }
    let (a, b) = (Daemon::start(&url), Daemon::start(&url));
    let client = reqwest::blocking::Client::new();
    let list = "/user-group-memberships.xml?include=users,user_groups";
    let mut worst = Duration::ZERO;
    for (n, &u) in users.iter().enumerate() {
        // Both replicas have answered (and kept) the list as it is.
        for d in [&a, &b, &a, &b] {
            let (took, body) = read_until(&client, d, &token, list, ANOTHER_PROCESS, total_is(n));
            assert!(took.is_some(), "{n} memberships: {body}");
        }
        let (writer, reader) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let r = client
            .post(format!("{}/user-group-memberships.xml", writer.address))
            .header("X-API-KEY", &token)
            .header("Content-Type", "application/xml")
            .body(membership_xml(u, g))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        // The writer's next read: at once.
        let (took, body) = read_until(
            &client,
            writer,
            &token,
            list,
            Duration::ZERO,
            total_is(n + 1),
        );
        assert!(took.is_some(), "the writer's own next read: {body}");
        // The other replica: within a second (at once on SQLite).
        let within = if on_postgres() {
            ANOTHER_PROCESS
        } else {
            Duration::ZERO
        };
        let (took, body) = read_until(&client, reader, &token, list, within, total_is(n + 1));
        let took = took.unwrap_or_else(|| panic!("the other replica, within {within:?}: {body}"));
        worst = worst.max(took);
    }
    eprintln!("another replica's write was seen after at most {worst:?}");
}

#[test]
fn the_command_line_writing_beside_a_server_shows_in_its_next_reads() {
    let (_database, url) = fresh_url();
    let token = insert_manager(&url, "boss");
    syncd(&url, &["groups", "create", "Editors"]);
    for i in 0..3 {
        syncd(&url, &["users", "create", &format!("u{i}")]);
    }
    let d = Daemon::start(&url);
    let client = reqwest::blocking::Client::new();
    let list = "/user-group-memberships.xml";
    for _ in 0..3 {
        let (took, _) = read_until(&client, &d, &token, list, Duration::ZERO, total_is(0));
        assert!(took.is_some());
    }
    let out = run_with_stdin(&url, &["sync", "Editors", "-"], b"login\nu0\nu1\nu2\n");
    assert!(out.status.success(), "{}", crate::cli::stderr(&out));
    let within = if on_postgres() {
        ANOTHER_PROCESS
    } else {
        Duration::ZERO
    };
    let (took, body) = read_until(&client, &d, &token, list, within, total_is(3));
    assert!(took.is_some(), "within {within:?}: {body}");
}

/// The value of a metric line `name value` in a scrape.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn reads_are_answered_from_kept_answers_until_a_write_and_never_with_a_budget_of_zero() {
    let (_database, url) = fresh_url();
    let token = insert_manager(&url, "boss");
    syncd(&url, &["groups", "create", "Editors"]);
    syncd(&url, &["users", "create", "ann"]);
    syncd(&url, &["users", "create", "bob"]);
    let client = reqwest::blocking::Client::new();
    let get = |d: &Daemon, path: &str| {
        let r = client
            .get(format!("{}{path}", d.address))
            .header("X-API-KEY", &token)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().unwrap()
    };
    let list = "/user-group-memberships.xml?include=users";
    let settle = || std::thread::sleep(Duration::from_millis(if on_postgres() { 400 } else { 0 }));

    let d = Daemon::start_with(&url, &[("SYNCD_METRICS_BIND", "127.0.0.1:0")]);
    let scrape = crate::health::metrics_address(&d);
    let kept = || {
        metric(
            &client.get(&scrape).send().unwrap().text().unwrap(),
            "syncd_kept_answers_total",
        )
    };
    settle();
    get(&d, list);
    let before = kept();
    for i in 1..=3 {
        get(&d, list);
        assert_eq!(
            kept(),
            before + f64::from(i),
            "read {i} again, nothing written"
        );
    }
    let r = client
        .post(format!("{}/user-group-memberships.xml", d.address))
        .header("X-API-KEY", &token)
        .header("Content-Type", "application/xml")
        .body(membership_xml(2, 1))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let after_write = kept();
    assert!(get(&d, list).contains("<login>ann</login>"), "made anew");
    assert_eq!(kept(), after_write, "the read after a write is made anew");
    settle();
    get(&d, list);
    let made = kept();
    get(&d, list);
    assert_eq!(kept(), made + 1.0, "and kept again");
    drop(d);

    let d = Daemon::start_with(
        &url,
        &[
            ("SYNCD_METRICS_BIND", "127.0.0.1:0"),
            ("SYNCD_ANSWER_CACHE", "0"),
        ],
    );
    let scrape = crate::health::metrics_address(&d);
    settle();
    for _ in 0..3 {
        get(&d, list);
    }
    let text = client.get(&scrape).send().unwrap().text().unwrap();
    assert_eq!(metric(&text, "syncd_kept_answers_total"), 0.0);
    assert_eq!(metric(&text, "syncd_kept_answer_bytes"), 0.0);
}
