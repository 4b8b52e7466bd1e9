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
