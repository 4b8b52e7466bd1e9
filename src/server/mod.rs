//! The HTTP server: middleware, listening (plain or TLS), the open-file
//! limit and the connection cap, requests in flight, and starting and
//! stopping.

pub mod descriptors;
pub mod inflight;
pub mod metrics;
pub mod tls;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, Service, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::{Condition, DefaultHeaders, Logger, Next, from_fn};
use actix_web::{App, HttpMessage, HttpServer, web};

use crate::config::Config;
use crate::db::version::DataVersion;
use crate::db::{ConnectionManager, DbPool};
use crate::http::auth::SignedIn;
use crate::http::body::{BodyDeadline, SyncBodies};
use crate::http::cross_site;
use crate::http::errors::ApiError;
use crate::http::format;
use crate::http::format::Format;
use crate::server::inflight::{CountedBody, InFlight};
use crate::server::metrics::Metrics;
use crate::state::{AppState, Stopping};
use crate::views::answers::Answers;

/// The access log line: address, request line, status, bytes, time, and the
/// signed-in user's id (`user=-` when nobody signed in). Never a header, so
/// never a token or a password.
const ACCESS_LOG_FORMAT: &str = r#"%a "%r" %s %b %Dms user=%{user}xo"#;

/// The `%{user}xo` of the access log: who the request signed in as.
fn signed_in_user(res: &ServiceResponse) -> String {
    match res.request().extensions().get::<SignedIn>() {
        Some(SignedIn(id)) => id.to_string(),
        None => "-".into(),
    }
}

/// Whether `RUST_LOG` lets the access log's lines through.
fn access_log_enabled() -> bool {
    log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info)
}

/// The answers kept for reads (`views::answers`), watching the database
/// for changes unless the budget is 0 or the URL cannot be read (then
/// nothing is kept).
fn kept_answers(config: &Config) -> Answers {
    let budget = config.server.answer_cache;
    if budget == 0 {
        return Answers::new(DataVersion::unknown(), 0);
    }
    match ConnectionManager::new(&config.database.url, &config.database.pool) {
        Ok(manager) => Answers::new(DataVersion::watch(manager), budget),
        Err(_) => Answers::new(DataVersion::unknown(), 0),
    }
}

/// A server bound to its port, ready to run.
pub struct Application {
    server: Server,
    port: u16,
    inflight: InFlight,
    shutdown_timeout: Duration,
    drain_time: Duration,
    /// Set when a stop begins; `/readyz` reads it.
    stopping: Stopping,
    /// The metrics server and its port, when `SYNCD_METRICS_BIND` is set.
    metrics: Option<(Server, std::net::SocketAddr)>,
}

