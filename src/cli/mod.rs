//! The command line. (Minimal wiring for the `kt` and `simulate` subcommands; the
//! application's full command set replaces this file.)

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod kt;
pub mod simulate;

#[derive(Debug, Parser)]
#[command(name = "huddle", version, about = "Classroom dashboard service")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Knowledge tracing tools for researchers: fit and cross-validate BKT from a CSV.
    Kt(kt::KtArgs),
    /// Write simulated practice events and their ground truth.
    Simulate(simulate::SimulateArgs),
}

/// Prints one line on stdout; a closed pipe (`huddle kt fit ... | head`) is not an error.
pub(crate) fn print_line(line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Kt(args) => kt::run(args),
        Command::Simulate(args) => simulate::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
