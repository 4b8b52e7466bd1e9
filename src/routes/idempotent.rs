//! Retrying safely (API.md 8.6): [`once`] runs a handler's work at most once
//! per `Idempotency-Key`, caller and request, and answers a retry with the
//! answer it kept. The header is the input
//! [`crate::http::idempotency::IdempotencyKey`]; the keys are kept in the
//! database ([`crate::db::queries::idempotency`]), so they hold across
//! restarts and across several processes on one PostgreSQL.

use std::future::Future;

use actix_web::body::to_bytes;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::db::DbPool;
use crate::db::models::now;
use crate::db::queries::idempotency::{self, Claim, Claimed, Stored};
use crate::http::errors::ApiError;
use crate::http::format::Requested;
use crate::http::idempotency::{self as key_header, IdempotencyKey};
use crate::state::{AppState, run_db, run_on};

/// Runs `run` once for a request sent with an `Idempotency-Key`, and keeps
/// its answer for 24 hours; without a key it just runs `run`.
///
/// With a key, for the signed-in `caller_id`: the first request claims the
/// key and runs; a retry of the same request (method, path with its
/// extension and query string, and `body`: the bytes the handler read) gets
/// the kept answer again (same status, body, `Content-Type`, `Location` and
/// `ETag`) with `Idempotent-Replayed: true`, and `run` is not called; the
/// key with another request is 422; while the first is still running, 409.
/// Every answer is kept except a 5xx, after which the key is forgotten, so
/// that a retry runs again. An `Err` of `run` is rendered here, in the
/// format the request asked for, exactly as the format middleware would,
/// so what is kept is what the client got.
///
/// `run`'s future is spawned and runs to its end even if the client goes
/// away meanwhile, so that its answer is still kept for the retry: it must
/// own what it uses (`HttpRequest` and `web::Data<AppState>` clone cheaply).
/// A handler reads its body first, then parses it inside `run`:
///
/// ```ignore
/// let kind = body::body_kind(&req)?;
/// let bytes = body::read(&req, payload).await?;
/// idempotent::once(&req, &state, caller.id, key, &bytes.clone(), {
///     let (req, state) = (req.clone(), state.clone());
///     move || async move {
///         let fields = body::read_fields(kind, bytes, render::USER_GROUP).await?;
///         // ... the work, and its response
///     }
/// })
/// .await
/// ```
pub async fn once<F, Fut>(
    req: &HttpRequest,
    state: &AppState,
    caller_id: i64,
    key: IdempotencyKey,
    body: &[u8],
    run: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<HttpResponse, ApiError>> + 'static,
{
    let IdempotencyKey(Some(key)) = key else {
        return run().await;
    };
    let fingerprint = fingerprint(req, body);
    let at = now();
    let sweep = state.idempotency_sweeper.due(at);
    let claimed = run_db(state, move |c| {
        if sweep {
            match idempotency::sweep(c, at) {
                Ok(0) => {}
                Ok(n) => log::info!("swept {n} expired idempotency keys"),
                // The claim below says whether the database is usable.
                Err(e) => log::warn!("sweeping expired idempotency keys: {e}"),
            }
        }
        Ok(idempotency::claim(c, caller_id, &key, &fingerprint, at)?)
    })
    .await?;
    let claim = match claimed {
        Claimed::New(claim) => claim,
        Claimed::Replay(stored) => return Ok(replay(stored)),
        Claimed::Mismatch => return Err(key_header::reused()),
        Claimed::Running => return Err(key_header::still_running()),
    };
    // What the format middleware would make of an error, decided now: the
    // spawned task no longer has the request.
    let render_error = {
        let req = req.clone();
        move |e: ApiError| e.render_for(&req)
    };
    let work = run();
    let pool = state.pool.clone();
    let ours = claim.clone();
    let task = actix_web::rt::spawn(async move {
        let response = work.await.unwrap_or_else(render_error);
        keep(pool, ours, response).await
    });
    match task.await {
        Ok(answer) => answer,
        Err(panicked) => {
            log::error!("a request with an Idempotency-Key failed: {panicked}");
            forget(state.pool.clone(), claim).await;
            Err(ApiError::Internal)
        }
    }
}

/// Reads the answer whole, keeps it (or forgets the key after a 5xx), and
/// gives it back as it was.
async fn keep(
    pool: DbPool,
    claim: Claim,
    response: HttpResponse,
) -> Result<HttpResponse, ApiError> {
    let (head, body) = response.into_parts();
    let bytes = match to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(e) => {
            log::error!("reading an answer to keep for an Idempotency-Key: {e}");
            forget(pool, claim).await;
            return Err(ApiError::Internal);
        }
    };
    if head.status().is_server_error() {
        forget(pool, claim).await;
    } else {
        let headers = head.headers();
        let answer = Stored {
            status: head.status().as_u16(),
            content_type: text(headers, header::CONTENT_TYPE),
            location: text(headers, header::LOCATION),
            etag: text(headers, header::ETAG),
            body: bytes.to_vec(),
        };
        match run_on(pool, move |c| Ok(idempotency::finish(c, &claim, &answer)?)).await {
            Ok(true) => {}
            // It ran past the lease and a retry took the key over: that
            // retry's answer is the one kept.
            Ok(false) => log::warn!("an idempotency key was taken over before its answer was kept"),
            // The answer still goes out; the key counts as running until
            // its lease ends, then a retry runs again.
            Err(_) => log::warn!("could not keep the answer of an idempotency key"),
        }
    }
    Ok(head.set_body(bytes).map_into_boxed_body())
}

