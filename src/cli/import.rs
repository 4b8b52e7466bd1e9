//! `syncd import users | groups | memberships FILE.csv`: bulk loading from
//! CSV with a header row. Rows go in batched transactions; rows already
//! there are skipped and counted, so an import can be run again; a bad line
//! is reported with its number and the good ones are still imported. A
//! progress bar shows on a terminal; the summary is one line on stdout.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::users::validate_login;
use crate::cli::{DatabaseOptions, connection};
use crate::db::DbConnection;
use crate::db::models::now;
use crate::db::queries::bulk;
use crate::db::queries::bulk::{ImportedGroup, ImportedUser};
use crate::db::queries::changes;
use crate::domain::Refusal;
use crate::domain::history::{Changer, Via};
use crate::domain::text::{GroupName, check_description, check_email, check_name, printable};
use crate::security::secrets::{generate_token, token_digest};
use diesel::{Connection, RunQueryDsl};

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Users: columns login,name,email,user_group_manager (name, email and
    /// user_group_manager may be blank).
    Users {
        /// A CSV file with a header row, or - for stdin.
        file: PathBuf,
    },
    /// User groups: columns name,description (description may be blank).
    Groups {
        /// A CSV file with a header row, or - for stdin.
        file: PathBuf,
    },
    /// Memberships: columns login,group_name, naming users and user groups
    /// that already exist.
    Memberships {
        /// A CSV file with a header row, or - for stdin.
        file: PathBuf,
    },
}

/// Rows per transaction. Every commit writes each index page it touched
/// once more, and a batch of memberships touches pages all over the pair
/// index: larger batches write far less (10,000 rows wrote 9 GB for a
/// million memberships on SQLite; 100,000 write a tenth of that).
const BATCH: usize = 100_000;
/// Bad lines printed one by one; past this, only counted.
const SHOWN_ERRORS: usize = 100;

pub fn run(database: &DatabaseOptions, command: Command) -> anyhow::Result<()> {
    let pool = database.open()?;
    let mut conn = connection(&pool)?;
    let conn: &mut DbConnection = &mut conn;
    if let DbConnection::Sqlite(c) = conn {
        // The membership indexes outgrow SQLite's default 2 MiB page cache
        // after some 100,000 rows; past that every insert waits on the disk.
        diesel::sql_query("PRAGMA cache_size = -262144").execute(c)?;
        // Each checkpoint copies the pages of the WAL into the database;
        // fewer, larger ones write each index page fewer times.
        diesel::sql_query("PRAGMA wal_autocheckpoint = 16384").execute(c)?;
    }
    let report = match command {
        Command::Users { file } => import(conn, &file, &Users),
        Command::Groups { file } => import(conn, &file, &Groups),
        Command::Memberships { file } => {
            let kind = Memberships {
                users: bulk::user_ids(conn)?,
                groups: bulk::group_ids(conn)?,
            };
            import(conn, &file, &kind)
        }
    }?;
    println!("{report}");
    if report.errors > 0 {
        bail!(
            "{} line{} could not be imported (shown above); the other rows were",
            report.errors,
            if report.errors == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

/// What one kind of record needs: its columns, how a line becomes a row,
/// and how a batch of rows is inserted.
trait Kind {
    type Row;
    /// Plural name, for messages.
    const NAME: &'static str;
    /// The columns the header must name, in the order `parse` receives them.
    const COLUMNS: &'static [&'static str];
    /// How many of `COLUMNS` must be present in the header.
    const REQUIRED: usize;
    fn parse(&self, fields: &[&str]) -> Result<Self::Row, String>;
    fn insert(&self, conn: &mut DbConnection, rows: &[Self::Row]) -> anyhow::Result<usize>;
}

struct Users;

impl Kind for Users {
    type Row = ImportedUser;
    const NAME: &'static str = "users";
    const COLUMNS: &'static [&'static str] = &["login", "name", "email", "user_group_manager"];
    const REQUIRED: usize = 1;

    fn parse(&self, f: &[&str]) -> Result<ImportedUser, String> {
        let login = f[0];
        // The same rules as `users create` and the API (`domain::text`).
        validate_login(login).map_err(|e| e.to_string())?;
        let name = if f[1].is_empty() { login } else { f[1] };
        check_name("Name", name)?;
        if !f[2].is_empty() {
            check_email(f[2])?;
        }
        let token = generate_token().map_err(|_| "no OS randomness for a token".to_string())?;
        Ok(ImportedUser {
            login: login.to_string(),
            name: name.to_string(),
            email_address: (!f[2].is_empty()).then(|| f[2].to_string()),
            user_group_manager: parse_flag(f[3])?,
            token_digest: token_digest(&token),
        })
    }

    fn insert(&self, conn: &mut DbConnection, rows: &[ImportedUser]) -> anyhow::Result<usize> {
        Ok(bulk::insert_users(conn, rows, now())?)
    }
}

fn parse_flag(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "" | "false" | "f" | "no" | "n" | "0" => Ok(false),
        "true" | "t" | "yes" | "y" | "1" => Ok(true),
        other => Err(format!(
            "user_group_manager must be true or false, not '{}'",
            printable(&other.chars().take(20).collect::<String>())
        )),
    }
}

struct Groups;

impl Kind for Groups {
    type Row = ImportedGroup;
    const NAME: &'static str = "user groups";
    const COLUMNS: &'static [&'static str] = &["name", "description"];
    const REQUIRED: usize = 1;

    fn parse(&self, f: &[&str]) -> Result<ImportedGroup, String> {
        // The same rules as `groups create` and the API (`domain::text`).
        GroupName::parse(f[0])?;
        let name = f[0];
        if !f[1].is_empty() {
            check_description(f[1])?;
        }
        Ok(ImportedGroup {
            name: name.to_string(),
            description: (!f[1].is_empty()).then(|| f[1].to_string()),
        })
    }

    fn insert(&self, conn: &mut DbConnection, rows: &[ImportedGroup]) -> anyhow::Result<usize> {
        Ok(bulk::insert_groups(conn, rows, now())?)
    }
}

