//! The process-wide default monitor, used by `#[job]`, and scoped
//! overrides of it (so that each test can have its own).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use crate::monitor::{FlushGuard, Monitor};

static GLOBAL: OnceLock<Monitor> = OnceLock::new();
static LOG_ONLY: OnceLock<Monitor> = OnceLock::new();

thread_local! {
    static SCOPED: RefCell<Option<Monitor>> = const { RefCell::new(None) };
}

/// Installs `monitor` as the process-wide default (what `#[job]` functions
/// and [`global`] use) and returns a guard that flushes it when dropped, for
/// up to the monitor's shutdown timeout. Keep the guard in `main`.
///
/// Only the first call installs a monitor, like tracing's global default; a
/// later call logs a warning and leaves the first in place (its guard still
/// flushes the monitor it was given).
///
/// ```no_run
/// fn main() -> Result<(), heartbeat_core::ConfigError> {
///     let _flush = heartbeat_core::init(heartbeat_core::Monitor::from_env()?);
///     // … run jobs …
///     Ok(())
/// }
/// ```
pub fn init(monitor: Monitor) -> FlushGuard {
    let guard = monitor.flush_on_drop(monitor.default_flush_timeout());
    if GLOBAL.set(monitor).is_err() {
        tracing::warn!(target: "heartbeat", "heartbeat_core::init called twice; keeping the first monitor");
    }
    guard
}

/// The default monitor here: the one made default on this thread by
/// [`with_default`] or [`scoped`], else the one given to [`init`], else a
/// monitor with no target (jobs run and log, nothing is sent; max-runtime
/// warnings still fire), built on first use.
pub fn global() -> Monitor {
    if let Some(scoped) = SCOPED.with(|s| s.borrow().clone()) {
        return scoped;
    }
    GLOBAL
        .get()
        .unwrap_or_else(|| {
            LOG_ONLY.get_or_init(|| {
                Monitor::builder()
                    .build()
                    .unwrap_or_else(|_| Monitor::log_only())
            })
        })
        .clone()
}

/// Makes `monitor` the default on this thread until dropped.
struct Override(Option<Monitor>);

fn set_default(monitor: &Monitor) -> Override {
    Override(SCOPED.with(|s| s.borrow_mut().replace(monitor.clone())))
}

impl Drop for Override {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = SCOPED.try_with(|s| *s.borrow_mut() = previous);
    }
}

/// Runs `f` with `monitor` as the default ([`global`]) on this thread,
/// whatever [`init`] installed: `#[job]` functions called inside report to
/// it. Meant for tests, each with its own receiver.
///
/// ```
/// # use heartbeat_core::{Monitor, job};
/// #[job]
/// fn nightly_backup() {}
///
/// let monitor = Monitor::log_only();
/// heartbeat_core::with_default(&monitor, nightly_backup);
/// ```
pub fn with_default<T>(monitor: &Monitor, f: impl FnOnce() -> T) -> T {
    let _override = set_default(monitor);
    f()
}

/// [`with_default`] for a future: `monitor` is the default while the future
/// is polled, so an async test can give its `#[job]`s its own monitor.
pub fn scoped<F: Future>(monitor: &Monitor, future: F) -> Scoped<F> {
    Scoped {
        inner: future,
        monitor: monitor.clone(),
    }
}

pin_project_lite::pin_project! {
    /// A future with its own default monitor; from [`scoped`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        #[pin]
        inner: F,
        monitor: Monitor,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _override = set_default(this.monitor);
        this.inner.poll(cx)
    }
}
