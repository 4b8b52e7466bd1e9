//! The binary's life: first start, graceful stops, restarts, and logs that
//! never hold a secret.

use base64::Engine;

use crate::helpers::{Daemon, membership_xml};

fn first_token(stderr: &str) -> String {
    stderr
        .split_whitespace()
        .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .expect("a token on stderr")
        .to_string()
}

#[test]
fn first_start_creates_admin_and_prints_a_working_curl_line_once() {
    let database = crate::helpers::TestDatabase::new();
    let url = database.url.clone();
    let daemon = Daemon::start(&url);
    let err = daemon.stderr();
    let token = first_token(&err);
    assert_eq!(
        err.matches(&token).count(),
        2,
        "the token line and the curl line: {err}"
    );
    let curl = err
        .lines()
        .find(|l| l.trim_start().starts_with("curl "))
        .expect("a curl line")
        .trim();
    assert_eq!(
        curl,
        format!("curl -H 'X-API-KEY: {token}' {}/me.xml", daemon.address)
    );
    // Run the printed line as a person would paste it (.ci/run installs curl).
    let out = std::process::Command::new("sh")
        .args(["-c", curl])
        .output()
        .unwrap();
    assert!(out.status.success(), "curl failed: {out:?}");
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("<login>admin</login>"), "{body}");
    assert!(body.contains("<user-group-manager type=\"boolean\">true</user-group-manager>"));
    assert_eq!(daemon.signal_and_wait("-TERM"), 0);

    let again = Daemon::start(&url);
    assert!(!again.stderr().contains("'admin'"), "shown once only");
    let r = reqwest::blocking::Client::new()
        .get(format!("{}/me.xml", again.address))
        .header("X-API-KEY", &token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[test]
fn data_survives_a_restart_and_both_signals_stop_cleanly() {
    let database = crate::helpers::TestDatabase::new();
    let url = database.url.clone();
    let daemon = Daemon::start(&url);
    let token = first_token(&daemon.stderr());
    let out = crate::helpers::syncd_command(&url)
        .args(["groups", "create", "Editors"])
        .output()
        .unwrap();
    let group: i64 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let client = reqwest::blocking::Client::new();
    let r = client
        .post(format!("{}/user-group-memberships.xml", daemon.address))
        .header("X-API-KEY", &token)
        .header("Content-Type", "application/xml")
        .body(membership_xml(1, group))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let before = client
        .get(format!(
            "{}/user-group-memberships.xml?include=timestamps",
            daemon.address
        ))
        .header("X-API-KEY", &token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(daemon.signal_and_wait("-INT"), 0);

    let daemon = Daemon::start(&url);
    let after = client
        .get(format!(
            "{}/user-group-memberships.xml?include=timestamps",
            daemon.address
        ))
        .header("X-API-KEY", &token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(after, before);
    assert_eq!(daemon.signal_and_wait("-TERM"), 0);
}

#[test]
fn no_token_digest_or_password_reaches_a_log_line_or_a_response() {
    let database = crate::helpers::TestDatabase::new();
    let url = database.url.clone();
    let out = crate::helpers::syncd_command(&url)
        .args(["users", "create", "alice", "--manager", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"Sup3rSecretPw\n")?;
            c.wait_with_output()
        })
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let token = line.trim().split_once(' ').unwrap().1.to_string();
    let digest = syncd::security::secrets::token_digest(&token);

    let daemon = Daemon::start(&url);
    let client = reqwest::blocking::Client::new();
    let basic = |u: &str, p: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    let requests = vec![
        client
            .get(format!("{}/me.xml", daemon.address))
            .header("X-API-KEY", &token),
        client
            .get(format!("{}/me.xml?include=timestamps", daemon.address))
            .header("Authorization", basic(&token, "X")),
        client
            .get(format!("{}/user-group-memberships.xml", daemon.address))
            .header("Authorization", basic("alice", "Sup3rSecretPw")),
        client
            .get(format!("{}/user-group-memberships.xml", daemon.address))
            .header("Authorization", basic("alice", "Sup3rSecretPwWrong")),
        client
            .get(format!("{}/me.xml", daemon.address))
            .header("X-API-KEY", format!("{token}0")),
        client
            .post(format!("{}/user-group-memberships.xml", daemon.address))
            .header("X-API-KEY", &token)
            .header("Content-Type", "application/xml")
            .body("<bad"),
    ];
    let mut bodies = String::new();
    for request in requests {
        let r = request.send().unwrap();
        bodies.push_str(&format!("{:?}", r.headers()));
        bodies.push_str(&r.text().unwrap());
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = daemon.stderr();
    assert!(
        log.contains("\"GET /me.xml HTTP/1.1\" 200"),
        "an access-log line per request: {log}"
    );
    assert!(log.contains("\"GET /user-group-memberships.xml HTTP/1.1\" 401"));
    for secret in [token.as_str(), digest.as_str(), "Sup3rSecretPw", "argon2"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        assert!(!bodies.contains(secret), "{secret} in a response");
    }
    // The Basic header's base64 is a secret too.
    assert!(
        !log.contains(&base64::engine::general_purpose::STANDARD.encode("alice:Sup3rSecretPw"))
    );
}

#[test]
fn sigterm_finishes_a_request_in_flight_then_exits_0() {
    use std::io::{Read, Write};
    let database = crate::helpers::TestDatabase::new();
    let url = database.url.clone();
    // 20,000 memberships with every include: about 20 MB of XML, far more
    // than the socket buffers hold, so the response is still being written
    // when the signal arrives.
    let token = {
        let pool = syncd::db::open(&url, &Default::default()).unwrap();
        let (_, token) = crate::helpers::insert_user(&pool, "manager", true, None);
        let mut conn = pool.get().unwrap();
        use diesel::Connection;
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            let groups: Vec<i64> = (0..100)
                .map(|i| {
                    syncd::db::queries::user_groups::create(c, &format!("g{i}"), None)
                        .unwrap()
                        .unwrap()
                        .id
                })
                .collect();
            for u in 0..200 {
                let user = syncd::db::queries::users::create(
                    c,
                    &syncd::db::queries::users::NewUser {
                        login: &format!("u{u}"),
                        name: "n",
                        email_address: None,
                        user_group_manager: false,
                        password_digest: None,
                        token_digest: &format!("digest{u}"),
                    },
                )?
                .unwrap();
                for &g in &groups {
                    syncd::db::queries::changes::add(c, user.id, g, crate::helpers::SEEDED)?
                        .unwrap();
                }
            }
            Ok(())
        })
        .unwrap();
        token
    };
    let daemon = Daemon::start(&url);
    let addr = daemon.address.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /user-group-memberships.xml?include=users,user_groups,timestamps HTTP/1.1\r\nHost: {addr}\r\nX-API-KEY: {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    // Read only the first bytes, so the rest is still in flight.
    let mut first = [0u8; 64];
    stream.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"));
    let pid = daemon.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let body = String::from_utf8_lossy(&rest);
    assert!(
        rest.len() > 5_000_000,
        "only {} bytes; the server said:\n{}",
        rest.len(),
        daemon.stderr()
    );
    assert_eq!(body.matches("<user-group-membership>").count(), 20_000);
    assert!(
        body.contains("</user-group-memberships>\n"),
        "the document is complete"
    );
    assert!(
        body.ends_with("0\r\n\r\n"),
        "the chunked body ends properly"
    );
    assert_eq!(daemon.signal_and_wait_exit(), 0);
}

/// Sends `signal` to the daemon, which goes on running.
fn send_signal(daemon: &Daemon, signal: &str) {
    let pid = daemon.pid().to_string();
    assert!(
        std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// Waits until the daemon's stderr holds `text`.
fn wait_for_log(daemon: &Daemon, text: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !daemon.stderr().contains(text) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {text:?} in:\n{}",
            daemon.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn sigterm_with_a_drain_time_answers_readyz_503_but_serves_until_it_ends() {
    let database = crate::helpers::TestDatabase::new();
    let url = database.url.clone();
    let token = crate::cli::create_manager(&url, "boss");
    let daemon = Daemon::start_with(&url, &[("SYNCD_DRAIN_TIME", "2s"), ("RUST_LOG", "info")]);
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{}{path}", daemon.address))
            .header("X-API-KEY", &token)
            .send()
            .unwrap()
    };
    let r = get("/readyz");
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("connection").is_none(), "kept alive");

    let signalled = std::time::Instant::now();
    send_signal(&daemon, "-TERM");
    wait_for_log(&daemon, "stopping: /readyz answers 503");
    let r = get("/readyz");
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers().get("retry-after").unwrap(), "2");
    assert_eq!(r.text().unwrap(), "not ready: stopping\n");
    // Everything else is served as before, each answer closing its
    // connection, so that a client's next request goes elsewhere.
    assert_eq!(get("/healthz").status(), 200);
    let r = get("/me.xml");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("connection").unwrap(), "close");
    let r = client
        .post(format!("{}/user_groups.xml", daemon.address))
        .header("X-API-KEY", &token)
        .header("Content-Type", "application/xml")
        .body("<user-group><name>Late</name></user-group>")
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);

    let addr = daemon.address.trim_start_matches("http://").to_string();
    assert_eq!(daemon.signal_and_wait_exit(), 0);
    let took = signalled.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(1900),
        "stopped {took:?} after SIGTERM, before the drain ended"
    );
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "the listening socket is closed"
    );
    let groups = crate::cli::stdout(&crate::cli::syncd(&url, &["groups", "list"]));
    assert!(groups.contains("Late"), "{groups}");
}

#[test]
fn a_second_signal_ends_the_drain_at_once() {
    let database = crate::helpers::TestDatabase::new();
    let url = database.url.clone();
    let daemon = Daemon::start_with(&url, &[("SYNCD_DRAIN_TIME", "60s"), ("RUST_LOG", "info")]);
    let signalled = std::time::Instant::now();
    send_signal(&daemon, "-TERM");
    wait_for_log(&daemon, "stopping: /readyz answers 503");
    send_signal(&daemon, "-INT");
    wait_for_log(&daemon, "stopping: a second signal ends the drain");
    assert_eq!(daemon.signal_and_wait_exit(), 0);
    assert!(signalled.elapsed() < std::time::Duration::from_secs(10));
}
