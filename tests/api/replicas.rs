//! Replicas (issue 17): three real syncd processes on one PostgreSQL
//! database behind a real HAProxy (`balancer::Balancer`, configured as
//! docs/DEPLOY.md says, checking `/readyz`). Started at once on an empty
//! database; restarted one by one under load; one killed under load.
//! PostgreSQL only: on SQLite (pass 1 of tests/run.sh) they return at once,
//! and pass 2 runs them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::blocking::Client;

use crate::balancer::{Balancer, free_port};
use crate::cli::{create_manager, fresh_url, syncd};
use crate::helpers::{Daemon, TestDatabase, postgres_admin_url};

/// Client threads of the load, each with one request in flight at a time.
const CLIENTS: usize = 6;
/// Users per client thread: each thread creates memberships of its own
/// users only, so that no two creates name the same pair.
const USERS_PER_CLIENT: usize = 200;
const GROUPS: usize = 10;
/// The bound on each client thread's requests, whatever happens.
const MAX_REQUESTS_PER_CLIENT: usize = 4_000;
/// A client's pause between requests: a steady load, not a flood.
const PAUSE: Duration = Duration::from_millis(2);
/// What each replica is started with. The drain is longer than HAProxy
/// needs to see a 503 twice (`inter 100ms fall 2`), with room to spare on
/// a busy machine.
const REPLICA_ENV: [(&str, &str); 2] = [("RUST_LOG", "info"), ("SYNCD_DRAIN_TIME", "1s")];

fn on_postgres(test: &str) -> bool {
    if postgres_admin_url().is_none() {
        eprintln!(
            "{test}: replicas share one PostgreSQL database; pass 2 of tests/run.sh \
             (SYNCD_TEST_DATABASE=postgres) runs this test"
        );
        return false;
    }
    true
}

/// Three replicas on fixed ports (the balancer's configuration names them;
/// a restarted replica binds its port again).
struct Replicas {
    url: String,
    ports: [u16; 3],
    daemons: [Option<Daemon>; 3],
}

