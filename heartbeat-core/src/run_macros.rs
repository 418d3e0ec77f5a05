//! [`run!`](crate::run!) and [`run_blocking!`](crate::run_blocking!): one
//! expression that monitors a job whatever error type it returns.

/// Runs a future as a monitored run and returns its output, reading how it
/// ended from whatever a Rust job returns. Like [`Monitor::run`](crate::Monitor::run),
/// which only takes [`RunOutcome`](crate::RunOutcome) types, but also for
/// errors that cannot implement it:
///
/// | output | outcome |
/// |---|---|
/// | `()`, `i32`, [`Outcome`](crate::Outcome) | as for `Monitor::run` |
/// | `Result<T, E: Error>` | failure with the error's source chain |
/// | `anyhow::Result<T>`, `Result<T, Box<dyn Error + Send + Sync>>`, `Result<T, Box<dyn Error>>` | failure with the whole chain (anyhow's context included) |
/// | `Result<T, String>`, `Result<T, &str>`, any `Display` error | failure with its text |
///
/// Finish hooks see the typed error for the first two kinds. Another output
/// type is a compile error that lists these. The output type must be known
/// where the macro is written (an `async fn`'s return type, or a block or
/// closure whose type is annotated), not inferred from later code. An
/// optional third argument gives [`RunOptions`](crate::RunOptions).
///
/// ```no_run
/// # async fn export() -> Result<(), Box<dyn std::error::Error + Send + Sync>> { Ok(()) }
/// # async fn f(monitor: heartbeat_core::Monitor) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use heartbeat_core::{Check, run};
///
/// let check = Check::new("nightly-export")?;
/// run!(monitor, &check, export()).await?;
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! run {
    ($monitor:expr, $check:expr, $options:expr, $job:expr $(,)?) => {
        $crate::__private::run_future(&$monitor, $check, $options, $job, $crate::__report!())
    };
    ($monitor:expr, $check:expr, $job:expr $(,)?) => {
        $crate::run!($monitor, $check, $crate::RunOptions::new(), $job)
    };
}

/// [`run!`](crate::run!) for synchronous code: runs a closure as a
/// monitored run and returns its output.
///
/// ```no_run
/// # fn rotate_logs() -> Result<(), String> { Ok(()) }
/// # fn f(monitor: heartbeat_core::Monitor) -> Result<(), Box<dyn std::error::Error>> {
/// use heartbeat_core::{Check, run_blocking};
///
/// let check = Check::new("rotate-logs")?;
/// run_blocking!(monitor, &check, rotate_logs)?;
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! run_blocking {
    ($monitor:expr, $check:expr, $options:expr, $job:expr $(,)?) => {
        $crate::__private::run_closure(&$monitor, $check, $options, $job, $crate::__report!())
    };
    ($monitor:expr, $check:expr, $job:expr $(,)?) => {
        $crate::run_blocking!($monitor, $check, $crate::RunOptions::new(), $job)
    };
}

/// The closure `run!` and `run_blocking!` read a job's output with: autoref
/// dispatch over the tiers in `__private` (not public API).
#[doc(hidden)]
#[macro_export]
macro_rules! __report {
    () => {
        |__heartbeat_output| {
            #[allow(unused_imports)]
            use $crate::__private::{
                ViaDisplay as _, ViaDynError as _, ViaLocalDynError as _, ViaRunOutcome as _,
                ViaUnsupported as _,
            };
            $crate::__private::report(
                (&&&$crate::__private::Output(__heartbeat_output)).heartbeat_report(),
            )
        }
    };
}
