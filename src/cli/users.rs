//! `syncd users create | token | list`.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;

use super::{DatabaseOptions, connection};
use crate::credentials::{generate_token, hash_password, token_digest};
use crate::db::queries::users::{self, NewUser};

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a user; prints its id and API token on one line.
    Create {
        /// Letters, digits and . _ @ + - (at most 64).
        login: String,
        /// Full name (default: the login).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Make the user a User Group Manager.
        #[arg(long)]
        manager: bool,
        /// Read a password for HTTP Basic sign-in from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issue a new API token (the old one stops working); prints it.
    Token { login: String },
    /// List users: id, login, manager or -, email or -, name; tab-separated.
    List,
}

pub fn run(database: &DatabaseOptions, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Create {
            login,
            name,
            email,
            manager,
            password_stdin,
        } => {
            validate_login(&login)?;
            let name = name.unwrap_or_else(|| login.clone());
            if name.trim().is_empty() {
                bail!("the name must not be blank");
            }
            let email = email.filter(|e| !e.trim().is_empty());
            let password_digest = if password_stdin {
                let password = read_password()?;
                Some(
                    hash_password(&password)
                        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?,
                )
            } else {
                None
            };
            let pool = database.open()?;
            let mut conn = connection(&pool)?;
            let token = generate_token().context("no OS randomness for a token")?;
            let user = users::create(
                &mut conn,
                &NewUser {
                    login: &login,
                    name: name.trim(),
                    email_address: email.as_deref().map(str::trim),
                    user_group_manager: manager,
                    password_digest: password_digest.as_deref(),
                    token_digest: &token_digest(&token),
                },
            )?
            .map_err(anyhow::Error::msg)?;
            eprintln!(
                "syncd: created user '{}'{}",
                user.login,
                if manager { " (User Group Manager)" } else { "" }
            );
            println!("{} {token}", user.id);
        }
        Command::Token { login } => {
            let pool = database.open()?;
            let mut conn = connection(&pool)?;
            let token = generate_token().context("no OS randomness for a token")?;
            if !users::set_token_digest(&mut conn, &login, &token_digest(&token))? {
                bail!("there is no user with login '{login}'");
            }
            eprintln!("syncd: issued a new token for '{login}'; the old one no longer works");
            println!("{token}");
        }
        Command::List => {
            let pool = database.open()?;
            let mut conn = connection(&pool)?;
            for u in users::list(&mut conn)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    u.id,
                    u.login,
                    if u.user_group_manager { "manager" } else { "-" },
                    one_line(u.email_address.as_deref().unwrap_or("-")),
                    one_line(&u.name)
                );
            }
        }
    }
    Ok(())
}

/// Logins go in Basic credentials and command lines: no colon, no spaces
/// (the rule is `domain::text::check_login`).
pub fn validate_login(login: &str) -> anyhow::Result<()> {
    if let Err(why) = crate::domain::text::check_login(login) {
        bail!(
            "invalid login '{}': {why}",
            crate::domain::text::printable(login)
        );
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("the password on stdin is empty");
    }
    Ok(password)
}

/// Tabs and newlines would break a line-per-record listing.
pub(crate) fn one_line(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}
