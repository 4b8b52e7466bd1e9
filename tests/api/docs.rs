//! Runs every curl example of docs/API.md, in order, against a live server
//! holding the fixture the page describes, and checks that each answer is
//! the one the page shows (status, the headers it lists, body; datetimes and
//! ETag values are normalised). `SYNCD_UPDATE_DOCS=1` rewrites the shown
//! answers from the real ones instead.

use std::process::Command;

use crate::helpers::spawn_app;
use syncd::db::queries::{user_groups, users};
use syncd::security::secrets::{generate_token, token_digest};

/// Response headers the page shows; the rest (date, ...) are left out.
const SHOWN_HEADERS: &[&str] = &[
    "content-type",
    "location",
    "x-total-count",
    "link",
    "allow",
    "www-authenticate",
    "retry-after",
    "etag",
    "idempotent-replayed",
    "x-frame-options",
    "content-security-policy",
];

struct Example {
    /// Line index of the first line of the response block's body.
    response_start: usize,
    response_end: usize,
    command: String,
    expected: String,
}

fn examples(doc: &[&str]) -> Vec<Example> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < doc.len() {
        if doc[i].trim() == "```sh" {
            let start = i + 1;
            let mut end = start;
            while end < doc.len() && doc[end].trim() != "```" {
                end += 1;
            }
            let command = doc[start..end].join("\n");
            i = end + 1;
            if !command.contains("curl ") {
                continue;
            }
            while i < doc.len() && doc[i].trim().is_empty() {
                i += 1;
            }
            assert_eq!(
                doc.get(i).map(|l| l.trim()),
                Some("```http"),
                "an ```http block after: {command}"
            );
            let rstart = i + 1;
            let mut rend = rstart;
            while rend < doc.len() && doc[rend].trim() != "```" {
                rend += 1;
            }
            found.push(Example {
                response_start: rstart,
                response_end: rend,
                command,
                expected: doc[rstart..rend].join("\n"),
            });
            i = rend + 1;
        } else {
            i += 1;
        }
    }
    found
}

/// curl -i output as the page shows it.
fn normalise(output: &str) -> String {
    let output = output.replace("\r\n", "\n");
    let mut lines = Vec::new();
    let mut in_headers = false;
    // Shown headers, printed in SHOWN_HEADERS order (the server's order varies).
    let mut headers: Vec<(usize, String)> = Vec::new();
    for line in output.lines() {
        if line.starts_with("HTTP/1.1 ") {
            in_headers = true;
            lines.push(line.trim_end().to_string());
            continue;
        }
        if in_headers {
            if line.trim().is_empty() {
                in_headers = false;
                headers.sort();
                lines.extend(headers.drain(..).map(|(_, h)| h));
                lines.push(String::new());
                continue;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            let name = name.to_ascii_lowercase();
            if SHOWN_HEADERS.contains(&name.as_str()) {
                let value = value.trim();
                let value = if name == "etag" {
                    if value.starts_with("W/") {
                        "W/\"…\"".to_string()
                    } else {
                        "\"…\"".to_string()
                    }
                } else {
                    value.to_string()
                };
                let rank = SHOWN_HEADERS.iter().position(|h| *h == name).unwrap_or(0);
                headers.push((rank, format!("{name}: {value}")));
            }
            continue;
        }
        lines.push(normalise_datetimes(line));
    }
    headers.sort();
    lines.extend(headers.drain(..).map(|(_, h)| h));
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

fn normalise_datetimes(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let candidate = &bytes[i..(i + 20).min(bytes.len())];
        if candidate.len() == 20
            && candidate.iter().enumerate().all(|(k, &b)| match k {
                4 | 7 => b == b'-',
                10 => b == b'T',
                13 | 16 => b == b':',
                19 => b == b'Z',
                _ => b.is_ascii_digit(),
            })
        {
            out.push_str("2008-01-08T03:47:52Z");
            i += 20;
        } else {
            let c = line[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[test]
fn the_curl_examples_in_docs_api_md_give_the_answers_shown() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md");
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Vec<&str> = text.lines().collect();
    let examples = examples(&doc);
    assert!(examples.len() >= 30, "only {} examples", examples.len());

    // The fixture the page describes: the manager (id 1, $TOKEN), alice
    // (id 2), bob (id 3, not a manager, $BOB_TOKEN), groups Editors (1) and
    // Readers (2).
    let app = spawn_app();
    let bob_token = generate_token().unwrap();
    {
        let mut c = app.pool.get().unwrap();
        for (login, name, email, token) in [
            (
                "alice",
                "Alice Liddell",
                Some("alice@example.com"),
                generate_token().unwrap(),
            ),
            ("bob", "Bob Builder", None, bob_token.clone()),
        ] {
            users::create(
                &mut c,
                &users::NewUser {
                    login,
                    name,
                    email_address: email,
                    user_group_manager: false,
                    password_digest: None,
                    token_digest: &token_digest(&token),
                },
            )
            .unwrap()
            .unwrap();
        }
        user_groups::create(&mut c, "Editors", Some("People who edit"))
            .unwrap()
            .unwrap();
        user_groups::create(&mut c, "Readers", None)
            .unwrap()
            .unwrap();
    }

    let update = std::env::var("SYNCD_UPDATE_DOCS").is_ok_and(|v| v == "1");
    let mut answers = Vec::new();
    let mut mismatches = Vec::new();
    for example in &examples {
        let command = example
            .command
            .replace("http://127.0.0.1:3000", &app.address);
        let out = Command::new("sh")
            .args(["-c", &command])
            .env("TOKEN", &app.token)
            .env("BOB_TOKEN", &bob_token)
            .output()
            .expect("sh and curl (tests/run.sh installs curl)");
        let actual = normalise(&String::from_utf8_lossy(&out.stdout));
        if actual != example.expected {
            mismatches.push(format!(
                "--- {}\n--- the page shows:\n{}\n--- the server answered:\n{}\n",
                example.command, example.expected, actual
            ));
        }
        answers.push(actual);
    }
    if update {
        let mut lines: Vec<String> = doc.iter().map(|l| l.to_string()).collect();
        // Last block first, so earlier indices still hold.
        for (example, answer) in examples.iter().zip(&answers).rev() {
            lines.splice(
                example.response_start..example.response_end,
                answer.lines().map(str::to_string),
            );
        }
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
        return;
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} examples in docs/API.md differ from the server (SYNCD_UPDATE_DOCS=1 rewrites them from real answers):\n{}",
        mismatches.len(),
        examples.len(),
        mismatches.join("\n")
    );
}
