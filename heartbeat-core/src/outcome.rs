//! [`Outcome`] and [`RunOutcome`]: how a job's return value ends its run.

use std::any::Any;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It failed, for this reason.
    Failure(String),
    /// It ended with this process exit status (0 = success).
    ExitCode(i32),
}

/// A value that says how a run ended: what [`Monitor::run`](crate::Monitor::run)
/// and `#[job]` accept as a job's output.
///
/// | type | outcome |
/// |---|---|
/// | `()` | success |
/// | `Result<T, E: Error>` | success, or failure with the error and its source chain |
/// | `i32` | an exit status: 0 success, anything else failure |
///
/// For an error type that is not `std::error::Error` (such as
/// `anyhow::Error`), finish a [`RunGuard`](crate::RunGuard) by hand with
/// `run.fail(err.as_ref())`, or implement this trait for your own type.
pub trait RunOutcome {
    /// How this value ends a run.
    fn outcome(&self) -> Outcome;
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

impl<T, E: std::error::Error> RunOutcome for Result<T, E> {
    fn outcome(&self) -> Outcome {
        match self {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(crate::error::chain(e)),
        }
    }
}

impl RunOutcome for Outcome {
    fn outcome(&self) -> Outcome {
        self.clone()
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
