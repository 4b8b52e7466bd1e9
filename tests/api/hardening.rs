//! Hostile clients: guessing credentials, flooding, oversized and slow
//! requests. Each limit answers a clear 4xx and leaves the server serving.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use crate::helpers::{Guards, TestApp, basic, insert_user, limit, spawn_app};

/// A client whose connections come from `127.0.0.N` (all of 127/8 is
/// loopback on Linux), so a test can be several addresses.
fn client_from(n: u8) -> Client {
    Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

struct Answer {
    status: u16,
    retry_after: Option<u64>,
    www_authenticate: Option<String>,
    body: String,
}

fn me(app: &TestApp, client: &Client, header: (&str, &str)) -> Answer {
    let r = client
        .get(app.url("/me.xml"))
        .header(header.0, header.1)
        .send()
        .unwrap();
    let h = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    Answer {
        status: r.status().as_u16(),
        retry_after: h("retry-after").map(|v| v.parse().unwrap()),
        www_authenticate: h("www-authenticate"),
        body: r.text().unwrap(),
    }
}

#[test]
fn failed_sign_ins_from_one_address_are_throttled_with_429_and_retry_after() {
    let app = TestApp::builder()
        .guards(Guards {
            auth_failure_limit: limit("3/2s"),
            ..Guards::default()
        })
        .spawn();
    insert_user(&app.pool, "alice", true, Some("right horse battery"));
    let attacker = client_from(2);
    // Three logins, one guess each: the address is what is counted here.
    for n in 0..3 {
        let guess = basic(&format!("guess{n}"), "wrong");
        assert_eq!(me(&app, &attacker, ("Authorization", &guess)).status, 401);
    }
    // Now even the right password is refused from there, so a guess cannot
    // be confirmed; another address is not affected.
    let right = basic("alice", "right horse battery");
    let refused = me(&app, &attacker, ("Authorization", &right));
    assert_eq!(refused.status, 429, "{}", refused.body);
    let wait = refused.retry_after.expect("Retry-After");
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    assert!(
        refused
            .body
            .contains("<error>Too many failed sign-ins; try again in"),
        "{}",
        refused.body
    );
    assert_eq!(
        me(&app, &client_from(3), ("Authorization", &right)).status,
        200
    );

    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(me(&app, &attacker, ("Authorization", &right)).status, 200);
}

/// The audit: a client still sending a replaced token locked the new token
/// out from the same address (behind a NAT, everyone). Tokens are 256
/// random bits: wrong ones are not counted, and a locked address still
/// takes a valid token.
#[test]
fn wrong_tokens_lock_nobody_out_and_a_locked_address_still_takes_valid_tokens() {
    let app = TestApp::builder()
        .guards(Guards {
            auth_failure_limit: limit("3/60s"),
            ..Guards::default()
        })
        .spawn();
    let office = client_from(4);
    let token = app.token.clone();
    let old_token = "0123456789abcdef".repeat(4);
    for _ in 0..10 {
        assert_eq!(me(&app, &office, ("X-API-KEY", &old_token)).status, 401);
        assert_eq!(
            me(&app, &office, ("Authorization", &basic(&old_token, "X"))).status,
            401
        );
    }
    assert_eq!(me(&app, &office, ("X-API-KEY", &token)).status, 200);
    // Password guesses lock the address for passwords, not for tokens.
    for n in 0..3 {
        let guess = basic(&format!("guess{n}"), "wrong");
        assert_eq!(me(&app, &office, ("Authorization", &guess)).status, 401);
    }
    assert_eq!(
        me(&app, &office, ("Authorization", &basic("guess9", "wrong"))).status,
        429
    );
    assert_eq!(me(&app, &office, ("X-API-KEY", &token)).status, 200);
    assert_eq!(
        me(&app, &office, ("Authorization", &basic(&token, "X"))).status,
        200
    );
}

#[test]
fn failed_sign_ins_for_one_login_are_throttled_from_any_address() {
    let app = TestApp::builder()
        .guards(Guards {
            auth_failure_limit: limit("3/60s"),
            ..Guards::default()
        })
        .spawn();
    insert_user(&app.pool, "alice", true, Some("right horse"));
    insert_user(&app.pool, "bob", true, Some("battery staple"));
    // A guesser spreading over addresses is still counted per login.
    for n in 10..13 {
        let a = me(
            &app,
            &client_from(n),
            ("Authorization", &basic("alice", "guess")),
        );
        assert_eq!(a.status, 401);
    }
    let fresh = client_from(20);
    let a = me(
        &app,
        &fresh,
        ("Authorization", &basic("alice", "right horse")),
    );
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.retry_after.is_some_and(|s| (1..=60).contains(&s)));
    let b = me(
        &app,
        &fresh,
        ("Authorization", &basic("bob", "battery staple")),
    );
    assert_eq!(b.status, 200, "other logins sign in from the same address");
}

