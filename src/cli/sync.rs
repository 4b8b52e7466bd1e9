//! `syncd sync GROUP FILE.csv [--dry-run]`: makes a group's members exactly
//! the users a CSV names (API.md 8.4's CSV: a `user_id` or `login` column),
//! through the same parser and the same transaction as `PUT
//! /user_groups/{id}/members`, `via` `sync` with no actor.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::cli::{DatabaseOptions, connection};
use crate::db::DbConnection;
use crate::db::queries::changes::{self, SetRefused};
use crate::db::queries::{sets, user_groups};
use crate::domain::history::{Changer, Via};
use crate::domain::text::printable;
use crate::http::sync_bodies::{SetKind, member_set};

#[derive(Args, Debug)]
pub struct Opts {
    /// The user group: its name, or its id when no group has that name.
    group: String,
    /// The CSV (`-`: stdin): a header line naming a user_id or login
    /// column (other columns are ignored), then one user a line.
    file: PathBuf,
    /// Print what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(database: &DatabaseOptions, opts: Opts) -> anyhow::Result<()> {
    let bytes = if opts.file.as_os_str() == "-" {
        let mut all = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut all).context("cannot read stdin")?;
        all
    } else {
        std::fs::read(&opts.file).with_context(|| format!("cannot read {}", opts.file.display()))?
    };
    let set = member_set(SetKind::Csv, &bytes, false)
        .map_err(|e| anyhow::anyhow!("{}: {}", opts.file.display(), e.messages().join(" ")))?;
    let pool = database.open()?;
    let mut conn = connection(&pool)?;
    let (id, name) = find_group(&mut conn, &opts.group)?;
    let by = Changer::command_line(Via::Sync);
    let report = match changes::sync_members(&mut conn, id, &set, None, opts.dry_run, by)? {
        Ok(report) => report,
        Err(SetRefused::Problems(problems)) => {
            for p in &problems {
                eprintln!("syncd: {}", printable(p));
            }
            anyhow::bail!("nothing changed: the file names users that do not exist")
        }
        Err(SetRefused::NoGroup | SetRefused::Changed) => {
            anyhow::bail!("user group {id} was deleted meanwhile")
        }
    };
    let mut ids = report.added.clone();
    ids.extend(&report.removed);
    let logins = sets::logins_of(&mut conn, &ids)?;
    let login = |id: &i64| printable(logins.get(id).map_or("", String::as_str)).to_string();
    for id in &report.added {
        println!("+ {id}\t{}", login(id));
    }
    for id in &report.removed {
        println!("- {id}\t{}", login(id));
    }
    println!(
        "user group {id} ({}): {} added, {} removed, {} unchanged{}",
        printable(&name),
        report.added.len(),
        report.removed.len(),
        report.unchanged,
        if report.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    Ok(())
}

/// The group a name, or else an id, names.
fn find_group(conn: &mut DbConnection, group: &str) -> anyhow::Result<(i64, String)> {
    if let Some(id) = user_groups::id_by_name(conn, group)? {
        return Ok((id, group.to_string()));
    }
    if let Some(g) = crate::domain::parse_id(group)
        .map(|id| user_groups::find(conn, id))
        .transpose()?
        .flatten()
    {
        return Ok((g.id, g.name));
    }
    anyhow::bail!(
        "there is no user group named or numbered '{}'",
        printable(group)
    )
}
