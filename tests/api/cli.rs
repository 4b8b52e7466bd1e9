//! The CLI as a script uses it: exact stdout, errors on stderr, exit codes.

use std::process::Output;

use crate::helpers::{Daemon, TestDatabase, run_with_stdin, syncd_command};

pub(crate) fn fresh_url() -> (TestDatabase, String) {
    let database = TestDatabase::new();
    let url = database.url.clone();
    (database, url)
}

pub(crate) fn syncd(url: &str, args: &[&str]) -> Output {
    syncd_command(url)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// `syncd users create LOGIN --manager`; the new token.
pub(crate) fn create_manager(url: &str, login: &str) -> String {
    let out = syncd(url, &["users", "create", login, "--manager"]);
    let line = stdout(&out);
    let (_, token) = line.trim().split_once(' ').unwrap();
    token.to_string()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn users_create_prints_id_and_token_on_one_line_and_the_token_works() {
    let (_dir, url) = fresh_url();
    let out = syncd(
        &url,
        &[
            "users",
            "create",
            "alice",
            "--name",
            "Alice Liddell",
            "--email",
            "alice@example.com",
            "--manager",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(
        line.ends_with('\n') && line.lines().count() == 1,
        "{line:?}"
    );
    let (id, token) = line.trim_end().split_once(' ').unwrap();
    assert_eq!(id, "1");
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        !stderr(&out).contains(token),
        "the token goes to stdout only"
    );

    let daemon = Daemon::start(&url);
    let body = reqwest::blocking::Client::new()
        .get(format!("{}/me.xml", daemon.address))
        .header("X-API-KEY", token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("<name>Alice Liddell</name>"), "{body}");
    assert!(body.contains("<email-address>alice@example.com</email-address>"));
    assert!(body.contains("<user-group-manager type=\"boolean\">true</user-group-manager>"));
    // An existing user: no admin was created on first start.
    assert!(!daemon.stderr().contains("'admin'"));
}

#[test]
fn users_token_replaces_the_old_token() {
    let (_dir, url) = fresh_url();
    let out = syncd(&url, &["users", "create", "bob", "--manager"]);
    let old = stdout(&out)
        .trim_end()
        .split_once(' ')
        .unwrap()
        .1
        .to_string();
    let out = syncd(&url, &["users", "token", "bob"]);
    assert!(out.status.success());
    let new = stdout(&out);
    assert_eq!(new.lines().count(), 1);
    let new = new.trim_end();
    assert_eq!(new.len(), 64);
    assert_ne!(new, old);

    let daemon = Daemon::start(&url);
    let client = reqwest::blocking::Client::new();
    let status = |t: &str| {
        client
            .get(format!("{}/me.xml", daemon.address))
            .header("X-API-KEY", t)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status(new), 200);
    assert_eq!(status(&old), 401);

    // While syncd runs: a token it has just accepted is taken on trust for
    // at most TOKEN_CACHE_TTL after it is replaced, then refused.
    let out = syncd(&url, &["users", "token", "bob"]);
    let newer = stdout(&out).trim_end().to_string();
    assert_eq!(status(&newer), 200);
    std::thread::sleep(syncd::state::TOKEN_CACHE_TTL + std::time::Duration::from_millis(100));
    assert_eq!(status(new), 401, "the replaced token stopped working");
    assert_eq!(status(&newer), 200);

    let out = syncd(&url, &["users", "token", "nobody"]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("no user with login 'nobody'"));
}

#[test]
fn password_from_stdin_signs_in_with_basic() {
    let (_dir, url) = fresh_url();
    let out = run_with_stdin(
        &url,
        &["users", "create", "carol", "--manager", "--password-stdin"],
        b"pa ss:word of mine\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let daemon = Daemon::start(&url);
    let client = reqwest::blocking::Client::new();
    let r = client
        .get(format!("{}/me.xml", daemon.address))
        .basic_auth("carol", Some("pa ss:word of mine"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = client
        .get(format!("{}/me.xml", daemon.address))
        .basic_auth("carol", Some("pa ss:word of min"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[test]
fn lists_and_groups_print_one_line_per_record() {
    let (_dir, url) = fresh_url();
    syncd(
        &url,
        &[
            "users",
            "create",
            "alice",
            "--manager",
            "--email",
            "a@example.com",
        ],
    );
    syncd(&url, &["users", "create", "bob", "--name", "Bob Builder"]);
    let out = syncd(
        &url,
        &[
            "groups",
            "create",
            "Editors",
            "--description",
            "People who edit",
        ],
    );
    assert!(out.status.success());
    assert_eq!(stdout(&out), "1\n");
    assert_eq!(
        stdout(&syncd(&url, &["groups", "create", "Readers"])),
        "2\n"
    );

    assert_eq!(
        stdout(&syncd(&url, &["users", "list"])),
        "1\talice\tmanager\ta@example.com\talice\t-\n2\tbob\t-\t-\tBob Builder\t-\n"
    );
    assert_eq!(
        stdout(&syncd(&url, &["groups", "list"])),
        "1\tEditors\tPeople who edit\n2\tReaders\t\n"
    );
}

#[test]
fn errors_exit_non_zero_with_one_line() {
    let (_dir, url) = fresh_url();
    syncd(&url, &["users", "create", "alice"]);
    syncd(&url, &["groups", "create", "Editors"]);
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (
            url.clone(),
            vec!["users", "create", "alice"],
            "already exists",
        ),
        (
            url.clone(),
            vec!["users", "create", "bad login"],
            "invalid login",
        ),
        (url.clone(), vec!["users", "create", "x:y"], "invalid login"),
        (
            url.clone(),
            vec!["groups", "create", "Editors"],
            "already exists",
        ),
        (
            url.clone(),
            vec!["groups", "create", "  "],
            "can't be blank",
        ),
        (
            "mysql://localhost/db".into(),
            vec!["users", "list"],
            "unsupported database URL scheme 'mysql'",
        ),
        (
            "postgres://nobody:hunter2@127.0.0.1:1/none".into(),
            vec!["migrate"],
            "cannot open the PostgreSQL database 127.0.0.1:1/none",
        ),
        (
            "/nonexistent-dir/x/y.sqlite3".into(),
            vec!["migrate"],
            "cannot open the SQLite database",
        ),
    ];
    for (url, args, needle) in cases {
        let out = syncd(&url, &args);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stdout(&out), "", "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("syncd: error: "), "{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(
            !err.contains("hunter2"),
            "a password in a URL is never printed"
        );
    }
}

#[test]
fn migrate_is_idempotent() {
    let (_dir, url) = fresh_url();
    for _ in 0..2 {
        let out = syncd(&url, &["migrate"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), "");
    }
    assert!(syncd(&url, &["users", "list"]).status.success());
}

#[test]
fn every_url_form_names_the_same_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forms.sqlite3");
    let p = path.display().to_string();
    syncd(&p, &["users", "create", "alice"]);
    for url in [format!("sqlite://{p}"), format!("sqlite:{p}"), p.clone()] {
        assert!(
            stdout(&syncd(&url, &["users", "list"])).contains("alice"),
            "{url}"
        );
    }
    let out = syncd(":memory:", &["users", "list"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
}

#[test]
fn allowed_origins_are_checked_at_start_and_used() {
    let (_dir, url) = fresh_url();
    for (args, env) in [
        (
            vec!["serve", "--allowed-origins", "intranet.example.com"],
            None,
        ),
        (vec!["serve"], Some("https://ok.example.com,ftp://x")),
    ] {
        let mut cmd = syncd_command(&url);
        cmd.args(&args).args(["--bind", "127.0.0.1:0"]);
        if let Some(list) = env {
            cmd.env("SYNCD_ALLOWED_ORIGINS", list);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("is not an origin"),
            "{}",
            stderr(&out)
        );
    }

    let token = create_manager(&url, "boss");
    let daemon = Daemon::start_with(
        &url,
        &[("SYNCD_ALLOWED_ORIGINS", "https://intranet.example.com")],
    );
    let client = reqwest::blocking::Client::new();
    let post = |origin: &str, name: &str| {
        client
            .post(format!("{}/user_groups.xml", daemon.address))
            .header("X-API-KEY", &token)
            .header("Origin", origin)
            .form(&[("user_group[name]", name)])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post("https://intranet.example.com", "Intranet"), 201);
    assert_eq!(post("https://elsewhere.example.com", "Elsewhere"), 403);
    assert_eq!(post(&daemon.address, "Own"), 201);
}

#[test]
fn the_access_log_is_written_only_when_rust_log_lets_it_through() {
    let (_dir, url) = fresh_url();
    // syncd's own lines stay on (the test waits for "listening on").
    for (rust_log, logged) in [("info", true), ("warn,syncd=info", false)] {
        let daemon = Daemon::start_with(&url, &[("RUST_LOG", rust_log)]);
        let status = reqwest::blocking::get(format!("{}/me.xml", daemon.address))
            .unwrap()
            .status();
        assert_eq!(status, 401);
        // The access log line is written when the response is finished.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while logged
            && !daemon.stderr().contains("\"GET /me.xml HTTP/1.1\" 401")
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            daemon.stderr().contains("\"GET /me.xml HTTP/1.1\" 401"),
            logged,
            "RUST_LOG={rust_log}: {}",
            daemon.stderr()
        );
    }
}

#[test]
fn limits_are_checked_at_start_and_used() {
    let (_dir, url) = fresh_url();
    for (name, value, says) in [
        ("SYNCD_RATE_LIMIT", "150", "is not a limit such as 150/5s"),
        (
            "SYNCD_AUTH_FAILURE_LIMIT",
            "0/5s",
            "the count must be at least 1",
        ),
        ("SYNCD_REQUEST_TIMEOUT", "soon", "is not a time such as 10s"),
        ("SYNCD_REQUEST_TIMEOUT", "0ms", "from 100ms to 1 hour"),
    ] {
        let out = syncd_command(&url)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env(name, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}={value}");
        assert!(
            stderr(&out).contains(says),
            "{name}={value}: {}",
            stderr(&out)
        );
    }

    let token = create_manager(&url, "boss");
    let daemon = Daemon::start_with(
        &url,
        &[
            ("SYNCD_RATE_LIMIT", "2/60s"),
            ("SYNCD_AUTH_FAILURE_LIMIT", "1/60s"),
        ],
    );
    let client = reqwest::blocking::Client::new();
    let me = |key: &str| {
        let r = client
            .get(format!("{}/me.xml", daemon.address))
            .header("X-API-KEY", key)
            .send()
            .unwrap();
        let retry = r.headers().get("retry-after").is_some();
        (r.status().as_u16(), retry)
    };
    assert_eq!(me(&token), (200, false));
    assert_eq!(me(&token), (200, false));
    assert_eq!(me(&token), (429, true), "SYNCD_RATE_LIMIT=2/60s");
    // Failed password sign-ins are what the failure limit counts.
    let guess = || {
        let r = client
            .get(format!("{}/me.xml", daemon.address))
            .basic_auth("nobody", Some("guess"))
            .send()
            .unwrap();
        let retry = r.headers().get("retry-after").is_some();
        (r.status().as_u16(), retry)
    };
    assert_eq!(guess(), (401, false));
    assert_eq!(guess(), (429, true), "SYNCD_AUTH_FAILURE_LIMIT=1/60s");
}

/// The mode bits of a file, if it exists.
fn mode(path: &std::path::Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[test]
fn sqlite_files_are_created_readable_by_their_owner_only() {
    if crate::helpers::postgres_admin_url().is_some() {
        return; // files are SQLite's
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.sqlite3");
    let sidecar = |suffix: &str| dir.path().join(format!("new.sqlite3{suffix}"));
    let url = db.display().to_string();
    let out = syncd(&url, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&db), Some(0o600));

    // While a server runs, the WAL and shared-memory files exist: SQLite
    // gives them the database file's mode.
    let daemon = Daemon::start(&url);
    for suffix in ["-wal", "-shm"] {
        assert_eq!(mode(&sidecar(suffix)), Some(0o600), "{suffix}");
    }
    drop(daemon);
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Some(m) = mode(&sidecar(suffix)) {
            assert_eq!(m, 0o600, "{suffix}");
        }
    }

    // An existing file keeps the mode its owner chose.
    let shared = dir.path().join("shared.sqlite3");
    std::fs::write(&shared, b"").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = syncd(&shared.display().to_string(), &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&shared), Some(0o640));
}

#[test]
fn lists_escape_what_a_terminal_would_act_on() {
    let (_db, url) = fresh_url();
    syncd(&url, &["users", "create", "kim"]);
    // Stored straight in the database: every way in through syncd now
    // refuses these characters, but older rows may hold them.
    let pool = syncd::db::open(&url, &syncd::db::PoolSettings::default()).unwrap();
    let mut conn = pool.get().unwrap();
    {
        use diesel::{ExpressionMethods, RunQueryDsl};
        use syncd::db::schema::{user_groups, users};
        let at = syncd::db::models::now();
        diesel::insert_into(user_groups::table)
            .values((
                user_groups::name.eq("Ops\u{9b}31m"),
                user_groups::description.eq("line one\nline two\u{1b}]0;owned\u{7}\u{1b}[2J"),
                user_groups::created_at.eq(at),
                user_groups::updated_at.eq(at),
            ))
            .execute(&mut *conn)
            .unwrap();
        diesel::update(users::table)
            .set((
                users::name.eq("Kim\u{1b}[31m \u{202e}red"),
                users::email_address.eq(Some("kim@example.com\u{1b}[8m")),
            ))
            .execute(&mut *conn)
            .unwrap();
    }
    let groups = stdout(&syncd(&url, &["groups", "list"]));
    assert_eq!(
        groups,
        "1\tOps\\u{9b}31m\tline one\\u{a}line two\\u{1b}]0;owned\\u{7}\\u{1b}[2J\n"
    );
    let users = stdout(&syncd(&url, &["users", "list"]));
    assert_eq!(
        users,
        "1\tkim\t-\tkim@example.com\\u{1b}[8m\tKim\\u{1b}[31m \\u{202e}red\t-\n"
    );
    for out in [&groups, &users] {
        assert!(!out.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}']));
    }
}