#[test]
fn a_successful_sign_in_clears_the_count_of_its_login() {
    let app = TestApp::builder()
        .guards(Guards {
            auth_failure_limit: limit("3/60s"),
            ..Guards::default()
        })
        .spawn();
    insert_user(&app.pool, "alice", true, Some("right horse"));
    for round in 0..3 {
        for n in 0..2 {
            let c = client_from(30 + round * 2 + n);
            assert_eq!(
                me(&app, &c, ("Authorization", &basic("alice", "typo"))).status,
                401
            );
        }
        let c = client_from(40 + round);
        let ok = me(&app, &c, ("Authorization", &basic("alice", "right horse")));
        assert_eq!(ok.status, 200, "round {round}: two typos then the password");
    }
}

#[test]
fn a_wrong_password_and_an_unknown_login_look_the_same() {
    let app = TestApp::builder()
        .guards(Guards {
            auth_failure_limit: limit("1000/60s"),
            ..Guards::default()
        })
        .spawn();
    insert_user(&app.pool, "alice", true, Some("right horse"));
    let client = client_from(50);
    let wrong_password = me(&app, &client, ("Authorization", &basic("alice", "wrong")));
    let unknown_login = me(&app, &client, ("Authorization", &basic("nobody", "wrong")));
    let wrong_token = me(&app, &client, ("X-API-KEY", "0123abcd"));
    for a in [&wrong_password, &unknown_login, &wrong_token] {
        assert_eq!(a.status, 401);
        assert_eq!(a.body, wrong_password.body);
        assert_eq!(a.www_authenticate, wrong_password.www_authenticate);
    }
    // Both Basic failures pay the same slow password hash (an unknown login
    // is checked against a dummy hash). Medians of alternating runs, so the
    // machine's noise hits both alike; a real leak (no hash for an unknown
    // login) is a factor of 100 and more.
    let time = |login: &str| {
        let started = Instant::now();
        let a = me(&app, &client, ("Authorization", &basic(login, "wrong")));
        assert_eq!(a.status, 401);
        started.elapsed()
    };
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        known.push(time("alice"));
        unknown.push(time("nobody"));
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[3].as_secs_f64(), unknown[3].as_secs_f64());
    assert!(
        k / u < 3.0 && u / k < 3.0,
        "median wrong password {k:.4}s, unknown login {u:.4}s"
    );
}

#[test]
fn the_rate_limit_counts_requests_per_user() {
    let app = TestApp::builder()
        .guards(Guards {
            rate_limit: Some(limit("5/2s")),
            ..Guards::default()
        })
        .spawn();
    let (_, other) = insert_user(&app.pool, "other", true, None);
    let client = client_from(60);
    let token = app.token.clone();
    for _ in 0..5 {
        assert_eq!(me(&app, &client, ("X-API-KEY", &token)).status, 200);
    }
    let over = me(&app, &client, ("X-API-KEY", &token));
    assert_eq!(over.status, 429);
    assert!(over.retry_after.is_some_and(|s| (1..=2).contains(&s)));
    assert!(
        over.body.contains("at most 5 every 2 seconds"),
        "{}",
        over.body
    );
    assert_eq!(
        me(&app, &client, ("X-API-KEY", &other)).status,
        200,
        "another user has a count of their own"
    );
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(me(&app, &client, ("X-API-KEY", &token)).status, 200);
}

