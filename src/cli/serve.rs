//! `syncd serve`: opens the database, creates the first manager on an empty
//! one, and serves until SIGTERM or Ctrl-C.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::cli::DatabaseOptions;
use crate::config::{self, Config};
use crate::db::DbPool;
use crate::db::queries::users;
use crate::db::queries::users::NewUser;
use crate::defaults;
use crate::http::cross_site::AllowedOrigins;
use crate::security::secrets::{generate_token, token_digest};
use crate::security::throttle::Limit;
use crate::server::{Application, Signals, descriptors};
use crate::state::Guards;

#[derive(Args, Debug, Clone)]
pub struct Opts {
    /// Address to listen on.
    #[arg(long, env = "SYNCD_BIND", default_value = defaults::BIND)]
    pub bind: String,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "SYNCD_WORKERS")]
    pub workers: Option<usize>,

    /// Other origins whose pages may post forms to syncd, comma-separated
    /// (such as https://intranet.example.com). syncd's own origin always may.
    #[arg(long, env = "SYNCD_ALLOWED_ORIGINS", default_value = "", value_parser = parse_origins)]
    pub allowed_origins: AllowedOrigins,

    #[command(flatten)]
    pub limits: GuessingLimits,

    /// How long a client may take to send a request's head, and then its
    /// body (such as 10s or 500ms); slower ones get 408.
    #[arg(
        long,
        env = "SYNCD_REQUEST_TIMEOUT",
        default_value_t = Timeout(defaults::REQUEST_TIMEOUT),
        value_parser = parse_timeout
    )]
    pub request_timeout: Timeout,

    /// On SIGTERM or Ctrl-C, keep serving this long (such as 1s or 500ms)
    /// with /readyz answering 503, so that a load balancer's health checks
    /// take this process out of the rotation before it stops accepting
    /// connections; then finish the requests in flight and exit.
    #[arg(
        long,
        env = "SYNCD_DRAIN_TIME",
        default_value_t = Timeout(defaults::DRAIN_TIME),
        value_parser = parse_drain_time
    )]
    pub drain_time: Timeout,

    /// The largest member-set or change-set body (such as 16MiB, 512KiB or
    /// a number of bytes); every other body is limited to 64 KiB.
    #[arg(
        long,
        env = "SYNCD_MAX_SYNC_BODY",
        default_value_t = Size(defaults::MAX_SYNC_BODY),
        value_parser = parse_size
    )]
    pub max_sync_body: Size,

    /// Rendered answers kept per process, for reads repeated while the data
    /// has not changed (such as 8MiB; 0 keeps none).
    #[arg(
        long,
        env = "SYNCD_ANSWER_CACHE",
        default_value_t = Size(defaults::ANSWER_CACHE),
        value_parser = parse_budget
    )]
    pub answer_cache: Size,

    /// Connections open at once (default: what the open-file limit leaves
    /// after a reserve for the database and logs; never more than that).
    #[arg(long, env = "SYNCD_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,

    /// Serve Prometheus metrics at http://ADDRESS/metrics (such as
    /// 127.0.0.1:9090), apart from the API; off unless set.
    #[arg(long, env = "SYNCD_METRICS_BIND")]
    pub metrics_bind: Option<String>,

    /// PEM certificate chain: serve HTTPS (needs --tls-key too).
    #[arg(long, env = "SYNCD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "SYNCD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

/// Connections waiting to be accepted. std's listener queues 128; a burst
/// of clients (or slow ones holding every slot up to the cap) would leave a
/// legitimate client's handshake to be retried after a second or more. The
/// kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: i32 = 2048;

/// The TLS configuration, if both files are given; one alone is an error.
fn tls_config(opts: &Opts) -> anyhow::Result<Option<rustls::ServerConfig>> {
    match (&opts.tls_cert, &opts.tls_key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => crate::server::tls::server_config(cert, key).map(Some),
        (Some(_), None) => {
            anyhow::bail!("--tls-cert (SYNCD_TLS_CERT) needs --tls-key (SYNCD_TLS_KEY) too")
        }
        (None, Some(_)) => {
            anyhow::bail!("--tls-key (SYNCD_TLS_KEY) needs --tls-cert (SYNCD_TLS_CERT) too")
        }
    }
}

/// A time given on the command line, such as `10s` or `500ms`; shown the
/// same way, so that clap prints its default from `defaults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms % 1000 == 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// A size in bytes given on the command line, such as `16MiB`; shown the
/// same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub usize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::http::limits::in_words(self.0).replace(' ', ""))
    }
}

