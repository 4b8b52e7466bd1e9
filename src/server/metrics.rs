//! Prometheus metrics, off by default: with `SYNCD_METRICS_BIND` set,
//! `GET /metrics` on that address of its own (never on the API's) answers
//! requests by route, method and status, a latency histogram by route,
//! the pool's connections in use and idle, database errors and throttled
//! requests, in the OpenMetrics text format, from `prometheus-client`.
//!
//! Routes are the route table's patterns (`/user_groups/{id}`), never the
//! paths asked for, so the label values are bounded whatever clients send.

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::db::DbPool;
use crate::http::errors::DATABASE_ERRORS;
use crate::views::answers::Answers;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Seconds: 0.5 ms doubling to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latencies,
    throttled: Counter,
    database_errors: Counter,
    pool_in_use: Gauge,
    pool_idle: Gauge,
    pool: DbPool,
    kept_answers: Counter,
    kept_answer_bytes: Gauge,
    answers: web::Data<Answers>,
}

impl Metrics {
    pub fn new(pool: DbPool, answers: web::Data<Answers>) -> Metrics {
        let mut registry = Registry::with_prefix("syncd");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Latencies::new_with_constructor(latency_histogram);
        let (throttled, database_errors) = (Counter::default(), Counter::default());
        let (pool_in_use, pool_idle) = (Gauge::default(), Gauge::default());
        registry.register(
            "requests",
            "HTTP requests answered, by route pattern, method and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival to its response, by route pattern",
            latency.clone(),
        );
        registry.register(
            "throttled_requests",
            "Requests answered 429: sign-in lockouts and SYNCD_RATE_LIMIT",
            throttled.clone(),
        );
        registry.register(
            "database_errors",
            "Database errors and unavailable databases seen by requests",
            database_errors.clone(),
        );
        registry.register(
            "pool_connections_in_use",
            "Database connections handed out by the pool",
            pool_in_use.clone(),
        );
        registry.register(
            "pool_connections_idle",
            "Database connections open and idle in the pool",
            pool_idle.clone(),
        );
        let (kept_answers, kept_answer_bytes) = (Counter::default(), Gauge::default());
        registry.register(
            "kept_answers",
            "Reads answered from a kept answer: the data had not changed since it was made",
            kept_answers.clone(),
        );
        registry.register(
            "kept_answer_bytes",
            "Bytes of answers kept (SYNCD_ANSWER_CACHE bounds them)",
            kept_answer_bytes.clone(),
        );
        Metrics {
            registry,
            kept_answers,
            kept_answer_bytes,
            answers,
            requests,
            latency,
            throttled,
            database_errors,
            pool_in_use,
            pool_idle,
            pool,
        }
    }

    /// Counts one answered request; `route` is its pattern, or `None` when
    /// no route matched.
    pub fn record(&self, route: Option<&str>, method: &Method, status: u16, took: Duration) {
        let route = route.unwrap_or("unmatched").to_string();
        let method = match *method {
            Method::GET
            | Method::HEAD
            | Method::POST
            | Method::PUT
            | Method::PATCH
            | Method::DELETE
            | Method::OPTIONS => method.as_str(),
            _ => "other",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method: method.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(took.as_secs_f64());
        if status == 429 {
            self.throttled.inc();
        }
    }

    /// The metrics as text, with the pool's figures and the database
    /// errors read now.
    pub fn render(&self) -> String {
        let state = self.pool.state();
        let idle = i64::from(state.idle_connections);
        self.pool_idle.set(idle);
        self.pool_in_use.set(i64::from(state.connections) - idle);
        let seen = DATABASE_ERRORS.load(Ordering::Relaxed);
        let counted = self.database_errors.get();
        if seen > counted {
            self.database_errors.inc_by(seen - counted);
        }
        let hits = self.answers.hits();
        let counted = self.kept_answers.get();
        if hits > counted {
            self.kept_answers.inc_by(hits - counted);
        }
        self.kept_answer_bytes
            .set(i64::try_from(self.answers.kept().1).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// `GET /metrics` on the metrics address.
pub async fn answer(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render())
}
