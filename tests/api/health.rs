//! `/healthz` and `/readyz` (issue 17): for a load balancer and a
//! supervisor, without credentials and without data; and several syncd
//! processes started at once on one new database.

use reqwest::Method;

use crate::cli::fresh_url;
use crate::helpers::{Daemon, execute_sql, spawn_app};

#[test]
fn healthz_and_readyz_answer_without_credentials_and_without_data() {
    let app = spawn_app();
    for (path, body) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let r = app.send(app.client.get(app.url(path)));
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert_eq!(r.body, body);
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let head = app.send(app.client.request(Method::HEAD, app.url(path)));
        assert_eq!(head.status, 200);
        let post = app.send(app.client.post(app.url(path)));
        assert_eq!(post.status, 405);
    }
}

#[test]
fn readyz_is_503_while_the_database_lacks_a_migration() {
    let app = spawn_app();
    execute_sql(
        &app.pool,
        "DELETE FROM __diesel_schema_migrations WHERE version = \
         (SELECT MAX(version) FROM __diesel_schema_migrations)",
    );
    let r = app.send(app.client.get(app.url("/readyz")));
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(
        r.body,
        "not ready: the database lacks migrations this syncd needs\n"
    );
    assert_eq!(r.header("retry-after"), Some("2"));
    // The process itself is up.
    assert_eq!(app.send(app.client.get(app.url("/healthz"))).status, 200);
}

#[test]
fn three_processes_started_at_once_on_a_new_database_migrate_once_and_all_serve() {
    let (_database, url) = fresh_url();
    let daemons: Vec<Daemon> = std::thread::scope(|s| {
        let started: Vec<_> = (0..3).map(|_| s.spawn(|| Daemon::start(&url))).collect();
        started.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let client = reqwest::blocking::Client::new();
    for d in &daemons {
        let r = client.get(format!("{}/readyz", d.address)).send().unwrap();
        assert_eq!(r.status(), 200, "{}", d.stderr());
    }
    let told = daemons
        .iter()
        .filter(|d| {
            d.stderr()
                .contains("now has the User Group Manager 'admin'")
        })
        .count();
    assert_eq!(told, 1, "exactly one first manager");
    let out = crate::cli::syncd(&url, &["users", "list"]);
    let users = crate::cli::stdout(&out);
    assert_eq!(users.lines().count(), 1, "{users}");
    assert!(users.contains("admin"));
}

/// The address `syncd serve` says its metrics are on.
pub(crate) fn metrics_address(d: &Daemon) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(rest) = d.stderr().split("syncd metrics on ").nth(1) {
            return rest.lines().next().unwrap().trim().to_string();
        }
        assert!(std::time::Instant::now() < deadline, "{}", d.stderr());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn metrics_are_off_by_default_and_on_their_own_address_when_asked() {
    let (_database, url) = fresh_url();
    let token = crate::helpers::insert_manager(&url, "boss");
    let d = Daemon::start_with(
        &url,
        &[
            ("SYNCD_METRICS_BIND", "127.0.0.1:0"),
            ("SYNCD_AUTH_FAILURE_LIMIT", "1/60s"),
            ("RUST_LOG", "info"),
        ],
    );
    let metrics = metrics_address(&d);
    let client = reqwest::blocking::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut r = client.get(format!("{}{path}", d.address));
        if let Some(t) = token {
            r = r.header("X-API-KEY", t);
        }
        r.send().unwrap().status().as_u16()
    };
    assert_eq!(get("/user_groups.xml", Some(&token)), 200);
    assert_eq!(get("/user_groups.xml", Some(&token)), 200);
    assert_eq!(get("/user_groups/7.json", Some(&token)), 404);
    assert_eq!(get("/no/such/page", None), 404);
    assert_eq!(get("/metrics", None), 404, "not on the API's address");
    let wrong = crate::helpers::basic("boss", "not the password at all");
    for expected in [401, 429] {
        let r = client
            .get(format!("{}/me.xml", d.address))
            .header("Authorization", &wrong)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), expected);
    }

    let r = client.get(&metrics).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text().unwrap();
    for line in [
        "syncd_requests_total{route=\"/user_groups\",method=\"GET\",status=\"200\"} 2",
        "syncd_requests_total{route=\"/user_groups/{id}\",method=\"GET\",status=\"404\"} 1",
        "syncd_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 2",
        "syncd_requests_total{route=\"/me\",method=\"GET\",status=\"429\"} 1",
        "syncd_request_duration_seconds_count{route=\"/user_groups\"} 2",
        "syncd_throttled_requests_total 1",
        "syncd_database_errors_total 0",
        "syncd_pool_connections_in_use 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }
    assert!(
        text.contains(
            "syncd_request_duration_seconds_bucket{le=\"+Inf\",route=\"/user_groups\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("syncd_pool_connections_idle "))
    );
    assert!(
        !text.contains("boss") && !text.contains(&token),
        "no data, no secrets"
    );

    // Off unless asked.
    let plain = Daemon::start_with(&url, &[("RUST_LOG", "info")]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!plain.stderr().contains("metrics"), "{}", plain.stderr());
}