impl Application {
    /// Builds the server and the state its handlers share on an already
    /// bound listener (port 0 in tests), as `config` says.
    pub fn build(
        listener: TcpListener,
        config: &Config,
        pool: DbPool,
    ) -> std::io::Result<Application> {
        let port = listener.local_addr()?.port();
        let pool_size = pool.max_size() as usize;
        let settings = &config.server;
        let state = AppState::new(pool.clone(), &config.guards).map_err(|e| {
            std::io::Error::other(format!("cannot reach the database to start: {e}"))
        })?;
        let state = web::Data::new(state);
        let stopping = state.stopping.clone();
        let draining = stopping.clone();
        let body_deadline = BodyDeadline(config.guards.request_timeout);
        let sync_bodies = SyncBodies::new(config.guards.max_sync_body, config.guards.sync_slots);
        let inflight = InFlight::new();
        let counter = inflight.clone();
        let answers = web::Data::new(kept_answers(config));
        let version = answers.version().clone();
        let metrics = settings
            .metrics_bind
            .as_ref()
            .map(|_| web::Data::new(Metrics::new(pool.clone(), answers.clone())));
        let recorder = metrics.clone();
        let server = HttpServer::new(move || {
            let counter = counter.clone();
            let recorder = recorder.clone();
            let version = version.clone();
            let draining = draining.clone();
            App::new()
                .app_data(state.clone())
                .app_data(answers.clone())
                .app_data(body_deadline)
                .app_data(sync_bodies.clone())
                .configure(crate::routes::table)
                .default_service(web::to(crate::routes::not_found))
                .wrap(from_fn(refuse_early))
                .wrap_fn(|mut req, srv| {
                    // Formats come from the extension; the router sees the
                    // path without it.
                    let requested = format::strip_extension(&mut req);
                    let error_format = requested.error_format();
                    req.extensions_mut().insert(requested);
                    let fut = srv.call(req);
                    async move { fut.await.map(|res| render_error(res, error_format)) }
                })
                .wrap(from_fn(strict_transport))
                // Answers depend on the format asked for and on who asks:
                // no shared cache may keep them, and a private one must ask
                // again (ETag/304). Added only where a response has not set
                // its own: the page keeps `no-store`.
                .wrap(
                    DefaultHeaders::new()
                        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                        .add((header::CACHE_CONTROL, "private, no-cache"))
                        .add((header::VARY, "Accept, Authorization, X-API-KEY")),
                )
                // Logger renders its line's parts for every request whether
                // or not the line is then logged: leave it out unless the
                // access log is on (RUST_LOG=info, the default).
                .wrap(Condition::new(
                    access_log_enabled(),
                    Logger::new(ACCESS_LOG_FORMAT).custom_response_replace("user", signed_in_user),
                ))
                .wrap_fn(move |req, srv| {
                    // Counted until the response body is finished or dropped.
                    let guard = counter.enter();
                    let started = std::time::Instant::now();
                    let writes =
                        !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
                    let fut = srv.call(req);
                    let recorder = recorder.clone();
                    let version = version.clone();
                    let draining = draining.clone();
                    async move {
                        let mut res = fut.await?;
                        if writes {
                            // Its transaction has committed (or nothing was
                            // written): answers kept from before it must
                            // not answer the client's next read.
                            version.bump();
                        }
                        if draining.is_set() {
                            // Stopping: whoever kept this connection open
                            // (a client, or a balancer that reuses its
                            // connections) opens a new one for its next
                            // request, which goes elsewhere, instead of
                            // sending it on a connection about to close.
                            res.response_mut()
                                .head_mut()
                                .set_connection_type(actix_web::http::ConnectionType::Close);
                        }
                        if let Some(m) = &recorder {
                            let status = res.status().as_u16();
                            let req = res.request();
                            m.record(
                                req.match_pattern().as_deref(),
                                req.method(),
                                status,
                                started.elapsed(),
                            );
                        }
                        Ok(res.map_body(move |_, body| CountedBody::new(body, guard)))
                    }
                })
        })
        .workers(settings.workers.max(1))
        // Database work runs on these threads and each holds a pooled
        // connection: more threads than connections would only wait, and
        // every idle thread keeps a malloc arena's worth of memory.
        .worker_max_blocking_threads(pool_size.max(2))
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        // The head must arrive within this (else 408 and the connection is
        // closed); the body gets its own deadline in `http::body::read`.
        .client_request_timeout(config.guards.request_timeout)
        // Signals are ours: SIGINT must be as graceful as SIGTERM.
        .disable_signals()
        .on_connect(|_, data| {
            data.insert(Desynced::default());
        });
        // actix counts connections per worker.
        let server = match settings.max_connections {
            Some(cap) => server.max_connections(crate::server::descriptors::per_worker(
                cap,
                settings.workers.max(1),
            )),
            None => server,
        };
        let server = match &settings.tls {
            Some(config) => server.listen_rustls_0_23(listener, config.clone())?,
            None => server.listen(listener)?,
        }
        .run();
        let metrics = match (&settings.metrics_bind, metrics) {
            (Some(bind), Some(metrics)) => Some(metrics_server(bind, metrics)?),
            _ => None,
        };
        Ok(Application {
            server,
            port,
            inflight,
            shutdown_timeout: settings.shutdown_timeout,
            drain_time: settings.drain_time,
            stopping,
            metrics,
        })
    }

    /// The address the metrics are served on, when they are (before the
    /// server runs).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until stopped. On SIGTERM or Ctrl-C: first the drain (the
    /// drain time, none by default), serving everything as before while
    /// `/readyz` answers 503 and every response closes its connection, so
    /// that a load balancer takes this process out of its rotation (a
    /// second signal ends the drain); then no new connections are taken,
    /// the requests in flight finish (at most the shutdown timeout), and
    /// the server stops, closing its listening socket. `signals` are
    /// listened for from before the caller says it listens.
    pub async fn run_until_stopped(mut self, mut signals: Signals) -> std::io::Result<()> {
        let metrics = self.start_metrics();
        let handle = self.server.handle();
        let inflight = self.inflight.clone();
        let timeout = self.shutdown_timeout;
        let drain = self.drain_time;
        let stopping = self.stopping.clone();
        actix_rt::spawn(async move {
            signals.next().await;
            stopping.begin();
            if !drain.is_zero() {
                log::info!(
                    "stopping: /readyz answers 503; serving for {} ms more (the drain time) \
                     before refusing new connections",
                    drain.as_millis()
                );
                let ended = futures_util::future::select(
                    Box::pin(actix_rt::time::sleep(drain)),
                    Box::pin(signals.next()),
                )
                .await;
                if let futures_util::future::Either::Right(_) = ended {
                    log::info!("stopping: a second signal ends the drain");
                }
            }
            log::info!(
                "stopping: finishing {} requests in flight",
                inflight.count()
            );
            handle.pause().await;
            if !inflight.drained(timeout).await {
                log::warn!("stopping with {} requests unfinished", inflight.count());
            }
            handle.stop(true).await;
            if let Some(metrics) = metrics {
                metrics.stop(true).await;
            }
        });
        self.server.await
    }

