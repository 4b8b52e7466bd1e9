//! Backups (issue 17), taken while syncd serves writes and restored to a
//! consistent database: `syncd backup` on SQLite, `pg_dump` and
//! `pg_restore` on PostgreSQL, as docs/DEPLOY.md says.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::cli::{fresh_url, stderr, stdout, syncd};
use crate::helpers::{Daemon, TestApp, TestDatabase, postgres_admin_url};

/// PostgreSQL's client programs: `SYNCD_PG_BIN` (tests/run.sh sets it), else
/// the newest `/usr/lib/postgresql/*/bin`.
fn pg_program(name: &str) -> String {
    let bin = std::env::var("SYNCD_PG_BIN").ok().filter(|b| !b.is_empty());
    let bin = bin.unwrap_or_else(|| {
        let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL binaries in /usr/lib/postgresql")
            .map(|e| e.unwrap().path())
            .collect();
        dirs.sort_by_key(|d| {
            d.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<u32>().ok())
        });
        format!("{}/bin", dirs.last().unwrap().display())
    });
    format!("{bin}/{name}")
}

/// Runs a PostgreSQL client program; its output, checked.
fn pg_run(name: &str, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(pg_program(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn an_online_backup_taken_under_writes_restores_to_a_consistent_database() {
    let (database, url) = fresh_url();
    let postgres = postgres_admin_url().is_some();
    if postgres {
        let out = syncd(&url, &["backup", "/nonexistent/backup"]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("pg_dump"), "{}", stderr(&out));
    }
    let pool = syncd::db::open(&url, &syncd::db::PoolSettings::default()).unwrap();
    let app = TestApp::builder().on(database, pool).spawn();
    let users: Vec<i64> = (0..20).map(|i| app.user(&format!("u{i}"))).collect();
    let groups: Vec<i64> = (0..3).map(|i| app.group(&format!("G{i}"))).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(if postgres {
        "backup.dump"
    } else {
        "backup.sqlite3"
    });
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
        let out = if postgres {
            // docs/DEPLOY.md's command.
            pg_run("pg_dump", &["--format=custom", "--file", &file, &url])
        } else {
            syncd(&url, &["backup", &file])
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        writing.store(false, Ordering::Relaxed);
        out
    });
    assert!(out.status.success(), "{}", stderr(&out));
    let restored_db;
    let restored_url = if postgres {
        // Into a new, empty database, as docs/DEPLOY.md says.
        restored_db = TestDatabase::new();
        pg_run(
            "pg_restore",
            &["--no-owner", "--dbname", &restored_db.url, &file],
        );
        restored_db.url.clone()
    } else {
        assert_eq!(stdout(&out), format!("{file}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        format!("sqlite://{file}")
    };

    // Restore: syncd on the copy. Its memberships are exactly what its
    // history adds up to, and the manager's token works there too.
    let restored = Daemon::start(&restored_url);
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
    if postgres {
        return;
    }

    // A backup never overwrites a file.
    let again = syncd(&url, &["backup", &file]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("it must not exist yet"),
        "{}",
        stderr(&again)
    );
}
