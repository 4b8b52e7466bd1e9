//! The user lifecycle on the command line against a running server: the real
//! `syncd` binary serving over real HTTP, and the real CLI changing the same
//! database (SQLite or PostgreSQL). Each change must show within about a
//! second (the server takes a checked token on trust for
//! `TOKEN_CACHE_TTL`); the tests poll up to a deadline rather than sleep.
//! Also the password policy for passwords given to the CLI.

use std::process::Output;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use reqwest::blocking::Client;

use crate::cli::{create_manager, fresh_url, stderr, stdout, syncd};
use crate::helpers::{Daemon, TestDatabase, postgres_admin_url, run_with_stdin};

/// How long a change made by the CLI may take to reach a running server.
const WITHIN: Duration = Duration::from_millis(1500);

/// A running `syncd serve` on a fresh database with a manager `boss`.
struct Running {
    url: String,
    daemon: Daemon,
    boss: String,
    client: Client,
    _database: TestDatabase,
}

impl Running {
    fn start() -> Running {
        let (database, url) = fresh_url();
        let boss = create_manager(&url, "boss");
        // The polls below may see a few 401s on purpose; the sign-in
        // throttle is tested elsewhere and must not turn them into 429s.
        let daemon = Daemon::start_with(&url, &[("SYNCD_AUTH_FAILURE_LIMIT", "1000/60s")]);
        Running {
            url,
            daemon,
            boss,
            client: Client::new(),
            _database: database,
        }
    }

