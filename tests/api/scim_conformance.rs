//! SCIM 2.0 conformance measured by someone else's checker (issue 18, API.md
//! section 9): `scim2 test` from `scim2-cli`, which runs `scim2-tester`
//! (both from PyPI, by the python-scim project), against syncd's
//! `/scim/v2`, on the backend the suite runs on (tests/run.sh runs this file
//! on SQLite, then on PostgreSQL).
//!
//! What it needs: python3 with venv and pip (tests/run.sh installs
//! python3-venv where it is missing), `flock` (util-linux, on every Debian),
//! and PyPI the first time: the pinned packages go into a virtual
//! environment in `target/scim2env`, made once and then reused, under
//! `flock target/scim2env.lock` so that test processes started at once
//! (nextest runs each test in a process of its own) do not make it twice.
//!
//! What it does: starts the real binary on a fresh database, makes a manager,
//! checks that `/ServiceProviderConfig` advertises `patch`, `filter` and
//! `etag`, runs `scim2 --url {daemon}/scim/v2 test` with the manager's token
//! as `Authorization: Bearer` (in `SCIM_CLI_HEADERS`, never on the command
//! line), reads its report (one `STATUS check_name` line a result, then the
//! result's message), prints the counts and every failure on stderr, and
//! asserts that nothing failed, something passed, and the PATCH checks ran.
//!
//! The checker's verdict is only as good as this reading of it, so two more
//! tests run the same harness against the checker's own reference server,
//! `scim2-server` (in memory, on 127.0.0.1, a port of its own): as published
//! it passes exactly `REFERENCE_PASSES` checks and fails none; told (with
//! `scim2 --schemas`) that the server has an attribute it does not have, the
//! same harness counts the failures the checker reports and agrees with its
//! exit status. Every run is bounded by `CHECKER_TIME`.
//!
//! To run only the syncd check: `cargo test --test api scim_conformance::syncd`
//! (add `SYNCD_TEST_DATABASE=postgres SYNCD_TEST_POSTGRES_URL=...` for
//! PostgreSQL). What the checker exercises: docs/SCIM-conformance-notes.md.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{Daemon, insert_manager};

/// The checker and what it is built on, pinned: its checks come from
/// `scim2-tester`, the client and the models decide what a valid answer is.
/// `scim2-server` is the reference server the harness is proven on.
const PINNED: [&str; 5] = [
    "scim2-cli==0.6.0",
    "scim2-tester==0.5.2",
    "scim2-client==0.13.2",
    "scim2-models==0.12.3",
    "scim2-server==0.8.3",
];

/// What the reference server passes with its default schemas (RFC 7643's
/// User with the enterprise extension, and Group): the count depends on the
/// attributes a server publishes, as the PATCH checks run once per attribute.
const REFERENCE_PASSES: usize = 135;

/// The longest one run of the checker may take (about 5 s against the
/// reference server on an idle machine).
const CHECKER_TIME: Duration = Duration::from_secs(300);

/// The statuses of scim2-tester's `Status`, as `scim2 test` prints them.
/// `scim2 test` exits 1 unless every result is `SUCCESS`.
const STATUSES: [&str; 7] = [
    "SUCCESS",
    "COMPLIANT",
    "ACCEPTABLE",
    "DEVIATION",
    "ERROR",
    "CRITICAL",
    "SKIPPED",
];

/// Makes `target/scim2env` with the pinned packages unless it has them.
const SETUP: &str = r#"set -e
env="$1"; shift
check='import sys
from importlib.metadata import version, PackageNotFoundError
try:
    ok = all(version(n) == v for n, v in (p.split("==") for p in sys.argv[1:]))
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)'
if [ -x "$env/bin/scim2" ] && [ -x "$env/bin/scim2-server" ] && "$env/bin/python" -c "$check" "$@"; then
  exit 0
fi
rm -rf "$env"
python3 -m venv "$env"
"$env/bin/pip" install --quiet --disable-pip-version-check "$@"
"$env/bin/python" -c "$check" "$@"
"#;

/// The virtual environment with the pinned checker and reference server.
fn scim2env() -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&target).unwrap();
    let root = target.join("scim2env");
    let made = Command::new("flock")
        .arg(target.join("scim2env.lock"))
        .args(["sh", "-c", SETUP, "sh"])
        .arg(&root)
        .args(PINNED)
        .status()
        .expect(
            "flock and sh (util-linux), python3 with venv (tests/run.sh installs python3-venv)",
        );
    assert!(made.success(), "making {} with {PINNED:?}", root.display());
    root
}

/// One result line of `scim2 test`, with the message under it.
#[derive(Debug, Clone)]
struct CheckResult {
    status: String,
    check: String,
    message: String,
}

