//! Answers kept: a read's complete response (status, headers, body), kept
//! under its request and the data's version (`db::version`), and answered
//! again without the database while the version has not moved.
//!
//! What it is for: a list of 100 memberships with their users and groups
//! costs a count, a join and 88 KB of XML, and on PostgreSQL the count is a
//! scan (MVCC); the same request again, with nothing written in between,
//! can be the same bytes. Counts stay exact: any commit moves the version
//! (this process's before its answer goes out, another's within about
//! 100 ms), and an answer kept under an older version is never used.
//!
//! Only managers' reads come here, after sign-in and the role check, and
//! every manager sees the same data: the key is the request (format, path,
//! query), not who asks. Bodies of more than [`MAX_ANSWER`] bytes (lists
//! long enough to stream) are not kept. Memory is bounded by the budget
//! (`SYNCD_ANSWER_CACHE_MIB`): when full, answers of older versions go
//! first, then everything.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use crate::db::version::DataVersion;
use crate::http::errors::ApiError;
use crate::http::format::Requested;
use crate::views::respond;

/// The largest body kept (a list of 1,000 memberships with users and groups
/// is about 900 KB; the bench's L is 88 KB).
pub const MAX_ANSWER: usize = 1024 * 1024;

/// Bytes counted per answer besides its body and key (headers, the map).
const OVERHEAD: usize = 256;

/// The kept answers of one process.
pub struct Answers {
    version: DataVersion,
    budget: usize,
    kept: Mutex<Kept>,
    /// Reads answered from a kept answer (for the metrics).
    hits: AtomicU64,
}

#[derive(Default)]
struct Kept {
    answers: HashMap<String, Arc<Answer>>,
    bytes: usize,
}

struct Answer {
    version: u64,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn size(&self, key: &str) -> usize {
        self.body.len() + key.len() + OVERHEAD
    }
}

impl Answers {
    /// At most `budget` bytes kept; 0 keeps nothing.
    pub fn new(version: DataVersion, budget: usize) -> Answers {
        Answers {
            version,
            budget,
            kept: Mutex::new(Kept::default()),
            hits: AtomicU64::new(0),
        }
    }

    /// The version every answer is kept under (the server moves it after a
    /// write).
    pub fn version(&self) -> &DataVersion {
        &self.version
    }

    /// The answer to `req`: a kept one if the data has not changed since it
    /// was made, else `make`'s, kept if it is a complete 200.
    async fn answer<F>(&self, req: &HttpRequest, make: F) -> Result<HttpResponse, ApiError>
    where
        F: Future<Output = Result<HttpResponse, ApiError>>,
    {
        if self.budget == 0 {
            return make.await;
        }
        // Read before the database is: an answer made after a commit it may
        // have missed is kept under the number from before that commit.
        let Some(version) = self.version.current() else {
            return make.await;
        };
        let key = key(req);
        if let Some(kept) = self.get(&key, version) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(replay(req, &kept));
        }
        let response = make.await?;
        if response.status() != StatusCode::OK {
            return Ok(response);
        }
        let (response, body) = response.into_parts();
        let body = match body.try_into_bytes() {
            Ok(bytes) => bytes,
            // A streamed list: sent as it comes, never kept.
            Err(body) => return Ok(response.set_body(body)),
        };
        if body.len() <= MAX_ANSWER {
            let headers = response.headers().clone();
            self.put(
                key,
                Answer {
                    version,
                    status: response.status(),
                    headers,
                    body: body.clone(),
                },
            );
        }
        Ok(response.set_body(BoxBody::new(body)))
    }

    fn get(&self, key: &str, version: u64) -> Option<Arc<Answer>> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.answers
            .get(key)
            .filter(|a| a.version == version)
            .cloned()
    }

    fn put(&self, key: String, answer: Answer) {
        let size = answer.size(&key);
        if size > self.budget {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let Kept { answers, bytes } = &mut *kept;
        if let Some(old) = answers.remove(&key) {
            *bytes -= old.size(&key);
        }
        if *bytes + size > self.budget {
            // Answers of older versions can never be used again.
            answers.retain(|k, a| {
                let keep = a.version == answer.version;
                if !keep {
                    *bytes -= a.size(k);
                }
                keep
            });
        }
        if *bytes + size > self.budget {
            answers.clear();
            *bytes = 0;
        }
        *bytes += size;
        answers.insert(key, Arc::new(answer));
    }

    /// Reads answered from a kept answer so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Answers kept and their bytes.
    pub fn kept(&self) -> (usize, usize) {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        (kept.answers.len(), kept.bytes)
    }
}

