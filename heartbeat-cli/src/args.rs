//! The command line: what `--help` shows, and turning flags into a
//! [`Check`] and a [`Monitor`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use heartbeat_core::{Check, Monitor, MonitorBuilder, Priority};

/// Monitor a command: tell your monitoring service (Healthchecks.io,
/// Cronitor, Better Stack, …) that it started and how it ended.
///
/// The service is configured through environment variables:
/// HEALTHCHECKS_PING_KEY (and HEALTHCHECKS_PING_URL for a self-hosted
/// server, HEALTHCHECKS_API_KEY to create checks with their schedule),
/// CRONITOR_API_KEY, HEARTBEAT_ENV. With none set, runs are only logged.
#[derive(Debug, Parser)]
#[command(name = "heartbeat", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Log what heartbeat does (runs started and finished, pings) on
    /// stderr; by default only problems are logged.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    pub(crate) fn log_level(&self) -> tracing::Level {
        if self.verbose {
            tracing::Level::INFO
        } else {
            tracing::Level::WARN
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a command and report its start and its outcome.
    ///
    /// Its output passes through unchanged, and its tail goes with a
    /// failure. Exits with the command's own status: 128 + N when signal N
    /// killed it, 124 after --timeout, 127 when it is not found, 126 when
    /// it cannot be run.
    ///
    /// Example: heartbeat exec --check nightly-backup --schedule "0 3 * * *" -- /scripts/backup.sh
    Exec(ExecArgs),
    /// Send one ping, for scripts that report a run themselves.
    Ping(PingArgs),
}

/// The check and how to deliver its pings; shared by both subcommands.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The check's slug: lowercase letters, digits, `-` and `_`.
    #[arg(long, value_name = "SLUG")]
    check: String,
    /// Its cron schedule (5 fields), so the service can tell a missed run.
    #[arg(long, value_name = "CRON")]
    schedule: Option<String>,
    /// The schedule's IANA time zone (default UTC).
    #[arg(long, value_name = "TZ", requires = "schedule")]
    tz: Option<String>,
    /// How late a run may start before it counts as missed (e.g. 15m).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    grace: Option<Duration>,
    /// How long a run may take before it is flagged as too slow (e.g. 1h).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    max_runtime: Option<Duration>,
    /// A link for whoever is paged, sent with every failure.
    #[arg(long, value_name = "URL")]
    runbook: Option<String>,
    /// How urgent a failure is: P1 (page now), P2 (today), P3 (this week).
    #[arg(long, value_name = "P", value_parser = priority)]
    priority: Option<Priority>,
    /// How long to wait at the end for pings to be delivered.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5s")]
    pub(crate) flush_timeout: Duration,
}

impl CheckArgs {
    /// The check these flags describe; a bad value is an error that names it.
    pub(crate) fn check(&self) -> Result<Check, String> {
        let mut builder = Check::builder(&self.check);
        if let Some(cron) = &self.schedule {
            builder = builder.schedule(cron);
        }
        if let Some(tz) = &self.tz {
            builder = builder.timezone(tz);
        }
        if let Some(grace) = self.grace {
            builder = builder.grace(grace);
        }
        if let Some(max) = self.max_runtime {
            builder = builder.max_runtime(max);
        }
        if let Some(url) = &self.runbook {
            builder = builder.runbook(url);
        }
        if let Some(priority) = self.priority {
            builder = builder.priority(priority);
        }
        builder.build().map_err(|e| e.to_string())
    }

    /// The monitor the environment describes, delivering before exit.
    pub(crate) fn monitor(&self) -> Result<Monitor, String> {
        MonitorBuilder::from_env()
            .map_err(|e| e.to_string())?
            .shutdown_timeout(self.flush_timeout)
            .build()
            .map_err(|e| e.to_string())
    }
}

/// `heartbeat exec`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    #[command(flatten)]
    pub(crate) check: CheckArgs,
    /// Kill the command when it runs longer than this (SIGTERM, then
    /// SIGKILL after --kill-after), report it, and exit 124.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub(crate) timeout: Option<Duration>,
    /// After --timeout's SIGTERM, how long the command gets before SIGKILL.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "10s", requires = "timeout")]
    pub(crate) kill_after: Duration,
    /// How much of the command's output (stdout and stderr, the last
    /// bytes) goes with a failure; services cut it to their own limit.
    #[arg(long, value_name = "BYTES", default_value_t = 100_000)]
    pub(crate) tail_bytes: usize,
    /// The command and its arguments.
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<std::ffi::OsString>,
}

/// `heartbeat ping`: what to send.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("kind").args(["start", "fail", "exit_code", "log"])))]
pub(crate) struct PingArgs {
    #[command(flatten)]
    pub(crate) check: CheckArgs,
    /// The run started (default: the run succeeded).
    #[arg(long)]
    pub(crate) start: bool,
    /// The run failed.
    #[arg(long)]
    pub(crate) fail: bool,
    /// The run ended with this exit status (0 is success).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub(crate) exit_code: Option<i32>,
    /// A message during the run, not its end.
    #[arg(long)]
    pub(crate) log: bool,
    /// The ping's message (a failure's reason, a log line).
    #[arg(long, value_name = "TEXT", conflicts_with = "message_file")]
    pub(crate) message: Option<String>,
    /// Read the message from this file (`-` for stdin); its last
    /// --tail-bytes bytes are sent.
    #[arg(long, value_name = "FILE")]
    pub(crate) message_file: Option<PathBuf>,
    /// The run id that pairs a start with its end (a UUID); give the same
    /// one to `--start` and to the final ping.
    #[arg(long, value_name = "UUID")]
    pub(crate) run_id: Option<heartbeat_core::RunId>,
    /// With --message-file, how many bytes of its end to send.
    #[arg(long, value_name = "BYTES", default_value_t = 100_000)]
    pub(crate) tail_bytes: usize,
}

fn duration(text: &str) -> Result<Duration, String> {
    heartbeat_validate::duration(text)
}

fn priority(text: &str) -> Result<Priority, String> {
    match text.to_ascii_uppercase().as_str() {
        "P1" => Ok(Priority::P1),
        "P2" => Ok(Priority::P2),
        "P3" => Ok(Priority::P3),
        _ => Err(format!("{text:?} is not a priority: use P1, P2 or P3")),
    }
}
