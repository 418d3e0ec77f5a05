//! A one-shot program as a crontab runs it: one annotated job, its pings
//! flushed before exit, and a non-zero exit status when the job failed.
//!
//! ```text
//! cargo run --example cron_job            # succeeds
//! cargo run --example cron_job -- --fail  # fails, exits 1
//! ```
//!
//! Configure the service through the environment (`HEALTHCHECKS_PING_KEY`,
//! `CRONITOR_API_KEY`, …); with nothing set, the runs are only logged.

use std::process::ExitCode;

use heartbeat_core::{Monitor, job};

#[derive(Debug)]
struct BackupError(std::io::Error);

impl std::fmt::Display for BackupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("nightly backup failed")
    }
}

impl std::error::Error for BackupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The job. Its schedule, time zone, grace, max runtime and runbook are
/// checked at compile time and upserted to the service when an API key is set.
#[job(
    schedule = "0 3 * * *",
    tz = "Europe/Paris",
    grace = "15m",
    max_runtime = "1h",
    runbook = "https://wiki.example.com/runbooks/nightly-backup",
    priority = P1
)]
fn nightly_backup(fail: bool) -> Result<u64, BackupError> {
    if fail {
        return Err(BackupError(std::io::Error::other(
            "destination volume is read-only",
        )));
    }
    Ok(1_204_224)
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colours for a terminal; plain text for cron's mail.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    let fail = std::env::args().any(|a| a == "--fail");
    let monitor = match Monitor::from_env() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("heartbeat configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let result = {
        // Dropped at the end of this block: waits (up to the shutdown
        // timeout) for the pings to be delivered.
        let _flush = heartbeat_core::init(monitor);
        nightly_backup(fail)
    };
    match result {
        Ok(bytes) => {
            println!("backed up {bytes} bytes");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
