//! Metrics through the `metrics` facade (feature `metrics`): whatever
//! recorder the application installs (e.g. `metrics-exporter-prometheus`)
//! gets them, with no further code. Without the feature, every function
//! here is empty and compiles away.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `heartbeat_runs_total` | counter | `check`, `outcome` |
//! | `heartbeat_run_duration_seconds` | histogram | `check` |
//! | `heartbeat_queue_depth` | gauge | `queue` |
//! | `heartbeat_queue_failed_total` | counter (absolute) | `queue` |
//! | `heartbeat_worker_alive` | gauge (1 or 0) | `worker` |
//! | `heartbeat_delivery_events_total` | counter | `target`, `result` |

use std::time::Duration;

/// A run finished with `outcome` after `duration`.
#[cfg(feature = "metrics")]
pub(crate) fn run(check: &str, outcome: &'static str, duration: Duration) {
    let check = check.to_owned();
    metrics::counter!("heartbeat_runs_total", "check" => check.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("heartbeat_run_duration_seconds", "check" => check)
        .record(duration.as_secs_f64());
}

/// A queue's figures were read.
#[cfg(feature = "metrics")]
pub(crate) fn queue(queue: &str, stats: &crate::health::QueueStats) {
    let queue = queue.to_owned();
    metrics::gauge!("heartbeat_queue_depth", "queue" => queue.clone()).set(stats.queued as f64);
    metrics::counter!("heartbeat_queue_failed_total", "queue" => queue).absolute(stats.failed);
}

/// A worker's liveness was looked at.
#[cfg(feature = "metrics")]
pub(crate) fn worker(worker: &str, alive: bool) {
    metrics::gauge!("heartbeat_worker_alive", "worker" => worker.to_owned()).set(if alive {
        1.0
    } else {
        0.0
    });
}

/// A delivery to `target` ended with `result` (`delivered`, `failed`,
/// `superseded`).
#[cfg(feature = "metrics")]
pub(crate) fn delivery(target: &str, result: &'static str) {
    metrics::counter!("heartbeat_delivery_events_total", "target" => target.to_owned(), "result" => result)
        .increment(1);
}

#[cfg(not(feature = "metrics"))]
pub(crate) fn run(_: &str, _: &'static str, _: Duration) {}

#[cfg(not(feature = "metrics"))]
pub(crate) fn queue(_: &str, _: &crate::health::QueueStats) {}

#[cfg(not(feature = "metrics"))]
pub(crate) fn worker(_: &str, _: bool) {}

#[cfg(not(feature = "metrics"))]
pub(crate) fn delivery(_: &str, _: &'static str) {}