/// Lets the key go so that a retry runs again (the cause is logged where
/// it happened).
async fn forget(pool: DbPool, claim: Claim) {
    if run_on(pool, move |c| Ok(idempotency::forget(c, &claim)?))
        .await
        .is_err()
    {
        log::warn!("could not forget an idempotency key; it is freed when its lease ends");
    }
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A kept answer, again.
fn replay(stored: Stored) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if stored
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.starts_with("text/html"))
    {
        // An error page gets the page's headers, as the first time.
        crate::views::html::secure(&mut response);
    }
    for (name, value) in [
        (header::CONTENT_TYPE, &stored.content_type),
        (header::LOCATION, &stored.location),
        (header::ETAG, &stored.etag),
    ] {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            response.insert_header((name, value));
        }
    }
    response.insert_header((key_header::REPLAYED, "true"));
    response.body(stored.body)
}

/// The SHA-256 (hex) of what makes two requests the same: the method, the
/// path as the client sent it (with its extension: `.xml` and `.json` are
/// different answers) and its query string, and the body's bytes.
pub fn fingerprint(req: &HttpRequest, body: &[u8]) -> String {
    let extension = match req.extensions().get::<Requested>() {
        Some(Requested::Extension(format)) => format!(".{}", format.extension()),
        _ => String::new(),
    };
    let mut digest = Sha256::new();
    digest.update(req.method().as_str());
    digest.update(b" ");
    digest.update(req.path());
    digest.update(extension);
    if !req.query_string().is_empty() {
        digest.update(b"?");
        digest.update(req.query_string());
    }
    // A request line holds no line break: the body starts after this one.
    digest.update(b"\n");
    digest.update(body);
    hex::encode(digest.finalize())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use actix_web::test::TestRequest;

    use super::*;
    use crate::db::queries::users;
    use crate::http::format::Format;
    use crate::state::Guards;

    fn request(method: &str, path: &str, requested: Requested) -> HttpRequest {
        let req = TestRequest::default()
            .method(method.parse().unwrap())
            .uri(path)
            .to_http_request();
        req.extensions_mut().insert(requested);
        req
    }

    #[test]
    fn the_fingerprint_is_the_method_the_path_as_sent_and_the_body() {
        let xml = Requested::Extension(Format::Xml);
        let base = fingerprint(&request("POST", "/user_groups", xml.clone()), b"<a/>");
        // SHA-256 of "POST /user_groups.xml\n<a/>".
        let mut d = Sha256::new();
        d.update(b"POST /user_groups.xml\n<a/>");
        assert_eq!(base, hex::encode(d.finalize()));
        for other in [
            fingerprint(&request("PUT", "/user_groups", xml.clone()), b"<a/>"),
            fingerprint(&request("PATCH", "/user_groups", xml.clone()), b"<a/>"),
            fingerprint(&request("POST", "/user-groups", xml.clone()), b"<a/>"),
            fingerprint(&request("POST", "/user_groups?x=1", xml.clone()), b"<a/>"),
            fingerprint(
                &request("POST", "/user_groups", Requested::Extension(Format::Json)),
                b"<a/>",
            ),
            fingerprint(
                &request("POST", "/user_groups", Requested::Accept(None)),
                b"<a/>",
            ),
            fingerprint(&request("POST", "/user_groups", xml.clone()), b"<a />"),
            fingerprint(&request("POST", "/user_groups", xml.clone()), b""),
        ] {
            assert_ne!(other, base);
        }
    }

    /// A state on a fresh in-memory database holding the caller (user 1).
    fn state() -> AppState {
        let settings = crate::db::PoolSettings::default();
        let pool = crate::db::open(":memory:", &settings).unwrap();
        let mut c = pool.get().unwrap();
        users::create(
            &mut c,
            &users::NewUser {
                login: "manager",
                name: "Manager",
                email_address: None,
                user_group_manager: true,
                password_digest: None,
                token_digest: "d",
            },
        )
        .unwrap()
        .unwrap();
        drop(c);
        AppState::new(pool, &Guards::default()).unwrap()
    }

    fn key(k: &str) -> IdempotencyKey {
        IdempotencyKey(Some(k.into()))
    }

    /// `once` for a POST whose work counts its runs and answers `answer`.
    async fn post(
        state: &AppState,
        k: &str,
        runs: &Rc<Cell<u32>>,
        answer: Result<StatusCode, ApiError>,
    ) -> HttpResponse {
        let req = request("POST", "/user_groups", Requested::Extension(Format::Json));
        let runs = runs.clone();
        let res = once(&req, state, 1, key(k), b"body", move || async move {
            runs.set(runs.get() + 1);
            answer.map(|s| {
                HttpResponse::build(s)
                    .content_type("application/json; charset=utf-8")
                    .insert_header((header::LOCATION, "/user_groups/7.json"))
                    .body("{\"id\":7}")
            })
        })
        .await;
        res.unwrap_or_else(|e| e.render_for(&req))
    }

    async fn body_of(res: HttpResponse) -> String {
        String::from_utf8(to_bytes(res.into_body()).await.unwrap().to_vec()).unwrap()
    }

    #[actix_web::test]
    async fn answers_are_kept_and_replayed_but_5xx_are_forgotten() {
        let state = state();
        let runs = Rc::new(Cell::new(0));
        let first = post(&state, "a", &runs, Ok(StatusCode::CREATED)).await;
        assert_eq!(first.status(), StatusCode::CREATED);
        assert!(first.headers().get(key_header::REPLAYED).is_none());
        let again = post(&state, "a", &runs, Ok(StatusCode::CREATED)).await;
        assert_eq!(runs.get(), 1);
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(again.headers().get(key_header::REPLAYED).unwrap(), "true");
        assert_eq!(
            again.headers().get(header::LOCATION).unwrap(),
            "/user_groups/7.json"
        );
        assert_eq!(body_of(again).await, "{\"id\":7}");

        // An error is rendered as the client asked (JSON here), and kept.
        let refused = post(&state, "b", &runs, Err(ApiError::unprocessable("No."))).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body_of(refused).await, r#"{"errors":["No."]}"#);
        let again = post(&state, "b", &runs, Ok(StatusCode::CREATED)).await;
        assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body_of(again).await, r#"{"errors":["No."]}"#);
        assert_eq!(runs.get(), 2);

        // A 5xx, as an error or as a response, lets the key go: the retry
        // runs again.
        for (k, failure) in [
            ("c", Err(ApiError::Unavailable)),
            ("d", Ok(StatusCode::INTERNAL_SERVER_ERROR)),
        ] {
            let before = runs.get();
            let failed = post(&state, k, &runs, failure).await;
            assert!(failed.status().is_server_error());
            assert!(failed.headers().get(key_header::REPLAYED).is_none());
            let retried = post(&state, k, &runs, Ok(StatusCode::CREATED)).await;
            assert_eq!(retried.status(), StatusCode::CREATED);
            assert!(retried.headers().get(key_header::REPLAYED).is_none());
            assert_eq!(runs.get(), before + 2);
        }
        // A 503 keeps its Retry-After the first time.
        let unavailable = post(&state, "e", &runs, Err(ApiError::Unavailable)).await;
        assert_eq!(unavailable.headers().get(header::RETRY_AFTER).unwrap(), "2");

        // No key: every request runs.
        let req = request("POST", "/user_groups", Requested::Extension(Format::Json));
        for _ in 0..2 {
            let runs = runs.clone();
            once(
                &req,
                &state,
                1,
                IdempotencyKey(None),
                b"body",
                move || async move {
                    runs.set(runs.get() + 1);
                    Ok(HttpResponse::Created().finish())
                },
            )
            .await
            .unwrap();
        }
        assert_eq!(runs.get(), 9);
    }

    #[actix_web::test]
    async fn a_claim_is_finished_or_forgotten_only_by_its_own_request() {
        let state = state();
        let mut c = state.pool.get().unwrap();
        let t0 = now() - idempotency::LEASE - chrono::TimeDelta::seconds(1);
        let Claimed::New(old) = idempotency::claim(&mut c, 1, "k", "f", t0).unwrap() else {
            panic!("a new key is claimed");
        };
        assert_eq!(
            idempotency::claim(&mut c, 1, "k", "f", t0).unwrap(),
            Claimed::Running
        );
        assert_eq!(
            idempotency::claim(&mut c, 1, "k", "g", t0).unwrap(),
            Claimed::Mismatch
        );
        // Past its lease another request takes it over; the first can then
        // neither keep its answer nor let the key go.
        let Claimed::New(new) = idempotency::claim(&mut c, 1, "k", "f", now()).unwrap() else {
            panic!("an abandoned claim is taken over");
        };
        let answer = Stored {
            status: 201,
            content_type: None,
            location: None,
            etag: None,
            body: b"x".to_vec(),
        };
        assert!(!idempotency::finish(&mut c, &old, &answer).unwrap());
        assert!(!idempotency::forget(&mut c, &old).unwrap());
        assert!(idempotency::finish(&mut c, &new, &answer).unwrap());
        assert!(
            !idempotency::forget(&mut c, &new).unwrap(),
            "an answer stays"
        );
        assert_eq!(
            idempotency::claim(&mut c, 1, "k", "f", now()).unwrap(),
            Claimed::Replay(answer)
        );
        // 24 hours on it is gone.
        let later = now() + idempotency::KEPT + chrono::TimeDelta::seconds(1);
        assert_eq!(idempotency::sweep(&mut c, later).unwrap(), 1);
    }
}
