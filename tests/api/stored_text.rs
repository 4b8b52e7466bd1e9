//! The audit's findings on stored text: hostile characters (a NUL gave 500
//! on PostgreSQL and was stored by SQLite; controls and bidirectional
//! overrides were accepted), and amplification (1.3 MB stored made one
//! list 605 MB and one request 776 MiB RSS): names and descriptions are
//! bounded, and streamed lists go out in pieces bounded in bytes.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::helpers::{TestApp, spawn_app};

fn post_group_json(app: &TestApp, body: serde_json::Value) -> crate::helpers::Resp {
    app.send(
        app.request(reqwest::Method::POST, "/user_groups.json")
            .header("Content-Type", "application/json")
            .body(body.to_string()),
    )
}

#[test]
fn names_and_descriptions_are_bounded_in_characters_and_bytes() {
    let app = spawn_app();
    let cases = [
        (
            serde_json::json!({"name": "x".repeat(256)}),
            "Name is too long (at most 255 characters).",
        ),
        (
            serde_json::json!({"name": "𝄞".repeat(200)}),
            "Name is too long (at most 512 bytes in UTF-8).",
        ),
        (
            serde_json::json!({"name": "ok", "description": "d".repeat(2001)}),
            "Description is too long (at most 2000 characters).",
        ),
        (
            serde_json::json!({"name": "ok", "description": "𝄞".repeat(1025)}),
            "Description is too long (at most 4096 bytes in UTF-8).",
        ),
    ];
    for (body, message) in cases {
        let r = post_group_json(&app, body);
        assert_eq!(r.status, 422, "{r:?}");
        assert!(r.body.contains(message), "{message}: {}", r.body);
    }
    let r = post_group_json(
        &app,
        serde_json::json!({"name": "x".repeat(255), "description": "d".repeat(2000)}),
    );
    assert_eq!(r.status, 201, "{r:?}");
    // An update is held to the same limits, in XML too.
    let id = app.group("Editors");
    let r = app.send(
        app.request(reqwest::Method::PUT, &format!("/user_groups/{id}.xml"))
            .header("Content-Type", "application/xml")
            .body(format!(
                "<user-group><description>{}</description></user-group>",
                "d".repeat(2001)
            )),
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(
        r.errors(),
        ["Description is too long (at most 2000 characters)."]
    );
    let r = app.get("/user_groups.json?include=timestamps");
    assert_eq!(r.body.matches("\"id\"").count(), 2, "nothing else stored");
}

#[test]
fn controls_and_bidirectional_overrides_are_refused_the_same_on_both_backends() {
    let app = spawn_app();
    for (name, code) in [
        ("Edi\0tors", "U+0000"),
        ("\u{1b}[2JEditors", "U+001B"),
        ("Edi\u{85}tors", "U+0085"),
        ("srotidE\u{202E}", "U+202E"),
        ("Edi\u{2067}tors", "U+2067"),
        ("Two\nlines", "U+000A"),
    ] {
        let r = post_group_json(&app, serde_json::json!({ "name": name }));
        assert_eq!(r.status, 422, "{name:?}: {r:?}");
        assert!(
            r.body.contains(&format!(
                "Name contains the character {code}: control characters and bidirectional overrides are not allowed."
            )),
            "{name:?}: {}",
            r.body
        );
    }
    let r = post_group_json(
        &app,
        serde_json::json!({"name": "Ok", "description": "bell\u{7}"}),
    );
    assert_eq!(r.status, 422, "{r:?}");
    // A form posted with a NUL: the same answer as JSON.
    let r = app.send(
        app.request(reqwest::Method::POST, "/user_groups.xml")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Origin", &app.address)
            .body("user_group[name]=a%00b"),
    );
    assert_eq!(r.status, 422, "{r:?}");
    let r = post_group_json(
        &app,
        serde_json::json!({"name": "Rédaction 編集", "description": "line one\nline two\ttab"}),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = app.get("/user_groups.json");
    assert_eq!(
        r.body.matches("\"id\"").count(),
        1,
        "nothing hostile stored"
    );
}

/// Reads a whole HTTP/1.1 response and returns its head and the sizes of
/// its chunks (empty when it is not chunked).
fn chunked(app: &TestApp, method: &str, path: &str) -> (String, Vec<usize>, Vec<u8>) {
    let authority = app.address.trim_start_matches("http://");
    let mut s = TcpStream::connect(authority).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nX-API-KEY: {}\r\nConnection: close\r\n\r\n",
        app.token
    );
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut rest = &raw[split..];
    let (mut sizes, mut body) = (Vec::new(), Vec::new());
    if method == "HEAD" {
        assert!(rest.is_empty(), "a HEAD answer with a body");
    } else if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            sizes.push(size);
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
    }
    (head, sizes, body)
}

#[test]
fn streamed_lists_go_out_in_pieces_bounded_in_bytes_and_head_builds_no_body() {
    let app = spawn_app();
    let user = app.user("alice");
    // At both limits: 2,000 characters, 4,000 bytes.
    let description = "é".repeat(2000);
    {
        let mut conn = app.pool.get().unwrap();
        for n in 0..1100 {
            let group = syncd::db::queries::user_groups::create(
                &mut conn,
                &format!("group {n}"),
                Some(&description),
            )
            .unwrap()
            .unwrap();
            syncd::db::queries::changes::add(&mut conn, user, group.id, crate::helpers::SEEDED)
                .unwrap()
                .unwrap();
        }
    }
    let path = "/user-group-memberships.xml?include=user_groups";
    let (head, sizes, body) = chunked(&app, "GET", path);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = String::from_utf8(body).unwrap();
    assert_eq!(body.matches("<user-group-membership>").count(), 1100);
    assert!(body.ends_with("</user-group-memberships>\n"));
    let largest = sizes.iter().max().copied().unwrap_or(0);
    // A piece is cut once it holds 64 KiB, so it is at most that plus one
    // row (a group of 4,000 bytes and its markup).
    assert!(
        largest <= syncd::views::lists::PIECE_BYTES + 8 * 1024,
        "a piece of {largest} bytes; all: {sizes:?}"
    );
    assert!(sizes.len() > 60, "{} pieces", sizes.len());

    let (head_only, sizes, body) = chunked(&app, "HEAD", path);
    assert!(head_only.starts_with("HTTP/1.1 200"), "{head_only}");
    assert!(sizes.is_empty() && body.is_empty());
    let header = |head: &str, name: &str| {
        head.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(name))
            .map(str::to_string)
    };
    for name in ["etag:", "x-total-count:", "content-type:"] {
        assert_eq!(header(&head, name), header(&head_only, name), "{name}");
    }
    assert!(header(&head_only, "etag:").unwrap().contains("W/"));
}
