//! Lists of any resource, streamed: the handler counts the list and fetches
//! its first chunk before answering (so a database failure is still a proper
//! status), then the rest follows chunk by chunk with a keyset scan over id,
//! so memory stays bounded however long the list. A list that fits in one
//! chunk is sent whole, with a strong ETag; a longer one gets a weak ETag
//! from a version of the data computed before streaming.

use std::collections::VecDeque;
use std::sync::Arc;

use actix_web::http::{Method, StatusCode, header};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use crate::db::DbConnection;
use crate::db::queries::{List, Position};
use crate::domain::Range;
use crate::http::errors::ApiError;
use crate::http::format::{ApiFormat, Requested};
use crate::http::inputs::ListQuery;
use crate::state::{AppState, run_db};
use crate::views::render::{Encoder, Name};
use crate::views::{answers, respond};

/// Rows fetched per query while streaming.
pub const CHUNK: i64 = 1000;

/// Writes one row of a list.
pub type WriteRow<R> = Box<dyn Fn(&mut Encoder, &R)>;

/// What the handler learnt before answering, and the list to go on with.
pub struct FirstChunk<L: List> {
    pub list: L,
    /// Items before slicing (`X-Total-Count`).
    pub total: i64,
    /// Items in the requested slice.
    pub count: i64,
    pub rows: Vec<L::Row>,
    /// A version of the data, when the list is longer than one chunk.
    pub version: Option<String>,
    /// The range asked for (for the `Link` header of a slice).
    pub range: Range,
}

/// Counts a list, slices it, and loads its first chunk; the data's version is
/// read only when the list will stream.
pub fn first_chunk<L: List>(
    c: &mut DbConnection,
    list: L,
    range: Range,
) -> Result<FirstChunk<L>, ApiError> {
    let total = list.count(c)?;
    let slice = range.slice(total);
    let rows = if slice.count > 0 {
        list.chunk(c, Position::Offset(slice.offset), slice.count.min(CHUNK))?
    } else {
        Vec::new()
    };
    let version = if slice.count > CHUNK {
        Some(list.version(c, total)?)
    } else {
        None
    };
    Ok(FirstChunk {
        list,
        total,
        count: slice.count,
        rows,
        version,
        range,
    })
}

/// Serves a list of a whole table (users, user groups); `write` renders one
/// row, with timestamps when `include` asks for them.
pub async fn whole_table<L: List>(
    req: HttpRequest,
    state: web::Data<AppState>,
    (format, ListQuery { include, range }): (ApiFormat, ListQuery),
    name: Name,
    list: L,
    write: fn(&mut Encoder, &L::Row, bool),
) -> Result<HttpResponse, ApiError> {
    answers::kept_or(&req, async {
        let first = run_db(&state, move |c| first_chunk(c, list, range)).await?;
        Ok(respond(
            &req,
            state.into_inner(),
            format,
            name,
            first,
            move |e, row| write(e, row, include.timestamps),
        ))
    })
    .await
}

/// Answers with a whole or streamed list.
pub fn respond<L: List>(
    req: &HttpRequest,
    state: Arc<AppState>,
    format: ApiFormat,
    name: Name,
    first: FirstChunk<L>,
    write: impl Fn(&mut Encoder, &L::Row) + 'static,
) -> HttpResponse {
    let total = first.total.to_string();
    let fetched = first.rows.len() as i64;
    if first.rows.is_empty() || first.count <= fetched || fetched < CHUNK {
        // One chunk of rows, so its size is bounded by the limits on what
        // a row holds (see `domain::text`): rendered whole, strong ETag.
        let mut e = Encoder::new(format);
        if first.rows.is_empty() {
            e.empty_list(name);
        } else {
            e.begin_list(name);
            e.rows(&first.rows, &write);
            e.end_list(name);
        }
        let response = respond::full(req, StatusCode::OK, format, e.finish());
        let response = with_links(req, response, first.range, first.total);
        return respond::with_header(
            response,
            header::HeaderName::from_static("x-total-count"),
            &total,
        );
    }

    let etag = respond::weak_etag(req, format, first.version.as_deref().unwrap_or(""));
    if respond::not_modified(req, &etag) {
        return respond::not_modified_response(&etag);
    }
    let mut answer = HttpResponse::Ok();
    answer
        .content_type(format.content_type())
        .insert_header(("X-Total-Count", total))
        .insert_header((header::ETAG, etag));
    if let Some(links) = links(req, first.range, first.total) {
        answer.insert_header((header::LINK, links));
    }
    if req.method() == Method::HEAD {
        // The same head as a GET, and no rows read or written: a HEAD of a
        // long list used to render its first chunk for nothing.
        return answer.streaming(futures_util::stream::empty::<Result<Bytes, ApiError>>());
    }
    let mut encoder = Encoder::new(format);
    encoder.begin_list(name);
    let rest = Streaming {
        state,
        encoder,
        name,
        last_id: first.rows.last().map_or(0, L::id),
        unfetched: first.count - fetched,
        pending: first.rows.into(),
        list: Arc::new(first.list),
        write: Box::new(write),
    };
    answer.streaming(futures_util::stream::unfold(Some(rest), next_piece))
}

