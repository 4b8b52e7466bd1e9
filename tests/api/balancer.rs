//! `Balancer`: a real HAProxy (Debian's `haproxy`, which tests/run.sh
//! installs) in front of syncd replicas, for the replica tests. Its own
//! process in the foreground (`haproxy -f CONFIG -db`), never the system
//! service, on 127.0.0.1, killed when the value goes. The configuration is
//! the one docs/DEPLOY.md gives operators, read from that file, with only
//! the addresses and the stats socket's path changed: the test runs what
//! the guide says.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What docs/DEPLOY.md's configuration names, and the harness replaces.
const DOC_FRONTEND: &str = "bind 127.0.0.1:8080";
const DOC_SOCKET: &str = "/run/haproxy/syncd.sock";
const DOC_SERVERS: [&str; 3] = ["127.0.0.1:3001", "127.0.0.1:3002", "127.0.0.1:3003"];

/// A port free on 127.0.0.1 now (bound, then let go): the replicas' fixed
/// ports, which the balancer's configuration names and a restarted
/// replica binds again.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `haproxy` binary: on the `PATH`, else where Debian puts it (`/usr/sbin`
/// is not on every user's `PATH`).
fn haproxy() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/haproxy");
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .any(|paths| std::env::split_paths(&paths).any(|dir| dir.join("haproxy").is_file()));
    if !on_path && sbin.is_file() {
        sbin
    } else {
        PathBuf::from("haproxy")
    }
}

/// docs/DEPLOY.md's HAProxy configuration, as written there.
pub fn documented_config() -> String {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/DEPLOY.md"))
        .expect("docs/DEPLOY.md");
    let start = guide
        .find("```haproxy\n")
        .expect("docs/DEPLOY.md has a ```haproxy block")
        + "```haproxy\n".len();
    let end = start + guide[start..].find("\n```").expect("the block ends");
    guide[start..=end].to_string()
}

/// One server's line of `show stat`.
#[derive(Debug, Clone)]
pub struct ServerStat {
    pub name: String,
    /// `UP`, `DOWN`, `UP 1/2` (going down), `DOWN 1/2` (coming up), ...
    pub status: String,
    /// Requests sent to it, and connections to it retried or redispatched.
    pub fields: HashMap<String, String>,
}

impl ServerStat {
    pub fn count(&self, field: &str) -> u64 {
        self.fields
            .get(field)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

pub struct Balancer {
    child: Child,
    /// `http://127.0.0.1:PORT`, the frontend.
    pub address: String,
    socket: PathBuf,
    output: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Balancer {
    /// Starts HAProxy in front of syncd on `ports` (three, as the guide's
    /// configuration has), and waits until it listens and answers on its
    /// stats socket.
    pub fn start(ports: &[u16; 3]) -> Balancer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("haproxy.sock");
        let port = free_port();
        let mut config = documented_config();
        let mut replace = |from: &str, to: &str| {
            assert!(
                config.contains(from),
                "docs/DEPLOY.md's HAProxy configuration no longer has {from:?}"
            );
            config = config.replace(from, to);
        };
        replace(DOC_FRONTEND, &format!("bind 127.0.0.1:{port}"));
        replace(DOC_SOCKET, socket.to_str().unwrap());
        for (doc, port) in DOC_SERVERS.iter().zip(ports) {
            replace(doc, &format!("127.0.0.1:{port}"));
        }
        let file = dir.path().join("haproxy.cfg");
        std::fs::write(&file, &config).unwrap();

        let mut child = Command::new(haproxy())
            .arg("-f")
            .arg(&file)
            .arg("-db")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start haproxy (tests/run.sh installs Debian's haproxy package)");
        let output = Arc::new(Mutex::new(String::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let collected = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut s = collected.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        }
        let balancer = Balancer {
            child,
            address: format!("http://127.0.0.1:{port}"),
            socket,
            output,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while balancer.try_stats().is_none()
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        {
            assert!(
                Instant::now() < deadline,
                "haproxy did not start:\n{}",
                balancer.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        balancer
    }

    /// What HAProxy printed (warnings, alerts, servers going up and down).
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    fn try_stats(&self) -> Option<Vec<ServerStat>> {
        let mut stream = UnixStream::connect(&self.socket).ok()?;
        stream.write_all(b"show stat\n").ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next()?.trim_start_matches("# ").split(',').collect();
        let servers = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                header
                    .iter()
                    .zip(l.split(','))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<HashMap<_, _>>()
            })
            .filter(|f| {
                f.get("pxname").map(String::as_str) == Some("syncd")
                    && !matches!(
                        f.get("svname").map(String::as_str),
                        Some("FRONTEND" | "BACKEND")
                    )
            })
            .map(|fields| ServerStat {
                name: fields["svname"].clone(),
                status: fields["status"].clone(),
                fields,
            })
            .collect();
        Some(servers)
    }

    /// Each replica's line of `show stat`, in the configuration's order.
    pub fn stats(&self) -> Vec<ServerStat> {
        self.try_stats().expect("haproxy's stats socket answers")
    }

    /// The state of every replica, such as `["UP", "DOWN", "UP"]`.
    pub fn states(&self) -> Vec<String> {
        self.stats().into_iter().map(|s| s.status).collect()
    }

    /// Waits (at most `within`) until HAProxy sees the replicas as `want`
    /// (`Some("UP")`, `Some("DOWN")`, or `None` for any), in order.
    pub fn wait_for(&self, want: [Option<&str>; 3], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let states = self.states();
            let holds = states
                .iter()
                .zip(want)
                .all(|(s, w)| w.is_none_or(|w| s == w));
            if holds {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "haproxy sees {states:?}, not {want:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every replica is `UP`.
    pub fn wait_all_up(&self, within: Duration) {
        self.wait_for([Some("UP"); 3], within);
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
