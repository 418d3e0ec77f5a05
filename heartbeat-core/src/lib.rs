//! Heartbeat monitoring for background jobs: every run tells a monitoring
//! service (Healthchecks.io, Cronitor, Sentry Crons, Better Stack, Dead
//! Man's Snitch, Uptime Kuma, Cronhub) that it started and how it ended, so a job that
//! fails, hangs or never runs becomes an alert instead of a silence.
//!
//! Monitoring never breaks the job: the job path only queues events in
//! memory; a background thread delivers them with retries, and
//! [`Monitor::flush`] (or a [`FlushGuard`]) makes a short-lived program wait,
//! within a deadline, for its pings to leave.
//!
//! ```no_run
//! use std::time::Duration;
//! use heartbeat_core::{Check, Healthchecks, Monitor};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let monitor = Monitor::builder()
//!     .target(Healthchecks::new().ping_key("your-project-ping-key"))
//!     .build()?;
//! let _flush = monitor.flush_on_drop(Duration::from_secs(5));
//!
//! let check = Check::new("nightly-backup")?;
//! let run = monitor.start(&check); // queues a start ping, returns at once
//! match std::fs::copy("db.sqlite", "backup.sqlite") {
//!     Ok(_) => run.success(),
//!     Err(e) => run.fail(&e), // the error chain becomes the ping body
//! }
//! # Ok(()) }
//! ```
//!
//! # The pieces
//!
//! - [`Check`]: what is monitored, validated when built (slug, ids,
//!   [`Schedule`], time zone, grace, max runtime, runbook, [`Priority`]).
//! - [`Monitor`]: the handle. [`Monitor::start`] gives a [`RunGuard`];
//!   [`Monitor::run`] / [`Monitor::run_blocking`] wrap a job whose output
//!   ([`RunOutcome`]) decides success or failure, and [`run!`] /
//!   [`run_blocking!`] do the same for any error type (`anyhow`, boxed,
//!   `String`); [`Monitor::keepalive`] pings for a long-running process
//!   while it makes progress.
//! - `#[job]` (feature `macros`): the same for an annotated function,
//!   through the default monitor ([`init`] / [`global`], or [`scoped`] /
//!   [`with_default`] in tests). Inside a run, [`current_run`] gives it.
//! - Targets: [`Healthchecks`], [`Cronitor`], and [`UrlTemplate`] with
//!   presets for Better Stack, Dead Man's Snitch, Uptime Kuma and Cronhub.
//!   With an API key, scheduled checks get their monitor created or updated
//!   (Healthchecks Management API v3, Cronitor monitors API).
//!   Feature `sentry`: `SentryCrons` (check-ins) and `SentryEvents`
//!   (failed runs as events through the application's Sentry client).
//! - Delivery: [`RetryPolicy`], [`Stats`], [`FlushReport`], [`FlushEnd`].
//! - [`health`]: queue rules ([`health::QueueWatch`]), worker liveness
//!   ([`health::WorkerRegistry`]) and the [`health::HealthReport`] a health
//!   endpoint serves (heartbeat-tower's `HealthService`). Feature `metrics`
//!   records runs, queues, workers and deliveries through the `metrics`
//!   facade.
//!
//! ```no_run
//! use heartbeat_core::{Monitor, job};
//!
//! #[job(schedule = "0 3 * * *", tz = "Europe/Paris", max_runtime = "1h", priority = P1)]
//! fn nightly_backup() -> Result<(), std::io::Error> {
//!     Ok(())
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let _flush = heartbeat_core::init(Monitor::from_env()?);
//!     nightly_backup()?;
//!     Ok(())
//! }
//! ```
//!
//! # The seam: targets, run options, hooks
//!
//! Integrations (and you) plug in at three points:
//!
//! - a [`Target`] per monitoring service: `send` one [`Event`] and judge the
//!   reply as a [`Verdict`]; the engine queues, orders per check, retries,
//!   counts and flushes ([`target`] has an example);
//! - [`RunOptions`] to start a run with a run id, attempt and attempts
//!   allowed, and the outcomes that are not failures: [`RunGuard::retry`]
//!   (another attempt follows) and [`RunGuard::interrupted`] (or any guard
//!   dropped after [`Monitor::shutdown`]);
//! - [`hooks`] at each run's start and finish, which see the typed error.
//!
//! ```
//! use std::time::Duration;
//! use heartbeat_core::test::Recorder;
//! use heartbeat_core::{Check, EventKind, Monitor, RunFinish, RunId, RunOptions};
//!
//! let recorder = Recorder::new(); // an in-memory target (feature `test`)
//! let monitor = Monitor::builder()
//!     .target(recorder.clone())
//!     .on_finish(|run: &RunFinish<'_>| {
//!         if let Some(err) = run.error() {
//!             eprintln!("{} attempt {}: {err}", run.check().slug(), run.attempt());
//!         }
//!     })
//!     .build()?;
//! let check = Check::new("import-orders")?;
//! let task = RunId::new(); // a retried task keeps its id across attempts
//!
//! let first = monitor.start_with(&check, RunOptions::new().run_id(task).attempt(1).max_attempts(3));
//! first.retry(&std::io::Error::other("database busy")); // logged, not a failure
//! let second = monitor.start_with(&check, RunOptions::new().run_id(task).attempt(2).max_attempts(3));
//! second.success();
//!
//! monitor.flush_blocking(Duration::from_secs(5));
//! let kinds: Vec<EventKind> = recorder.events().iter().map(|e| e.kind().clone()).collect();
//! assert_eq!(kinds, [EventKind::Start, EventKind::Retry, EventKind::Start, EventKind::Success]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Configuration from the environment
//!
//! [`Monitor::from_env`] reads the variables in [`env`](mod@crate::env); each one set enables
//! its target, and none set gives a monitor that only logs.
//!
//! # Feature flags
//!
//! | feature | default | what |
//! |---|---|---|
//! | `macros` | yes | the `#[job]` attribute (crate `heartbeat-macros`) |
//! | `ring` | yes | *ring* as rustls's crypto provider for https targets (never installed process-wide) |
//! | `aws-lc-rs` | no | aws-lc-rs instead (post-quantum hybrid key exchange, FIPS builds); wins when both are on |
//! | `sentry` | no | `SentryCrons` and `SentryEvents` (sentry 0.49 without its transport) |
//! | `metrics` | no | runs, durations, queue depth and failures, worker liveness and deliveries through the `metrics` facade |
//! | `test` | no | [`test::Receiver`], a recording, misbehaving loopback HTTP server, and [`test::Recorder`], an in-memory target, for testing your own monitoring |
//! | `log-layer` | no | [`log_layer::RunLogLayer`]: what a job logs through `tracing` goes into its run's log tail |
#![cfg_attr(docsrs, feature(doc_cfg))]

