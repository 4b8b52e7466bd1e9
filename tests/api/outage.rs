//! The database going away under a running syncd: 503 with Retry-After and
//! an `<errors>` body, quickly; the process stays up and recovers by itself.

use std::time::{Duration, Instant};

use syncd::db;
use syncd::db::PoolSettings;

use crate::helpers::{TestApp, TestDatabase, membership_xml};
use crate::pg_cluster::PgCluster;

fn short_timeouts() -> PoolSettings {
    PoolSettings {
        max_size: 4,
        connection_timeout: Duration::from_millis(1000),
        sqlite_busy_timeout: Duration::from_millis(300),
    }
}

fn assert_503(r: &crate::helpers::Resp) {
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(
        r.errors(),
        vec!["The database is unavailable right now; try again in a moment."]
    );
}

#[test]
fn postgres_outage_answers_503_then_recovers_without_a_restart() {
    let cluster = PgCluster::start();
    let url = cluster.url();
    let pool = db::open(&url, &short_timeouts()).expect("open the private cluster");
    // The database belongs to the private cluster: no guard drops it.
    let placeholder = TestDatabase::new();
    let app = TestApp::builder().on(placeholder, pool).spawn();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let before = app.add(u, g);
    assert_eq!(app.get("/user-group-memberships.xml").status, 200);

    cluster.stop();
    // A token checked just now is taken on trust for TOKEN_CACHE_TTL, so
    // `/me`, which needs nothing but sign-in, may answer from memory that
    // long: wait it out.
    std::thread::sleep(syncd::state::TOKEN_CACHE_TTL);
    for path in [
        "/user-group-memberships.xml",
        "/me.xml",
        "/user-group-memberships/1.xml",
    ] {
        let started = Instant::now();
        let r = app.get(path);
        let took = started.elapsed();
        assert_503(&r);
        assert!(took < Duration::from_secs(2), "{path} took {took:?}");
    }
    let started = Instant::now();
    let r = app.post_xml("/user-group-memberships.xml", &membership_xml(u, g));
    assert_503(&r);
    assert!(started.elapsed() < Duration::from_secs(2));

    cluster.resume();
    let back = Instant::now();
    let recovered = loop {
        let r = app.get("/user-group-memberships.xml");
        if r.status == 200 {
            break r;
        }
        assert_503(&r);
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not back within 5 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(back.elapsed() < Duration::from_secs(5));
    assert_eq!(
        crate::helpers::ids_in_list(&recovered.body),
        vec![before],
        "nothing lost"
    );
    let u2 = app.user("bob");
    app.add(u2, g);
    assert_eq!(
        app.get("/user-group-memberships.xml")
            .header("x-total-count"),
        Some("2")
    );
    let _ = cluster.path();
}

#[test]
fn sqlite_locked_database_answers_503_not_500() {
    if crate::helpers::postgres_admin_url().is_some() {
        return; // SQLite's own test; the PostgreSQL pass has the outage test.
    }
    let app = TestApp::builder().pool(short_timeouts()).spawn();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    // Another process-like connection holds the write lock.
    let mut locker = app.pool.get().unwrap();
    use diesel::connection::SimpleConnection;
    locker.batch_execute("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let r = app.post_xml("/user-group-memberships.xml", &membership_xml(u, g));
    assert_503(&r);
    assert!(started.elapsed() < Duration::from_secs(3));
    locker.batch_execute("ROLLBACK").unwrap();
    drop(locker);
    let r = app.post_xml("/user-group-memberships.xml", &membership_xml(u, g));
    assert_eq!(r.status, 201, "recovers once the lock is gone: {r:?}");
}

#[test]
fn sqlite_read_only_database_answers_503_not_500() {
    if crate::helpers::postgres_admin_url().is_some() {
        return; // SQLite's own test.
    }
    let database = TestDatabase::new();
    let path = database.url.trim_start_matches("sqlite://").to_string();
    let (ids, token) = {
        let rw = db::open(&database.url, &PoolSettings::default()).unwrap();
        let (_, token) = crate::helpers::insert_user(&rw, "manager", true, None);
        let u = crate::helpers::insert_user(&rw, "alice", false, None).0;
        let mut c = rw.get().unwrap();
        let g = syncd::db::queries::user_groups::create(&mut c, "Editors", None)
            .unwrap()
            .unwrap()
            .id;
        ((u, g), token)
    };
    // The same file opened read-only, as after a permissions mistake.
    let ro_url = format!("file:{path}?mode=ro");
    let pool = db::open(&ro_url, &short_timeouts()).expect("open read-only");
    let app = TestApp::builder().on(database, pool).token(token).spawn();
    // Reads still work; a write is 503, never 500.
    assert_eq!(app.get("/user-group-memberships.xml").status, 200);
    let r = app.post_xml("/user-group-memberships.xml", &membership_xml(ids.0, ids.1));
    assert_ne!(r.status, 500, "{r:?}");
    assert_503(&r);
}
