//! The transport: how many connections the server holds under its
//! descriptor limit, requests whose length is ambiguous, caching headers,
//! and HTTPS without a proxy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::blocking::Client;

use crate::helpers::{Daemon, Resp, TestDatabase, insert_manager, spawn_app, syncd_command};

/// How many slow clients the descriptor tests hold open: more than a
/// 1,024-descriptor process can accept.
const SLOW_CLIENTS: usize = 1100;

/// The test process itself holds every slow client's socket: its own soft
/// descriptor limit goes up to its hard one.
fn raise_own_descriptor_limit(needed: u64) {
    let soft = rlimit::increase_nofile_limit(u64::MAX).expect("raise RLIMIT_NOFILE");
    assert!(
        soft >= needed,
        "these tests need {needed} descriptors and a hard RLIMIT_NOFILE above 1024; this one allows {soft}"
    );
}

fn socket_address(daemon: &Daemon) -> SocketAddr {
    daemon
        .address
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .parse()
        .unwrap()
}

/// Slow unauthenticated clients (slowloris): each connects, sends part of a
/// request head, then a byte every 300 ms from one thread until dropped.
struct SlowClients {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowClients {
    fn open(addr: SocketAddr, n: usize) -> SlowClients {
        let mut sockets: Vec<TcpStream> = (0..n)
            .map(|i| {
                // The kernel completes the handshake into the listen backlog
                // even while syncd does not accept; the timeout only bounds
                // a full backlog.
                let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                    .unwrap_or_else(|e| panic!("slow client {i} could not connect: {e}"));
                s.write_all(b"GET /me.xml HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    .unwrap();
                s
            })
            .collect();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_millis(300))
            {
                for s in &mut sockets {
                    // Closed by the server once its time is up: fine.
                    let _ = s.write(b"a");
                }
            }
            // Dropping the sockets closes them.
        });
        SlowClients {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for SlowClients {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Counts `/proc/PID/fd` every few milliseconds and keeps the highest count.
struct DescriptorWatch {
    peak: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DescriptorWatch {
    fn start(pid: u32) -> DescriptorWatch {
        let peak = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (p, d) = (peak.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            let dir = format!("/proc/{pid}/fd");
            while !d.load(Ordering::Relaxed) {
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    p.fetch_max(entries.count(), Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        DescriptorWatch {
            peak,
            done,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> usize {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// A client that opens a new connection for every request, as a new
/// client would: a kept-alive one would skip the queue of slow clients.
fn fresh_connections() -> Client {
    Client::builder().pool_max_idle_per_host(0).build().unwrap()
}

fn me(client: &Client, daemon: &Daemon, token: &str, timeout: Duration) -> reqwest::Result<u16> {
    client
        .get(format!("{}/me.xml", daemon.address))
        .header("X-API-KEY", token)
        .timeout(timeout)
        .send()
        .map(|r| r.status().as_u16())
}

#[test]
fn slow_clients_past_a_1024_soft_descriptor_limit_do_not_hold_up_a_manager() {
    raise_own_descriptor_limit(SLOW_CLIENTS as u64 + 200);
    let database = TestDatabase::new();
    let token = insert_manager(&database.url, "manager");
    // systemd's default: soft 1024, the hard limit well above it.
    let daemon = Daemon::start_under_ulimit(&database.url, "-Sn 1024", &[("RUST_LOG", "info")]);
    let client = fresh_connections();
    assert_eq!(
        me(&client, &daemon, &token, Duration::from_secs(5)).ok(),
        Some(200)
    );

    let slow = SlowClients::open(socket_address(&daemon), SLOW_CLIENTS);
    let started = Instant::now();
    let answer = me(&client, &daemon, &token, Duration::from_secs(2));
    let waited = started.elapsed();
    drop(slow);
    assert_eq!(
        answer.as_ref().ok(),
        Some(&200),
        "a manager behind {SLOW_CLIENTS} slow clients was not answered within 2 s ({waited:?}): {answer:?}"
    );
    let log = daemon.stderr();
    assert!(log.contains("the soft limit was 1024"), "{log}");
    assert!(!log.contains("Too many open files"), "{log}");
}

#[test]
fn under_a_hard_1024_descriptor_limit_connections_stay_below_it() {
    raise_own_descriptor_limit(SLOW_CLIENTS as u64 + 200);
    let database = TestDatabase::new();
    let token = insert_manager(&database.url, "manager");
    let daemon = Daemon::start_under_ulimit(
        &database.url,
        "-n 1024",
        &[("RUST_LOG", "info"), ("SYNCD_REQUEST_TIMEOUT", "4s")],
    );
    let client = fresh_connections();

    let watch = DescriptorWatch::start(daemon.pid());
    let slow = SlowClients::open(socket_address(&daemon), SLOW_CLIENTS);
    // The slow ones are dropped after 4 s (long enough for all of them to
    // pile up against the limit); their slots then serve the rest,
    // the manager among them.
    let started = Instant::now();
    let waiting = {
        let (client, address, token) = (client.clone(), daemon.address.clone(), token.clone());
        std::thread::spawn(move || {
            client
                .get(format!("{address}/me.xml"))
                .header("X-API-KEY", &token)
                .timeout(Duration::from_secs(15))
                .send()
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string())
        })
    };
    // The descriptors while every slot is held: the steady state the cap
    // is for. (When hundreds of connections end in the same instant,
    // actix's accept loop can briefly take a few past its per-worker
    // count, see docs/SECURITY.md; that moment is left out.)
    std::thread::sleep(Duration::from_millis(3500));
    let peak = watch.stop();
    let answer = waiting.join().unwrap();
    let waited = started.elapsed();
    assert_eq!(
        answer.as_ref().ok(),
        Some(&200),
        "{answer:?} after {waited:?}"
    );
    drop(slow);

    // Healthy afterwards: a write, which needs SQLite's files (or a
    // PostgreSQL socket).
    let created = client
        .post(format!("{}/user_groups.xml", daemon.address))
        .header("X-API-KEY", &token)
        .header("Content-Type", "application/xml")
        .body("<user-group><name>after the flood</name></user-group>")
        .timeout(Duration::from_secs(5))
        .send()
        .expect("the write was answered");
    assert_eq!(created.status().as_u16(), 201);

    let log = daemon.stderr();
    // At least the reserve's worth is left while the slots are all taken.
    assert!(
        peak <= 1024 - 32,
        "syncd held {peak} descriptors of the 1024 it may have\n{log}"
    );
    assert!(log.contains("connections at most"), "{log}");
}

/// Sends `request` in one write and reads everything until the server
/// closes the connection; whether it did within 5 seconds of silence.
fn raw_exchange(address: &str, request: &[u8]) -> (String, bool) {
    let mut s = TcpStream::connect(address.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // A reset after the answer also ends the connection.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

#[test]
fn content_length_with_transfer_encoding_is_400_and_the_connection_closes() {
    let app = spawn_app();
    // A smuggling attempt: the front end may read the Content-Length, syncd
    // the chunks; what follows them must not become a second request.
    let smuggled = format!(
        "POST /user_groups.xml HTTP/1.1\r\nHost: x\r\nX-API-KEY: {}\r\n\
         Content-Type: application/xml\r\nContent-Length: 46\r\n\r\n\
         <user-group><name>smuggled</name></user-group>",
        app.token
    );
    let request = format!(
        "POST /user_groups.xml HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/xml\r\nContent-Length: 5\r\n\
         Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
    );
    let (answer, closed) = raw_exchange(&app.address, request.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    // actix answers a request it had already read from the same packet
    // before it closes; syncd refuses it unread (400), so nothing smuggled
    // runs. (RFC 9112 would have it not answered at all.)
    let statuses: Vec<&str> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &answer[i + 9..i + 12])
        .collect();
    assert!(statuses.iter().all(|s| *s == "400"), "{answer}");
    assert!(!answer.contains("smuggled"), "{answer}");
    let groups = app.get("/user_groups.xml");
    assert!(
        !groups.body.contains("smuggled"),
        "the smuggled request ran"
    );
    assert!(
        answer.contains(
            "<error>A request may not have both Content-Length and Transfer-Encoding.</error>"
        ),
        "{answer}"
    );
    assert!(closed, "the connection stayed open: {answer}");
    // The same in JSON, and the server goes on.
    let (answer, closed) = raw_exchange(
        &app.address,
        request
            .replace("user_groups.xml", "user_groups.json")
            .as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains(r#"{"errors":["#), "{answer}");
    assert!(closed && !answer.contains("HTTP/1.1 2"), "{answer}");
    assert_eq!(app.get("/me.xml").status, 200);
}

fn assert_private_no_cache(what: &str, r: &Resp) {
    assert_eq!(
        r.header("cache-control"),
        Some("private, no-cache"),
        "{what}: {r:?}"
    );
    assert_eq!(
        r.header("vary"),
        Some("Accept, Authorization, X-API-KEY"),
        "{what}: {r:?}"
    );
}

#[test]
fn api_answers_are_private_no_cache_and_vary_on_accept_and_credentials() {
    let app = spawn_app();
    let user = app.user("alice");
    let group = app.group("Editors");
    let id = app.add(user, group);
    let show = app.get(&format!("/user-group-memberships/{id}.xml"));
    assert_eq!(show.status, 200);
    assert_private_no_cache("show", &show);
    assert_private_no_cache("json show", &app.get("/me.json"));
    assert_private_no_cache("list", &app.get("/user-group-memberships.xml"));

    // Revalidation still works, and the 304 says the same.
    let etag = show.header("etag").unwrap().to_string();
    let not_modified = app.send(
        app.request(Method::GET, &format!("/user-group-memberships/{id}.xml"))
            .header("If-None-Match", &etag),
    );
    assert_eq!(not_modified.status, 304);
    assert_private_no_cache("304", &not_modified);

    let unauthorized = app.send(app.client.get(app.url("/me.xml")));
    assert_eq!(unauthorized.status, 401);
    assert_private_no_cache("401", &unauthorized);
    let missing = app.get("/user-group-memberships/999999.json");
    assert_eq!(missing.status, 404);
    assert_private_no_cache("404", &missing);

    // A list long enough to stream (more than one chunk of 1000).
    {
        let mut conn = app.pool.get().unwrap();
        let groups: Vec<i64> = (0..26).map(|i| app.group(&format!("g{i}"))).collect();
        for u in 0..40 {
            let user = app.user(&format!("u{u}"));
            for &g in &groups {
                syncd::db::queries::changes::add(&mut conn, user, g, crate::helpers::SEEDED)
                    .unwrap()
                    .unwrap();
            }
        }
    }
    let streamed = app.get("/user-group-memberships.xml");
    assert_eq!(streamed.header("x-total-count"), Some("1041"));
    assert!(streamed.header("etag").unwrap().starts_with("W/"));
    assert_private_no_cache("streamed list", &streamed);

    // The managers' page is never stored at all, and varies alike.
    let page = app.get("/user-group-memberships.html");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(
        page.header("vary"),
        Some("Accept, Authorization, X-API-KEY")
    );
    // Without TLS, no Strict-Transport-Security.
    assert_eq!(page.header("strict-transport-security"), None);
}

/// A self-signed certificate for 127.0.0.1 and its key, made by the
/// `openssl` command line.
fn self_signed(dir: &Path) -> (String, String) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (the tests need it to make a certificate)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        cert.to_str().unwrap().to_string(),
        key.to_str().unwrap().to_string(),
    )
}

/// curl's status code and headers for a GET; the status is `000` when no
/// HTTP answer came.
fn curl(url: &str, extra: &[&str]) -> (String, String, bool) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "/dev/null", "-D", "-"])
        .args(["-w", "%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text[text.len().saturating_sub(3)..].to_string();
    (status, text.to_ascii_lowercase(), out.status.success())
}

#[test]
fn serve_speaks_https_with_a_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let database = TestDatabase::new();
    let token = insert_manager(&database.url, "manager");
    let daemon = Daemon::start_with(
        &database.url,
        &[("SYNCD_TLS_CERT", &cert), ("SYNCD_TLS_KEY", &key)],
    );
    assert!(
        daemon.address.starts_with("https://127.0.0.1:"),
        "{}",
        daemon.address
    );
    let api_key = format!("X-API-KEY: {token}");
    let (status, headers, ok) = curl(
        &format!("{}/me.xml", daemon.address),
        &["--cacert", &cert, "-H", &api_key],
    );
    assert!(ok && status == "200", "{status} {headers}");
    assert!(
        headers.contains("cache-control: private, no-cache"),
        "{headers}"
    );

    // The page over TLS tells browsers to come back over TLS only.
    let (status, headers, _) = curl(
        &format!("{}/user-group-memberships.html", daemon.address),
        &["--cacert", &cert, "-H", &api_key],
    );
    assert_eq!(status, "200", "{headers}");
    assert!(
        headers.contains("strict-transport-security: max-age=31536000\r\n"),
        "{headers}"
    );

    // Plain HTTP to the TLS port gets no answer.
    let plain = daemon.address.replace("https://", "http://");
    let (status, headers, ok) = curl(&format!("{plain}/me.xml"), &["-H", &api_key]);
    assert!(!ok && status == "000", "{status} {headers}");
    // The certificate is checked: without --cacert curl refuses it.
    let (status, _, ok) = curl(&format!("{}/me.xml", daemon.address), &["-H", &api_key]);
    assert!(!ok && status == "000");
    assert!(!daemon.stderr().contains(&token), "the token was logged");
}

#[test]
fn tls_settings_are_checked_at_start_with_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let database = TestDatabase::new();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let garbage = garbage.to_str().unwrap();
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let start = |env: &[(&str, &str)]| {
        let mut child = syncd_command(&database.url)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A syncd that ignored the settings would serve on: bounded.
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "{env:?}: syncd started instead of refusing: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("syncd: error: "))
            .collect();
        assert_eq!(out.status.code(), Some(1), "{env:?}: {stderr}");
        assert_eq!(errors.len(), 1, "{env:?}: {stderr}");
        errors[0].to_string()
    };
    let e = start(&[("SYNCD_TLS_CERT", &cert)]);
    assert!(
        e.contains("--tls-key") && e.contains("SYNCD_TLS_KEY"),
        "{e}"
    );
    let e = start(&[("SYNCD_TLS_KEY", &key)]);
    assert!(
        e.contains("--tls-cert") && e.contains("SYNCD_TLS_CERT"),
        "{e}"
    );
    let e = start(&[("SYNCD_TLS_CERT", missing), ("SYNCD_TLS_KEY", &key)]);
    assert!(e.contains(missing), "{e}");
    let e = start(&[("SYNCD_TLS_CERT", garbage), ("SYNCD_TLS_KEY", &key)]);
    assert!(e.contains(garbage) && e.contains("certificate"), "{e}");
    let e = start(&[("SYNCD_TLS_CERT", &cert), ("SYNCD_TLS_KEY", garbage)]);
    assert!(e.contains(garbage) && e.contains("key"), "{e}");
    // A key that is not the certificate's.
    let other = tempfile::tempdir().unwrap();
    let (_, other_key) = self_signed(other.path());
    let e = start(&[("SYNCD_TLS_CERT", &cert), ("SYNCD_TLS_KEY", &other_key)]);
    assert!(e.contains("key"), "{e}");
    assert!(!e.contains("BEGIN"), "no key material in the error: {e}");
}
