//! `spawn_app()` (or `TestApp::builder()...spawn()` for other limits, pool
//! settings or database): the real server on a random port against a fresh
//! database, and a client with a method per kind of request. Also `Daemon`, the real
//! `syncd` binary in a child process, for the CLI, restart and log tests.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::HeaderMap;
use syncd::config::{self, Config};
use syncd::db;
use syncd::db::queries::{user_groups, users};
use syncd::db::{DbPool, PoolSettings};
use syncd::http::cross_site::AllowedOrigins;
use syncd::security::secrets::{generate_token, hash_password, token_digest};
use syncd::security::throttle::Limit;
use syncd::server::Application;

/// What a test server is configured to refuse (`TestAppBuilder::guards`).
pub use syncd::state::Guards;

pub struct TestApp {
    pub address: String,
    pub client: Client,
    /// The token of the manager every request is sent as by default.
    pub token: String,
    pub pool: DbPool,
    handle: actix_web::dev::ServerHandle,
    /// Dropped after the server: the database goes with the test.
    _database: TestDatabase,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The messages of an `<errors>` body, checking its shape on the way.
    pub fn errors(&self) -> Vec<String> {
        assert_eq!(
            self.header("content-type"),
            Some("application/xml; charset=utf-8"),
            "error bodies are XML: {self:?}"
        );
        assert!(
            self.body
                .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors>\n"),
            "not an <errors> body: {}",
            self.body
        );
        self.body
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("<error>")
                    .and_then(|l| l.strip_suffix("</error>"))
            })
            .map(|m| {
                m.replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            })
            .collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop at once; the server thread ends on its own.
        drop(self.handle.stop(false));
    }
}

/// The backend the suite runs against: SQLite unless
/// `SYNCD_TEST_DATABASE=postgres`, then the server at
/// `SYNCD_TEST_POSTGRES_URL` (tests/run.sh starts a throwaway one).
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("SYNCD_TEST_DATABASE").as_deref() {
        Ok("postgres") => Some(
            std::env::var("SYNCD_TEST_POSTGRES_URL")
                .expect("SYNCD_TEST_DATABASE=postgres needs SYNCD_TEST_POSTGRES_URL"),
        ),
        _ => None,
    }
}

/// A fresh, empty database for one test: a SQLite file in a temp directory,
/// or a new PostgreSQL database (dropped again when the guard goes).
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn new() -> TestDatabase {
        match postgres_admin_url() {
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.sqlite3").display());
                TestDatabase {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Some(admin) => {
                static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let name = format!(
                    "syncd_test_{}_{}_{}",
                    std::process::id(),
                    n,
                    &generate_token().unwrap()[..8]
                );
                postgres_admin(&admin, &format!("CREATE DATABASE {name}"));
                TestDatabase {
                    url: with_database(&admin, &name),
                    _dir: None,
                    postgres: Some((admin, name)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres {
            postgres_admin(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

fn postgres_admin(admin_url: &str, sql: &str) {
    use diesel::Connection;
    let mut conn = diesel::pg::PgConnection::establish(admin_url)
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
    diesel::sql_query(sql).execute(&mut conn).expect(sql);
}

/// The same server URL with another database name.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = rest.split('/').next().unwrap();
    format!("{scheme}://{authority}/{name}{query}")
}

/// The server on a fresh database, signing in as a new manager: the
/// common case of `TestApp::builder()`.
pub fn spawn_app() -> TestApp {
    TestApp::builder().spawn()
}

/// A test server to be: the same `Config` as `syncd serve` builds, with
/// two workers and a short graceful stop; a fresh database and a new
/// manager unless told otherwise.
pub struct TestAppBuilder {
    config: Config,
    database: Option<(TestDatabase, DbPool)>,
    token: Option<String>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            config: Config {
                server: config::Server {
                    workers: 2,
                    shutdown_timeout: Duration::from_secs(1),
                    ..config::Server::default()
                },
                ..Config::default()
            },
            database: None,
            token: None,
        }
    }
}

impl TestAppBuilder {
    /// Other pool settings for the fresh database.
    pub fn pool(mut self, settings: PoolSettings) -> Self {
        self.config.database.pool = settings;
        self
    }

    /// Other limits (all of them: start from `Guards::default()`).
    pub fn guards(mut self, guards: Guards) -> Self {
        self.config.guards = guards;
        self
    }

    /// Forms may also come from the origins in `list`.
    pub fn allowing(mut self, list: &str) -> Self {
        self.config.guards.allowed_origins = AllowedOrigins::parse(list).unwrap();
        self
    }

    /// Serves this database and pool instead of a fresh one.
    pub fn on(mut self, database: TestDatabase, pool: DbPool) -> Self {
        self.config.database.url = database.url.clone();
        self.database = Some((database, pool));
        self
    }

    /// Signs in with `token` instead of creating a manager.
    pub fn token(mut self, token: String) -> Self {
        self.token = Some(token);
        self
    }

    /// Starts the server on a random port, on a thread of its own.
    pub fn spawn(self) -> TestApp {
        let mut config = self.config;
        let (database, pool) = self.database.unwrap_or_else(|| {
            let database = TestDatabase::new();
            config.database.url = database.url.clone();
            let pool = config.database.open().expect("open the test database");
            (database, pool)
        });
        let token = self
            .token
            .unwrap_or_else(|| insert_user(&pool, "manager", true, None).1);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a random port");
        let port = listener.local_addr().unwrap().port();
        let server_pool = pool.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let app =
                    Application::build(listener, &config, server_pool).expect("build the server");
                tx.send(app.handle()).unwrap();
                let _ = app.run().await;
            })
        });
        let handle = rx.recv().expect("the server started");
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            token,
            pool,
            handle,
            _database: database,
        }
    }
}

