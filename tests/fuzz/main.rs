//! Fuzzing every parser of untrusted input, on the stable toolchain:
//! proptest generates random bytes and mutations of the seed inputs in
//! `tests/fuzz/corpus/TARGET/` (flipped and inserted bytes, syntax tokens,
//! cut and repeated pieces), and each target checks that the parser returns
//! (a value or an error) without a panic, within a time limit and within a
//! memory cap.
//!
//! In the test command each target runs `FUZZ_CASES` cases (default 300).
//! A long run: `FUZZ_SECONDS=600 cargo test --release --test fuzz -- TARGET`
//! (see docs/SECURITY.md); `bash tests/fuzz/run.sh` runs all of them.
//! Anything found becomes a seed in `corpus/` and a case in `regressions.rs`.

mod regressions;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::web::Bytes;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use syncd::http::body::{BodyKind, read_fields};
use syncd::views::render::{MEMBERSHIP, USER_GROUP};

/// The process may not hold more than this: a parser that allocates without
/// bound for a bounded input aborts the run ("memory allocation failed").
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, 512 << 20);

/// Longest a single input may take before the run is declared hung.
const HANG: Duration = Duration::from_secs(10);

/// Largest input generated: past the 64 KiB body limit, which the server
/// enforces before any parser sees a body.
const MAX_INPUT: usize = 80 * 1024;

/// Syntax that random bytes rarely hit on their own.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"&",
    b"&amp;",
    b"&#",
    b"&#x",
    b";",
    b"<!DOCTYPE a [",
    b"<!ENTITY",
    b"]]>",
    b"<![CDATA[",
    b"<?",
    b"?>",
    b"<!--",
    b"-->",
    b"=\"",
    b"\"",
    b"'",
    b" nil=\"true\"",
    b" type=\"integer\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"null",
    b"true",
    b"1e999",
    b"\\u",
    b"\\ud800",
    b"%",
    b"%5B",
    b"%5D",
    b"%00",
    b"+",
    b"&",
    b"=",
    b"include=",
    b"start=",
    b"end=",
    b"users",
    b"timestamps",
    b"--XyZ",
    b"\r\n",
    b"\r\n\r\n",
    b"Content-Disposition: form-data; name=\"",
    b"Basic ",
    b"Bearer ",
    b"\xff",
    b"\xc3\xa9",
    b"\xf0\x9f\x98\x80",
    b"\0",
    b"9999999999999999999999",
    b"-",
    b".xml",
    b".json",
];

/// One change to a seed; positions are taken modulo the length.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Token(usize, usize),
    Delete(usize, usize),
    Repeat(usize, usize, u16),
    Splice(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        3 => (any::<usize>(), any::<usize>()).prop_map(|(at, t)| Mutation::Token(at, t)),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Delete(at, n)),
        1 => (any::<usize>(), 1usize..32, 1u16..2000)
            .prop_map(|(at, n, k)| Mutation::Repeat(at, n, k)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(at, other)| Mutation::Splice(at, other)),
    ]
}

fn apply(seed: &[u8], seeds: &[Vec<u8>], mutations: &[Mutation]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for m in mutations {
        let at = |p: usize, v: &Vec<u8>| if v.is_empty() { 0 } else { p % (v.len() + 1) };
        match m {
            Mutation::Flip(p, b) if !v.is_empty() => {
                let i = p % v.len();
                v[i] ^= b | 1;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(p, bytes) => {
                let i = at(*p, &v);
                v.splice(i..i, bytes.iter().copied());
            }
            Mutation::Token(p, t) => {
                let i = at(*p, &v);
                v.splice(i..i, TOKENS[t % TOKENS.len()].iter().copied());
            }
            Mutation::Delete(p, n) => {
                let i = at(*p, &v);
                let end = (i + n).min(v.len());
                v.drain(i..end);
            }
            Mutation::Repeat(p, n, k) => {
                let i = at(*p, &v);
                let end = (i + n).min(v.len());
                let piece = v[i..end].to_vec();
                let times = (*k as usize).min(MAX_INPUT / piece.len().max(1));
                for _ in 0..times {
                    v.splice(end..end, piece.iter().copied());
                }
            }
            Mutation::Splice(p, other) => {
                let other = &seeds[other % seeds.len()];
                let i = at(*p, &v);
                let from = if other.is_empty() { 0 } else { p % other.len() };
                v.truncate(i);
                v.extend_from_slice(&other[from..]);
            }
        }
        v.truncate(MAX_INPUT);
    }
    v
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let all = seeds.clone();
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..512),
        6 => (proptest::sample::select(seeds), proptest::collection::vec(mutation(), 0..8))
            .prop_map(move |(seed, ms)| apply(&seed, &all, &ms)),
    ]
}

