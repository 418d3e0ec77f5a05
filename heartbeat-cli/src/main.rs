//! `heartbeat`: monitor any command, as a crontab line runs it.
//!
//! ```text
//! heartbeat exec --check nightly-backup --schedule "0 3 * * *" -- /scripts/backup.sh
//! heartbeat ping --check nightly-backup --exit-code 3 --message "disk full"
//! ```
//!
//! The service comes from the same environment variables as the library
//! (`HEALTHCHECKS_PING_KEY`, `CRONITOR_API_KEY`, …). Whatever the service
//! does, `heartbeat exec` exits with the command's own status.

mod args;
mod exec;
mod ping;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Exit status for bad flags or settings, as clap uses for usage errors.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_max_level(cli.log_level())
        .init();
    let result = match cli.command {
        Command::Exec(exec) => exec::run(exec),
        Command::Ping(ping) => ping::run(ping),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("heartbeat: {e}");
            ExitCode::from(USAGE)
        }
    }
}
