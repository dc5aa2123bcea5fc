//! `huddle user add` and `huddle user set-password`: accounts for teachers and administrators.
//! Passwords are read from standard input, never from a flag (flags end up in shell history
//! and process lists).

use std::io::BufRead;

use clap::{Args, Subcommand};

use crate::auth::{passwords, Role};
use crate::db::{Db, DbUrl};
use crate::store::users::{self, NewUser};

#[derive(Args)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a teacher or an administrator (prints the new user id).
    Add(AddArgs),
    /// Set an account's password, read from standard input.
    SetPassword(SetPasswordArgs),
}

#[derive(Args)]
struct DbArgs {
    /// sqlite://PATH or postgres://USER@HOST/DB
    #[arg(
        long,
        env = "HUDDLE_DATABASE_URL",
        default_value = "sqlite://huddle.db"
    )]
    database_url: String,
}

#[derive(Args)]
struct AddArgs {
    #[arg(long)]
    email: String,
    /// teacher or admin.
    #[arg(long, value_enum)]
    role: Role,
    /// The organisation (district) the account belongs to.
    #[arg(long)]
    org: String,
    /// Classes the teacher teaches, comma-separated (created when new).
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// A display name for the account.
    #[arg(long)]
    name: Option<String>,
    /// Read the password from the first line of standard input (else set it later with
    /// `huddle user set-password`).
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
struct SetPasswordArgs {
    #[arg(long)]
    email: String,
    #[command(flatten)]
    db: DbArgs,
}

pub fn run(args: UserArgs) -> anyhow::Result<()> {
    match args.command {
        UserCommand::Add(a) => add(a),
        UserCommand::SetPassword(a) => set_password(a),
    }
}

fn open(db: &DbArgs) -> anyhow::Result<Db> {
    Db::open(&DbUrl::parse(&db.database_url)?, 1)
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    passwords::check_new_password(&password).map_err(anyhow::Error::msg)?;
    Ok(password)
}

fn add(a: AddArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!a.org.trim().is_empty(), "--org must not be empty");
    anyhow::ensure!(
        a.role != Role::Tool,
        "--role must be teacher or admin; tools get tokens (huddle token)"
    );
    let password_hash = if a.password_stdin {
        Some(passwords::hash_password(&read_password()?)?)
    } else {
        None
    };
    let classes: Vec<String> = a
        .classes
        .into_iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let db = open(&a.db)?;
    let user = NewUser {
        email: a.email,
        role: a.role,
        org: a.org,
        name: a.name,
        classes,
        password_hash,
    };
    let id = db.write_blocking(crate::db::Changes::Entities, |conn| {
        users::add_user(conn, &user)
    })?;
    super::print_line(&id)
}

fn set_password(a: SetPasswordArgs) -> anyhow::Result<()> {
    let hash = passwords::hash_password(&read_password()?)?;
    let db = open(&a.db)?;
    let found = db.write_blocking(crate::db::Changes::Records, |conn| {
        users::set_password(conn, &a.email, &hash)
    })?;
    anyhow::ensure!(found, "no account has this email");
    eprintln!("password set");
    Ok(())
}
