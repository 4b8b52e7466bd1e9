//! `syncd serve`: opens the database, creates the first manager on an empty
//! one, and serves until SIGTERM or Ctrl-C.

use std::net::{SocketAddr, TcpListener};

use anyhow::Context;
use clap::Args;

use super::DatabaseOptions;
use crate::api::AppState;
use crate::api::cross_site::AllowedOrigins;
use crate::app::{Application, ServerSettings};
use crate::credentials::{generate_token, token_digest};
use crate::db::DbPool;
use crate::db::queries::users::{self, NewUser};

#[derive(Args, Debug, Clone)]
pub struct Opts {
    /// Address to listen on.
    #[arg(long, env = "SYNCD_BIND", default_value = "127.0.0.1:3000")]
    pub bind: String,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "SYNCD_WORKERS")]
    pub workers: Option<usize>,

    /// Other origins whose pages may post forms to syncd, comma-separated
    /// (such as https://intranet.example.com). syncd's own origin always may.
    #[arg(long, env = "SYNCD_ALLOWED_ORIGINS", default_value = "", value_parser = parse_origins)]
    pub allowed_origins: AllowedOrigins,
}

fn parse_origins(list: &str) -> Result<AllowedOrigins, String> {
    AllowedOrigins::parse(list)
}

pub fn run(database: &DatabaseOptions, opts: Opts) -> anyhow::Result<()> {
    let pool = database.open()?;
    let listener =
        TcpListener::bind(&opts.bind).with_context(|| format!("cannot listen on {}", opts.bind))?;
    let addr = listener.local_addr()?;
    create_first_manager(&pool, addr)?;

    let mut settings = ServerSettings::default();
    if let Some(w) = opts.workers {
        settings.workers = w.max(1);
    }
    log::info!("syncd listening on http://{addr}");
    let state = AppState::new(pool, opts.allowed_origins);
    actix_rt::System::new().block_on(async move {
        let app = Application::build(listener, state, &settings)?;
        app.run_until_stopped().await
    })?;
    log::info!("syncd stopped");
    Ok(())
}

/// On a database with no users at all, creates the manager `admin` and shows
/// its token once, with a curl line to paste.
fn create_first_manager(pool: &DbPool, addr: SocketAddr) -> anyhow::Result<()> {
    let mut conn = super::connection(pool)?;
    if users::count(&mut conn)? > 0 {
        return Ok(());
    }
    let token = generate_token().context("no OS randomness for a token")?;
    let digest = token_digest(&token);
    let created = users::create(
        &mut conn,
        &NewUser {
            login: "admin",
            name: "Administrator",
            email_address: None,
            user_group_manager: true,
            password_digest: None,
            token_digest: &digest,
        },
    )?;
    if created.is_err() {
        // Another syncd created it a moment ago.
        return Ok(());
    }
    let host = match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        other => other.to_string(),
    };
    eprintln!(
        "\nsyncd: this database had no users, so it now has the User Group Manager 'admin'.\n\
         Its API token is shown this once; keep it somewhere safe:\n\n    {token}\n\n\
         Try it:\n\n    curl -H 'X-API-KEY: {token}' http://{host}/me.xml\n\n\
         Add users with `syncd users create LOGIN`, and a new token with `syncd users token admin`.\n"
    );
    Ok(())
}
