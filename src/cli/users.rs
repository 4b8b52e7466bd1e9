//! `syncd users create | token | list | password | revoke-token | update |
//! disable | enable | delete`: results a script reads on stdout, one line;
//! a one-line message on stderr; an unknown login is an error (exit 1).

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::cli::{DatabaseOptions, connection};
use crate::db::queries::users;
use crate::db::queries::users::{NewUser, StateChange, UserChanges};
use crate::domain::Refusal;
use crate::domain::password::check_password;
use crate::domain::text::{check_email, check_name, printable};
use crate::security::secrets::{generate_token, hash_password, token_digest};

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
        /// Read a password for HTTP Basic sign-in from the first line of stdin
        /// (at least 12 characters, not a well-known password).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issue a new API token (the old one stops working); prints it.
    Token { login: String },
    /// List users: id, login, manager or -, email or -, name, disabled or -;
    /// tab-separated, with control characters escaped.
    List,
    /// Change a user's password (read from the first line of stdin).
    Password {
        login: String,
        /// Read the new password from the first line of stdin (required: a
        /// password never goes on a command line, where `ps` shows it).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Forget a user's token: no token signs in as it until `users token`.
    RevokeToken { login: String },
    /// Change a user's manager flag, name or email address.
    Update {
        login: String,
        /// Make the user a User Group Manager.
        #[arg(long, conflicts_with = "no_manager")]
        manager: bool,
        /// Make the user an ordinary user.
        #[arg(long)]
        no_manager: bool,
        #[arg(long)]
        name: Option<String>,
        /// The new email address; an empty one ("") removes it.
        #[arg(long)]
        email: Option<String>,
    },
    /// Disable a user: it keeps its memberships but cannot sign in.
    Disable { login: String },
    /// Enable a disabled user again.
    Enable { login: String },
    /// Delete a user and its memberships (in one transaction).
    Delete { login: String },
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
            check_name("Name", &name).map_err(anyhow::Error::msg)?;
            let email = checked_email(email.as_deref())?;
            let password_digest = if password_stdin {
                Some(new_password_digest(&login)?)
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
                    email_address: email,
                    user_group_manager: manager,
                    password_digest: password_digest.as_deref(),
                    token_digest: &token_digest(&token),
                },
            )??;
            eprintln!(
                "syncd: created user '{}'{}",
                printable(&user.login),
                if manager { " (User Group Manager)" } else { "" }
            );
            println!("{} {token}", user.id);
        }
        Command::Token { login } => {
            let pool = database.open()?;
            let mut conn = connection(&pool)?;
            let token = generate_token().context("no OS randomness for a token")?;
            if !users::set_token_digest(&mut conn, &login, &token_digest(&token))? {
                return Err(no_such_user(&login));
            }
            eprintln!(
                "syncd: issued a new token for '{}'; the old one no longer works",
                printable(&login)
            );
            println!("{token}");
        }
        Command::List => {
            let pool = database.open()?;
            let mut conn = connection(&pool)?;
            // Everything stored is escaped: a name or email imported long
            // ago may hold an escape sequence that would act on the
            // operator's terminal. The disabled state is the last column,
            // so scripts reading the first five still read them.
            for (u, disabled) in users::all_with_state(&mut conn)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    u.id,
                    printable(&u.login),
                    if u.user_group_manager { "manager" } else { "-" },
                    printable(u.email_address.as_deref().unwrap_or("-")),
                    printable(&u.name),
                    if disabled { "disabled" } else { "-" },
                );
            }
        }
        Command::Password { login, .. } => {
            // The policy and the slow hash come before the database, so a
            // refused password costs no connection.
            let digest = new_password_digest(&login)?;
            let pool = database.open()?;
            let mut conn = connection(&pool)?;
            if !users::set_password_digest(&mut conn, &login, &digest)? {
                return Err(no_such_user(&login));
            }
            eprintln!(
                "syncd: changed the password of '{}'; the old one no longer works",
                printable(&login)
            );
        }
        Command::RevokeToken { login } => {
            let pool = database.open()?;
            let mut conn = connection(&pool)?;
            if !users::clear_token_digest(&mut conn, &login)? {
                return Err(no_such_user(&login));
            }
            eprintln!(
                "syncd: revoked the token of '{0}'; no token works for it until `syncd users token {0}`",
                printable(&login)
            );
        }
        Command::Update {
            login,
            manager,
            no_manager,
            name,
            email,
        } => {
            if !manager && !no_manager && name.is_none() && email.is_none() {
                bail!("nothing to change: give --manager, --no-manager, --name or --email");
            }
            if let Some(name) = &name {
                check_name("Name", name).map_err(anyhow::Error::msg)?;
            }
            let changes = UserChanges {
                name: name.as_deref().map(str::trim),
                // --email "" removes the address (Some(None)).
                email_address: match &email {
                    Some(e) => Some(checked_email(Some(e))?),
                    None => None,
                },
                user_group_manager: (manager || no_manager).then_some(manager),
            };
            let pool = database.open()?;
            let mut conn = connection(&pool)?;
            let Some(user) = users::update(&mut conn, &login, &changes)? else {
                return Err(no_such_user(&login));
            };
            eprintln!(
                "syncd: updated user '{}': {}, name '{}', email {}",
                printable(&user.login),
                if user.user_group_manager {
                    "User Group Manager"
                } else {
                    "not a manager"
                },
                printable(&user.name),
                user.email_address
                    .as_deref()
                    .map_or("none".to_string(), |e| format!("'{}'", printable(e)))
            );
        }
        Command::Disable { login } => set_disabled(database, &login, true)?,
        Command::Enable { login } => set_disabled(database, &login, false)?,
        Command::Delete { login } => {
            let pool = database.open()?;
            let mut conn = connection(&pool)?;
            let Some(deleted) = users::delete_by_login(&mut conn, &login)? else {
                return Err(no_such_user(&login));
            };
            eprintln!(
                "syncd: deleted user '{}' (id {}) and its {} membership{}",
                printable(&login),
                deleted.id,
                deleted.memberships,
                if deleted.memberships == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

fn set_disabled(database: &DatabaseOptions, login: &str, disabled: bool) -> anyhow::Result<()> {
    let pool = database.open()?;
    let mut conn = connection(&pool)?;
    let login_shown = printable(login);
    match users::set_disabled(&mut conn, login, disabled)? {
        StateChange::NoSuchUser => return Err(no_such_user(login)),
        StateChange::Changed if disabled => eprintln!(
            "syncd: disabled '{login_shown}': it can no longer sign in (its memberships stay)"
        ),
        StateChange::Changed => eprintln!("syncd: enabled '{login_shown}': it can sign in again"),
        StateChange::AlreadySo if disabled => {
            eprintln!("syncd: '{login_shown}' was already disabled")
        }
        StateChange::AlreadySo => eprintln!("syncd: '{login_shown}' was already enabled"),
    }
    Ok(())
}

fn no_such_user(login: &str) -> anyhow::Error {
    Refusal::UnknownLogin(login.into()).into()
}

/// An email address as stored: trimmed, checked by `domain::text`; an empty
/// one is no address (None).
fn checked_email(email: Option<&str>) -> anyhow::Result<Option<&str>> {
    let Some(email) = email.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    check_email(email).map_err(anyhow::Error::msg)?;
    Ok(Some(email))
}

/// Reads a password from stdin, checks it against the policy for `login`
/// and hashes it.
fn new_password_digest(login: &str) -> anyhow::Result<String> {
    let password = read_password()?;
    check_password(login, &password).map_err(anyhow::Error::msg)?;
    hash_password(&password).map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Logins go in Basic credentials and command lines: no colon, no spaces
/// (the rule is `domain::text::Login`).
pub fn validate_login(login: &str) -> anyhow::Result<()> {
    if let Err(why) = crate::domain::text::Login::parse(login) {
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