mod check;
mod current;
mod delivery;
mod error;
mod event;
mod global;
mod handle;
pub mod health;
pub mod hooks;
mod keepalive;
#[cfg(feature = "log-layer")]
#[cfg_attr(docsrs, doc(cfg(feature = "log-layer")))]
pub mod log_layer;
mod log_tail;
mod metrics;
mod monitor;
mod outcome;
mod run;
mod run_macros;
mod schedule;
mod secret;
#[cfg(feature = "sentry")]
mod sentry_events;
mod sink;
mod stats;
mod sync;
pub mod target;
mod targets;

#[doc(hidden)]
pub mod __private;

#[cfg(feature = "test")]
#[cfg_attr(docsrs, doc(cfg(feature = "test")))]
pub mod test;

pub use check::{Check, CheckBuilder, MAX_SLUG_LEN};
pub use current::{InRun, current_run};
pub use delivery::RetryPolicy;
pub use error::{CheckError, ConfigError};
pub use event::{Event, EventKind, InvalidRunId, RunId};
pub use global::{Scoped, global, init, scoped, with_default};
pub use handle::RunHandle;
pub use hooks::{FinishHook, RunFinish, RunStart, StartHook};
pub use keepalive::Keepalive;
pub use log_tail::LOG_TAIL_BYTES;
pub use monitor::{FlushGuard, Monitor, MonitorBuilder, env};
pub use outcome::{Outcome, RunOutcome};
pub use run::{RunGuard, RunOptions};
pub use schedule::{Priority, Schedule, validate_cron};
#[cfg(feature = "sentry")]
pub use sentry_events::SentryEvents;
pub use stats::{FlushEnd, FlushReport, Stats, Undelivered};
pub use target::{BoxFuture, Plan, Target, Verdict};
#[cfg(feature = "sentry")]
pub use targets::SentryCrons;
pub use targets::{Cronitor, Healthchecks, IntoTarget, TargetContext, UrlTemplate};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use heartbeat_macros::job;

/// The crate README's example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