/// The answer to a manager's read `req` (signed in and allowed): a kept
/// one if the data has not changed since it was made, else `make`'s, kept
/// if it is a complete 200. The server puts the [`Answers`] in the app
/// data; without them, `make` answers.
pub async fn kept_or<F>(req: &HttpRequest, make: F) -> Result<HttpResponse, ApiError>
where
    F: Future<Output = Result<HttpResponse, ApiError>>,
{
    match req.app_data::<web::Data<Answers>>() {
        Some(answers) => answers.answer(req, make).await,
        None => make.await,
    }
}

/// What makes two requests' answers the same, once signed in: the format
/// (and whether it came by extension, which the `Link` header repeats), the
/// path and the query as sent.
fn key(req: &HttpRequest) -> String {
    let how = match req.extensions().get::<Requested>() {
        Some(Requested::Extension(f)) => format!(".{}", f.extension()),
        Some(Requested::UnknownExtension(e)) => format!(".?{e}"),
        Some(Requested::Accept(a)) => format!("accept:{}", a.as_deref().unwrap_or("")),
        Some(Requested::Scim) => "scim".to_string(),
        None => String::new(),
    };
    format!("{how}\n{}\n{}", req.path(), req.query_string())
}

/// A kept answer again: 304 when `If-None-Match` names its tag.
fn replay(req: &HttpRequest, kept: &Answer) -> HttpResponse {
    if let Some(etag) = kept.headers.get(header::ETAG).and_then(|v| v.to_str().ok())
        && respond::not_modified(req, etag)
    {
        return respond::not_modified_response(etag);
    }
    let mut response = HttpResponse::new(kept.status);
    *response.headers_mut() = kept.headers.clone();
    response.set_body(BoxBody::new(kept.body.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(version: u64, bytes: usize) -> Answer {
        Answer {
            version,
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'x'; bytes]),
        }
    }

    #[test]
    fn memory_stays_within_the_budget_and_older_versions_go_first() {
        let answers = Answers::new(DataVersion::unknown(), 10_000);
        for i in 0..5 {
            answers.put(format!("old{i}"), answer(1, 1000));
        }
        answers.put("new".into(), answer(2, 1000));
        for i in 0..3 {
            answers.put(format!("new{i}"), answer(2, 1000));
        }
        let (count, bytes) = answers.kept();
        assert!(bytes <= 10_000, "{bytes}");
        // The old answers made room for the new ones, and only they went.
        assert_eq!(count, 4);
        assert!(answers.get("old0", 1).is_none());
        assert!(answers.get("new", 2).is_some());
        // Full of one version: everything goes, the new answer stays.
        for i in 0..10 {
            answers.put(format!("more{i}"), answer(2, 1000));
            assert!(answers.kept().1 <= 10_000);
        }
        assert!(answers.get("more9", 2).is_some());
        // An answer bigger than the budget is not kept.
        answers.put("huge".into(), answer(2, 20_000));
        assert!(answers.get("huge", 2).is_none());
    }

    #[test]
    fn an_answer_of_another_version_is_not_used() {
        let answers = Answers::new(DataVersion::unknown(), 10_000);
        answers.put("k".into(), answer(3, 10));
        assert!(answers.get("k", 3).is_some());
        assert!(answers.get("k", 4).is_none());
    }
}
