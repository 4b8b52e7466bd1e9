//! `syncd import users | groups | memberships FILE.csv` with the real binary,
//! on the test database (SQLite or PostgreSQL).

use std::process::Output;

use crate::helpers::{Daemon, TestDatabase, run_with_stdin, syncd_command};

struct Import {
    database: TestDatabase,
    dir: tempfile::TempDir,
}

impl Import {
    fn new() -> Import {
        Import {
            database: TestDatabase::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes `csv` to a file and imports it as `kind`.
    fn run(&self, kind: &str, name: &str, csv: &str) -> (Output, String) {
        let path = self.dir.path().join(name);
        std::fs::write(&path, csv).unwrap();
        let out = syncd_command(&self.database.url)
            .args(["import", kind])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (out, path.display().to_string())
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = syncd_command(&self.database.url)
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// The summary line without its timing.
fn summary(o: &Output) -> String {
    let line = stdout(o);
    line.trim_end().rsplit_once("; ").unwrap().0.to_string()
}

#[test]
fn users_are_imported_with_bad_lines_reported_by_number() {
    let t = Import::new();
    let csv = "login,name,email,user_group_manager\n\
               alice,Alice Liddell,alice@example.com,true\n\
               bad login,Nope,,\n\
               bob,,,\n\
               carol,\"Carol, the Second\",carol@example.com,no\n\
               dave,Dave,,perhaps\n\
               alice,Alice Again,,false\n";
    let (out, path) = t.run("users", "users.csv", csv);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        summary(&out),
        "imported 3 users; 1 already there (skipped); 2 bad lines"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{path}:3: invalid login 'bad login'")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{path}:6: user_group_manager must be true or false, not 'perhaps'"
        )),
        "{err}"
    );
    assert!(err.contains("syncd: error: 2 lines could not be imported"));
    assert_eq!(
        t.cli(&["users", "list"]),
        "1\talice\tmanager\talice@example.com\tAlice Liddell\t-\n\
         2\tbob\t-\t-\tbob\t-\n\
         3\tcarol\t-\tcarol@example.com\tCarol, the Second\t-\n"
    );
    // Run again: nothing new, nothing doubled.
    let (again, _) = t.run("users", "users.csv", csv);
    assert_eq!(
        summary(&again),
        "imported 0 users; 4 already there (skipped); 2 bad lines"
    );
    // An imported user has no usable token until one is issued.
    let token = t.cli(&["users", "token", "alice"]);
    let daemon = Daemon::start(&t.database.url);
    let me = reqwest::blocking::Client::new()
        .get(format!("{}/me.xml", daemon.address))
        .header("X-API-KEY", token.trim())
        .send()
        .unwrap();
    assert_eq!(me.status(), 200);
    assert!(me.text().unwrap().contains("<login>alice</login>"));
}

#[test]
fn groups_and_memberships_import_and_reimport() {
    let t = Import::new();
    let (out, _) = t.run("users", "users.csv", "login\nalice\nbob\ncarol\n");
    assert!(out.status.success(), "{out:?}");
    let (out, path) = t.run(
        "groups",
        "groups.csv",
        "description,name,extra\n\
         People who edit,Editors,x\n\
         ,Readers,\n\
         blank,,\n\
         \"Quoted, with a comma\",\"Writers, Inc.\",\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        summary(&out),
        "imported 3 user groups; 0 already there (skipped); 1 bad line"
    );
    assert!(stderr(&out).contains(&format!("{path}:4: Name can't be blank.")));
    assert_eq!(
        t.cli(&["groups", "list"]),
        "1\tEditors\tPeople who edit\n2\tReaders\t\n3\tWriters, Inc.\tQuoted, with a comma\n"
    );

    let csv = "login,group_name\n\
               alice,Editors\n\
               bob,Editors\n\
               nobody,Editors\n\
               alice,Nowhere\n\
               \n\
               carol,\"Writers, Inc.\"\n\
               alice,Editors\n";
    let (out, path) = t.run("memberships", "m.csv", csv);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        summary(&out),
        "imported 3 memberships; 1 already there (skipped); 2 bad lines"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{path}:4: there is no user with login 'nobody'")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{path}:5: there is no user group named 'Nowhere'")),
        "{err}"
    );
    let (again, _) = t.run("memberships", "m.csv", csv);
    assert_eq!(
        summary(&again),
        "imported 0 memberships; 4 already there (skipped); 2 bad lines"
    );
    let (clean, _) = t.run(
        "memberships",
        "more.csv",
        "group_name,login\nReaders,carol\n",
    );
    assert!(clean.status.success(), "{clean:?}");
    assert_eq!(
        summary(&clean),
        "imported 1 memberships; 0 already there (skipped); 0 bad lines"
    );
}

