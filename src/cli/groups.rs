//! `syncd groups create | list`.

use clap::Subcommand;

use crate::cli::{DatabaseOptions, connection};
use crate::db::queries::user_groups;
use crate::domain::text::printable;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a user group; prints its id.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List user groups: id, name, description; tab-separated, with control
    /// characters (tabs and line breaks too) escaped.
    List,
}

pub fn run(database: &DatabaseOptions, command: Command) -> anyhow::Result<()> {
    let pool = database.open()?;
    let mut conn = connection(&pool)?;
    match command {
        Command::Create { name, description } => {
            let group = user_groups::create(&mut conn, &name, description.as_deref())?.map_err(
                |problems| {
                    let words: Vec<String> = problems.iter().map(ToString::to_string).collect();
                    anyhow::anyhow!(words.join(" "))
                },
            )?;
            eprintln!("syncd: created user group '{}'", printable(&group.name));
            println!("{}", group.id);
        }
        Command::List => {
            // Escaped: a description stored before the text rules (or
            // straight in the database) may hold an escape sequence that
            // would act on the operator's terminal.
            for g in user_groups::all(&mut conn)? {
                println!(
                    "{}\t{}\t{}",
                    g.id,
                    printable(&g.name),
                    printable(g.description.as_deref().unwrap_or(""))
                );
            }
        }
    }
    Ok(())
}
