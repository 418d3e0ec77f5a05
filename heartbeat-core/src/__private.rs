//! What `#[job]` expands to. Not public API: names here change without notice.

use std::fmt::Display;
use std::future::Future;
use std::sync::LazyLock;

use crate::check::{Check, CheckBuilder};
use crate::outcome::{Outcome, RunOutcome};

pub use crate::check::validate_slug_const;
pub use crate::schedule::validate_cron;
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

/// Runs a synchronous job through the global monitor.
pub fn run_sync<T>(
    check: &LazyCheck,
    job: impl FnOnce() -> T,
    outcome: impl FnOnce(&T) -> Outcome,
) -> T {
    match &**check {
        Some(check) => crate::global().run_blocking_with(check, job, outcome),
        None => job(),
    }
}

/// Runs an async job through the global monitor.
pub async fn run_async<F: Future>(
    check: &LazyCheck,
    job: F,
    outcome: impl FnOnce(&F::Output) -> Outcome,
) -> F::Output {
    match &**check {
        Some(check) => crate::global().run_with(check, job, outcome).await,
        None => job.await,
    }
}

/// Panics at compile time (inside a `const`) with the validator's message.
pub const fn assert_valid(result: Result<(), &'static str>) {
    if let Err(message) = result {
        panic!("{}", message);
    }
}

/// The job's output, for reading its outcome by autoref specialisation:
/// `(&&Output(&value)).heartbeat_outcome()` picks [`RunOutcome`] when the
/// type has it, a boxed error's source chain next, and `{:#}` of a `Display`
/// error (anyhow's chain) last. Method lookup on `&&Output` tries impls for
/// `&Output` first, then `&&Output`, then `Output`; that order is the
/// preference order.
#[derive(Debug)]
pub struct Output<'a, T>(pub &'a T);

/// First choice: the type says its own outcome.
pub trait ViaRunOutcome {
    /// The outcome.
    fn heartbeat_outcome(&self) -> Outcome;
}

impl<T: RunOutcome> ViaRunOutcome for &Output<'_, T> {
    fn heartbeat_outcome(&self) -> Outcome {
        self.0.outcome()
    }
}

/// Second choice: a boxed error, with its source chain.
pub trait ViaBoxedError {
    /// The outcome.
    fn heartbeat_outcome(&self) -> Outcome;
}

impl<T> ViaBoxedError for &&Output<'_, Result<T, Box<dyn std::error::Error + Send + Sync>>> {
    fn heartbeat_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(crate::error::chain(&**e)),
        }
    }
}

impl<T> ViaBoxedError for &&Output<'_, Result<T, Box<dyn std::error::Error>>> {
    fn heartbeat_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(crate::error::chain(&**e)),
        }
    }
}

/// Last choice: an error that is only `Display`; `{:#}` prints anyhow's chain.
pub trait ViaDisplay {
    /// The outcome.
    fn heartbeat_outcome(&self) -> Outcome;
}

impl<T, E: Display> ViaDisplay for Output<'_, Result<T, E>> {
    fn heartbeat_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(format!("{e:#}")),
        }
    }
}