    /// Runs until stopped by the handle (tests); the metrics server, if
    /// any, stops with it.
    pub async fn run(mut self) -> std::io::Result<()> {
        let metrics = self.start_metrics();
        let result = self.server.await;
        if let Some(metrics) = metrics {
            metrics.stop(false).await;
        }
        result
    }

    /// Starts serving the metrics, if they are on; their server's handle.
    fn start_metrics(&mut self) -> Option<actix_web::dev::ServerHandle> {
        let (server, _) = self.metrics.take()?;
        let handle = server.handle();
        actix_rt::spawn(server);
        Some(handle)
    }
}

/// The metrics' own server: one worker, `GET /metrics` and nothing else,
/// on `bind`. Running once spawned (an actix `Server` runs when polled).
fn metrics_server(
    bind: &str,
    metrics: web::Data<Metrics>,
) -> std::io::Result<(Server, std::net::SocketAddr)> {
    let listener = TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(crate::server::metrics::answer))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((server, addr))
}

/// SIGTERM and SIGINT (Ctrl-C), caught from the moment `listen` is
/// called (inside the runtime, before `serve` says it listens, so that
/// whoever waits for that line may stop it at once) until the process
/// ends, so that a second one can cut the drain short.
pub struct Signals {
    term: Option<actix_rt::signal::unix::Signal>,
    interrupt: Option<actix_rt::signal::unix::Signal>,
}

impl Signals {
    /// Installs the handlers now (within the actix runtime).
    pub fn listen() -> Signals {
        use actix_rt::signal::unix::{SignalKind, signal};
        let listen = |kind| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                log::warn!("cannot catch signal {}: {e}", kind.as_raw_value());
                None
            }
        };
        Signals {
            term: listen(SignalKind::terminate()),
            interrupt: listen(SignalKind::interrupt()),
        }
    }

    /// The next SIGTERM or SIGINT.
    async fn next(&mut self) {
        async fn recv(s: &mut Option<actix_rt::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        let term = Box::pin(recv(&mut self.term));
        let interrupt = Box::pin(recv(&mut self.interrupt));
        futures_util::future::select(term, interrupt).await;
    }
}

/// Set on a connection once a request on it had an ambiguous length
/// (`ApiError::AmbiguousLength`): whatever follows on it may be the
/// smuggled rest of that request's body. Its answer closes the connection,
/// but actix still answers requests it had already read from the same
/// packet; those are refused too, never run.
#[derive(Default, Clone)]
struct Desynced(std::rc::Rc<std::cell::Cell<bool>>);

/// Oversized heads, ambiguous lengths and forms from other sites are
/// refused before anything else looks at them (routing, sign-in).
async fn refuse_early(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let desynced = req.conn_data::<Desynced>().cloned();
    let verdict = match req.app_data::<web::Data<AppState>>() {
        _ if desynced.as_ref().is_some_and(|d| d.0.get()) => Err(ApiError::AmbiguousLength),
        Some(state) => crate::http::head::check(req.request())
            .and_then(|()| cross_site::check(req.request(), &state.allowed_origins)),
        None => Err(ApiError::Internal),
    };
    match verdict {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(e) => {
            if let (ApiError::AmbiguousLength, Some(d)) = (&e, &desynced) {
                d.0.set(true);
            }
            Ok(req.error_response(e).map_into_right_body())
        }
    }
}

/// Over TLS, browsers are told to use only HTTPS for a year. Whether the
/// connection is TLS comes from the listener, not from a header a client
/// could send.
async fn strict_transport(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let tls = req.app_config().secure();
    let mut res = next.call(req).await?;
    if tls {
        res.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            header::HeaderValue::from_static("max-age=31536000"),
        );
    }
    Ok(res)
}

/// An `ApiError` from anywhere inside (a handler, an extractor, the early
/// checks, the router's 404 and 405) is rendered here, once, in the format
/// the client asked for.
fn render_error<B>(res: ServiceResponse<B>, format: Format) -> ServiceResponse<EitherBody<B>> {
    if let Some(err) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        let rendered = err.render(format);
        return res.into_response(rendered).map_into_right_body();
    }
    res.map_into_left_body()
}
