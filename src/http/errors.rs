//! The one error type of the HTTP API, and the one place that turns an error
//! into a status, headers and an `<errors>` body. A client never sees SQL, a
//! path or a backtrace: causes of 500s and 503s go to the log only.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::domain::Refusal;
use crate::http::format::{Format, NotAcceptable, Requested};
use crate::http::limits;
use crate::xml::{XmlError, XmlWriter};

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_SECS: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request")]
    BadRequest(Vec<String>),
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden(String),
    #[error("not found")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("not acceptable")]
    NotAcceptable(String),
    /// The body is larger than this many bytes.
    #[error("payload too large")]
    PayloadTooLarge(usize),
    /// Too many or too large request headers.
    #[error("request header fields too large")]
    HeadersTooLarge,
    #[error("URI too long")]
    UriTooLong,
    /// Both `Content-Length` and `Transfer-Encoding`: the body's length is
    /// ambiguous, so the connection closes after the answer (RFC 9112 §6.3).
    #[error("ambiguous message length")]
    AmbiguousLength,
    /// The body did not arrive within this many seconds.
    #[error("request timeout")]
    RequestTimeout(u64),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("unprocessable")]
    Unprocessable(Vec<String>),
    /// The request conflicts with one still in progress (409).
    #[error("conflict")]
    Conflict(String),
    /// A precondition (`If-Match`) does not hold (412).
    #[error("precondition failed")]
    PreconditionFailed(String),
    /// Too many failed sign-ins from this address or for this login.
    #[error("too many failed sign-ins")]
    SignInThrottled { retry_after: u64 },
    /// Over `SYNCD_RATE_LIMIT`.
    #[error("rate limited")]
    RateLimited {
        retry_after: u64,
        limit: crate::security::throttle::Limit,
    },
    #[error("service unavailable")]
    Unavailable,
    /// Every slot for a member-set or change-set body stayed taken.
    #[error("sync bodies busy")]
    SyncBodiesBusy,
    /// Every password checker is busy and the queue is full.
    #[error("password checks busy")]
    PasswordChecksBusy,
    /// The cause has been logged where it happened.
    #[error("internal error")]
    Internal,
    /// A SCIM request refused with one of SCIM's error types (RFC 7644
    /// 3.12: `invalidFilter`, `invalidValue`, `uniqueness`, ...).
    #[error("SCIM error")]
    Scim {
        status: StatusCode,
        scim_type: &'static str,
        detail: String,
    },
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(vec![message.into()])
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::Unprocessable(vec![message.into()])
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(message.into())
    }

    /// A SCIM refusal: `status` with `scimType` and `detail`.
    pub fn scim(status: StatusCode, scim_type: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Scim {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// The plain words shown to the client, one per problem.
    pub fn messages(&self) -> Vec<String> {
        match self {
            ApiError::BadRequest(m) | ApiError::Unprocessable(m) => m.clone(),
            ApiError::Unauthorized => vec![
                "Sign in: send your API token as X-API-KEY, or use HTTP Basic with the token (or your login and password).".into(),
            ],
            ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::NotAcceptable(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::Conflict(m)
            | ApiError::PreconditionFailed(m) => vec![m.clone()],
            ApiError::Scim { detail, .. } => vec![detail.clone()],
            ApiError::MethodNotAllowed { allow } => {
                vec![format!("This resource only allows {allow}.")]
            }
            ApiError::PayloadTooLarge(limit) => vec![format!(
                "The request body is larger than {}.",
                limits::in_words(*limit)
            )],
            ApiError::HeadersTooLarge => vec![format!(
                "The request headers are too large: at most {} headers of {} KiB in all.",
                limits::MAX_HEADERS,
                limits::MAX_HEADER_BYTES / 1024
            )],
            ApiError::AmbiguousLength => vec![
                "A request may not have both Content-Length and Transfer-Encoding.".into(),
            ],
            ApiError::UriTooLong => vec![format!(
                "The URL is longer than {} KiB.",
                limits::MAX_URI_BYTES / 1024
            )],
            ApiError::RequestTimeout(secs) => vec![format!(
                "The request body did not arrive within {secs} seconds."
            )],
            ApiError::SignInThrottled { retry_after } => vec![format!(
                "Too many failed sign-ins; try again in {retry_after} seconds."
            )],
            ApiError::RateLimited { retry_after, limit } => vec![format!(
                "Too many requests: at most {} every {} seconds; try again in {retry_after} seconds.",
                limit.count,
                limit.window.as_secs()
            )],
            ApiError::Unavailable => {
                vec!["The database is unavailable right now; try again in a moment.".into()]
            }
            ApiError::SyncBodiesBusy => vec![
                "Too many member sets and change sets are being handled right now; try again in a moment.".into(),
            ],
            ApiError::PasswordChecksBusy => vec![
                "Too many password sign-ins are being checked right now; try again in a moment, or sign in with an API token.".into(),
            ],
            ApiError::Internal => vec!["Something went wrong on the server; it has been logged.".into()],
        }
    }

    /// The response in the format `req` asked for, as the format
    /// middleware renders an error (`server::render_error`): for a handler
    /// that must hold the very response the client gets (a kept answer).
    pub fn render_for(&self, req: &HttpRequest) -> HttpResponse {
        let format = req
            .extensions()
            .get::<Requested>()
            .map_or(Format::Xml, Requested::error_format);
        self.render(format)
    }

    /// The response in the client's format.
    pub fn render(&self, format: Format) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            // SCIM takes a bearer token only (API.md 9).
            ApiError::Unauthorized if format == Format::Scim => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"Syncd SCIM\""));
            }
            ApiError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"Syncd\""));
            }
            ApiError::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
            }
            ApiError::Unavailable | ApiError::PasswordChecksBusy | ApiError::SyncBodiesBusy => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
            }
            ApiError::AmbiguousLength => {
                // Where this request's body ends is unknown, so whatever
                // follows on the connection must not be read as a request.
                response.force_close();
            }
            ApiError::SignInThrottled { retry_after }
            | ApiError::RateLimited { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        let messages = self.messages();
        match format {
            Format::Scim => response
                .content_type(Format::Scim.content_type())
                .body(self.scim_error(&messages).to_string()),
            Format::Json => response
                .content_type(Format::Json.content_type())
                .body(serde_json::json!({ "errors": messages }).to_string()),
            Format::Html => {
                crate::views::html::secure(&mut response);
                let page = crate::views::html::error_page(self.status_code(), &messages);
                response.body(page.into_string())
            }
            Format::Xml => response
                .content_type(Format::Xml.content_type())
                .body(errors_xml(&messages)),
        }
    }
}

