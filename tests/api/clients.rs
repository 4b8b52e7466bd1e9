//! A real ActiveResource-style client against the pair routes (API.md
//! 8.1): pyactiveresource, from PyPI, in a virtual environment under
//! `target/` that this test makes the first time (python3 with venv; see
//! tests/run.sh, which installs python3-venv where it is missing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

use crate::helpers::spawn_app;

/// The pinned client version (its `save` PUTs a known element, `exists`
/// sends HEAD).
const PYACTIVERESOURCE: &str = "pyactiveresource==2.2.2";

static SETUP: Mutex<()> = Mutex::new(());

/// The virtual environment's python, with pyactiveresource in it.
fn python() -> PathBuf {
    let _one_at_a_time = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv");
    let python = root.join("bin/python");
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", "import pyactiveresource"])
            .status()
            .is_ok_and(|s| s.success());
    if !ready {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&root)
            .status()
            .expect("python3 (tests/run.sh installs python3-venv)");
        assert!(made.success(), "python3 -m venv {}", root.display());
        let installed = Command::new(root.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PYACTIVERESOURCE,
            ])
            .status()
            .expect("pip");
        assert!(installed.success(), "pip install {PYACTIVERESOURCE}");
    }
    python
}

#[test]
fn an_activeresource_client_checks_saves_and_destroys_memberships_by_pair() {
    let python = python();
    let app = spawn_app();
    let (alice, bob, editors) = (app.user("alice"), app.user("bob"), app.group("Editors"));
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/activeresource_pairs.py");
    let out = Command::new(python)
        .arg(script)
        .env("SYNCD_URL", &app.address)
        .env("SYNCD_TOKEN", &app.token)
        .env("USER_ID", alice.to_string())
        .env("OTHER_ID", bob.to_string())
        .env("GROUP_ID", editors.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        11,
        "{stdout}"
    );
    // What the client did, as the history has it: one add and one remove
    // of alice (the second save and destroy changed nothing), one add of bob.
    let feed: Vec<Value> = serde_json::from_str(&app.get("/membership-events.json").body).unwrap();
    let seen: Vec<(String, i64)> = feed
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["user_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("added".to_string(), alice),
            ("added".to_string(), bob),
            ("removed".to_string(), alice),
        ]
    );
}