/// Sends raw bytes and reads the status line of the answer, if any.
fn raw_status(app: &TestApp, request: &[u8]) -> String {
    let authority = app.address.trim_start_matches("http://");
    let mut s = TcpStream::connect(authority).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(request);
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    head.lines().next().unwrap_or("").to_string()
}

#[test]
fn oversized_heads_are_refused_with_431() {
    let app = spawn_app();
    let huge_header = format!(
        "GET /me.xml HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    let status = raw_status(&app, huge_header.as_bytes());
    assert!(status.starts_with("HTTP/1.1 431"), "{status}");
    // Past what actix buffers at all: refused, and the server lives on.
    let enormous = huge_header.replace(&"a".repeat(17 * 1024), &"a".repeat(200 * 1024));
    let status = raw_status(&app, enormous.as_bytes());
    assert!(
        status.is_empty() || status.starts_with("HTTP/1.1 4"),
        "{status}"
    );
    for headers in [65, 200] {
        let mut many = String::from("GET /me.xml HTTP/1.1\r\nHost: x\r\n");
        for i in 1..headers {
            many.push_str(&format!("X-H{i}: v\r\n"));
        }
        many.push_str("\r\n");
        let status = raw_status(&app, many.as_bytes());
        assert!(
            status.starts_with("HTTP/1.1 431"),
            "{headers} headers: {status}"
        );
    }
    let r = app.send(
        app.client
            .get(app.url("/me.xml"))
            .header("X-API-KEY", &app.token)
            .header("X-Filler", "b".repeat(17 * 1024)),
    );
    assert_eq!(r.status, 431);
    assert_eq!(
        r.errors(),
        ["The request headers are too large: at most 64 headers of 16 KiB in all."]
    );
    let r = app.get(&format!("/me.xml?{}", "c".repeat(9 * 1024)));
    assert_eq!(r.status, 414);
    // The server is still there.
    assert_eq!(app.get("/me.xml").status, 200);
}

#[test]
fn too_many_query_parameters_or_include_names_are_400() {
    let app = spawn_app();
    let params: Vec<String> = (0..65).map(|i| format!("p{i}=1")).collect();
    let r = app.get(&format!("/user-group-memberships.xml?{}", params.join("&")));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        ["The query string has more than 64 parameters."]
    );
    let names = vec!["users"; syncd::domain::MAX_INCLUDE_NAMES + 1].join(",");
    let r = app.get(&format!("/user-group-memberships.xml?include={names}"));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = app.get("/user-group-memberships.xml?include=users,users,timestamps");
    assert_eq!(r.status, 200, "repeats within the limit are fine");
}