impl Replicas {
    /// Starts all three at once.
    fn start(url: &str) -> Replicas {
        let ports = [free_port(), free_port(), free_port()];
        let daemons: Vec<Daemon> = std::thread::scope(|s| {
            let started: Vec<_> = ports
                .iter()
                .map(|port| s.spawn(move || start_replica(url, *port)))
                .collect();
            started.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let mut daemons = daemons.into_iter().map(Some);
        Replicas {
            url: url.to_string(),
            ports,
            daemons: [(); 3].map(|()| daemons.next().unwrap()),
        }
    }

    fn daemon(&self, i: usize) -> &Daemon {
        self.daemons[i].as_ref().expect("the replica runs")
    }

    /// Sends `signal` (`-TERM`, `-KILL`) to replica `i` and waits until it
    /// has exited; its exit code (-1 when killed by a signal) and its log.
    fn stop(&mut self, i: usize, signal: &str) -> (i32, String) {
        let daemon = self.daemons[i].take().expect("the replica runs");
        let log = daemon.stderr.clone();
        let code = daemon.signal_and_wait(signal);
        let log = log.lock().unwrap().clone();
        (code, log)
    }

    /// Starts replica `i` again on its port.
    fn start_again(&mut self, i: usize) {
        assert!(self.daemons[i].is_none());
        self.daemons[i] = Some(start_replica(&self.url, self.ports[i]));
    }

    /// How many access-log lines of replica `i` contain `needle`.
    fn served(&self, i: usize, needle: &str) -> usize {
        self.daemon(i)
            .stderr()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// How many API requests replica `i` answered with a 2xx since it
    /// started: access lines of a signed-in user (not the balancer's
    /// `/readyz`, which signs in as nobody).
    fn served_api(&self, i: usize) -> usize {
        self.daemon(i)
            .stderr()
            .lines()
            .filter(|l| l.contains("\" 20") && l.contains("ms user=") && !l.ends_with("user=-"))
            .count()
    }
}

fn start_replica(url: &str, port: u16) -> Daemon {
    Daemon::start_on(url, &format!("127.0.0.1:{port}"), &REPLICA_ENV)
}

/// The first token printed on a replica's stderr (the first manager's).
fn printed_token(stderr: &str) -> String {
    stderr
        .split_whitespace()
        .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .expect("a token on stderr")
        .to_string()
}

fn get(client: &Client, url: &str, token: &str) -> (u16, String) {
    let r = client
        .get(url)
        .header("X-API-KEY", token)
        .send()
        .expect("answered");
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn three_replicas_behind_haproxy_start_at_once_migrate_once_and_all_serve() {
    if !on_postgres("three_replicas_behind_haproxy_start_at_once_migrate_once_and_all_serve") {
        return;
    }
    let (_database, url) = fresh_url();
    let replicas = Replicas::start(&url);
    let balancer = Balancer::start(&replicas.ports);
    balancer.wait_all_up(Duration::from_secs(10));

    // One process applied the migrations (under the advisory lock) and one
    // created the first manager; the others found them done.
    let told: Vec<String> = (0..3)
        .map(|i| replicas.daemon(i).stderr())
        .filter(|e| e.contains("now has the User Group Manager 'admin'"))
        .collect();
    assert_eq!(told.len(), 1, "exactly one first manager");
    let token = printed_token(&told[0]);
    let users = crate::cli::stdout(&syncd(&url, &["users", "list"]));
    assert_eq!(users.lines().count(), 1, "{users}");
    assert!(users.contains("admin"));

    // Everything works through the balancer, and every replica serves.
    let client = Client::new();
    let at = |path: &str| format!("{}{path}", balancer.address);
    for _ in 0..9 {
        let (status, body) = get(&client, &at("/me.json"), &token);
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"login\":\"admin\""), "{body}");
    }
    for i in 0..3 {
        assert!(
            replicas.served(i, "\"GET /me.json HTTP/1.1\" 200") >= 1,
            "replica {i} served none of nine requests:\n{}",
            replicas.daemon(i).stderr()
        );
    }
    let r = client
        .post(at("/user_groups.json"))
        .header("X-API-KEY", &token)
        .header("Content-Type", "application/json")
        .body(r#"{"name": "Editors"}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let group: serde_json::Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    let r = client
        .post(at("/user-group-memberships.json"))
        .header("X-API-KEY", &token)
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"user_id": 1, "user_group_id": {}}}"#,
            group["id"]
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    // Whichever replica answers, it sees the same database.
    for _ in 0..3 {
        let (status, body) = get(&client, &at("/user-group-memberships.json"), &token);
        assert_eq!(status, 200);
        assert_eq!(
            body,
            format!(
                "[{{\"id\":1,\"user_id\":1,\"user_group_id\":{}}}]\n",
                group["id"]
            )
        );
    }
    let stats = balancer.stats();
    let names: Vec<&str> = stats.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["syncd1", "syncd2", "syncd3"]);
    for s in &stats {
        assert_eq!(s.status, "UP", "{stats:?}");
        assert!(s.count("stot") >= 1, "{stats:?}");
    }
}

/// The users and groups the load works on, made with the CLI before the
/// replicas start, and the token it runs as.
struct Fixture {
    token: String,
    /// Each client thread's own user ids.
    users: Vec<Vec<i64>>,
    groups: Vec<i64>,
}

fn fixture(url: &str) -> Fixture {
    let token = create_manager(url, "loader");
    let dir = tempfile::tempdir().unwrap();
    let users_csv = dir.path().join("users.csv");
    let mut csv = String::from("login,name\n");
    for n in 0..CLIENTS * USERS_PER_CLIENT {
        csv.push_str(&format!("u{n},User {n}\n"));
    }
    std::fs::write(&users_csv, csv).unwrap();
    let groups_csv = dir.path().join("groups.csv");
    let mut csv = String::from("name\n");
    for n in 0..GROUPS {
        csv.push_str(&format!("g{n}\n"));
    }
    std::fs::write(&groups_csv, csv).unwrap();
    for (kind, file) in [("users", &users_csv), ("groups", &groups_csv)] {
        let out = syncd(url, &["import", kind, file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", crate::cli::stderr(&out));
    }
    // Ids by login and name, read back with the CLI.
    let ids = |kind: &str, prefix: char| -> HashMap<String, i64> {
        crate::cli::stdout(&syncd(url, &[kind, "list"]))
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let id = words.next()?.parse().ok()?;
                let name = words.next()?;
                name.starts_with(prefix).then(|| (name.to_string(), id))
            })
            .collect()
    };
    let users = ids("users", 'u');
    let groups = ids("groups", 'g');
    assert_eq!(users.len(), CLIENTS * USERS_PER_CLIENT, "{users:?}");
    assert_eq!(groups.len(), GROUPS, "{groups:?}");
    Fixture {
        token,
        users: (0..CLIENTS)
            .map(|c| {
                (0..USERS_PER_CLIENT)
                    .map(|k| users[&format!("u{}", c * USERS_PER_CLIENT + k)])
                    .collect()
            })
            .collect(),
        groups: (0..GROUPS).map(|n| groups[&format!("g{n}")]).collect(),
    }
}