/// The input being tried, for the hang report.
static CURRENT: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// When the current input started, in ms since the watchdog began (0: idle).
static STARTED_MS: AtomicU64 = AtomicU64::new(0);

/// Aborts the process, showing the input, when one input takes too long.
fn watchdog() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(|| {
        let epoch = Instant::now();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let started = STARTED_MS.load(Ordering::SeqCst);
                let now = epoch.elapsed().as_millis() as u64;
                if started != 0 && now.saturating_sub(started) > HANG.as_millis() as u64 {
                    let input = CURRENT.lock().map(|v| v.clone()).unwrap_or_default();
                    eprintln!(
                        "HANG: an input took over {HANG:?}: {:?}",
                        String::from_utf8_lossy(&input)
                    );
                    std::process::abort();
                }
            }
        });
        epoch
    })
}

/// Runs `check` on generated inputs: `FUZZ_SECONDS` of them when set (a
/// long run, a new seed for every round), else `FUZZ_CASES` (default 300).
fn fuzz(target: &str, check: impl Fn(&[u8])) {
    fuzz_with(target, |seeds| inputs(seeds).boxed(), check);
}

/// `fuzz` with the inputs that `strategy` makes from the seeds.
fn fuzz_with(
    target: &str,
    strategy: impl Fn(Vec<Vec<u8>>) -> BoxedStrategy<Vec<u8>>,
    check: impl Fn(&[u8]),
) {
    let epoch = watchdog();
    let seeds = corpus(target);
    for seed in &seeds {
        check(seed);
    }
    let seconds: Option<u64> = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let cases: u32 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let mut total = 0u64;
    let mut round = 0u64;
    loop {
        let config = Config {
            cases: if deadline.is_some() { 2000 } else { cases },
            failure_persistence: None,
            max_shrink_iters: 2000,
            ..Config::default()
        };
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&round.to_le_bytes());
        key[8..16].copy_from_slice(&(seconds.unwrap_or(0)).to_le_bytes());
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key);
        let mut runner = TestRunner::new_with_rng(config.clone(), rng);
        let result = runner.run(&strategy(seeds.clone()), |input| {
            *CURRENT.lock().unwrap() = input.clone();
            STARTED_MS.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::SeqCst);
            check(&input);
            STARTED_MS.store(0, Ordering::SeqCst);
            Ok(())
        });
        if let Err(e) = result {
            panic!("{target}: {e}");
        }
        total += u64::from(config.cases);
        round += 1;
        match deadline {
            Some(d) if Instant::now() < d => continue,
            _ => break,
        }
    }
    eprintln!(
        "fuzz {target}: {total} generated inputs and {} seeds, no failure; peak RSS {} KiB",
        seeds.len(),
        peak_kib()
    );
}

/// The most the process has held at once, in KiB (read from the kernel).
fn peak_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    actix_rt::System::new().block_on(f)
}

