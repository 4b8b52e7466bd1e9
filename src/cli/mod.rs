//! The `syncd` command line: `serve` (the default), `migrate`, `users ...`,
//! `groups ...`, `import ...` and `sync`. Results a script reads go to stdout, one line each;
//! messages go to stderr.

pub mod backup;
pub mod groups;
pub mod import;
pub mod serve;
pub mod sync;
pub mod users;

use std::time::Duration;

use anyhow::Context;
use clap::{Args, FromArgMatches, Parser, Subcommand};

use crate::db::{DbPool, PoolSettings};
use crate::{config, db, defaults};

#[derive(Parser, Debug)]
#[command(
    name = "syncd",
    version,
    about = "The Syncd user-group-membership API: Rails-style XML over HTTP, on SQLite or PostgreSQL."
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseOptions,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where the data lives and how connections are pooled.
#[derive(Args, Debug, Clone)]
pub struct DatabaseOptions {
    /// postgres://..., postgresql://..., sqlite://PATH, sqlite:PATH, a plain path, or :memory:
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = defaults::DATABASE_URL,
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Database connections in the pool.
    #[arg(
        long,
        env = "SYNCD_POOL_SIZE",
        default_value_t = defaults::POOL_SIZE,
        global = true
    )]
    pub pool_size: u32,

    /// Milliseconds a request waits for a free connection before it answers 503.
    #[arg(
        long,
        env = "SYNCD_POOL_TIMEOUT_MS",
        default_value_t = defaults::POOL_TIMEOUT_MS,
        global = true
    )]
    pub pool_timeout_ms: u64,

    /// Milliseconds SQLite waits on a locked database before it gives up.
    #[arg(
        long,
        env = "SYNCD_SQLITE_BUSY_TIMEOUT_MS",
        default_value_t = defaults::SQLITE_BUSY_TIMEOUT_MS,
        global = true
    )]
    pub sqlite_busy_timeout_ms: u64,
}

impl DatabaseOptions {
    /// The `database` part of the configuration.
    pub fn settings(&self) -> config::Database {
        config::Database {
            url: self.database_url.clone(),
            pool: PoolSettings {
                max_size: self.pool_size.max(1),
                connection_timeout: Duration::from_millis(self.pool_timeout_ms.max(1)),
                sqlite_busy_timeout: Duration::from_millis(self.sqlite_busy_timeout_ms),
            },
        }
    }

    /// Opens the database and applies pending migrations, as every
    /// subcommand does first.
    pub fn open(&self) -> anyhow::Result<DbPool> {
        Ok(self.settings().open()?)
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default when no subcommand is given).
    Serve(serve::Opts),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    Users(users::Command),
    /// Manage user groups.
    #[command(subcommand)]
    Groups(groups::Command),
    /// Bulk-load users, user groups or memberships from a CSV file.
    #[command(subcommand)]
    Import(import::Command),
    /// Make a group's members exactly the users a CSV file names.
    Sync(sync::Opts),
    /// Write a consistent copy of a SQLite database to a new file, while
    /// syncd serves (restore: start syncd on the copy).
    Backup(backup::Opts),
}

/// Runs what the command line asks for.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Some(c) => c,
        None => Command::Serve(default_serve_opts()?),
    };
    match command {
        Command::Serve(opts) => serve::run(&cli.database, opts),
        Command::Migrate => {
            cli.database.open()?;
            eprintln!("syncd: the database is up to date");
            Ok(())
        }
        Command::Users(c) => users::run(&cli.database, c),
        Command::Groups(c) => groups::run(&cli.database, c),
        Command::Import(c) => import::run(&cli.database, c),
        Command::Sync(opts) => sync::run(&cli.database, opts),
        Command::Backup(opts) => backup::run(&cli.database, opts),
    }
}

/// `serve`'s options as if `serve` had been given: defaults and environment.
fn default_serve_opts() -> anyhow::Result<serve::Opts> {
    let matches = serve::Opts::augment_args(clap::Command::new("serve"))
        .try_get_matches_from(["serve"])
        .context("reading serve's settings from the environment")?;
    Ok(serve::Opts::from_arg_matches(&matches)?)
}

/// Gets one connection for a CLI command.
pub(crate) fn connection(pool: &DbPool) -> anyhow::Result<db::PooledConnection> {
    pool.get().context("no database connection")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