fn parse_size(text: &str) -> Result<Size, String> {
    let bytes = parse_bytes(text)?;
    // From the ordinary limit up to 1 GiB.
    if !(64 * 1024..=1024 * 1024 * 1024).contains(&bytes) {
        return Err(format!(
            "{:?}: the size must be from 64KiB to 1024MiB",
            text.trim()
        ));
    }
    Ok(Size(bytes))
}

/// The answer cache's budget: 0 (none kept) up to 1 GiB.
fn parse_budget(text: &str) -> Result<Size, String> {
    let bytes = parse_bytes(text)?;
    if bytes > 1024 * 1024 * 1024 {
        return Err(format!(
            "{:?}: the size must be at most 1024MiB (0 keeps none)",
            text.trim()
        ));
    }
    Ok(Size(bytes))
}

/// A number of bytes, such as 16MiB, 512KiB or 1048576.
fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a size such as 16MiB, 512KiB or 1048576");
    let (number, scale) = if let Some(n) = text.strip_suffix("MiB") {
        (n, 1024 * 1024)
    } else if let Some(n) = text.strip_suffix("KiB") {
        (n, 1024)
    } else if let Some(n) = text.strip_suffix("bytes") {
        (n, 1)
    } else {
        (text, 1)
    };
    number
        .trim()
        .parse::<usize>()
        .map_err(|_| bad())?
        .checked_mul(scale)
        .ok_or_else(bad)
}

/// A time such as `10s` or `500ms` (a bare number is seconds), in
/// milliseconds.
fn parse_millis(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not a time such as 10s or 500ms");
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000)
    } else {
        (text, 1000)
    };
    number
        .trim()
        .parse::<u64>()
        .map_err(|_| bad())?
        .checked_mul(scale)
        .ok_or_else(bad)
}

fn parse_drain_time(text: &str) -> Result<Timeout, String> {
    let text = text.trim();
    let ms = parse_millis(text)?;
    if u128::from(ms) > defaults::MAX_DRAIN_TIME.as_millis() {
        return Err(format!(
            "{text:?}: the drain time must be from 0s to {}",
            Timeout(defaults::MAX_DRAIN_TIME)
        ));
    }
    Ok(Timeout(Duration::from_millis(ms)))
}

fn parse_timeout(text: &str) -> Result<Timeout, String> {
    let text = text.trim();
    let ms = parse_millis(text)?;
    if !(100..=3_600_000).contains(&ms) {
        return Err(format!(
            "{text:?}: the timeout must be from 100ms to 1 hour"
        ));
    }
    Ok(Timeout(Duration::from_millis(ms)))
}

/// Limits on guessing and on busy clients.
#[derive(Args, Debug, Clone)]
pub struct GuessingLimits {
    /// Failed sign-ins allowed per client address and per login, as
    /// COUNT/WINDOW; after that, 429 with Retry-After until the window ends.
    /// On PostgreSQL every process on the database counts together.
    #[arg(long, env = "SYNCD_AUTH_FAILURE_LIMIT", default_value_t = defaults::AUTH_FAILURE_LIMIT)]
    pub auth_failure_limit: Limit,

    /// Requests allowed per signed-in user, as COUNT/WINDOW such as 150/5s;
    /// after that, 429 with Retry-After. Off unless set. On PostgreSQL
    /// every process on the database counts together (a write per request).
    #[arg(long, env = "SYNCD_RATE_LIMIT")]
    pub rate_limit: Option<Limit>,
}

fn parse_origins(list: &str) -> Result<AllowedOrigins, String> {
    AllowedOrigins::parse(list)
}