fn body(kind: BodyKind, input: &[u8]) {
    use syncd::routes::membership_body::{Named, Side, named};
    let bytes = Bytes::copy_from_slice(input);
    for root in [MEMBERSHIP, USER_GROUP] {
        let fields = block_on(read_fields(kind.clone(), bytes.clone(), root));
        // What a membership body names (ids, logins, group names): an id
        // read is a positive integer; a name is never blank.
        if let Ok(fields) = fields {
            for side in [Side::User, Side::UserGroup] {
                match named(&fields, side) {
                    Ok(Some(Named::Id(id) | Named::Both(id, _))) => assert!(id >= 1),
                    Ok(Some(Named::Name(name))) => assert!(!name.trim().is_empty()),
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn xml_bodies() {
    fuzz("xml", |input| {
        if let Ok(fields) = syncd::xml::read_record(input, "user-group-membership") {
            assert!(fields.len() <= syncd::xml::read::MAX_ELEMENTS);
        }
        body(BodyKind::Xml, input);
    });
}

#[test]
fn json_bodies() {
    fuzz("json", |input| body(BodyKind::Json, input));
}

#[test]
fn form_bodies() {
    fuzz("form", |input| body(BodyKind::Form, input));
}

#[test]
fn multipart_bodies() {
    fuzz("multipart", |input| {
        body(BodyKind::Multipart("XyZ".into()), input)
    });
}

/// Member-set bodies (API.md 8.4) in every encoding, as `PUT` and as
/// `PATCH`: whatever is read is bounded, every id positive, no login blank.
#[test]
fn member_set_bodies() {
    use syncd::domain::sync::{MAX_SET_USERS, SetChange, Users};
    use syncd::http::sync_bodies::{SetKind, member_set};
    let check = |users: &Users| {
        assert!(users.len() <= MAX_SET_USERS);
        assert!(users.ids.iter().all(|&id| id >= 1));
        assert!(users.logins.iter().all(|l| !l.trim().is_empty()));
    };
    fuzz("member_set", |input| {
        for kind in [SetKind::Xml, SetKind::Json, SetKind::Csv] {
            for patch in [false, true] {
                match member_set(kind, input, patch) {
                    Ok(SetChange::Exactly(users)) => check(&users),
                    Ok(SetChange::Patch { add, remove }) => {
                        check(&add);
                        check(&remove);
                    }
                    Err(_) => {}
                }
            }
        }
    });
}

/// Change-set bodies (API.md 8.5), read into changes as the route does:
/// at most `MAX_CHANGES`, each naming both sides.
#[test]
fn change_set_bodies() {
    use syncd::domain::sync::{MAX_CHANGES, Named};
    use syncd::http::sync_bodies::{SetKind, change_set};
    fuzz("change_set", |input| {
        for kind in [SetKind::Xml, SetKind::Json] {
            let Ok(fields) = change_set(kind, input) else {
                continue;
            };
            assert!(fields.len() <= MAX_CHANGES);
            if let Ok(changes) = syncd::routes::change_sets::read_changes(&fields) {
                assert_eq!(changes.len(), fields.len());
                for c in changes {
                    for side in [c.user, c.user_group] {
                        match side {
                            Named::Id(id) | Named::Both(id, _) => assert!(id >= 1),
                            Named::Name(name) => assert!(!name.trim().is_empty()),
                        }
                    }
                }
            }
        }
    });
}

#[test]
fn query_strings() {
    fuzz("query", |input| {
        let query = String::from_utf8_lossy(input);
        // Only what the HTTP layer would deliver: a URI it can parse.
        let uri = format!("/user-group-memberships?{query}");
        let Ok(uri) = actix_web::http::Uri::try_from(uri.as_str()) else {
            return;
        };
        let query = uri.query().unwrap_or("");
        if let Ok((_, range)) = syncd::http::params::list_query(query) {
            let slice = range.slice(1_000_000);
            assert!(slice.count >= 0 && slice.offset >= 0);
        }
        let _ = syncd::http::params::include_query(query);
        // The history's parameters: bounded id lists, datetimes whole
        // seconds, cursors never negative.
        if let Ok((_, _, filter)) = syncd::http::params::feed_query(query) {
            let ids = &filter.ids;
            assert!(ids.users.len() <= syncd::domain::MAX_FILTER_IDS);
            assert!(ids.user_groups.len() <= syncd::domain::MAX_FILTER_IDS);
            assert!(ids.users.iter().chain(&ids.user_groups).all(|&id| id >= 1));
            assert!(filter.after_id >= 0);
            assert!(
                filter
                    .since
                    .is_none_or(|t| t.and_utc().timestamp_subsec_nanos() == 0)
            );
        }
        if let Ok((_, _, as_of, ids)) = syncd::http::params::memberships_query(query) {
            assert!(as_of.is_none_or(|t| t.and_utc().timestamp_subsec_nanos() == 0));
            assert!(ids.users.len() <= syncd::domain::MAX_FILTER_IDS);
        }
    });
}

#[test]
fn path_ids() {
    fuzz("path", |input| {
        let text = String::from_utf8_lossy(input);
        if let Some(id) = syncd::domain::parse_id(&text) {
            assert!(id >= 1);
            assert_eq!(
                id.to_string().trim_start_matches('0'),
                text.trim_start_matches('0')
            );
        }
    });
}

#[test]
fn credential_and_content_type_headers() {
    fuzz("auth", |input| {
        let (name, value) = match input.iter().position(|&b| b == b':') {
            Some(i) => (&input[..i], &input[i + 1..]),
            None => (&b"authorization"[..], input),
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let Ok(value) = HeaderValue::from_bytes(value) else {
            return;
        };
        let names = [
            HeaderName::from_bytes(name).ok(),
            Some(HeaderName::from_static("authorization")),
            Some(HeaderName::from_static("x-api-key")),
        ];
        for name in names.into_iter().flatten() {
            let mut headers = HeaderMap::new();
            headers.insert(name.clone(), value.clone());
            let _ = syncd::http::auth::read_credentials(&headers);
            // (actix's TestRequest leaks about 2 KiB a request, which the
            // allocation cap caught: the parsers take headers directly.)
            let mut content_type = HeaderMap::new();
            content_type.insert(actix_web::http::header::CONTENT_TYPE, value.clone());
            let _ = syncd::http::body::kind_of(&content_type);
        }
    });
}

#[test]
fn idempotency_key_headers() {
    fuzz("idempotency-key", |input| {
        // Only what the HTTP layer would deliver: a valid header value, one
        // header or two.
        let Ok(value) = HeaderValue::from_bytes(input) else {
            return;
        };
        let name = HeaderName::from_static(syncd::http::idempotency::HEADER);
        let mut headers = HeaderMap::new();
        headers.insert(name.clone(), value.clone());
        match syncd::http::idempotency::parse(&headers) {
            Ok(Some(key)) => {
                // 1 to 255 printable ASCII characters, none around it.
                assert!((1..=syncd::http::idempotency::MAX_KEY_CHARS).contains(&key.len()));
                assert!(key.bytes().all(|b| (0x20..=0x7E).contains(&b)));
                assert_eq!(key.trim(), key);
                assert!(input.windows(key.len()).any(|w| w == key.as_bytes()));
            }
            Ok(None) => panic!("a header was sent: {input:?}"),
            Err(e) => assert_eq!(actix_web::ResponseError::status_code(&e).as_u16(), 400),
        }
        headers.append(name, value);
        assert!(syncd::http::idempotency::parse(&headers).is_err());
    });
}

/// Pieces of SCIM filters and paths, for inputs shaped like the grammar.
const SCIM_TOKENS: &[&str] = &[
    "userName",
    "emails",
    "emails.value",
    "name.givenName",
    "meta.lastModified",
    "members",
    "value",
    "type",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "not",
    "NOT",
    "not(",
    "and",
    "AND",
    "or",
    "Or",
    "eq",
    "EQ",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "ge",
    "lt",
    "le",
    "pr",
    "xx",
    "(",
    ")",
    "[",
    "]",
    "].value",
    ".",
    ":",
    "\"work\"",
    "\"\"",
    "\"a\\\"b\"",
    "\"\\u00e9\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "\"\\x\"",
    "\"unterminated",
    "\"\\",
    "1",
    "-1.5e3",
    "01",
    "1e999",
    "true",
    "False",
    "null",
    "\t",
    "\n",
];

/// Grammar-shaped inputs: SCIM tokens joined with and without spaces.
fn scim_soup() -> impl Strategy<Value = Vec<u8>> {
    let separator = proptest::sample::select(&[" ", "", " ", "  "][..]);
    proptest::collection::vec((proptest::sample::select(SCIM_TOKENS), separator), 0..48).prop_map(
        |parts| {
            parts
                .into_iter()
                .flat_map(|(token, separator)| [token, separator])
                .collect::<String>()
                .into_bytes()
        },
    )
}

/// Valid filters, as trees: printed, they must read back as the same tree.
fn scim_tree() -> impl Strategy<Value = syncd::domain::scim_filter::Filter> {
    use proptest::option;
    use proptest::sample::select;
    use syncd::domain::scim_filter::{AttrPath, CompareOp, Filter, Value};
    let names = || {
        select(
            &[
                "userName", "emails", "type", "value", "x", "not", "and", "pr", "A-b_9",
            ][..],
        )
    };
    let value = prop_oneof![
        "[^\0]{0,12}".prop_map(Value::Str),
        select(&["0", "-7", "1.5", "2e-3", "1E+99"][..]).prop_map(|n| Value::Number(n.into())),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    let leaf = move |path: BoxedStrategy<AttrPath>| {
        prop_oneof![
            (path.clone(), select(&CompareOp::ALL[..]), value.clone())
                .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
            path.prop_map(Filter::Present),
        ]
    };
    let logic = |leaf: BoxedStrategy<Filter>, depth| {
        leaf.prop_recursive(depth, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::and(a, b)),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::or(a, b)),
                inner.prop_map(Filter::negate),
            ]
        })
    };
    let plain = names().prop_map(AttrPath::new).boxed();
    let path = (
        option::of(select(
            &["urn:ietf:params:scim:schemas:core:2.0:User", "urn:x"][..],
        )),
        names(),
        option::of(select(&["value", "givenName"][..])),
    )
        .prop_map(|(uri, name, sub)| AttrPath {
            uri: uri.map(str::to_string),
            name: name.into(),
            sub: sub.map(str::to_string),
        })
        .boxed();
    let inner = logic(leaf(plain).boxed(), 3);
    let value_path = (names(), inner).prop_map(|(name, filter)| Filter::ValuePath {
        path: AttrPath::new(name),
        filter: Box::new(filter),
    });
    logic(prop_oneof![3 => leaf(path), 1 => value_path].boxed(), 4)
}

/// What every accepted filter must be: within the bounds, value paths
/// only at the top and holding plain names, and printed, read back as
/// the same tree (printing may add a space next to a parenthesis, so the
/// length allowed for the reading back is twice the bound).
fn check_scim_tree(filter: &syncd::domain::scim_filter::Filter, depth: usize, inside: bool) {
    use syncd::domain::scim_filter::{AttrPath, Filter, MAX_DEPTH, MAX_STRING_BYTES, Value};
    let name = |n: &str| {
        n.as_bytes()[0].is_ascii_alphabetic()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let path = |p: &AttrPath| {
        assert!(name(&p.name) && p.sub.as_deref().is_none_or(name), "{p:?}");
        assert!(!inside || (p.uri.is_none() && p.sub.is_none()), "{p:?}");
    };
    assert!(depth <= MAX_DEPTH);
    match filter {
        Filter::Compare { path: p, value, .. } => {
            path(p);
            match value {
                Value::Str(s) => assert!(s.len() <= MAX_STRING_BYTES && !s.contains('\0')),
                Value::Number(n) => assert!(n.parse::<f64>().is_ok(), "{n}"),
                _ => {}
            }
        }
        Filter::Present(p) => path(p),
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_scim_tree(a, depth, inside);
            check_scim_tree(b, depth, inside);
        }
        Filter::Not(a) => check_scim_tree(a, depth + 1, inside),
        Filter::ValuePath { path: p, filter } => {
            assert!(!inside && p.sub.is_none(), "{filter:?}");
            path(p);
            check_scim_tree(filter, depth + 1, true);
        }
    }
}

/// The bounds for reading back what was printed.
fn scim_printed_limits() -> syncd::domain::scim_filter::Limits {
    use syncd::domain::scim_filter::{Limits, MAX_FILTER_BYTES};
    Limits {
        bytes: 2 * MAX_FILTER_BYTES,
        ..Limits::DEFAULT
    }
}

/// A refusal: its scimType, a detail that is short and has no control
/// characters, whatever the input.
fn check_scim_error(e: &syncd::domain::scim_filter::FilterError, scim_type: &str) {
    assert_eq!(e.scim_type(), scim_type);
    let detail = e.detail();
    assert!(
        !detail.is_empty() && detail.chars().count() <= 300,
        "{detail}"
    );
    assert!(!detail.chars().any(char::is_control), "{detail:?}");
}

/// Reads `text` with `parse`, and fails if it took longer than a second
/// (inputs are at most 4 KiB and read in linear time: microseconds).
fn timed<T>(text: &str, parse: impl FnOnce(&str) -> T) -> T {
    let started = Instant::now();
    let result = parse(text);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?} for {text:?}");
    result
}

/// SCIM filters (API.md 9): random bytes, mutated seeds, token soup and
/// printed trees. No panic, fast, bounded; what is read prints back as
/// filter syntax that reads as the same tree.
#[test]
fn scim_filters() {
    use syncd::domain::scim_filter::{
        MAX_COMPARISONS, MAX_FILTER_BYTES, parse_filter, parse_filter_with,
    };
    let strategy = |seeds: Vec<Vec<u8>>| {
        prop_oneof![
            3 => inputs(seeds),
            2 => scim_soup(),
            1 => scim_tree().prop_map(|f| f.to_string().into_bytes()),
        ]
        .boxed()
    };
    fuzz_with("scim_filter", strategy, |input| {
        let text = String::from_utf8_lossy(input);
        match timed(&text, parse_filter) {
            Ok(filter) => {
                assert!(text.len() <= MAX_FILTER_BYTES);
                assert!((1..=MAX_COMPARISONS).contains(&filter.comparisons()));
                check_scim_tree(&filter, 0, false);
                let printed = filter.to_string();
                assert!(
                    printed.len() <= 2 * text.len(),
                    "{text:?} printed {printed:?}"
                );
                assert_eq!(
                    parse_filter_with(&printed, scim_printed_limits()),
                    Ok(filter),
                    "{text:?} printed {printed:?}"
                );
            }
            Err(e) => check_scim_error(&e, "invalidFilter"),
        }
    });
}

/// SCIM PATCH paths (API.md 9): as `scim_filters`, for `path`.
#[test]
fn scim_patch_paths() {
    use syncd::domain::scim_filter::{Filter, parse_patch_path, parse_patch_path_with};
    let strategy = |seeds: Vec<Vec<u8>>| {
        prop_oneof![
            3 => inputs(seeds),
            2 => scim_soup(),
            1 => (scim_tree(), proptest::option::of(proptest::sample::select(&["value", "display"][..])))
                .prop_map(|(f, sub)| match f {
                    Filter::ValuePath { path, filter } => format!(
                        "{path}[{filter}]{}",
                        sub.map(|s| format!(".{s}")).unwrap_or_default()
                    ),
                    other => other.to_string(),
                }
                .into_bytes()),
        ]
        .boxed()
    };
    fuzz_with("scim_patch_path", strategy, |input| {
        let text = String::from_utf8_lossy(input);
        match timed(&text, parse_patch_path) {
            Ok(path) => {
                if let Some(filter) = &path.filter {
                    assert!(path.path.sub.is_none());
                    check_scim_tree(filter, 1, true);
                } else {
                    assert!(path.sub.is_none());
                }
                let printed = path.to_string();
                assert_eq!(
                    parse_patch_path_with(&printed, scim_printed_limits()),
                    Ok(path),
                    "{text:?} printed {printed:?}"
                );
            }
            Err(e) => check_scim_error(&e, "invalidPath"),
        }
    });
}

proptest! {
    #![proptest_config(Config { cases: 500, failure_persistence: None, ..Config::default() })]

    /// Any valid tree, printed, reads back as itself.
    #[test]
    fn scim_printed_trees_read_back(filter in scim_tree()) {
        use syncd::domain::scim_filter::{MAX_COMPARISONS, parse_filter_with};
        let printed = filter.to_string();
        let read = parse_filter_with(&printed, scim_printed_limits());
        if filter.comparisons() <= MAX_COMPARISONS {
            prop_assert_eq!(read, Ok(filter), "{}", printed);
        } else {
            prop_assert!(read.is_err());
        }
    }
}
