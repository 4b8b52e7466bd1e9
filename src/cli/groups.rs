//! `syncd groups create | list`.

use clap::Subcommand;

use super::users::one_line;
use super::{DatabaseOptions, connection};
use crate::db::queries::user_groups;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a user group; prints its id.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List user groups: id, name, description; tab-separated.
    List,
}

pub fn run(database: &DatabaseOptions, command: Command) -> anyhow::Result<()> {
    let pool = database.open()?;
    let mut conn = connection(&pool)?;
    match command {
        Command::Create { name, description } => {
            let group = user_groups::create(&mut conn, &name, description.as_deref())?
                .map_err(|problems| anyhow::anyhow!(problems.join(" ")))?;
            eprintln!("syncd: created user group '{}'", group.name);
            println!("{}", group.id);
        }
        Command::List => {
            for g in user_groups::list(&mut conn)? {
                println!(
                    "{}\t{}\t{}",
                    g.id,
                    one_line(&g.name),
                    one_line(g.description.as_deref().unwrap_or(""))
                );
            }
        }
    }
    Ok(())
}
