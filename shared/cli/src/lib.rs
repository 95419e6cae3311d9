//! `tillbridge`: the same domain code as the Lambda functions, run locally.
//! Flags and output formats follow ../shared/design/CLI.md (a contract).

#![warn(missing_docs)]

mod costs;
mod demo;
mod migrate;
mod migrate_demo;
mod migrate_output;
mod normalize;
mod notifications;
mod privacy;
mod profile;
pub mod serve;
mod suggest;
mod sync;
mod validate;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code of CLI.md: the input was judged and rejected.
pub const EXIT_REJECTED: u8 = 1;
/// Usage errors and unreadable input.
pub const EXIT_USAGE: u8 = 2;

/// A failed command: the exit code and one line for stderr.
#[derive(Debug)]
pub struct Failure {
    /// [`EXIT_REJECTED`] or [`EXIT_USAGE`].
    pub code: u8,
    /// The `error: …` line (without the prefix).
    pub message: String,
}

impl Failure {
    /// A usage error or unreadable input (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// The input was judged and rejected (exit 1).
    pub fn rejected(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_REJECTED,
            message: message.into(),
        }
    }
}

/// What a command returns: success, or the failure to report.
pub type Outcome = Result<(), Failure>;

#[derive(Parser)]
#[command(
    name = "tillbridge",
    version,
    about = "POS webhooks, catalogs and migrations — locally, on the embedded store"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify one webhook signature (exit 0 valid, 1 invalid).
    Verify(verify::Args),
    /// Normalize one webhook payload to canonical events (JSON lines).
    Normalize(normalize::Args),
    /// Suggest source → canonical field mappings for a vendor export (JSON or CSV).
    Suggest(suggest::Args),
    /// Score suggestions on folders of samples with truth (the mapping-dev layout).
    SuggestEval(suggest::EvalArgs),
    /// Validate a batch of canonical items (JSONL).
    Validate(validate::Args),
    /// Serve the HTTP API on the embedded store.
    Serve(serve::Args),
    /// Run the whole pipeline on the bundled samples and print a summary.
    Demo(demo::Args),
    /// AI cost accounting: per-tenant tables.
    #[command(subcommand)]
    Costs(costs::Command),
    /// Migrate a POS export into a tenant's catalog (suggest → review → validate → apply).
    Migrate(migrate::MigrateArgs),
    /// Inspect and move on one migration.
    #[command(subcommand)]
    Migration(migrate::MigrationCommand),
    /// Undo a migration: restore the catalog from its snapshot and journal, verified.
    Rollback(migrate::RollbackArgs),
    /// Pull a tenant's catalog from a vendor's API and apply it (full, or --since).
    Sync(sync::Args),
    /// Data subject requests: erase or export one customer's data (GDPR).
    #[command(subcommand)]
    Privacy(privacy::Command),
    /// Declarative vendor profiles: check one on sample payloads, print the schema.
    #[command(subcommand)]
    Profile(profile::Command),
    /// A tenant's notification settings (what serve sends by): set from JSON, show.
    #[command(subcommand)]
    Notifications(notifications::Command),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(EXIT_USAGE)
                } else {
                    ExitCode::SUCCESS
                };
            }
            return fail(&Failure::usage(clap_line(&e.to_string())));
        }
    };
    let result = match cli.command {
        Command::Verify(a) => verify::run(a),
        Command::Normalize(a) => normalize::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Suggest(a) => suggest::run(a),
        Command::SuggestEval(a) => suggest::eval(a),
        Command::Serve(a) => serve::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Costs(c) => costs::run(c),
        Command::Migrate(a) => migrate::migrate(a),
        Command::Migration(c) => migrate::migration(c),
        Command::Rollback(a) => migrate::rollback(a),
        Command::Sync(a) => sync::run(a),
        Command::Privacy(c) => privacy::run(c),
        Command::Profile(c) => profile::run(c),
        Command::Notifications(c) => notifications::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => fail(&f),
    }
}

fn fail(f: &Failure) -> ExitCode {
    eprintln!("error: {}", first_line(&f.message));
    ExitCode::from(f.code)
}

/// A clap error as one line: its message and what it lists (the missing arguments, the
/// valid values), without the usage and help hints that follow.
fn clap_line(text: &str) -> String {
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    if parts.is_empty() {
        return first_line(text);
    }
    parts
        .join(" ")
        .trim_start_matches("error:")
        .trim()
        .to_owned()
}

/// clap's messages span lines; the contract is one line.
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("failed");
    line.trim().trim_start_matches("error:").trim().to_owned()
}

/// A built-in provider named on the command line (`verify`, `normalize`): anything else is a
/// usage error (exit 2) naming the providers there are.
pub(crate) fn builtin_provider(name: &str) -> Result<tillbridge_domain::Provider, Failure> {
    match name.parse::<tillbridge_domain::Provider>() {
        Ok(p) if p.builtin_name().is_some() => Ok(p),
        _ => {
            let known: Vec<&str> = tillbridge_domain::Provider::BUILT_IN
                .iter()
                .map(|p| p.as_str())
                .collect();
            Err(Failure::usage(format!(
                "unknown provider {name:?}: the providers are {} (a vendor described by a profile is checked with `tillbridge profile check`)",
                known.join(", ")
            )))
        }
    }
}

/// A UTF-8 byte order mark, which editors (Excel, Notepad) put before JSON and CSV text.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// [`read_input`] for a document (an export, a sample, a price map, a profile): a UTF-8 byte
/// order mark before it is dropped. Never for webhook bodies, which are used byte for byte.
pub(crate) fn read_document(path: &PathBuf, what: &str) -> Result<Vec<u8>, Failure> {
    let mut bytes = read_input(path, what)?;
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    Ok(bytes)
}

/// Reads a file named on the command line; unreadable input is a usage error (exit 2).
pub(crate) fn read_input(path: &PathBuf, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|e| Failure::usage(format!("cannot read {what} {}: {e}", path.display())))
}

pub(crate) fn parse_headers(lines: &[String]) -> Result<tillbridge_webhooks::Headers, Failure> {
    lines
        .iter()
        .map(|l| {
            tillbridge_webhooks::Headers::parse_line(l).ok_or_else(|| {
                Failure::usage(format!("malformed header {l:?}: expected 'Name: value'"))
            })
        })
        .collect()
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the runtime: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_become_one_line_naming_what_is_missing() {
        let text = "error: the following required arguments were not provided:\n  --secret <SECRET>\n  --provider <PROVIDER>\n\nUsage: tillbridge verify --provider <PROVIDER> --secret <SECRET> --body-file <BODY_FILE>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            clap_line(text),
            "the following required arguments were not provided: --secret <SECRET> --provider <PROVIDER>"
        );
        assert_eq!(
            clap_line(
                "error: unexpected argument '--nope' found\n\n  tip: to pass '--nope' as a value, use '-- --nope'\n\nUsage: tillbridge demo\n"
            ),
            "unexpected argument '--nope' found tip: to pass '--nope' as a value, use '-- --nope'"
        );
        assert_eq!(clap_line(""), "failed");
    }
}