#[test]
fn a_file_without_the_right_header_imports_nothing() {
    let t = Import::new();
    let (out, path) = t.run("memberships", "m.csv", "user,group\nalice,Editors\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "syncd: error: {path}: the first line must be a header naming the columns login,group_name (found: user,group)"
        )
    );
    let missing = syncd_command(&t.database.url)
        .args(["import", "users", "/nonexistent/users.csv"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).starts_with("syncd: error: cannot read /nonexistent/users.csv"));
    assert_eq!(t.cli(&["users", "list"]), "");
}

#[test]
fn stdin_and_many_rows_in_several_batches() {
    let t = Import::new();
    let mut users = String::from("login,name,email,user_group_manager\n");
    for i in 0..300 {
        users.push_str(&format!("user{i},User {i},,\n"));
    }
    let (out, _) = t.run("users", "users.csv", &users);
    assert!(out.status.success(), "{out:?}");
    let mut groups = String::from("name\n");
    for g in 0..400 {
        groups.push_str(&format!("group{g}\n"));
    }
    let (out, _) = t.run("groups", "groups.csv", &groups);
    assert!(out.status.success(), "{out:?}");
    // 120,000 rows: more than one transaction's batch.
    let mut csv = String::from("login,group_name\n");
    for g in 0..400 {
        for u in 0..300 {
            csv.push_str(&format!("user{u},group{g}\n"));
        }
    }
    let out = run_with_stdin(
        &t.database.url,
        &["import", "memberships", "-"],
        csv.as_bytes(),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        summary(&out),
        "imported 120000 memberships; 0 already there (skipped); 0 bad lines"
    );
    let (_, token) = t
        .cli(&["users", "create", "boss", "--manager"])
        .trim()
        .split_once(' ')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap();
    let daemon = Daemon::start(&t.database.url);
    let r = reqwest::blocking::Client::new()
        .get(format!(
            "{}/user_groups/400/user-group-memberships.xml?start=300",
            daemon.address
        ))
        .header("X-API-KEY", token)
        .send()
        .unwrap();
    assert_eq!(r.headers()["x-total-count"], "300");
    let body = r.text().unwrap();
    assert!(
        body.contains("<user-id type=\"integer\">300</user-id>"),
        "{body}"
    );
}

/// The rules of `domain::text`, as in the API and `users create`: a bad
/// row is reported by its line number and never stored.
#[test]
fn import_applies_the_text_rules_by_line_number() {
    let t = Import::new();
    let import = |kind: &str, csv: &str| t.run(kind, &format!("{kind}.csv"), csv);

    let (out, path) = import(
        "users",
        "login,name,email,user_group_manager\n\
         lee,Lee Ok,lee@example.com,\n\
         mo,Mo\u{1b}[2J,,\n\
         ned,Ned,ned@example.com\u{7},\n\
         oz,\u{202e}zO,,\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{path}:3: Name contains the character U+001B")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{path}:4: Email address contains the character U+0007"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{path}:5: Name contains the character U+202E")),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "the bad text is not echoed: {err}");
    assert_eq!(
        t.cli(&["users", "list"]),
        "1\tlee\t-\tlee@example.com\tLee Ok\t-\n",
        "only the good row is stored"
    );

    let long = "d".repeat(2001);
    let (out, path) = import(
        "groups",
        &format!(
            "name,description\n\
             Good,fine\n\
             Bad\u{1b}[31m,\n\
             Long,{long}\n\
             Sneaky,\"text \u{1b}]0;title\u{7}\"\n"
        ),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for (line, says) in [
        (3, "Name contains the character U+001B"),
        (4, "Description is too long"),
        (5, "Description contains the character U+001B"),
    ] {
        assert!(err.contains(&format!("{path}:{line}: {says}")), "{err}");
    }
    assert_eq!(t.cli(&["groups", "list"]), "1\tGood\tfine\n");
}
