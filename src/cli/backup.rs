//! `syncd backup FILE`: an online backup of a SQLite database, taken while
//! syncd serves: `VACUUM INTO` writes one consistent snapshot (a read
//! transaction: writers go on, and what they commit after it began is not
//! in it) to a new file, readable by its owner only. Restoring is starting
//! syncd on that file. PostgreSQL has `pg_dump` for this (docs/DEPLOY.md).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::cli::{DatabaseOptions, connection};
use crate::db::DbConnection;

#[derive(Args, Debug)]
pub struct Opts {
    /// The new file (it must not exist yet).
    file: PathBuf,
}

pub fn run(database: &DatabaseOptions, opts: Opts) -> anyhow::Result<()> {
    let pool = database.open()?;
    let mut conn = connection(&pool)?;
    if let DbConnection::Postgres(_) = *conn {
        anyhow::bail!(
            "syncd backup is for SQLite; back a PostgreSQL database up with pg_dump (docs/DEPLOY.md)"
        );
    }
    let path = opts
        .file
        .to_str()
        .context("the backup's file name is not UTF-8")?
        .to_string();
    crate::db::create_private_new(&path)
        .with_context(|| format!("cannot create {path} (it must not exist yet)"))?;
    let started = std::time::Instant::now();
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(&path)
        .execute(&mut *conn)
        .with_context(|| format!("backing up into {path}"))?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "syncd: backed up into {path} ({bytes} bytes, {:.1} s); to restore, start syncd with --database-url {path}",
        started.elapsed().as_secs_f64()
    );
    println!("{path}");
    Ok(())
}
