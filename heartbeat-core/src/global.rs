//! The process-wide default monitor, used by `#[job]`.

use std::sync::OnceLock;

use crate::monitor::{FlushGuard, Monitor};

static GLOBAL: OnceLock<Monitor> = OnceLock::new();
static LOG_ONLY: OnceLock<Monitor> = OnceLock::new();

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

/// The process-wide default monitor: the one given to [`init`], or, when
/// there is none, a monitor with no target (jobs run and log, nothing is
/// sent; max-runtime warnings still fire). That one is built on first use.
pub fn global() -> &'static Monitor {
    GLOBAL.get().unwrap_or_else(|| {
        LOG_ONLY.get_or_init(|| {
            Monitor::builder()
                .build()
                .unwrap_or_else(|_| Monitor::log_only())
        })
    })
}