/// Creates a user straight in the database; returns its id and token.
pub fn insert_user(
    pool: &DbPool,
    login: &str,
    manager: bool,
    password: Option<&str>,
) -> (i64, String) {
    let token = generate_token().unwrap();
    let digest = token_digest(&token);
    let password_digest = password.map(|p| hash_password(p).unwrap());
    let mut conn = pool.get().unwrap();
    let user = users::create(
        &mut conn,
        &users::NewUser {
            login,
            name: &format!("{login} name"),
            email_address: None,
            user_group_manager: manager,
            password_digest: password_digest.as_deref(),
            token_digest: &digest,
        },
    )
    .unwrap()
    .unwrap();
    (user.id, token)
}

/// An `Authorization` header value for HTTP Basic.
pub fn basic(login: &str, password: &str) -> String {
    use base64::Engine;
    let pair = format!("{login}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A limit such as `3/60s`.
pub fn limit(text: &str) -> Limit {
    text.parse().unwrap()
}

/// Runs raw SQL on the test database (to pin timestamps for golden tests).
pub fn execute_sql(pool: &DbPool, sql: &str) {
    let mut conn = pool.get().unwrap();
    diesel::sql_query(sql).execute(&mut *conn).unwrap();
}

impl TestApp {
    /// The URL of the app's database (for the command line beside it).
    pub fn database_url(&self) -> &str {
        &self._database.url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn send(&self, request: RequestBuilder) -> Resp {
        let response = request.send().expect("the request was answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().expect("a UTF-8 body");
        Resp {
            status,
            headers,
            body,
        }
    }

    /// A request signed with the manager's token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("X-API-KEY", &self.token)
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send(self.request(reqwest::Method::GET, path))
    }

    pub fn get_as(&self, token: &str, path: &str) -> Resp {
        self.send(self.client.get(self.url(path)).header("X-API-KEY", token))
    }

    pub fn post_xml(&self, path: &str, body: &str) -> Resp {
        self.send(
            self.request(reqwest::Method::POST, path)
                .header("Content-Type", "application/xml")
                .body(body.to_string()),
        )
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.send(self.request(reqwest::Method::DELETE, path))
    }

    pub fn user(&self, login: &str) -> i64 {
        insert_user(&self.pool, login, false, None).0
    }

    pub fn group(&self, name: &str) -> i64 {
        let mut conn = self.pool.get().unwrap();
        user_groups::create(&mut conn, name, None)
            .unwrap()
            .unwrap()
            .id
    }

    /// Creates a membership through the API and returns its id.
    pub fn add(&self, user_id: i64, group_id: i64) -> i64 {
        let r = self.post_xml(
            "/user-group-memberships.xml",
            &membership_xml(user_id, group_id),
        );
        assert_eq!(r.status, 201, "{r:?}");
        id_of(&r.body)
    }

    /// Creates many memberships straight in the database (fast setup).
    pub fn add_directly(&self, user_id: i64, group_id: i64) -> i64 {
        let mut conn = self.pool.get().unwrap();
        syncd::db::queries::changes::add(&mut conn, user_id, group_id, crate::helpers::SEEDED)
            .unwrap()
            .unwrap()
            .id
    }
}

/// Who made the memberships a test puts straight in the database: the
/// command line, as an import.
pub const SEEDED: syncd::domain::history::Changer =
    syncd::domain::history::Changer::command_line(syncd::domain::history::Via::Import);

pub fn membership_xml(user_id: i64, group_id: i64) -> String {
    format!(
        "<user-group-membership><user-id>{user_id}</user-id><user-group-id>{group_id}</user-group-id></user-group-membership>"
    )
}

/// The first `<id type="integer">` of a body.
pub fn id_of(body: &str) -> i64 {
    let start = body.find("<id type=\"integer\">").expect("an id") + 19;
    let end = start + body[start..].find('<').unwrap();
    body[start..end].parse().unwrap()
}

/// Every membership id in a list body, in order.
pub fn ids_in_list(body: &str) -> Vec<i64> {
    body.lines()
        .filter(|l| l.starts_with("    <id type=\"integer\">"))
        .map(|l| {
            l.trim()
                .trim_start_matches("<id type=\"integer\">")
                .trim_end_matches("</id>")
                .parse()
                .unwrap()
        })
        .collect()
}

/// Runs the `syncd` CLI on `database_url` with `input` as the whole of its
/// stdin, and waits for it.
pub fn run_with_stdin(database_url: &str, args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = syncd_command(database_url)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// The `syncd` binary, with its stderr collected.
pub struct Daemon {
    pub child: Child,
    pub address: String,
    /// Everything it wrote on stderr so far (`stderr()` copies it).
    pub stderr: Arc<Mutex<String>>,
}

pub fn syncd_command(database_url: &str) -> Command {
    with_test_env(Command::new(env!("CARGO_BIN_EXE_syncd")), database_url)
}

/// `syncd` started by `sh` after `ulimit ULIMIT` (such as `-Sn 1024`), so the
/// binary starts under those resource limits, as under systemd.
pub fn syncd_command_under_ulimit(ulimit: &str, database_url: &str) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("ulimit {ulimit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_syncd"));
    with_test_env(sh, database_url)
}

fn with_test_env(mut cmd: Command, database_url: &str) -> Command {
    cmd.env("DATABASE_URL", database_url)
        .env_remove("SYNCD_BIND")
        .env_remove("SYNCD_TLS_CERT")
        .env_remove("SYNCD_TLS_KEY")
        .env_remove("SYNCD_MAX_CONNECTIONS")
        .env("RUST_LOG", "debug");
    cmd
}

/// A new manager straight in the database behind a daemon; its token.
pub fn insert_manager(database_url: &str, login: &str) -> String {
    let pool = db::open(database_url, &PoolSettings::default()).expect("open the test database");
    insert_user(&pool, login, true, None).1
}

impl Daemon {
    /// Starts `syncd serve` on a random port and waits until it listens.
    pub fn start(database_url: &str) -> Daemon {
        Daemon::start_with(database_url, &[])
    }

    /// `start` with more environment variables.
    pub fn start_with(database_url: &str, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = syncd_command(database_url);
        cmd.envs(env.iter().copied());
        Daemon::start_command(cmd)
    }

    /// `start_with` under a shell's `ulimit` (see `syncd_command_under_ulimit`).
    pub fn start_under_ulimit(database_url: &str, ulimit: &str, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = syncd_command_under_ulimit(ulimit, database_url);
        cmd.envs(env.iter().copied());
        Daemon::start_command(cmd)
    }

    /// `start_with` on a given address (such as `127.0.0.1:3001`): a
    /// replica behind a balancer, restarted on the port it names.
    pub fn start_on(database_url: &str, bind: &str, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = syncd_command(database_url);
        cmd.envs(env.iter().copied());
        Daemon::start_command_on(cmd, bind)
    }

    /// Runs `cmd` (a `syncd_command*`) as `serve` on a random port and waits
    /// until it says where it listens (`http://...` or `https://...`).
    pub fn start_command(cmd: Command) -> Daemon {
        Daemon::start_command_on(cmd, "127.0.0.1:0")
    }

    /// `start_command` on `bind`.
    pub fn start_command_on(mut cmd: Command, bind: &str) -> Daemon {
        let mut child = cmd
            .args(["serve", "--bind", bind])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start syncd");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let collected = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.split("syncd listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
                let mut s = collected.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("syncd said where it listens");
        Daemon {
            child,
            address,
            stderr,
        }
    }

    /// The server's process id (`sh` execs it, so also under a ulimit).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the process to exit (after a signal sent elsewhere).
    pub fn signal_and_wait_exit(mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "syncd did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal and waits for the exit code.
    pub fn signal_and_wait(self, signal: &str) -> i32 {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(ok.success());
        self.signal_and_wait_exit()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