impl ApiError {
    /// SCIM's error document (RFC 7644 3.12): the status as a string, the
    /// `scimType` where SCIM has one, the messages as `detail`.
    fn scim_error(&self, messages: &[String]) -> serde_json::Value {
        let status = self.status_code();
        let scim_type = match self {
            ApiError::Scim { scim_type, .. } => Some(*scim_type),
            ApiError::BadRequest(_) | ApiError::Unprocessable(_) => Some("invalidValue"),
            ApiError::PreconditionFailed(_) => Some("invalidVers"),
            _ => None,
        };
        let mut error = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": status.as_u16().to_string(),
            "detail": messages.join(" "),
        });
        if let Some(t) = scim_type.filter(|t| !t.is_empty()) {
            error["scimType"] = t.into();
        }
        error
    }
}

/// `<errors><error>...</error></errors>`
pub fn errors_xml(messages: &[String]) -> Vec<u8> {
    let mut w = XmlWriter::new();
    w.declaration();
    w.start("errors");
    for m in messages {
        w.string("error", m);
    }
    w.end("errors");
    w.finish()
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::AmbiguousLength => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::SignInThrottled { .. } | ApiError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable | ApiError::PasswordChecksBusy | ApiError::SyncBodiesBusy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Scim { status, .. } => *status,
        }
    }

    /// The status alone: the format middleware (`server::render_error`),
    /// which knows the format the client asked for, renders the body and
    /// headers, once.
    fn error_response(&self) -> HttpResponse {
        HttpResponse::new(self.status_code())
    }
}

impl From<NotAcceptable> for ApiError {
    fn from(e: NotAcceptable) -> Self {
        ApiError::NotAcceptable(e.0)
    }
}

impl From<XmlError> for ApiError {
    fn from(e: XmlError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

/// A refusal on its own is about what the request names: a user, group or
/// membership that does not exist is 404 (`GET /users/9`, a missing parent
/// in a nested path); anything else (a taken name, a duplicate) is 422.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        if refusal.is_unknown_id() {
            ApiError::NotFound(refusal.to_string())
        } else {
            ApiError::Unprocessable(vec![refusal.to_string()])
        }
    }
}

/// Refusals reported together are problems with a body: 422, one message
/// each, in order (a body naming a user that does not exist is 422 too).
impl From<Vec<Refusal>> for ApiError {
    fn from(refusals: Vec<Refusal>) -> Self {
        ApiError::Unprocessable(refusals.iter().map(ToString::to_string).collect())
    }
}