/// The `Link` header of a slice (API.md 8.3): `next` when items follow it,
/// `prev` when items precede it, each the same request for the adjacent
/// range of the same size `n` (`end - start + 1` as asked; when `end` is
/// left out, up to the last item). None for a request that asked for no
/// range, or a slice with nothing on either side.
pub fn links(req: &HttpRequest, range: Range, total: i64) -> Option<String> {
    if !range.asked {
        return None;
    }
    let (start, end) = (range.start, range.end.unwrap_or(total.max(range.start)));
    let n = end - start + 1;
    let mut links = Vec::new();
    if end < total {
        let next_end = end.saturating_add(n);
        links.push(format!(
            "<{}>; rel=\"next\"",
            target(req, end + 1, next_end)
        ));
    }
    if start > 1 {
        let prev_start = (start - n).max(1);
        links.push(format!(
            "<{}>; rel=\"prev\"",
            target(req, prev_start, start - 1)
        ));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

fn with_links(req: &HttpRequest, response: HttpResponse, range: Range, total: i64) -> HttpResponse {
    match links(req, range, total) {
        Some(links) => respond::with_header(response, header::LINK, &links),
        None => response,
    }
}

/// The request's own path (with the extension it came with) and query,
/// `start` and `end` replaced; the other parameters kept as sent.
fn target(req: &HttpRequest, start: i64, end: i64) -> String {
    let extension = match req.extensions().get::<Requested>() {
        Some(Requested::Extension(f)) => format!(".{}", f.extension()),
        _ => String::new(),
    };
    let mut query: Vec<&str> = req
        .query_string()
        .split('&')
        .filter(|p| {
            let key = p.split('=').next().unwrap_or("");
            !p.is_empty() && key != "start" && key != "end"
        })
        .collect();
    let range = format!("start={start}&end={end}");
    query.push(&range);
    format!("{}{extension}?{}", req.path(), query.join("&"))
}

/// Bytes of rows written before a piece of a streamed list is sent. Rows
/// are fetched a chunk (1000) at a time, but a chunk of rows with large
/// groups included is megabytes; pieces keep what is held per request
/// bounded by this plus one row.
pub const PIECE_BYTES: usize = 64 * 1024;

/// Where a streamed list has got to.
struct Streaming<L: List> {
    state: Arc<AppState>,
    encoder: Encoder,
    name: Name,
    /// Rows fetched and not yet written.
    pending: VecDeque<L::Row>,
    /// The id the next fetch starts after.
    last_id: i64,
    /// Rows of the slice not fetched yet.
    unfetched: i64,
    list: Arc<L>,
    write: WriteRow<L::Row>,
}

/// The next piece of a streamed list: rows are written until the piece
/// holds `PIECE_BYTES`, fetching the next chunk of rows when the fetched
/// ones run out. A failure mid-stream cannot change the status already
/// sent: it is logged and the body is cut short, which the client sees as
/// an incomplete response rather than a wrong one.
async fn next_piece<L: List>(
    stream: Option<Streaming<L>>,
) -> Option<(Result<Bytes, ApiError>, Option<Streaming<L>>)> {
    let mut st = stream?;
    loop {
        while let Some(row) = st.pending.pop_front() {
            (st.write)(&mut st.encoder, &row);
            if st.encoder.written() >= PIECE_BYTES {
                let piece = Bytes::from(st.encoder.take());
                return Some((Ok(piece), Some(st)));
            }
        }
        if st.unfetched <= 0 {
            st.encoder.end_list(st.name);
            return Some((Ok(Bytes::from(st.encoder.finish())), None));
        }
        let (after, limit) = (st.last_id, st.unfetched.min(CHUNK));
        let list = st.list.clone();
        let next = move |c: &mut DbConnection| Ok(list.chunk(c, Position::After(after), limit)?);
        let rows = match run_db(&st.state, next).await {
            Ok(rows) => rows,
            Err(e) => {
                log::error!("a streamed list stopped early: {e}");
                return Some((Err(e), None));
            }
        };
        // A short chunk is the end of the table, whatever the count said.
        st.unfetched = if (rows.len() as i64) < limit {
            0
        } else {
            st.unfetched - rows.len() as i64
        };
        st.last_id = rows.last().map_or(st.last_id, L::id);
        st.pending.extend(rows);
    }
}
