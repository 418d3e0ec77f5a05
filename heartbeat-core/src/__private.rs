//! What `#[job]` and [`run!`](crate::run!) expand to. Not public API: names
//! here change without notice.

use std::error::Error;
use std::fmt::Display;
use std::future::Future;
use std::sync::LazyLock;

use crate::check::{Check, CheckBuilder};
use crate::monitor::Monitor;
use crate::outcome::{Outcome, RunOutcome};
use crate::run::RunOptions;

pub use crate::outcome::Reported;
pub use std::time::Duration;

/// A job's check, built on first use from arguments the macro validated.
pub type LazyCheck = LazyLock<Option<Check>>;

/// Builds the check; on the (unexpected) failure the job runs unmonitored
/// rather than not at all.
pub fn build(builder: CheckBuilder) -> Option<Check> {
    match builder.build() {
        Ok(check) => Some(check),
        Err(e) => {
            tracing::error!(target: "heartbeat", "#[job] check could not be built, the job runs unmonitored: {e}");
            None
        }
    }
}

/// Runs a synchronous `#[job]` through `monitor`, else the default monitor.
pub fn run_sync<T>(
    monitor: Option<&Monitor>,
    check: &LazyCheck,
    job: impl FnOnce() -> T,
    report: impl for<'a> FnOnce(&'a T) -> Reported<'a>,
) -> T {
    match &**check {
        Some(check) => match monitor {
            Some(m) => m.run_blocking_reported(check, RunOptions::new(), job, report),
            None => crate::global().run_blocking_reported(check, RunOptions::new(), job, report),
        },
        None => job(),
    }
}

/// Runs an async `#[job]` through `monitor`, else the default monitor.
pub async fn run_async<F: Future>(
    monitor: Option<Monitor>,
    check: &LazyCheck,
    job: F,
    report: impl for<'a> FnOnce(&'a F::Output) -> Reported<'a>,
) -> F::Output {
    match &**check {
        Some(check) => {
            let monitor = monitor.unwrap_or_else(crate::global);
            monitor
                .run_reported(check, RunOptions::new(), job, report)
                .await
        }
        None => job.await,
    }
}

/// What `run!` expands to.
pub async fn run_future<F: Future>(
    monitor: &Monitor,
    check: &Check,
    options: RunOptions,
    job: F,
    report: impl for<'a> FnOnce(&'a F::Output) -> Reported<'a>,
) -> F::Output {
    monitor.run_reported(check, options, job, report).await
}

/// What `run_blocking!` expands to.
pub fn run_closure<T>(
    monitor: &Monitor,
    check: &Check,
    options: RunOptions,
    job: impl FnOnce() -> T,
    report: impl for<'a> FnOnce(&'a T) -> Reported<'a>,
) -> T {
    monitor.run_blocking_reported(check, options, job, report)
}

/// The job's output, for reading its outcome by autoref specialisation:
/// `(&&&Output(&value)).heartbeat_report()` takes the first of these that
/// applies (method lookup tries impls for `&&Output`, `&&&Output`, `&Output`
/// and `Output`, in that order):
///
/// 1. an error that is a pointer to `dyn Error` (`anyhow::Error`,
///    `Box<dyn Error + Send + Sync>`, `Box<dyn Error>`), with its chain.
///    First, because method lookup would otherwise pick tier 2 for a boxed
///    error (`Box<T>: Error` seems to hold) and then fail on `T: Sized`;
/// 2. [`RunOutcome`]: `()`, `i32`, `Result<T, E: Error>`, [`Outcome`];
/// 3. an error that is only `Display` (`String`, `&str`);
/// 4. anything else: [`Unsupported`], which [`report`] rejects with a
///    message listing what is supported.
#[derive(Debug)]
pub struct Output<'a, T>(pub &'a T);

/// Tier 2: the type says its own outcome.
pub trait ViaRunOutcome<'a> {
    /// The outcome.
    fn heartbeat_report(&self) -> Reported<'a>;
}

impl<'a, T: RunOutcome> ViaRunOutcome<'a> for &&&Output<'a, T> {
    fn heartbeat_report(&self) -> Reported<'a> {
        Reported::of(self.0)
    }
}

/// Tier 1: an error that is a pointer to `dyn Error + Send + Sync`.
pub trait ViaDynError<'a> {
    /// The outcome.
    fn heartbeat_report(&self) -> Reported<'a>;
}

// `AsRef`, not `Deref`: method lookup cannot rule out a projection
// (`Deref<Target = …>`), and would find this impl ambiguous with the one for
// `Box<dyn Error>`; a trait bound with concrete types it can.
impl<'a, T, E> ViaDynError<'a> for &&Output<'a, Result<T, E>>
where
    E: AsRef<dyn Error + Send + Sync + 'static>,
{
    fn heartbeat_report(&self) -> Reported<'a> {
        match self.0 {
            Ok(_) => Reported::of(&()),
            Err(e) => Reported::error(e.as_ref()),
        }
    }
}

/// Tier 1, for `Box<dyn Error>` (not `Send`).
pub trait ViaLocalDynError<'a> {
    /// The outcome.
    fn heartbeat_report(&self) -> Reported<'a>;
}

impl<'a, T> ViaLocalDynError<'a> for &&Output<'a, Result<T, Box<dyn Error>>> {
    fn heartbeat_report(&self) -> Reported<'a> {
        match self.0 {
            Ok(_) => Reported::of(&()),
            Err(e) => Reported::error(&**e),
        }
    }
}

/// Tier 3: an error that is only `Display`.
pub trait ViaDisplay<'a> {
    /// The outcome.
    fn heartbeat_report(&self) -> Reported<'a>;
}

impl<'a, T, E: Display> ViaDisplay<'a> for &Output<'a, Result<T, E>> {
    fn heartbeat_report(&self) -> Reported<'a> {
        match self.0 {
            Ok(_) => Reported::of(&()),
            Err(e) => Reported::of_outcome(Outcome::Failure(format!("{e:#}"))),
        }
    }
}

/// Tier 4: a type heartbeat cannot read.
pub trait ViaUnsupported<'a, T> {
    /// Not an outcome: [`report`] rejects it at compile time.
    fn heartbeat_report(&self) -> Unsupported<'a, T>;
}

impl<'a, T> ViaUnsupported<'a, T> for Output<'a, T> {
    fn heartbeat_report(&self) -> Unsupported<'a, T> {
        Unsupported(self.0)
    }
}

/// The output of a job whose type heartbeat cannot read.
#[derive(Debug)]
pub struct Unsupported<'a, T>(pub &'a T);

/// What the tiers return; only a [`Reported`] is one.
#[diagnostic::on_unimplemented(
    message = "a monitored job cannot return this type: heartbeat cannot tell how the run ended",
    label = "the job's output type is not supported",
    note = "supported: (), i32, heartbeat_core::Outcome, Result<T, E> where E is a \
            std::error::Error, anyhow::Error, Box<dyn Error (+ Send + Sync)>, String or &str \
            (or any Display); or implement heartbeat_core::RunOutcome for your type"
)]
pub trait IntoReported<'a> {
    /// The report.
    fn into_reported(self) -> Reported<'a>;
}

impl<'a> IntoReported<'a> for Reported<'a> {
    fn into_reported(self) -> Reported<'a> {
        self
    }
}

/// Checks that a tier gave a report.
pub fn report<'a>(tier: impl IntoReported<'a>) -> Reported<'a> {
    tier.into_reported()
}
