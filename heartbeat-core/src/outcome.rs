//! [`Outcome`] and [`RunOutcome`]: how a run ends, and how a job's return
//! value says so.

use std::any::Any;
use std::error::Error;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It failed, for this reason (the error and its source chain).
    Failure(String),
    /// It ended with this process exit status (0 = success).
    ExitCode(i32),
    /// This attempt failed, for this reason, and another attempt will
    /// follow: logged, sent as a message where the service keeps one, and
    /// never reported as a failure.
    Retry(String),
    /// The run was stopped by a shutdown before it could finish: logged,
    /// and nothing final is sent (so no false alert on a deploy).
    Interrupted,
}

impl Outcome {
    /// Whether this outcome is a failure that the services are told about.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failure(_)) || matches!(self, Self::ExitCode(c) if *c != 0)
    }

    /// A short lowercase name for logs: `success`, `failure`, `exit-code`,
    /// `retry` or `interrupted`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure(_) => "failure",
            Self::ExitCode(_) => "exit-code",
            Self::Retry(_) => "retry",
            Self::Interrupted => "interrupted",
        }
    }
}

/// A value that says how a run ended: what [`Monitor::run`](crate::Monitor::run)
/// accepts as a job's output.
///
/// | type | outcome |
/// |---|---|
/// | `()` | success |
/// | `Result<T, E: Error>` | success, or failure with the error and its source chain |
/// | `i32` | an exit status: 0 success, anything else failure |
/// | [`Outcome`] | itself |
///
/// Errors that are not `std::error::Error` (`anyhow::Error`,
/// `Box<dyn Error + Send + Sync>`, `String`) cannot have this trait, by
/// Rust's coherence rules: the [`run!`](crate::run!) macro and `#[job]`
/// accept those too.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say how a monitored run ended",
    label = "the job returns `{Self}`",
    note = "`Monitor::run` accepts (), i32, Outcome and Result<T, E: std::error::Error>; \
            the `heartbeat_core::run!` macro and `#[job]` also accept Result<T, E> for \
            anyhow::Error, Box<dyn Error + Send + Sync> and String errors"
)]
pub trait RunOutcome {
    /// How this value ends a run.
    fn outcome(&self) -> Outcome;

    /// The error behind a failure, typed, for finish hooks (a Sentry
    /// integration reports its type and source chain).
    fn error(&self) -> Option<&(dyn Error + 'static)> {
        None
    }
}

impl RunOutcome for () {
    fn outcome(&self) -> Outcome {
        Outcome::Success
    }
}

impl RunOutcome for i32 {
    fn outcome(&self) -> Outcome {
        Outcome::ExitCode(*self)
    }
}

impl<T, E: Error + 'static> RunOutcome for Result<T, E> {
    fn outcome(&self) -> Outcome {
        match self {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(crate::error::chain(e)),
        }
    }

    fn error(&self) -> Option<&(dyn Error + 'static)> {
        self.as_ref().err().map(|e| e as &(dyn Error + 'static))
    }
}

impl RunOutcome for Outcome {
    fn outcome(&self) -> Outcome {
        self.clone()
    }
}

/// A job's outcome with the error behind it, borrowed from its output.
/// Not public API (it is named by macro expansions).
#[doc(hidden)]
#[derive(Debug)]
pub struct Reported<'a> {
    pub(crate) outcome: Outcome,
    pub(crate) error: Option<&'a (dyn Error + 'static)>,
}

impl<'a> Reported<'a> {
    pub(crate) fn of<T: RunOutcome + ?Sized>(value: &'a T) -> Self {
        Self {
            outcome: value.outcome(),
            error: value.error(),
        }
    }

    pub(crate) fn of_outcome(outcome: Outcome) -> Self {
        Self {
            outcome,
            error: None,
        }
    }

    pub(crate) fn error(error: &'a (dyn Error + 'static)) -> Self {
        Self {
            outcome: Outcome::Failure(crate::error::chain(error)),
            error: Some(error),
        }
    }
}

/// The message of a panic payload (`panic!("…")` gives a `&str` or `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    format!("panicked: {msg}")
}