    fn get(&self, token: &str, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.daemon.address))
            .header("X-API-KEY", token)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    /// A read after the CLI (another process) wrote: polled until `seen`
    /// holds or `WITHIN` has passed. On SQLite the first read sees the
    /// change; on PostgreSQL a server's kept answers notice another
    /// process's commit within about 100 ms (docs/DEPLOY.md).
    fn get_after(&self, token: &str, path: &str, seen: impl Fn(&str) -> bool) -> (u16, String) {
        let since = Instant::now();
        loop {
            let (status, body) = self.get(token, path);
            if seen(&body) || since.elapsed() > WITHIN {
                return (status, body);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn status(&self, token: &str, path: &str) -> u16 {
        self.get(token, path).0
    }

    fn basic(&self, login: &str, password: &str) -> u16 {
        self.client
            .get(format!("{}/me.xml", self.daemon.address))
            .basic_auth(login, Some(password))
            .send()
            .unwrap()
            .status()
            .as_u16()
    }

    /// Runs the CLI on the server's database and checks that it succeeded
    /// with a one-line message on stderr and nothing on stdout.
    fn cli_ok(&self, args: &[&str]) -> String {
        let out = syncd(&self.url, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?} prints nothing on stdout");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("syncd: "), "{err}");
        err
    }

    /// Creates a user through the CLI; its id and token.
    fn create(&self, args: &[&str]) -> (i64, String) {
        let out = syncd(&self.url, &[&["users", "create"], args].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        let line = stdout(&out);
        let (id, token) = line.trim().split_once(' ').unwrap();
        (id.parse().unwrap(), token.to_string())
    }

    fn create_with_password(&self, login: &str, password: &str) -> (i64, String) {
        let out = with_stdin(
            &self.url,
            &["users", "create", login, "--password-stdin"],
            password,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let line = stdout(&out);
        let (id, token) = line.trim().split_once(' ').unwrap();
        (id.parse().unwrap(), token.to_string())
    }
}

/// Runs the CLI with `input` and a newline on stdin.
fn with_stdin(url: &str, args: &[&str], input: &str) -> Output {
    run_with_stdin(url, args, format!("{input}\n").as_bytes())
}

/// Polls `probe` until it answers `want` or `WITHIN` has passed since
/// `since`; the last answer.
fn eventually(since: Instant, want: u16, probe: impl Fn() -> u16) -> u16 {
    loop {
        let got = probe();
        if got == want || since.elapsed() > WITHIN {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Checks a failed command: exit 1, nothing on stdout, one line on stderr
/// holding `says`.
fn assert_refused(out: &Output, says: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert_eq!(stdout(out), "");
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("syncd: error: "), "{err}");
    assert!(err.contains(says), "wanted {says:?} in {err}");
}

#[test]
fn users_revoke_token_stops_the_token_on_a_running_server() {
    let s = Running::start();
    let (_, token) = s.create(&["carol"]);
    // Signed in: the server now holds the token in its cache too.
    assert_eq!(s.status(&token, "/me.xml"), 200);

    let err = s.cli_ok(&["users", "revoke-token", "carol"]);
    let done = Instant::now();
    assert!(err.contains("revoked the token of 'carol'"), "{err}");
    assert_eq!(eventually(done, 401, || s.status(&token, "/me.xml")), 401);

    // A new token works again; the revoked one stays dead.
    let out = syncd(&s.url, &["users", "token", "carol"]);
    let fresh = stdout(&out).trim().to_string();
    assert_eq!(s.status(&fresh, "/me.xml"), 200);
    assert_eq!(s.status(&token, "/me.xml"), 401);

    assert_refused(
        &syncd(&s.url, &["users", "revoke-token", "nobody"]),
        "there is no user with login 'nobody'",
    );
}

#[test]
fn users_disable_and_enable_take_effect_on_a_running_server() {
    let s = Running::start();
    let password = "disable me, then enable me";
    let (id, token) = s.create_with_password("dora", password);
    assert_eq!(s.status(&token, "/me.xml"), 200);

    let err = s.cli_ok(&["users", "disable", "dora"]);
    let done = Instant::now();
    assert!(err.contains("disabled 'dora'"), "{err}");
    assert_eq!(eventually(done, 401, || s.status(&token, "/me.xml")), 401);
    // The token as a Basic user name (Highrise style) too.
    assert_eq!(s.basic(&token, "X"), 401);
    assert_eq!(s.basic("dora", password), 401, "no password sign-in");

    // It still exists, everywhere a manager looks.
    assert_eq!(s.status(&s.boss, &format!("/users/{id}.xml")), 200);
    let (_, list) = s.get(&s.boss, "/users.xml");
    assert!(list.contains("<login>dora</login>"), "{list}");
    assert!(stdout(&syncd(&s.url, &["users", "list"])).contains("\tdora\t-\t-\tdora\tdisabled\n"));
    let again = s.cli_ok(&["users", "disable", "dora"]);
    assert!(again.contains("already disabled"), "{again}");

    let err = s.cli_ok(&["users", "enable", "dora"]);
    let done = Instant::now();
    assert!(err.contains("enabled 'dora'"), "{err}");
    assert_eq!(eventually(done, 200, || s.status(&token, "/me.xml")), 200);
    assert_eq!(eventually(done, 200, || s.basic("dora", password)), 200);
    assert!(stdout(&syncd(&s.url, &["users", "list"])).contains("\tdora\t-\t-\tdora\t-\n"));

    for command in ["disable", "enable"] {
        assert_refused(
            &syncd(&s.url, &["users", command, "nobody"]),
            "there is no user with login 'nobody'",
        );
    }
}

/// A password the server verified (and remembered) before the user was
/// disabled must stop working too.
#[test]
fn a_password_in_use_stops_working_when_its_user_is_disabled() {
    let s = Running::start();
    let password = "a password in daily use";
    s.create_with_password("dora", password);
    assert_eq!(s.basic("dora", password), 200);
    assert_eq!(s.basic("dora", password), 200, "now from the cache");

    s.cli_ok(&["users", "disable", "dora"]);
    let done = Instant::now();
    assert_eq!(eventually(done, 401, || s.basic("dora", password)), 401);
}

#[test]
fn users_update_changes_the_flag_name_and_email_on_a_running_server() {
    let s = Running::start();
    let (id, token) = s.create(&["ed", "--manager", "--email", "ed@example.com"]);
    assert_eq!(s.status(&token, "/user_groups.xml"), 200);

    let err = s.cli_ok(&["users", "update", "ed", "--no-manager"]);
    let done = Instant::now();
    assert!(err.contains("updated user 'ed': not a manager"), "{err}");
    assert_eq!(
        eventually(done, 403, || s.status(&token, "/user_groups.xml")),
        403
    );

    s.cli_ok(&[
        "users",
        "update",
        "ed",
        "--name",
        "Edward Example",
        "--email",
        "edward@example.com",
    ]);
    let (status, body) = s.get_after(&s.boss, &format!("/users/{id}.xml"), |b| {
        b.contains("Edward Example")
    });
    assert_eq!(status, 200);
    assert!(body.contains("<name>Edward Example</name>"), "{body}");
    assert!(
        body.contains("<email-address>edward@example.com</email-address>"),
        "{body}"
    );
    assert!(body.contains("<user-group-manager type=\"boolean\">false</user-group-manager>"));

    // An empty --email removes the address; the name stays.
    s.cli_ok(&["users", "update", "ed", "--email", ""]);
    let (_, body) = s.get_after(&s.boss, &format!("/users/{id}.xml"), |b| {
        !b.contains("edward@example.com")
    });
    assert!(body.contains("<email-address nil=\"true\"/>"), "{body}");
    assert!(body.contains("<name>Edward Example</name>"), "{body}");

    s.cli_ok(&["users", "update", "ed", "--manager"]);
    let done = Instant::now();
    assert_eq!(
        eventually(done, 200, || s.status(&token, "/user_groups.xml")),
        200
    );

    // The text rules of the API and the import; nothing changes.
    assert_refused(
        &syncd(&s.url, &["users", "update", "ed", "--name", "Ed\u{1b}[2J"]),
        "Name contains the character U+001B",
    );
    assert_refused(
        &syncd(&s.url, &["users", "update", "ed", "--name", "  "]),
        "Name can't be blank.",
    );
    let long = format!("{}@example.com", "e".repeat(250));
    assert_refused(
        &syncd(&s.url, &["users", "update", "ed", "--email", &long]),
        "Email address is too long",
    );
    assert_refused(
        &syncd(&s.url, &["users", "update", "ed"]),
        "nothing to change",
    );
    assert_refused(
        &syncd(&s.url, &["users", "update", "nobody", "--manager"]),
        "there is no user with login 'nobody'",
    );
    let (_, body) = s.get(&s.boss, &format!("/users/{id}.xml"));
    assert!(body.contains("<name>Edward Example</name>"), "{body}");
    let both = syncd(
        &s.url,
        &["users", "update", "ed", "--manager", "--no-manager"],
    );
    assert!(
        !both.status.success(),
        "--manager and --no-manager conflict"
    );
}

/// The membership ids of a list body that belong to `user_id`.
fn memberships_of(body: &str, user_id: i64) -> usize {
    body.matches(&format!("<user-id type=\"integer\">{user_id}</user-id>"))
        .count()
}

/// Two groups, `frank` in both and `gina` in one, made through the API.
fn with_memberships(s: &Running) -> (i64, String, i64) {
    let (frank, frank_token) = s.create(&["frank"]);
    let (gina, _) = s.create(&["gina"]);
    let mut groups = Vec::new();
    for name in ["Editors", "Readers"] {
        let out = syncd(&s.url, &["groups", "create", name]);
        groups.push(stdout(&out).trim().parse::<i64>().unwrap());
    }
    for (user, group) in [(frank, groups[0]), (frank, groups[1]), (gina, groups[0])] {
        let r = s
            .client
            .post(format!("{}/user-group-memberships.xml", s.daemon.address))
            .header("X-API-KEY", &s.boss)
            .header("Content-Type", "application/xml")
            .body(crate::helpers::membership_xml(user, group))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    (frank, frank_token, gina)
}

#[test]
fn users_delete_removes_the_user_and_its_memberships_on_a_running_server() {
    let s = Running::start();
    let (frank, frank_token, gina) = with_memberships(&s);
    assert_eq!(s.status(&frank_token, "/me.xml"), 200);
    let (_, before) = s.get(&s.boss, "/user-group-memberships.xml");
    assert_eq!(memberships_of(&before, frank), 2, "{before}");

    let err = s.cli_ok(&["users", "delete", "frank"]);
    let done = Instant::now();
    assert!(
        err.contains(&format!(
            "deleted user 'frank' (id {frank}) and its 2 memberships"
        )),
        "{err}"
    );
    assert_eq!(s.status(&s.boss, &format!("/users/{frank}.xml")), 404);
    let (_, after) = s.get_after(&s.boss, "/user-group-memberships.xml", |b| {
        memberships_of(b, frank) == 0
    });
    assert_eq!(memberships_of(&after, frank), 0, "{after}");
    assert_eq!(memberships_of(&after, gina), 1, "others' memberships stay");
    assert_eq!(
        eventually(done, 401, || s.status(&frank_token, "/me.xml")),
        401
    );
    assert!(!stdout(&syncd(&s.url, &["users", "list"])).contains("frank"));

    assert_refused(
        &syncd(&s.url, &["users", "delete", "frank"]),
        "there is no user with login 'frank'",
    );
}

#[test]
fn users_delete_is_all_or_nothing() {
    let s = Running::start();
    let (frank, frank_token, _) = with_memberships(&s);
    // The database refuses to delete the user row; by then the command has
    // already deleted frank's memberships in the same transaction.
    let pool = syncd::db::open(&s.url, &syncd::db::PoolSettings::default()).unwrap();
    let mut conn = pool.get().unwrap();
    let refuse = if postgres_admin_url().is_some() {
        "CREATE FUNCTION refuse_user_delete() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
         CREATE TRIGGER refuse_user_delete BEFORE DELETE ON users
           FOR EACH ROW EXECUTE FUNCTION refuse_user_delete();"
    } else {
        "CREATE TRIGGER refuse_user_delete BEFORE DELETE ON users
           BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
    };
    conn.batch_execute(refuse).unwrap();

    let out = syncd(&s.url, &["users", "delete", "frank"]);
    assert_refused(&out, "refused by the test");
    let (_, after) = s.get(&s.boss, "/user-group-memberships.xml");
    assert_eq!(
        memberships_of(&after, frank),
        2,
        "nothing was deleted: {after}"
    );
    assert_eq!(s.status(&frank_token, "/me.xml"), 200);
}

#[test]
fn users_password_changes_the_password_on_a_running_server() {
    let s = Running::start();
    let old = "the first password of hal";
    let new = "the second password of hal";
    s.create_with_password("hal", old);

    let out = with_stdin(
        &s.url,
        &["users", "password", "hal", "--password-stdin"],
        new,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("changed the password of 'hal'"), "{err}");
    assert!(!err.contains(new), "the password is never printed");
    assert_eq!(s.basic("hal", new), 200);
    assert_eq!(s.basic("hal", old), 401);

    // A refused password changes nothing.
    let out = with_stdin(
        &s.url,
        &["users", "password", "hal", "--password-stdin"],
        "short",
    );
    assert_refused(&out, "too short");
    assert_eq!(s.basic("hal", new), 200);
    let out = with_stdin(
        &s.url,
        &["users", "password", "nobody", "--password-stdin"],
        "a good long password",
    );
    assert_refused(&out, "there is no user with login 'nobody'");
    // Never on the command line, where `ps` would show it.
    assert!(
        !syncd(&s.url, &["users", "password", "hal"])
            .status
            .success()
    );
}

/// The old password, verified (and remembered) by the server before the
/// change, must stop working within a second.
#[test]
fn an_old_password_in_use_stops_working_within_a_second() {
    let s = Running::start();
    let old = "the first password of ivy";
    let new = "the second password of ivy";
    s.create_with_password("ivy", old);
    assert_eq!(s.basic("ivy", old), 200);
    assert_eq!(s.basic("ivy", old), 200, "now from the cache");

    let out = with_stdin(
        &s.url,
        &["users", "password", "ivy", "--password-stdin"],
        new,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let done = Instant::now();
    // The old password first: the server remembers one password per login,
    // so signing in with the new one would make it forget the old one and
    // hide what this test is about.
    assert_eq!(eventually(done, 401, || s.basic("ivy", old)), 401);
    assert_eq!(s.basic("ivy", new), 200);
}

#[test]
fn passwords_given_to_the_cli_follow_the_policy() {
    let (_db, url) = fresh_url();
    for (login, password, says) in [
        ("jo", "eleven char", "at least 12 characters"),
        ("jo", "QWERTY123456", "well-known password"),
        ("jo", "1q2w3e4r5t6y", "well-known password"),
        ("jo.smith.1990", "JO.SMITH.1990", "must not be the login"),
        ("jo", "xxxxxxxxxxxxxxxx", "one character repeated"),
    ] {
        let out = with_stdin(
            &url,
            &["users", "create", login, "--password-stdin"],
            password,
        );
        assert_refused(&out, says);
        assert!(!stderr(&out).contains(password), "never printed");
    }
    assert_eq!(stdout(&syncd(&url, &["users", "list"])), "", "none created");
    let out = with_stdin(
        &url,
        &["users", "create", "jo", "--password-stdin"],
        "correct horse battery staple",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}
