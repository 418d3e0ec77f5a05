//! Monitor every [apalis](https://docs.rs/apalis) job with one layer.
//!
//! ```no_run
//! # async fn example(backend: apalis_sqlite::SqliteStorage<String, (), ()>) {}
//! ```
//!
//! - [`TaskMonitorLayer`]: every task execution is a run on the worker's
//!   check; a failed attempt that will be retried is a message, not a
//!   failure; the final failure, an abort and a caught panic are failures;
//!   a shutdown interrupts.
//! - [`cron_check`]: an apalis-cron worker's check with the schedule and
//!   time zone its ticks follow (feature `cron`, default).
//! - [`WorkerLiveness`]: worker start, heartbeat, stop and exit events feed
//!   a [`WorkerRegistry`](heartbeat_core::health::WorkerRegistry), so a
//!   health endpoint answers 503 when a critical worker dies.
//! - [`BackendProbe`]: a [`QueueProbe`](heartbeat_core::health::QueueProbe)
//!   for any backend with apalis's `Metrics` (SQLite, Postgres, Redis).
//! - [`RedisLease`] and [`PostgresLease`] (features `redis`, `postgres`):
//!   a fleet of workers on one queue alerts once, from the process that
//!   holds the lease.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "cron")]
mod cron;
mod future;
mod layer;
mod lease;
mod liveness;
mod naming;
mod probe;
#[cfg(feature = "redis")]
mod redis_probe;

#[cfg(feature = "cron")]
pub use cron::{ZoneName, cron_check};
pub use future::TaskFuture;
pub use layer::{TaskMonitor, TaskMonitorLayer};
#[cfg(feature = "postgres")]
pub use lease::PostgresLease;
#[cfg(feature = "redis")]
pub use lease::RedisLease;
pub use liveness::WorkerLiveness;
pub use naming::slug_for_worker;
pub use probe::BackendProbe;
#[cfg(feature = "redis")]
pub use redis_probe::RedisProbe;