pub fn run(database: &DatabaseOptions, opts: Opts) -> anyhow::Result<()> {
    // Before anything else, so that a bad file is the one error shown.
    let tls = tls_config(&opts)?;
    // Before the pool opens its connections: they count too.
    let descriptors = descriptors::raise().context("reading the open-file limit")?;
    let database = database.settings();
    let pool = database.open()?;
    let listener =
        TcpListener::bind(&opts.bind).with_context(|| format!("cannot listen on {}", opts.bind))?;
    socket2::SockRef::from(&listener)
        .listen(LISTEN_BACKLOG)
        .context("setting the listen backlog")?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    create_first_manager(&pool, addr, scheme)?;

    let config = Config {
        database,
        server: server_settings(&opts, tls, &descriptors, pool.max_size()),
        guards: Guards {
            allowed_origins: opts.allowed_origins,
            auth_failure_limit: opts.limits.auth_failure_limit,
            rate_limit: opts.limits.rate_limit,
            request_timeout: opts.request_timeout.0,
            max_sync_body: opts.max_sync_body.0,
            ..Guards::default()
        },
    };
    actix_rt::System::new().block_on(async move {
        // Before the line that says it listens: a SIGTERM sent as soon as
        // it is read stops syncd gracefully rather than killing it.
        let signals = Signals::listen();
        let app = Application::build(listener, &config, pool)?;
        log::info!("syncd listening on {scheme}://{addr}");
        if let Some(addr) = app.metrics_addr() {
            log::info!("syncd metrics on http://{addr}/metrics");
        }
        app.run_until_stopped(signals).await
    })?;
    log::info!("syncd stopped");
    Ok(())
}

/// Workers, TLS, and the connection cap: what the open-file limit leaves
/// after the pool (the pool as opened: `:memory:` has one connection
/// whatever `--pool-size` says) and the logs, or `--max-connections` if
/// lower.
fn server_settings(
    opts: &Opts,
    tls: Option<rustls::ServerConfig>,
    limits: &descriptors::OpenFileLimits,
    pool_size: u32,
) -> config::Server {
    let workers = opts.workers.map_or_else(defaults::workers, |w| w.max(1));
    let cap = descriptors::connection_cap(limits.soft, pool_size, opts.max_connections);
    if opts.max_connections.is_some_and(|asked| asked > cap) {
        log::warn!(
            "--max-connections is more than the open-file limit leaves room for; using {cap}"
        );
    }
    let per_worker = descriptors::per_worker(cap, workers);
    log::info!(
        "open files: {} allowed (the soft limit was {}, the hard limit is {}), {} kept for the \
         database and logs; connections at most {} ({per_worker} per worker, {} workers)",
        limits.soft,
        limits.was,
        limits.hard,
        descriptors::reserve(pool_size),
        per_worker * workers,
        workers,
    );
    config::Server {
        workers,
        max_connections: Some(cap),
        tls,
        metrics_bind: opts.metrics_bind.clone(),
        answer_cache: opts.answer_cache.0,
        drain_time: opts.drain_time.0,
        ..config::Server::default()
    }
}

/// On a database with no users at all, creates the manager `admin` and shows
/// its token once, with a curl line to paste.
fn create_first_manager(pool: &DbPool, addr: SocketAddr, scheme: &str) -> anyhow::Result<()> {
    let mut conn = crate::cli::connection(pool)?;
    if users::count(&mut conn)? > 0 {
        return Ok(());
    }
    let token = generate_token().context("no OS randomness for a token")?;
    let digest = token_digest(&token);
    let created = users::create(
        &mut conn,
        &NewUser {
            login: "admin",
            name: "Administrator",
            email_address: None,
            user_group_manager: true,
            password_digest: None,
            token_digest: &digest,
        },
    )?;
    if created.is_err() {
        // Another syncd created it a moment ago.
        return Ok(());
    }
    let host = match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        other => other.to_string(),
    };
    eprintln!(
        "\nsyncd: this database had no users, so it now has the User Group Manager 'admin'.\n\
         Its API token is shown this once; keep it somewhere safe:\n\n    {token}\n\n\
         Try it:\n\n    curl -H 'X-API-KEY: {token}' {scheme}://{host}/me.xml\n\n\
         Add users with `syncd users create LOGIN`, and a new token with `syncd users token admin`.\n"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_times_from_none_to_ten_minutes() {
        assert_eq!(parse_drain_time("0s"), Ok(Timeout(Duration::ZERO)));
        assert_eq!(parse_drain_time("0"), Ok(Timeout(Duration::ZERO)));
        assert_eq!(
            parse_drain_time("500ms"),
            Ok(Timeout(Duration::from_millis(500)))
        );
        assert_eq!(
            parse_drain_time(" 2s "),
            Ok(Timeout(Duration::from_secs(2)))
        );
        assert_eq!(
            parse_drain_time("600s"),
            Ok(Timeout(Duration::from_secs(600)))
        );
        assert!(
            parse_drain_time("601s")
                .unwrap_err()
                .contains("from 0s to 600s")
        );
        assert!(parse_drain_time("soon").unwrap_err().contains("not a time"));
        assert_eq!(Timeout(defaults::DRAIN_TIME).to_string(), "0s");
    }
}
