//! Issue 17: several syncd processes behind a load balancer on one
//! PostgreSQL count sign-in failures and requests per user together, so
//! that three replicas do not let three times the guesses through. Each
//! test starts three real `syncd serve` processes on one fresh database
//! and spreads its requests over them. PostgreSQL only: on SQLite (one
//! process per database file) the counts stay in each process's memory,
//! and the tests in `sign_in.rs` and `hardening.rs` cover them.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use reqwest::blocking::Client;

use crate::helpers::{Daemon, TestDatabase, basic, execute_sql, insert_user, postgres_admin_url};
use crate::sign_in::count;

/// True (and says why) when the suite runs on SQLite, where these tests
/// have nothing to show.
fn sqlite_pass() -> bool {
    if postgres_admin_url().is_none() {
        eprintln!(
            "shared counts are PostgreSQL's: this test runs in pass 2 (SYNCD_TEST_DATABASE=postgres)"
        );
        return true;
    }
    false
}

/// `127.0.A.B`: all of 127/8 is loopback on Linux, so a test can be many
/// client addresses.
fn loopback(a: u8, b: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, a, b))
}

/// Three `syncd serve` processes on one new database, started at once with
/// `env`; the database guard, a pool on it, and the processes.
fn three_processes(env: &[(&str, &str)]) -> (TestDatabase, syncd::db::DbPool, Vec<Daemon>) {
    let database = TestDatabase::new();
    // Migrated before the processes start, so that users can be added.
    let pool = syncd::db::open(&database.url, &Default::default()).unwrap();
    let url = database.url.clone();
    let daemons = std::thread::scope(|s| {
        let started: Vec<_> = (0..3)
            .map(|_| s.spawn(|| Daemon::start_with(&url, env)))
            .collect();
        started
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    (database, pool, daemons)
}

struct Answer {
    status: u16,
    retry_after: Option<u64>,
}

/// `GET /me.xml` on `daemon` from `from`, with one header.
fn me(daemon: &Daemon, from: IpAddr, header: (&str, &str)) -> Answer {
    let client = Client::builder()
        .local_address(from)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/me.xml", daemon.address))
        .header(header.0, header.1)
        .send()
        .unwrap();
    Answer {
        status: r.status().as_u16(),
        retry_after: r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse().unwrap()),
    }
}

fn sign_in(daemon: &Daemon, from: IpAddr, login: &str, password: &str) -> Answer {
    me(daemon, from, ("Authorization", &basic(login, password)))
}

/// Sends every request (`(process, from, Authorization)`) on a connection
/// of its own before reading any answer, so that all are in flight at once;
/// the statuses in order.
fn burst(requests: &[(&Daemon, IpAddr, String)]) -> Vec<u16> {
    let requests: Vec<(&str, IpAddr, &str, String)> = requests
        .iter()
        .map(|(daemon, from, auth)| (daemon.address.as_str(), *from, "/me.xml", auth.clone()))
        .collect();
    crate::sign_in::burst_to(&requests)
}

/// Ten wrong passwords for one login, from ten addresses, round robin over
/// three processes: the eleventh is refused by each of them, even with the
/// right password; another login from the same address is not.
#[test]
fn a_login_locked_through_one_process_is_locked_on_every_process() {
    if sqlite_pass() {
        return;
    }
    let (_database, pool, d) = three_processes(&[("SYNCD_AUTH_FAILURE_LIMIT", "10/60s")]);
    insert_user(&pool, "alice", true, Some("right horse battery"));
    insert_user(&pool, "bob", true, Some("staple battery horse"));
    for n in 0..10u8 {
        let a = sign_in(&d[usize::from(n) % 3], loopback(1, n + 1), "alice", "guess");
        assert_eq!(a.status, 401, "guess {n}");
    }
    for (i, daemon) in d.iter().enumerate() {
        let from = loopback(1, 100 + i as u8);
        let a = sign_in(daemon, from, "alice", "another guess");
        assert_eq!(a.status, 429, "process {i}");
        assert!(a.retry_after.is_some_and(|s| (1..=60).contains(&s)));
        let right = sign_in(daemon, from, "alice", "right horse battery");
        assert_eq!(right.status, 429, "process {i}: the right password too");
        let other = sign_in(daemon, from, "bob", "staple battery horse");
        assert_eq!(other.status, 200, "process {i}: bob from the same address");
    }
}

/// Ten failed sign-ins from one address, each for another login, round
/// robin over three processes: the eleventh from that address is refused by
/// each of them; another address is not.
#[test]
fn an_address_locked_through_one_process_is_locked_on_every_process() {
    if sqlite_pass() {
        return;
    }
    let (_database, pool, d) = three_processes(&[("SYNCD_AUTH_FAILURE_LIMIT", "10/60s")]);
    insert_user(&pool, "alice", true, Some("right horse battery"));
    let attacker = loopback(2, 1);
    for n in 0..10 {
        let a = sign_in(&d[n % 3], attacker, &format!("guess{n}"), "wrong");
        assert_eq!(a.status, 401, "guess {n}");
    }
    for (i, daemon) in d.iter().enumerate() {
        let a = sign_in(daemon, attacker, &format!("more{i}"), "wrong");
        assert_eq!(a.status, 429, "process {i}");
        assert!(a.retry_after.is_some_and(|s| (1..=60).contains(&s)));
        let right = sign_in(daemon, attacker, "alice", "right horse battery");
        assert_eq!(right.status, 429, "process {i}: the right password too");
        let elsewhere = sign_in(daemon, loopback(2, 2), "alice", "right horse battery");
        assert_eq!(elsewhere.status, 200, "process {i}: another address");
    }
}

/// The audit's race, over processes: 60 concurrent wrong passwords for one
/// login (each from an address of its own), and then 60 from one address
/// (each for a login of its own), spread over three processes with a limit
/// of 10: at most 10 of each are checked (401); the rest are refused (429).
#[test]
fn concurrent_guesses_spread_over_three_processes_get_no_more_checks_than_the_limit() {
    if sqlite_pass() {
        return;
    }
    let (_database, pool, d) = three_processes(&[("SYNCD_AUTH_FAILURE_LIMIT", "10/60s")]);
    insert_user(&pool, "alice", true, Some("right horse battery"));
    let one_login: Vec<_> = (0..60u8)
        .map(|n| {
            (
                &d[usize::from(n) % 3],
                loopback(3, n + 1),
                basic("alice", &format!("guess {n}")),
            )
        })
        .collect();
    let one_address: Vec<_> = (0..60u8)
        .map(|n| {
            (
                &d[usize::from(n) % 3],
                loopback(4, 1),
                basic(&format!("login{n}"), "guess"),
            )
        })
        .collect();
    let mut failures = 0;
    for (what, requests) in [("one login", one_login), ("one address", one_address)] {
        let statuses = burst(&requests);
        let checked = count(&statuses, 401);
        assert!(
            checked <= 10,
            "{what}: {checked} were checked: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| [401, 429, 503].contains(s)),
            "{what}: {statuses:?}"
        );
        assert!(count(&statuses, 429) >= 50, "{what}: {statuses:?}");
        // Only the failures stay counted, for their address and their
        // login: a refused attempt (429), even one that raced a lockout
        // into place and had its other key counted for a moment, and an
        // undecided one (503), count nowhere.
        failures += checked as i64;
        assert_eq!(sum_of_counts(&pool, "a:"), failures, "{what}: {statuses:?}");
        assert_eq!(sum_of_counts(&pool, "l:"), failures, "{what}: {statuses:?}");
    }
    let raced: usize = d
        .iter()
        .map(|d| {
            d.stderr()
                .matches("a lockout came into place during the count")
                .count()
        })
        .sum();
    eprintln!("{raced} attempts raced a lockout into place and were refunded");
}

/// The sum of the counts of the rows whose key starts with `prefix`.
fn sum_of_counts(pool: &syncd::db::DbPool, prefix: &str) -> i64 {
    rows(
        pool,
        &format!("key LIKE '{prefix}%'"),
        "COALESCE(sum(count), 0)",
    )
}

/// A right password refunds its attempt on every process: its login's
/// count starts again, and its address's earlier failures stay.
#[test]
fn a_right_password_refunds_its_attempt_on_every_process() {
    if sqlite_pass() {
        return;
    }
    let (_database, pool, d) = three_processes(&[("SYNCD_AUTH_FAILURE_LIMIT", "3/60s")]);
    insert_user(&pool, "alice", true, Some("right horse battery"));
    // The login, from addresses of their own: two typos, the password, then
    // three more failures are allowed, not one.
    assert_eq!(sign_in(&d[0], loopback(5, 1), "alice", "typo").status, 401);
    assert_eq!(sign_in(&d[1], loopback(5, 2), "alice", "typo").status, 401);
    let ok = sign_in(&d[2], loopback(5, 3), "alice", "right horse battery");
    assert_eq!(ok.status, 200);
    for (n, daemon) in d.iter().enumerate() {
        let a = sign_in(daemon, loopback(5, 10 + n as u8), "alice", "typo");
        assert_eq!(a.status, 401, "failure {n} after the reset");
    }
    let locked = sign_in(&d[0], loopback(5, 20), "alice", "right horse battery");
    assert_eq!(locked.status, 429, "three failures since the reset");

    // The address: two failures, a sign-in (refunded, not a failure), then
    // one more failure is the third; the next is refused everywhere.
    let office = loopback(6, 1);
    assert_eq!(sign_in(&d[0], office, "x1", "wrong").status, 401);
    assert_eq!(sign_in(&d[1], office, "x2", "wrong").status, 401);
    let token = insert_user(&pool, "bob", true, Some("staple battery horse")).1;
    assert_eq!(
        sign_in(&d[2], office, "bob", "staple battery horse").status,
        200
    );
    assert_eq!(sign_in(&d[0], office, "x3", "wrong").status, 401);
    for (i, daemon) in d.iter().enumerate() {
        assert_eq!(
            sign_in(daemon, office, "x4", "wrong").status,
            429,
            "process {i}"
        );
        // Tokens are never counted, nor refused for a locked address.
        assert_eq!(me(daemon, office, ("X-API-KEY", &token)).status, 200);
    }
}

/// `SYNCD_RATE_LIMIT=5/10s`: six requests by one user spread over three
/// processes; the sixth is refused with `Retry-After`, another user is not.
#[test]
fn the_rate_limit_counts_a_users_requests_on_every_process() {
    if sqlite_pass() {
        return;
    }
    let (_database, pool, d) = three_processes(&[("SYNCD_RATE_LIMIT", "5/10s")]);
    let (_, token) = insert_user(&pool, "busy", true, None);
    let (_, other) = insert_user(&pool, "other", true, None);
    let from = loopback(7, 1);
    for n in 0..5 {
        let a = me(&d[n % 3], from, ("X-API-KEY", &token));
        assert_eq!(a.status, 200, "request {n}");
    }
    let over = me(&d[5 % 3], from, ("X-API-KEY", &token));
    assert_eq!(over.status, 429);
    assert!(
        over.retry_after.is_some_and(|s| (1..=10).contains(&s)),
        "Retry-After {:?}",
        over.retry_after
    );
    for (i, daemon) in d.iter().enumerate() {
        assert_eq!(
            me(daemon, from, ("X-API-KEY", &token)).status,
            429,
            "process {i}"
        );
        assert_eq!(
            me(daemon, from, ("X-API-KEY", &other)).status,
            200,
            "process {i}"
        );
    }
}

/// Rows whose window has ended are swept by the next write of a process
/// (at most once a minute each; a new process sweeps at its first write),
/// and a lockout whose window has not ended survives the sweep.
#[test]
fn ended_windows_are_swept_and_live_lockouts_are_kept() {
    if sqlite_pass() {
        return;
    }
    let env = [
        ("SYNCD_AUTH_FAILURE_LIMIT", "1/60s"),
        ("SYNCD_RATE_LIMIT", "100/1s"),
    ];
    let (database, pool, d) = three_processes(&env);
    let (early, early_token) = insert_user(&pool, "early", true, None);
    let (late, late_token) = insert_user(&pool, "late", true, None);
    for (i, daemon) in d.iter().enumerate() {
        let a = me(daemon, loopback(8, 1), ("X-API-KEY", &early_token));
        assert_eq!(a.status, 200, "process {i}");
    }
    assert_eq!(sign_in(&d[0], loopback(8, 2), "alice", "guess").status, 401);
    let early_row = format!("key = 'u:{early}'");
    assert_eq!(rows(&pool, &early_row, "count(*)"), 1);
    assert_eq!(
        rows(&pool, "key NOT LIKE 'u:%'", "count(*)"),
        2,
        "the address and the login"
    );
    std::thread::sleep(Duration::from_millis(1100));
    // The early user's window has ended; a new process sweeps it at its
    // first write.
    let fresh = Daemon::start_with(&database.url, &env);
    assert_eq!(
        me(&fresh, loopback(8, 3), ("X-API-KEY", &late_token)).status,
        200
    );
    assert_eq!(rows(&pool, &early_row, "count(*)"), 0, "swept");
    assert_eq!(rows(&pool, &format!("key = 'u:{late}'"), "count(*)"), 1);
    assert_eq!(
        rows(&pool, "key NOT LIKE 'u:%'", "count(*)"),
        2,
        "the lockouts are kept"
    );
    assert_eq!(
        sign_in(&fresh, loopback(8, 4), "alice", "right?").status,
        429,
        "the login is still locked"
    );
}

/// `what` (an aggregate, SQL) over the rows of `throttle_counts` that match
/// `filter` (SQL).
fn rows(pool: &syncd::db::DbPool, filter: &str, what: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = pool.get().unwrap();
    let sql = format!("SELECT ({what})::bigint AS n FROM throttle_counts WHERE {filter}");
    diesel::sql_query(sql)
        .get_result::<N>(&mut *conn)
        .unwrap()
        .n
}

/// When counting fails, the sign-in is not decided: 503 with `Retry-After`,
/// never a 500 and never a request let through unchecked.
#[test]
fn a_database_error_while_counting_is_503_never_unchecked() {
    if sqlite_pass() {
        return;
    }
    let (_database, pool, d) = three_processes(&[
        ("SYNCD_AUTH_FAILURE_LIMIT", "10/60s"),
        ("SYNCD_RATE_LIMIT", "100/60s"),
    ]);
    let (_, token) = insert_user(&pool, "alice", true, Some("right horse battery"));
    assert_eq!(me(&d[0], loopback(9, 1), ("X-API-KEY", &token)).status, 200);
    execute_sql(
        &pool,
        "ALTER TABLE throttle_counts RENAME TO throttle_counts_gone",
    );
    for daemon in &d {
        let a = sign_in(daemon, loopback(9, 2), "alice", "right horse battery");
        assert_eq!(a.status, 503, "a password sign-in");
        assert_eq!(a.retry_after, Some(2));
        let t = me(daemon, loopback(9, 2), ("X-API-KEY", &token));
        assert_eq!(t.status, 503, "a rate-limited request");
    }
    execute_sql(
        &pool,
        "ALTER TABLE throttle_counts_gone RENAME TO throttle_counts",
    );
    let a = sign_in(&d[1], loopback(9, 2), "alice", "right horse battery");
    assert_eq!(a.status, 200, "back once the table is");
}
