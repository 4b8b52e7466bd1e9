//! `syncd backup` (issue 17): an online backup of a SQLite database, taken
//! while syncd serves writes, restores to a consistent database.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::cli::{fresh_url, stderr, stdout, syncd};
use crate::helpers::{Daemon, TestApp, postgres_admin_url};

#[test]
fn an_online_backup_taken_under_writes_restores_to_a_consistent_database() {
    let (database, url) = fresh_url();
    if postgres_admin_url().is_some() {
        let out = syncd(&url, &["backup", "/nonexistent/backup"]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("pg_dump"), "{}", stderr(&out));
        return;
    }
    let pool = syncd::db::open(&url, &syncd::db::PoolSettings::default()).unwrap();
    let app = TestApp::builder().on(database, pool).spawn();
    let users: Vec<i64> = (0..20).map(|i| app.user(&format!("u{i}"))).collect();
    let groups: Vec<i64> = (0..3).map(|i| app.group(&format!("G{i}"))).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.sqlite3");
    let file = file.to_str().unwrap().to_string();

    let writing = AtomicBool::new(true);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 0usize;
            while writing.load(Ordering::Relaxed) {
                let (u, g) = (users[n % users.len()], groups[n % groups.len()]);
                let path = format!("/user_groups/{g}/users/{u}.xml");
                let method = if n % 3 == 2 {
                    reqwest::Method::DELETE
                } else {
                    reqwest::Method::PUT
                };
                let r = app.send(app.request(method, &path));
                assert!(r.status == 200 || r.status == 201, "{r:?}");
                n += 1;
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        let out = syncd(&url, &["backup", &file]);
        std::thread::sleep(std::time::Duration::from_millis(200));
        writing.store(false, Ordering::Relaxed);
        out
    });
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{file}\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Restore: syncd on the copy. Its memberships are exactly what its
    // history adds up to, and the manager's token works there too.
    let restored = Daemon::start(&format!("sqlite://{file}"));
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| -> Vec<Value> {
        let r = client
            .get(format!("{}{path}", restored.address))
            .header("X-API-KEY", &app.token)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        serde_json::from_str(&r.text().unwrap()).unwrap()
    };
    let memberships: BTreeSet<(i64, i64)> = get("/user-group-memberships.json")
        .iter()
        .map(|m| {
            (
                m["user_id"].as_i64().unwrap(),
                m["user_group_id"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut replayed = BTreeSet::new();
    let events = get("/membership-events.json");
    assert!(events.len() > 3, "the writers ran before the backup");
    for e in &events {
        let pair = (
            e["user_id"].as_i64().unwrap(),
            e["user_group_id"].as_i64().unwrap(),
        );
        if e["action"] == "added" {
            assert!(replayed.insert(pair));
        } else {
            assert!(replayed.remove(&pair));
        }
    }
    assert_eq!(replayed, memberships);

    // A backup never overwrites a file.
    let again = syncd(&url, &["backup", &file]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("it must not exist yet"),
        "{}",
        stderr(&again)
    );
}