/// Database errors seen by requests since the start (an unavailable
/// database, a failed query, no connection in time), for the metrics.
pub static DATABASE_ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn count_database_error() {
    DATABASE_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

impl From<DieselError> for ApiError {
    fn from(e: DieselError) -> Self {
        if !matches!(e, DieselError::NotFound) {
            count_database_error();
        }
        if is_unavailable(&e) {
            log::warn!("database unavailable: {e}");
            return ApiError::Unavailable;
        }
        match e {
            DieselError::NotFound => ApiError::not_found("Not found."),
            other => {
                log::error!("database error: {other}");
                ApiError::Internal
            }
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        count_database_error();
        log::warn!("no database connection: {e}");
        ApiError::Unavailable
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        log::error!("the blocking thread pool is gone");
        ApiError::Internal
    }
}

/// Errors that mean "the database cannot be reached or used right now", as
/// opposed to a bug: they answer 503 and the server recovers by itself.
fn is_unavailable(e: &DieselError) -> bool {
    match e {
        DieselError::BrokenTransactionManager => true,
        DieselError::DatabaseError(kind, info) => {
            if matches!(
                kind,
                DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::UnableToSendCommand
                    | DatabaseErrorKind::ReadOnlyTransaction
            ) {
                return true;
            }
            let message = info.message().to_ascii_lowercase();
            [
                "database is locked",
                "database table is locked",
                "readonly database",
                "disk i/o error",
                "unable to open database",
                "database or disk is full",
                "server closed the connection",
                "terminating connection",
                "connection to server",
                "no connection to the server",
                "the database system is",
            ]
            .iter()
            .any(|needle| message.contains(needle))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(e: ApiError, format: Format) -> (StatusCode, String, HttpResponse<()>) {
        let resp = e.render(format);
        let status = resp.status();
        let (head, body) = resp.into_parts();
        let bytes = to_bytes(body).await.unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap(), head)
    }

    #[actix_web::test]
    async fn every_variant_has_its_status_and_an_errors_body() {
        let cases = [
            (ApiError::bad_request("x"), 400),
            (ApiError::Unauthorized, 401),
            (ApiError::Forbidden("f".into()), 403),
            (ApiError::not_found("n"), 404),
            (ApiError::MethodNotAllowed { allow: "GET" }, 405),
            (ApiError::NotAcceptable("a".into()), 406),
            (ApiError::PayloadTooLarge(1024), 413),
            (ApiError::UnsupportedMediaType("u".into()), 415),
            (ApiError::unprocessable("p"), 422),
            (ApiError::Conflict("c".into()), 409),
            (ApiError::PreconditionFailed("c".into()), 412),
            (ApiError::Unavailable, 503),
            (ApiError::Internal, 500),
        ];
        for (err, status) in cases {
            let (got, body, _) = body_of(err, Format::Xml).await;
            assert_eq!(got.as_u16(), status);
            assert!(
                body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors>\n  <error>"),
                "{body}"
            );
            assert!(body.ends_with("</errors>\n"));
        }
    }

    #[actix_web::test]
    async fn headers_that_go_with_the_status() {
        let (_, _, r) = body_of(ApiError::Unauthorized, Format::Xml).await;
        assert_eq!(
            r.headers().get("www-authenticate").unwrap(),
            "Basic realm=\"Syncd\""
        );
        let (_, _, r) = body_of(
            ApiError::MethodNotAllowed {
                allow: "GET, DELETE",
            },
            Format::Xml,
        )
        .await;
        assert_eq!(r.headers().get("allow").unwrap(), "GET, DELETE");
        let (_, _, r) = body_of(ApiError::Unavailable, Format::Xml).await;
        assert_eq!(r.headers().get("retry-after").unwrap(), "2");
    }

    #[actix_web::test]
    async fn json_errors_are_an_array_of_messages() {
        let (_, body, r) = body_of(ApiError::unprocessable("Nope."), Format::Json).await;
        assert_eq!(body, r#"{"errors":["Nope."]}"#);
        assert_eq!(
            r.headers().get("content-type").unwrap(),
            "application/json; charset=utf-8"
        );
    }

    #[test]
    fn refusals_are_404_for_a_missing_thing_and_422_otherwise() {
        let missing = ApiError::from(Refusal::UnknownUserGroup(3));
        assert_eq!(missing.status_code(), StatusCode::NOT_FOUND);
        assert_eq!(missing.messages(), ["User group 3 does not exist."]);
        let taken = ApiError::from(Refusal::GroupNameTaken("A".into()));
        assert_eq!(taken.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = ApiError::from(vec![Refusal::UnknownUser(1), Refusal::UnknownUserGroup(2)]);
        assert_eq!(body.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body.messages(),
            ["User 1 does not exist.", "User group 2 does not exist."]
        );
    }

    #[test]
    fn database_errors_map_to_503_or_500_never_leaking_text() {
        struct Info(&'static str);
        impl diesel::result::DatabaseErrorInformation for Info {
            fn message(&self) -> &str {
                self.0
            }
            fn details(&self) -> Option<&str> {
                None
            }
            fn hint(&self) -> Option<&str> {
                None
            }
            fn table_name(&self) -> Option<&str> {
                None
            }
            fn column_name(&self) -> Option<&str> {
                None
            }
            fn constraint_name(&self) -> Option<&str> {
                None
            }
            fn statement_position(&self) -> Option<i32> {
                None
            }
        }
        let locked = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(Info("database is locked")),
        );
        assert!(matches!(ApiError::from(locked), ApiError::Unavailable));
        let syntax = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(Info("near \"SELEC\": syntax error")),
        );
        let err = ApiError::from(syntax);
        assert!(matches!(err, ApiError::Internal));
        assert!(!err.messages().concat().contains("SELEC"));
    }
}