/// What one client thread saw.
#[derive(Default, Debug)]
struct Tally {
    requests: usize,
    /// Requests that failed: a 5xx (from the balancer or a replica) or no
    /// answer at all. Their writes may or may not have happened.
    failed: Vec<String>,
    /// Answers that were neither what the request should get nor a
    /// failure: a bug, whatever else happens.
    wrong: Vec<String>,
    /// Memberships whose create was acknowledged and not deleted since.
    live: Vec<Membership>,
    /// Memberships whose delete was acknowledged.
    deleted: Vec<Membership>,
    /// Pairs whose create or delete failed: either way is right.
    unknown: HashSet<(i64, i64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Membership {
    id: i64,
    user: i64,
    group: i64,
}

/// A mixed load through the balancer until `stop`ped (each client at most
/// `MAX_REQUESTS_PER_CLIENT` requests): creates (POST and pair PUT),
/// deletes (by id and by pair), one membership, a user's memberships, a
/// pair, `/me`.
struct Load {
    stop: Arc<AtomicBool>,
    /// Requests answered or failed so far, all clients together.
    sent: Arc<AtomicUsize>,
    clients: Vec<JoinHandle<Tally>>,
}

impl Load {
    fn start(base: &str, fixture: &Fixture) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let clients = (0..CLIENTS)
            .map(|c| {
                let stop = stop.clone();
                let sent = sent.clone();
                let base = base.to_string();
                let token = fixture.token.clone();
                let users = fixture.users[c].clone();
                let groups = fixture.groups.clone();
                std::thread::spawn(move || {
                    client_loop(&base, &token, &users, &groups, &stop, &sent)
                })
            })
            .collect();
        Load {
            stop,
            sent,
            clients,
        }
    }

    fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    /// Waits until the clients have sent `each` more requests each, on
    /// average (on a busy machine the load is slow; the test must not
    /// outrun it).
    fn wait_for_more(&self, since: usize, each: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.sent() < since + CLIENTS * each {
            assert!(Instant::now() < deadline, "the load stalled");
            std::thread::sleep(Duration::from_millis(10));
        }
        self.sent()
    }

    fn finish(self) -> Vec<Tally> {
        self.stop.store(true, Ordering::SeqCst);
        self.clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .collect()
    }
}

/// One request of the load: its answer's status and body, or why there
/// was none.
fn send(
    client: &Client,
    method: Method,
    url: &str,
    token: &str,
    body: Option<String>,
) -> Result<(u16, String), String> {
    let mut r = client.request(method, url).header("X-API-KEY", token);
    if let Some(body) = body {
        r = r.header("Content-Type", "application/json").body(body);
    }
    let response = r.send().map_err(|e| format!("no answer: {e:?}"))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .map_err(|e| format!("{status}, body cut: {e:?}"))?;
    Ok((status, body))
}

fn client_loop(
    base: &str,
    token: &str,
    users: &[i64],
    groups: &[i64],
    stop: &AtomicBool,
    sent: &AtomicUsize,
) -> Tally {
    let client = Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut pairs = users
        .iter()
        .flat_map(|u| groups.iter().map(move |g| (*u, *g)));
    let mut tally = Tally::default();
    let started = Instant::now();
    let mut i = 0usize;
    while !stop.load(Ordering::SeqCst) && i < MAX_REQUESTS_PER_CLIENT {
        let step = i % 8;
        i += 1;
        // What to send, what it must answer, and what an acknowledgement
        // means.
        enum Write {
            Create(i64, i64),
            Delete(Membership),
            Read,
        }
        let newest = tally.live.last().copied();
        let (method, path, body, expected, write) = match (step, newest) {
            (0 | 2 | 5, _) => match pairs.next() {
                Some((u, g)) => (
                    Method::POST,
                    "/user-group-memberships.json".to_string(),
                    Some(format!(r#"{{"user_id": {u}, "user_group_id": {g}}}"#)),
                    201,
                    Write::Create(u, g),
                ),
                None => (Method::GET, "/me.json".into(), None, 200, Write::Read),
            },
            (3, _) => match pairs.next() {
                Some((u, g)) => (
                    Method::PUT,
                    format!("/user_groups/{g}/users/{u}.json"),
                    None,
                    201,
                    Write::Create(u, g),
                ),
                None => (Method::GET, "/me.json".into(), None, 200, Write::Read),
            },
            (4, Some(_)) => {
                // The oldest of this client's memberships, by id.
                let m = tally.live[0];
                (
                    Method::DELETE,
                    format!("/user-group-memberships/{}.json", m.id),
                    None,
                    200,
                    Write::Delete(m),
                )
            }
            (7, Some(m)) if i % 16 == 8 => (
                Method::DELETE,
                format!("/user_groups/{}/users/{}.json", m.group, m.user),
                None,
                200,
                Write::Delete(m),
            ),
            (7, Some(m)) => (
                Method::GET,
                format!("/user_groups/{}/users/{}.json", m.group, m.user),
                None,
                200,
                Write::Read,
            ),
            (1, Some(m)) => (
                Method::GET,
                format!("/user-group-memberships/{}.json", m.id),
                None,
                200,
                Write::Read,
            ),
            (6, _) => (
                Method::GET,
                format!(
                    "/users/{}/user-group-memberships.json",
                    users[i % users.len()]
                ),
                None,
                200,
                Write::Read,
            ),
            _ => (Method::GET, "/me.json".into(), None, 200, Write::Read),
        };
        let what = format!("{method} {path}");
        let answer = send(&client, method, &format!("{base}{path}"), token, body);
        tally.requests += 1;
        sent.fetch_add(1, Ordering::SeqCst);
        let at = started.elapsed().as_millis();
        match answer {
            Ok((status, body)) if status == expected => match write {
                Write::Create(u, g) => {
                    let record: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let m = Membership {
                        id: record["id"].as_i64().unwrap(),
                        user: u,
                        group: g,
                    };
                    assert_eq!(
                        (record["user_id"].as_i64(), record["user_group_id"].as_i64()),
                        (Some(u), Some(g))
                    );
                    tally.live.push(m);
                }
                Write::Delete(m) => {
                    tally.live.retain(|l| *l != m);
                    tally.deleted.push(m);
                }
                Write::Read => {}
            },
            failed => {
                let failure = match &failed {
                    Ok((status, _)) if *status >= 500 => true,
                    Ok(_) => false,
                    Err(_) => true,
                };
                let line = format!("at {at} ms: {what}: {failed:?}");
                match write {
                    Write::Create(u, g) if failure => {
                        tally.unknown.insert((u, g));
                    }
                    Write::Delete(m) if failure => {
                        tally.live.retain(|l| *l != m);
                        tally.unknown.insert((m.user, m.group));
                    }
                    _ => {}
                }
                if failure {
                    tally.failed.push(line);
                } else {
                    tally.wrong.push(line);
                }
            }
        }
        std::thread::sleep(PAUSE);
    }
    tally
}

/// Every membership in the database, read through the balancer.
fn memberships(base: &str, token: &str) -> Vec<Membership> {
    let (status, body) = get(
        &Client::new(),
        &format!("{base}/user-group-memberships.json"),
        token,
    );
    assert_eq!(status, 200, "{body}");
    let list: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    list.iter()
        .map(|m| Membership {
            id: m["id"].as_i64().unwrap(),
            user: m["user_id"].as_i64().unwrap(),
            group: m["user_group_id"].as_i64().unwrap(),
        })
        .collect()
}

/// Every acknowledged create not deleted since is there, every
/// acknowledged delete is gone, and nothing else is there but what a
/// failed request may have left.
fn check_nothing_lost(tallies: &[Tally], stored: &[Membership]) {
    let stored: HashSet<Membership> = stored.iter().copied().collect();
    let mut live = HashSet::new();
    let mut unknown = HashSet::new();
    for t in tallies {
        for m in &t.live {
            assert!(stored.contains(m), "acknowledged create {m:?} is not there");
            live.insert(*m);
        }
        for m in &t.deleted {
            assert!(
                !stored.contains(m),
                "acknowledged delete {m:?} is still there"
            );
        }
        unknown.extend(t.unknown.iter().copied());
    }
    for m in &stored {
        assert!(
            live.contains(m) || unknown.contains(&(m.user, m.group)),
            "{m:?} is there, but no create of it was acknowledged"
        );
    }
}

fn summary(tallies: &[Tally]) -> (usize, usize, usize, Vec<String>, Vec<String>) {
    let requests = tallies.iter().map(|t| t.requests).sum();
    let creates = tallies.iter().map(|t| t.live.len() + t.deleted.len()).sum();
    let deletes = tallies.iter().map(|t| t.deleted.len()).sum();
    let failed = tallies.iter().flat_map(|t| t.failed.clone()).collect();
    let wrong = tallies.iter().flat_map(|t| t.wrong.clone()).collect();
    (requests, creates, deletes, failed, wrong)
}

/// A fresh database with the load's users and groups, three replicas on
/// it, and HAProxy in front, every replica up.
fn deployment() -> (TestDatabase, Fixture, Replicas, Balancer) {
    let (database, url) = fresh_url();
    let fixture = fixture(&url);
    let replicas = Replicas::start(&url);
    let balancer = Balancer::start(&replicas.ports);
    balancer.wait_all_up(Duration::from_secs(10));
    (database, fixture, replicas, balancer)
}

#[test]
fn a_rolling_restart_under_load_fails_no_request_and_loses_nothing() {
    if !on_postgres("a_rolling_restart_under_load_fails_no_request_and_loses_nothing") {
        return;
    }
    let (_database, fixture, mut replicas, balancer) = deployment();
    let load = Load::start(&balancer.address, &fixture);
    let mut sent = load.wait_for_more(0, 20);
    let mut logs = Vec::new();
    for i in 0..3 {
        let (code, log) = replicas.stop(i, "-TERM");
        assert_eq!(code, 0, "{log}");
        logs.push(log);
        replicas.start_again(i);
        assert!(
            load.sent() >= sent + CLIENTS,
            "the load went on while replica {i} stopped and started"
        );
        balancer.wait_all_up(Duration::from_secs(10));
        // Serving again: give it a share of the load before the next one.
        std::thread::sleep(Duration::from_millis(300));
        sent = load.wait_for_more(sent, 10);
    }
    let tallies = load.finish();
    let (requests, creates, deletes, failed, wrong) = summary(&tallies);
    eprintln!(
        "{requests} requests, {creates} creates acknowledged, {deletes} deletes acknowledged"
    );
    assert!(wrong.is_empty(), "wrong answers: {wrong:#?}");
    assert!(
        failed.is_empty(),
        "{} of {requests} requests failed: {failed:#?}\nhaproxy:\n{}",
        failed.len(),
        balancer.output()
    );
    // Each replica left the rotation because its /readyz said so (the
    // drain), not because it stopped answering.
    let said = balancer.output();
    for (i, log) in logs.iter().enumerate() {
        assert!(log.contains("stopping: /readyz answers 503"), "{log}");
        let down = format!(
            "Server syncd/syncd{} is DOWN, reason: Layer7 wrong status, code: 503",
            i + 1
        );
        assert!(said.contains(&down), "no {down:?} in:\n{said}");
    }
    // Each restarted replica went back into the rotation and served.
    for i in 0..3 {
        assert!(
            replicas.served_api(i) >= 1,
            "replica {i} served nothing after its restart:\n{}",
            replicas.daemon(i).stderr()
        );
    }
    let stored = memberships(&balancer.address, &fixture.token);
    check_nothing_lost(&tallies, &stored);
    let live: usize = tallies.iter().map(|t| t.live.len()).sum();
    assert_eq!(stored.len(), live, "exactly the acknowledged memberships");
}

#[test]
fn a_replica_killed_with_sigkill_fails_only_its_requests_in_flight() {
    if !on_postgres("a_replica_killed_with_sigkill_fails_only_its_requests_in_flight") {
        return;
    }
    let (_database, fixture, mut replicas, balancer) = deployment();
    let load = Load::start(&balancer.address, &fixture);
    let sent = load.wait_for_more(0, 30);
    let (code, _) = replicas.stop(1, "-KILL");
    assert_eq!(code, -1, "killed by the signal");
    // The balancer's checks take it out; the others carry the load.
    balancer.wait_for(
        [Some("UP"), Some("DOWN"), Some("UP")],
        Duration::from_secs(5),
    );
    let sent = load.wait_for_more(sent, 30);
    replicas.start_again(1);
    balancer.wait_all_up(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    load.wait_for_more(sent, 20);
    let tallies = load.finish();
    let (requests, creates, deletes, failed, wrong) = summary(&tallies);
    eprintln!(
        "{requests} requests, {creates} creates acknowledged, {deletes} deletes acknowledged, \
         {} failed: {failed:#?}",
        failed.len()
    );
    assert!(wrong.is_empty(), "wrong answers: {wrong:#?}");
    assert!(
        failed.len() <= CLIENTS,
        "{} failed, more than the {CLIENTS} that could be in flight: {failed:#?}\nhaproxy:\n{}",
        failed.len(),
        balancer.output()
    );
    let stored = memberships(&balancer.address, &fixture.token);
    check_nothing_lost(&tallies, &stored);

    // Started again, it serves with the others.
    let client = Client::new();
    let before: Vec<usize> = (0..3)
        .map(|i| replicas.served(i, "\"GET /me.json"))
        .collect();
    for _ in 0..9 {
        let (status, body) = get(
            &client,
            &format!("{}/me.json", balancer.address),
            &fixture.token,
        );
        assert_eq!(status, 200, "{body}");
    }
    for (i, before) in before.into_iter().enumerate() {
        assert!(
            replicas.served(i, "\"GET /me.json") > before,
            "replica {i} served none of nine requests"
        );
    }
}

#[test]
fn ten_failed_sign_ins_through_the_balancer_make_the_eleventh_429_on_every_replica() {
    if !on_postgres(
        "ten_failed_sign_ins_through_the_balancer_make_the_eleventh_429_on_every_replica",
    ) {
        return;
    }
    // The default limit: ten failures per login (and per address) a minute.
    let (_database, _fixture, replicas, balancer) = deployment();
    let client = Client::new();
    let wrong = crate::helpers::basic("loader", "not the password of loader");
    let attempt = || {
        client
            .get(format!("{}/me.xml", balancer.address))
            .header("Authorization", &wrong)
            .send()
            .expect("answered")
            .status()
            .as_u16()
    };
    for n in 1..=10 {
        assert_eq!(attempt(), 401, "failure {n}");
    }
    // The balancer spread the ten over the replicas.
    let failed = |i: usize| replicas.served(i, "\"GET /me.xml HTTP/1.1\" 401");
    let spread: Vec<usize> = (0..3).map(failed).collect();
    assert_eq!(spread.iter().sum::<usize>(), 10, "{spread:?}");
    assert!(
        spread.iter().all(|&n| n >= 1),
        "every replica saw failures: {spread:?}"
    );
    // The eleventh, and every one after, is 429 wherever it lands.
    for n in 11..=19 {
        assert_eq!(attempt(), 429, "attempt {n}");
    }
    let refused: Vec<usize> = (0..3)
        .map(|i| replicas.served(i, "\"GET /me.xml HTTP/1.1\" 429"))
        .collect();
    assert!(
        refused.iter().all(|&n| n >= 1),
        "every replica refused: {refused:?}"
    );
}