/// What one run of `scim2 test` reported.
#[derive(Debug)]
struct Report {
    results: Vec<CheckResult>,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Report {
    fn with(&self, statuses: &[&str]) -> Vec<&CheckResult> {
        self.results
            .iter()
            .filter(|r| statuses.contains(&r.status.as_str()))
            .collect()
    }

    fn passed(&self) -> usize {
        self.with(&["SUCCESS"]).len()
    }

    fn skipped(&self) -> Vec<&CheckResult> {
        self.with(&["SKIPPED"])
    }

    /// Every result that is neither a success nor skipped: what makes
    /// `scim2 test` fail besides a skip.
    fn failed(&self) -> Vec<&CheckResult> {
        self.results
            .iter()
            .filter(|r| r.status != "SUCCESS" && r.status != "SKIPPED")
            .collect()
    }

    /// The results of one check, such as `check_add_attribute`.
    fn of(&self, check: &str) -> Vec<&CheckResult> {
        self.results.iter().filter(|r| r.check == check).collect()
    }

    /// The counts, each failure and skip with its message, and, when the
    /// checker ran no check at all, what it said instead.
    fn print(&self, what: &str) {
        eprintln!(
            "scim2 test against {what}: {} checks passed, {} failed, {} skipped ({} results, exit {:?})",
            self.passed(),
            self.failed().len(),
            self.skipped().len(),
            self.results.len(),
            self.status.code()
        );
        for r in self.failed().into_iter().chain(self.skipped()) {
            eprintln!(
                "  {} {}: {}",
                r.status,
                r.check,
                r.message.replace('\n', "\n    ")
            );
        }
        if self.results.is_empty() {
            eprintln!(
                "  no check ran; stdout:\n{}\n  stderr:\n{}",
                self.stdout, self.stderr
            );
        }
    }

    /// `scim2 test` exits 0 exactly when every result is a success: the
    /// reading above must agree with it.
    fn agrees_with_exit_status(&self) {
        let all_passed = !self.results.is_empty() && self.passed() == self.results.len();
        assert_eq!(
            self.status.success(),
            all_passed,
            "the exit status and the results read disagree:\n{}\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// `scim2 test`'s report read: a result is a line `STATUS check_name`; the
/// lines after it, up to the next result, are its message (indented by two
/// spaces; a message of several lines goes on unindented).
fn parse(stdout: &str) -> Vec<CheckResult> {
    let mut results: Vec<CheckResult> = Vec::new();
    for line in stdout.lines() {
        let head = line.split_once(' ').filter(|(status, check)| {
            STATUSES.contains(status)
                && !check.is_empty()
                && check.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if let Some((status, check)) = head {
            results.push(CheckResult {
                status: status.to_string(),
                check: check.to_string(),
                message: String::new(),
            });
        } else if let Some(last) = results.last_mut() {
            if !last.message.is_empty() {
                last.message.push('\n');
            }
            last.message
                .push_str(line.strip_prefix("  ").unwrap_or(line));
        }
    }
    results
}

/// Everything a pipe gives until it closes, on a thread of its own.
fn collect(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// Runs `scim2 [extra...] --url BASE test` with the token as a Bearer
/// header, killed if it takes longer than `CHECKER_TIME`.
fn run_checker(env: &Path, base: &str, token: &str, extra: &[&str]) -> Report {
    let mut child = Command::new(env.join("bin/scim2"))
        .args(extra)
        .args(["--url", base, "test"])
        .env("SCIM_CLI_HEADERS", format!("Authorization: Bearer {token}"))
        .env_remove("SCIM_CLI_URL")
        .env_remove("SCIM_CLI_SCHEMAS")
        .env_remove("SCIM_CLI_RESOURCE_TYPES")
        .env_remove("SCIM_CLI_SERVICE_PROVIDER_CONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start scim2");
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let deadline = Instant::now() + CHECKER_TIME;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scim2 test took longer than {CHECKER_TIME:?} against {base}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = stdout.recv().unwrap();
    let stderr = stderr.recv().unwrap();
    Report {
        results: parse(&stdout),
        status,
        stdout,
        stderr,
    }
}

/// The server's `ServiceProviderConfig` says it supports `patch`, `filter`
/// and `etag` (the checker reads the first and the last: PATCH checks are
/// skipped without `patch`, and `If-Match` is sent only with `etag`).
fn assert_advertised(base: &str, token: &str) {
    let response = reqwest::blocking::Client::new()
        .get(format!("{base}/ServiceProviderConfig"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(30))
        .send()
        .expect("GET /ServiceProviderConfig was answered");
    let status = response.status();
    let body = response.text().unwrap();
    assert_eq!(status, 200, "GET {base}/ServiceProviderConfig: {body}");
    let config: Value = serde_json::from_str(&body).expect("a JSON ServiceProviderConfig");
    for feature in ["patch", "filter", "etag"] {
        assert_eq!(
            config[feature]["supported"],
            Value::Bool(true),
            "{feature} is not advertised: {body}"
        );
    }
}

/// The checks every conforming run must have passed: discovery, then the
/// whole life of a User and of a Group, PATCH included.
fn assert_ran_everything(report: &Report) {
    for check in [
        "service_provider_config_endpoint",
        "query_all_resource_types",
        "query_all_schemas",
        "random_url",
        "object_creation",
        "object_query",
        "object_replacement",
        "object_deletion",
        "check_add_attribute",
        "check_remove_attribute",
        "check_replace_attribute",
    ] {
        assert!(
            report.of(check).iter().any(|r| r.status == "SUCCESS"),
            "{check} did not pass: {:?}",
            report.of(check)
        );
    }
    for kind in ["User", "Group"] {
        assert!(
            report
                .of("object_creation")
                .iter()
                .any(|r| r.status == "SUCCESS"
                    && r.message
                        .starts_with(&format!("Successfully created {kind}"))),
            "no {kind} was created: {:?}",
            report.of("object_creation")
        );
    }
}

#[test]
fn syncd_passes_every_check_of_scim2_tester() {
    let env = scim2env();
    let (_database, url) = crate::cli::fresh_url();
    let daemon = Daemon::start(&url);
    let token = insert_manager(&url, "scim-provisioner");
    let base = format!("{}/scim/v2", daemon.address);
    let report = run_checker(&env, &base, &token, &[]);
    report.print("syncd");
    report.agrees_with_exit_status();
    assert_advertised(&base, &token);
    assert!(
        report.failed().is_empty(),
        "scim2-tester failed syncd (see above)"
    );
    assert!(report.passed() > 0, "no check passed:\n{}", report.stderr);
    assert_ran_everything(&report);
}

/// The checker's reference server, in memory, on 127.0.0.1, with one
/// Bearer token; killed when the value goes.
struct ReferenceServer {
    child: Child,
    base: String,
    token: String,
}

impl ReferenceServer {
    fn start(env: &Path) -> ReferenceServer {
        Self::start_with(env, &[])
    }

    /// `scim2-server` with more arguments; a port free on 127.0.0.1, and
    /// another if it was taken meanwhile.
    fn start_with(env: &Path, extra: &[&str]) -> ReferenceServer {
        let token = "reference-token";
        let mut tries = 0;
        loop {
            tries += 1;
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
                .to_string();
            let mut child = Command::new(env.join("bin/scim2-server"))
                .args(["--hostname", "127.0.0.1", "--port", &port])
                .args(["--bearer-token", token])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start scim2-server");
            // Its access log, read so that the pipe never fills.
            let _log = collect(child.stderr.take().unwrap());
            let (tx, rx) = mpsc::channel();
            let stdout = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(url) = line.strip_prefix("Serving SCIM on ") {
                        let _ = tx.send(url.trim().to_string());
                    }
                }
            });
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(base) => {
                    return ReferenceServer {
                        child,
                        base,
                        token: token.to_string(),
                    };
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    assert!(tries < 5, "scim2-server did not start on 127.0.0.1");
                }
            }
        }
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_reference_server_passes_its_checks_as_the_harness_counts_them() {
    let env = scim2env();
    let server = ReferenceServer::start(&env);
    assert_advertised(&server.base, &server.token);
    let report = run_checker(&env, &server.base, &server.token, &[]);
    report.print("scim2-server");
    report.agrees_with_exit_status();
    assert!(report.status.success(), "{}", report.stderr);
    assert!(report.failed().is_empty());
    assert!(report.skipped().is_empty());
    assert_eq!(report.passed(), REFERENCE_PASSES, "{}", report.stdout);
    assert_ran_everything(&report);
}

/// The reference server's own schemas, with an attribute it does not have
/// added to its User: what the checker is told the server publishes.
fn schemas_with_a_missing_attribute(server: &ReferenceServer) -> Value {
    let body = reqwest::blocking::Client::new()
        .get(format!("{}/Schemas", server.base))
        .bearer_auth(&server.token)
        .timeout(Duration::from_secs(30))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let mut schemas: Value = serde_json::from_str(&body).unwrap();
    let user = schemas["Resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["id"] == "urn:ietf:params:scim:schemas:core:2.0:User")
        .expect("the User schema");
    user["attributes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "name": "favoriteColor",
            "type": "string",
            "multiValued": false,
            "required": false,
            "caseExact": false,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "none"
        }));
    schemas
}

#[test]
fn the_harness_counts_the_failures_the_checker_reports() {
    let env = scim2env();
    let server = ReferenceServer::start(&env);
    let dir = tempfile::tempdir().unwrap();
    let schemas = dir.path().join("schemas.json");
    std::fs::write(
        &schemas,
        schemas_with_a_missing_attribute(&server).to_string(),
    )
    .unwrap();
    let report = run_checker(
        &env,
        &server.base,
        &server.token,
        &["--schemas", schemas.to_str().unwrap()],
    );
    report.print("scim2-server, told of an attribute it does not have");
    report.agrees_with_exit_status();
    assert!(!report.status.success());
    let failed: Vec<(&str, &str)> = report
        .failed()
        .iter()
        .map(|r| (r.check.as_str(), r.message.as_str()))
        .collect();
    assert!(!failed.is_empty(), "{}", report.stdout);
    assert!(
        failed
            .iter()
            .all(|(_, message)| message.contains("favoriteColor")),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|(check, _)| *check == "check_add_attribute"),
        "{failed:?}"
    );
    // A check whose resource the server refused ends there, with one
    // result: fewer pass than without the attribute.
    assert!(report.passed() > 0, "{}", report.stdout);
    assert!(report.passed() < REFERENCE_PASSES, "{}", report.stdout);
}
