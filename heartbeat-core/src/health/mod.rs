//! The health model: what heartbeats alone do not catch. A queue that backs
//! up, failures that spike, a worker that dies.
//!
//! - [`QueueStats`] and [`QueueProbe`]: any queue reports its figures.
//! - [`Rule`]s, evaluated by a [`QueueWatch`] at every poll: depth above a
//!   limit, depth growing for N polls, failures per window against a
//!   learned baseline. A breach is one alert (a failure ping to the rule's
//!   own check, an ERROR line); its end is one recovery (a success ping);
//!   while healthy the rule's check gets a success every poll, so the
//!   service also notices a watcher that died.
//! - [`Lease`]: one process of a fleet sends a shared queue's alerts.
//! - [`WorkerRegistry`]: workers that beat within a time-to-live.
//! - [`HealthReport`]: all of it as one status (ok, degraded, down), for a
//!   health endpoint.
//!
//! Everything takes the time as an argument where it matters
//! ([`QueueWatch::poll_at`], [`WorkerRegistry::report_at`]), so rules are
//! tested by driving polls, not by waiting.

mod lease;
mod probe;
mod report;
mod rules;
mod watch;
mod workers;

pub use lease::Lease;
pub use probe::{ProbeError, QueueProbe, QueueStats};
pub use report::{CheckReport, HealthReport, HealthStatus};
pub use rules::{Breach, Rule};
pub use watch::{QueueWatch, QueueWatchBuilder};
pub use workers::{Worker, WorkerRegistry, WorkerStatus};
