//! The `natter` command line (clap): `serve` (the default), and what an operator does on
//! the server's own machine: `admin create`, `admin reset-password`, `backup`, `migrate`.
//!
//! Commands other than `serve` open the database themselves, next to a running server or
//! without one: SQLite lets several processes use one database, each write in its own
//! transaction.

use super::config::Settings;
use super::store::{self, Store, StoreError};
use super::{auth, now_ms};
use crate::domain::{NewAccount, Role};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Self-hosted real-time messaging and calling for the browser.
#[derive(Debug, Parser)]
#[command(name = "natter", version, about)]
pub struct Cli {
    /// The configuration file: its `[natter]` table, under `NATTER_*` variables.
    #[arg(
        long,
        env = "NATTER_CONFIG",
        default_value = "Leptos.toml",
        global = true
    )]
    pub config: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Whether this runs the server (no command, or `serve`).
    pub fn serves(&self) -> bool {
        matches!(self.command, None | Some(Command::Serve))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the server (what `natter` alone does).
    Serve,
    /// Accounts, for the operator.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Writes a consistent copy of the database to FILE (a new file), while the server
    /// runs. To restore: stop the server, put the copy where `database_url` points, start.
    Backup { file: PathBuf },
    /// Brings the database's schema up to date and exits (the server does it at start too).
    Migrate,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Creates an admin account with a new password, printed once on standard output.
    /// The password is temporary: the first login asks for one of the admin's own.
    Create {
        username: String,
        /// The name other people see (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Reads the password from the first line of standard input instead, and keeps it
        /// (it is not temporary).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Gives an account a new temporary password, printed once on standard output; its
    /// sessions end, and the next login asks for a password of its own.
    ResetPassword { username: String },
}

/// Runs a command other than `serve` with `settings`; what it prints for people goes to
/// standard error, the password alone to standard output (for scripts).
pub async fn run(command: Command, settings: &Settings) -> ExitCode {
    let outcome = match command {
        Command::Serve => Ok(()),
        Command::Migrate => open(settings).await.map(|_| {
            eprintln!("natter: the database is up to date");
        }),
        Command::Backup { file } => backup(settings, file).await,
        Command::Admin(AdminCommand::Create {
            username,
            display_name,
            password_stdin,
        }) => create_admin(settings, &username, display_name, password_stdin).await,
        Command::Admin(AdminCommand::ResetPassword { username }) => {
            reset_password(settings, &username).await
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("natter: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn open(settings: &Settings) -> Result<std::sync::Arc<dyn Store>, String> {
    store::open(&settings.database_url)
        .await
        .map_err(|e| format!("cannot open the database {}: {e}", settings.database_url))
}

async fn backup(settings: &Settings, file: PathBuf) -> Result<(), String> {
    let store = open(settings).await?;
    store
        .backup_into(&file)
        .await
        .map_err(|e| format!("cannot back up into {}: {e}", file.display()))?;
    eprintln!("natter: backed up into {}", file.display());
    Ok(())
}

/// Length of a generated password, in characters: 20 of 62 letters and digits is about
/// 119 bits.
const GENERATED_PASSWORD_CHARS: usize = 20;

fn generated_password() -> String {
    use rand::Rng;
    rand::rngs::OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(GENERATED_PASSWORD_CHARS)
        .map(char::from)
        .collect()
}

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// The messages of a refused field, one per line.
fn refusal(e: crate::error::AppError) -> String {
    match e {
        crate::error::AppError::Invalid(errors) => errors
            .into_iter()
            .map(|e| e.message)
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

async fn create_admin(
    settings: &Settings,
    username: &str,
    display_name: Option<String>,
    password_stdin: bool,
) -> Result<(), String> {
    let (password, temporary) = if password_stdin {
        (password_from_stdin()?, false)
    } else {
        (generated_password(), true)
    };
    let display_name = display_name.unwrap_or_else(|| username.to_string());
    let account = NewAccount::parse(username, &display_name, &password).map_err(refusal)?;
    auth::not_the_demo_password(settings, account.password(), "password").map_err(refusal)?;
    let store = open(settings).await?;
    let hash = auth::hash_password(account.password().to_string())
        .await
        .map_err(refusal)?;
    let created = if temporary {
        store
            .create_user_with_temporary_password(
                account.username(),
                account.display_name(),
                &hash,
                Role::Admin,
                now_ms(),
            )
            .await
    } else {
        store
            .create_user(
                account.username(),
                account.display_name(),
                &hash,
                Role::Admin,
                None,
                now_ms(),
            )
            .await
    };
    let user = created.map_err(|e| match e {
        StoreError::UsernameTaken => format!("the username {username} is taken"),
        other => format!("cannot create the account: {other}"),
    })?;
    if temporary {
        eprintln!(
            "natter: created the admin {}. Its temporary password follows; the first login \
             asks for a new one.",
            user.username
        );
        println!("{password}");
    } else {
        eprintln!("natter: created the admin {}", user.username);
    }
    Ok(())
}

async fn reset_password(settings: &Settings, username: &str) -> Result<(), String> {
    let store = open(settings).await?;
    let record = store
        .login_record(username)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("nobody has the username {username}"))?;
    let password = generated_password();
    let hash = auth::hash_password(password.clone())
        .await
        .map_err(refusal)?;
    store
        .set_temporary_password(&record.user.id, &hash)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "natter: {} has a new temporary password, which follows; their sessions have ended, \
         and the next login asks for a new one.",
        record.user.username
    );
    println!("{password}");
    Ok(())
}