#[test]
fn a_slow_head_gets_408_and_does_not_hold_up_other_clients() {
    let app = TestApp::builder()
        .guards(Guards {
            request_timeout: Duration::from_secs(1),
            ..Guards::default()
        })
        .spawn();
    let authority = app.address.trim_start_matches("http://").to_string();
    // A connection that never sends a byte is closed too.
    let mut idle = TcpStream::connect(&authority).unwrap();
    // Many clients each sending a head a few bytes at a time (slowloris).
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(&authority).unwrap();
            s.write_all(b"GET /me.xml HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    // Meanwhile everyone else is served at once.
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(app.get("/me.xml").status, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // The slow ones are answered 408 and closed once their time is up.
    std::thread::sleep(Duration::from_millis(1500));
    let mut timed_out = 0;
    for s in &mut slow {
        let _ = s.write_all(b"X-More: 1\r\n");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        if String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408") {
            timed_out += 1;
        }
    }
    assert_eq!(timed_out, slow.len());
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = idle.read_to_end(&mut rest).is_ok();
    assert!(
        closed && started.elapsed() < Duration::from_secs(5),
        "the idle connection was closed"
    );
}

#[test]
fn a_slow_body_gets_408() {
    let app = TestApp::builder()
        .guards(Guards {
            request_timeout: Duration::from_secs(1),
            ..Guards::default()
        })
        .spawn();
    let authority = app.address.trim_start_matches("http://");
    let mut s = TcpStream::connect(authority).unwrap();
    let head = format!(
        "POST /user-group-memberships.xml HTTP/1.1\r\nHost: x\r\nX-API-KEY: {}\r\nContent-Type: application/xml\r\nContent-Length: 100\r\n\r\n<user",
        app.token
    );
    s.write_all(head.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut answer = vec![0u8; 4096];
    let n = s.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("The request body did not arrive within 1 seconds."));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn every_answer_carries_nosniff_and_no_server_banner() {
    let app = spawn_app();
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = app.token.clone();
    let requests = [
        client.get(app.url("/me.xml")).header("X-API-KEY", &token),
        client.get(app.url("/me.xml")),
        client.get(app.url("/nowhere")),
        client
            .get(app.url("/user-group-memberships.json"))
            .header("X-API-KEY", &token),
        client
            .get(app.url("/user-group-memberships.html"))
            .header("X-API-KEY", &token),
        client.get(app.url("/user-group-memberships.html")),
        client
            .put(app.url("/user-group-memberships.xml"))
            .header("X-API-KEY", &token),
        client
            .post(app.url("/user-group-memberships.xml"))
            .header("X-API-KEY", &token)
            .header("Content-Type", "application/xml")
            .body("<oops"),
        client
            .get(app.url("/me.xml"))
            .header("X-Filler", "x".repeat(17 * 1024)),
    ];
    for request in requests {
        let r = request.send().unwrap();
        let what = format!("{} {}", r.status(), r.url());
        assert_eq!(
            r.headers()
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{what}"
        );
        assert!(r.headers().get("server").is_none(), "{what}");
        let html = r
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
        if html {
            let csp = r.headers().get("content-security-policy").unwrap();
            assert!(
                csp.to_str().unwrap().starts_with("default-src 'none'"),
                "{what}"
            );
            assert_eq!(
                r.headers().get("x-frame-options").unwrap(),
                "DENY",
                "{what}"
            );
        }
    }
}

#[test]
fn deep_or_huge_xml_bodies_are_400_over_http() {
    use syncd::xml::read::{MAX_DEPTH, MAX_ELEMENTS};
    let app = spawn_app();
    let deep = format!(
        "<user-group-membership>{}{}</user-group-membership>",
        "<a>".repeat(MAX_DEPTH),
        "</a>".repeat(MAX_DEPTH)
    );
    let r = app.post_xml("/user-group-memberships.xml", &deep);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        [format!(
            "The XML is nested more than {MAX_DEPTH} levels deep."
        )]
    );
    let many = format!(
        "<user-group-membership>{}</user-group-membership>",
        "<a/>".repeat(MAX_ELEMENTS)
    );
    let r = app.post_xml("/user-group-memberships.xml", &many);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        [format!("The XML has more than {MAX_ELEMENTS} elements.")]
    );
    // Just inside both limits, the body is read (and its record judged).
    let inside = format!(
        "<user-group-membership>{}{}<user-id>1</user-id></user-group-membership>",
        "<a>".repeat(MAX_DEPTH - 2),
        "</a>".repeat(MAX_DEPTH - 2)
    );
    let r = app.post_xml("/user-group-memberships.xml", &inside);
    assert_eq!(r.status, 422, "{}", r.body);
}