/// Logins and group names are looked up once, before the first line.
struct Memberships {
    users: HashMap<String, i64>,
    groups: HashMap<String, i64>,
}

impl Kind for Memberships {
    type Row = (i64, i64);
    const NAME: &'static str = "memberships";
    const COLUMNS: &'static [&'static str] = &["login", "group_name"];
    const REQUIRED: usize = 2;

    fn parse(&self, f: &[&str]) -> Result<(i64, i64), String> {
        let user = self.users.get(f[0]);
        let group = self.groups.get(f[1]);
        match (user, group) {
            (Some(&u), Some(&g)) => Ok((u, g)),
            (None, _) => Err(Refusal::UnknownLogin(clip(f[0])).to_string()),
            (_, None) => Err(Refusal::UnknownGroupName(clip(f[1])).to_string()),
        }
    }

    fn insert(&self, conn: &mut DbConnection, rows: &[(i64, i64)]) -> anyhow::Result<usize> {
        let by = Changer::command_line(Via::Import);
        Ok(changes::add_pairs(conn, rows, now(), by)?.len())
    }
}

fn clip(text: &str) -> String {
    text.chars().take(80).collect()
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Report {
    kind: &'static str,
    added: usize,
    skipped: usize,
    errors: usize,
    seconds: f64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "imported {} {}; {} already there (skipped); {} bad line{}; {:.1} s",
            self.added,
            self.kind,
            self.skipped,
            self.errors,
            if self.errors == 1 { "" } else { "s" },
            self.seconds
        )
    }
}

fn open(path: &Path) -> anyhow::Result<(Box<dyn Read>, Option<u64>)> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let len = file.metadata().ok().map(|m| m.len());
    Ok((
        Box::new(std::io::BufReader::with_capacity(1 << 16, file)),
        len,
    ))
}

/// Where each of `K::COLUMNS` is in the file's header.
fn columns<K: Kind>(header: &csv::StringRecord, path: &Path) -> anyhow::Result<Vec<Option<usize>>> {
    let found: Vec<Option<usize>> = K::COLUMNS
        .iter()
        .map(|c| header.iter().position(|h| h.trim().eq_ignore_ascii_case(c)))
        .collect();
    if found[..K::REQUIRED].iter().any(Option::is_none) {
        bail!(
            "{}: the first line must be a header naming the columns {} (found: {})",
            path.display(),
            K::COLUMNS.join(","),
            printable(&clip(&header.iter().collect::<Vec<_>>().join(",")))
        );
    }
    Ok(found)
}

fn import<K: Kind>(conn: &mut DbConnection, path: &Path, kind: &K) -> anyhow::Result<Report> {
    let started = Instant::now();
    let (input, len) = open(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = reader
        .headers()
        .with_context(|| format!("{}: cannot read the header", path.display()))?
        .clone();
    let columns = columns::<K>(&header, path)?;

    // Drawn only on a terminal (indicatif hides it otherwise).
    let progress = match len {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner(),
    };
    progress.set_message(format!("importing {}", K::NAME));

    let mut report = Report {
        kind: K::NAME,
        ..Report::default()
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                bad_line(&progress, &mut report, path, line, &e.to_string());
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue; // blank line
        }
        let fields: Vec<&str> = columns
            .iter()
            .map(|c| c.and_then(|i| record.get(i)).unwrap_or(""))
            .collect();
        match kind.parse(&fields) {
            Ok(row) => batch.push(row),
            Err(message) => bad_line(&progress, &mut report, path, line, &message),
        }
        if batch.len() == BATCH {
            flush(conn, kind, &mut batch, &mut report)?;
            progress.set_position(reader.position().byte());
        }
    }
    flush(conn, kind, &mut batch, &mut report)?;
    progress.finish_and_clear();
    if report.errors > SHOWN_ERRORS {
        eprintln!(
            "syncd: ... and {} more bad lines",
            report.errors - SHOWN_ERRORS
        );
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn bad_line(progress: &ProgressBar, report: &mut Report, path: &Path, line: u64, message: &str) {
    report.errors += 1;
    if report.errors <= SHOWN_ERRORS {
        progress.suspend(|| eprintln!("{}:{line}: {message}", path.display()));
    }
}

/// One transaction per batch: a failure loses at most the batch in hand,
/// and a rerun skips what the earlier batches added.
fn flush<K: Kind>(
    conn: &mut DbConnection,
    kind: &K,
    batch: &mut Vec<K::Row>,
    report: &mut Report,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let added = conn.transaction(|c| kind.insert(c, batch))?;
    report.added += added;
    report.skipped += batch.len() - added;
    batch.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_flags() {
        for yes in ["true", "TRUE", "t", "yes", "Y", "1"] {
            assert_eq!(parse_flag(yes), Ok(true), "{yes}");
        }
        for no in ["", "false", "f", "No", "n", "0"] {
            assert_eq!(parse_flag(no), Ok(false), "{no}");
        }
        assert!(parse_flag("maybe").is_err());
    }

    #[test]
    fn the_summary_line() {
        let r = Report {
            kind: "memberships",
            added: 3,
            skipped: 1,
            errors: 1,
            seconds: 0.25,
        };
        assert_eq!(
            r.to_string(),
            "imported 3 memberships; 1 already there (skipped); 1 bad line; 0.2 s"
        );
    }
}
