//! Hostile and malformed bodies, content types and the 64 KiB limit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{membership_xml, spawn_app};

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<user-group-membership><user-id>&lol9;</user-id><user-group-id>1</user-group-id></user-group-membership>"#;

#[test]
fn an_entity_bomb_is_refused_fast_with_400() {
    let app = spawn_app();
    let started = Instant::now();
    let r = app.post_xml("/user-group-memberships.xml", BILLION_LAUGHS);
    let took = started.elapsed();
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec!["DOCTYPE and entity declarations are not allowed in request bodies."]
    );
    // Generous: expanding it would take gigabytes and far longer.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // The server is still fine.
    assert_eq!(app.get("/me.xml").status, 200);
}

#[test]
fn external_and_unknown_entities_are_never_expanded() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><user-group-membership><user-id>&xxe;</user-id><user-group-id>{g}</user-group-id></user-group-membership>"
    );
    let r = app.post_xml("/user-group-memberships.xml", &xxe);
    assert_eq!(r.status, 400);
    assert!(!r.body.contains("root:"));
    let r = app.post_xml(
        "/user-group-memberships.xml",
        &format!("<user-group-membership><user-id>{u}&xxe;</user-id><user-group-id>{g}</user-group-id></user-group-membership>"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec!["The XML refers to the entity &xxe; which is not one of XML's predefined entities."]
    );
    // Character references are fine: &#49; is "1".
    let r = app.post_xml(
        "/user-group-memberships.xml",
        &format!("<user-group-membership><user-id>&#{};</user-id><user-group-id>{g}</user-group-id></user-group-membership>", u + 48),
    );
    assert!(u < 10);
    assert_eq!(r.status, 201, "{r:?}");
}

#[test]
fn malformed_bodies_are_400_in_plain_words() {
    let app = spawn_app();
    let cases = [
        ("", "The request body is empty."),
        (
            "<user-group-membership><user-id>1</user-id>",
            "The request body is not well-formed XML",
        ),
        (
            "<user-group-membership><user-id>1</user-group-membership>",
            "The request body is not well-formed XML",
        ),
        ("not xml at all", "The request body is not well-formed XML"),
        (
            "{\"user_id\": 1}",
            "The request body is not well-formed XML",
        ),
        (
            "<user><id>1</id></user>",
            "The XML root element must be <user-group-membership>, not <user>.",
        ),
    ];
    for (body, message) in cases {
        let r = app.post_xml("/user-group-memberships.xml", body);
        assert_eq!(r.status, 400, "{body:?}");
        let errors = r.errors();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with(message), "{body:?}: {errors:?}");
    }
    let r = app.send(
        app.request(reqwest::Method::POST, "/user-group-memberships.xml")
            .header("Content-Type", "application/xml")
            .body(vec![b'<', b'a', 0xff, b'>']),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.errors(), vec!["The request body is not UTF-8."]);
}

#[test]
fn other_content_types_are_415() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    for ct in ["application/yaml", "text/plain", "image/png"] {
        let r = app.send(
            app.request(reqwest::Method::POST, "/user-group-memberships.xml")
                .header("Content-Type", ct)
                .body(membership_xml(u, g)),
        );
        assert_eq!(r.status, 415, "{ct}");
        assert!(r.errors()[0].contains("application/xml"), "{ct}");
    }
    let r = app.send(
        app.request(reqwest::Method::POST, "/user-group-memberships.xml")
            .body(membership_xml(u, g)),
    );
    assert_eq!(r.status, 415);
    assert_eq!(
        app.get("/user-group-memberships.xml")
            .header("x-total-count"),
        Some("0")
    );
}

/// A valid membership body padded with whitespace to exactly `len` bytes.
fn padded_body(u: i64, g: i64, len: usize) -> String {
    let mut body = membership_xml(u, g);
    body.push_str(&" ".repeat(len - body.len()));
    body
}

#[test]
fn bodies_up_to_64_kib_are_read_and_larger_ones_are_413() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let r = app.post_xml(
        "/user-group-memberships.xml",
        &padded_body(u, g, 64 * 1024 + 1),
    );
    assert_eq!(r.status, 413);
    assert_eq!(r.errors(), vec!["The request body is larger than 64 KiB."]);
    let r = app.post_xml("/user-group-memberships.xml", &padded_body(u, g, 64 * 1024));
    assert_eq!(r.status, 201, "{r:?}");
}

#[test]
fn a_chunked_body_over_64_kib_is_413() {
    // A body of unknown length (chunked): the limit applies while reading.
    // Raw TCP, and only a little over the limit with no final chunk, so the
    // server has read everything sent when it answers and closes (a client
    // still uploading could lose the answer to the connection reset).
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let addr = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /user-group-memberships.xml HTTP/1.1\r\nHost: {addr}\r\nX-API-KEY: {}\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.token
    )
    .unwrap();
    let body = padded_body(u, g, 72 * 1024);
    for chunk in body.as_bytes().chunks(8192) {
        write!(stream, "{:x}\r\n", chunk.len()).unwrap();
        stream.write_all(chunk).unwrap();
        stream.write_all(b"\r\n").unwrap();
    }
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).expect("an answer");
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(
        app.get("/user-group-memberships.xml")
            .header("x-total-count"),
        Some("0")
    );
}

#[test]
fn a_declared_length_over_the_limit_is_refused_without_reading_the_body() {
    let app = spawn_app();
    let addr = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Declares 100 MB and sends none of it: the answer must still come.
    write!(
        stream,
        "POST /user-group-memberships.xml HTTP/1.1\r\nHost: {addr}\r\nX-API-KEY: {}\r\nContent-Type: application/xml\r\nContent-Length: 100000000\r\n\r\n",
        app.token
    )
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream
        .read(&mut buf)
        .expect("an answer before any body was sent");
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
}
