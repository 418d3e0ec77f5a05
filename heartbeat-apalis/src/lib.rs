//! Monitor every [apalis](https://docs.rs/apalis) job with one layer.
//!
//! ```no_run
//! use apalis::prelude::*;
//! use apalis_sqlite::{SqlitePool, SqliteStorage};
//! use heartbeat_apalis::TaskMonitorLayer;
//! use heartbeat_core::Monitor;
//!
//! async fn send_email(to: String) -> Result<(), BoxDynError> {
//!     Ok(())
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let monitor = Monitor::from_env()?;
//! let pool = SqlitePool::connect("sqlite://jobs.db?mode=rwc").await?;
//! SqliteStorage::setup(&pool).await?;
//! WorkerBuilder::new("mailer") // every task: a run of the check `mailer`
//!     .backend(SqliteStorage::<String>::new(&pool))
//!     .layer(TaskMonitorLayer::new(&monitor))
//!     .catch_panic()
//!     .build(send_email)
//!     .run()
//!     .await?;
//! # Ok(())
//! # }
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
//!   for backends with apalis's `Metrics` (SQLite, Postgres); `RedisProbe`
//!   for Redis (feature `redis`).
//! - `RedisLease` and `PostgresLease` (features `redis`, `postgres`): a
//!   fleet of workers on one queue alerts once, from the process that holds
//!   the lease ([`Lease`](heartbeat_core::health::Lease)).
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
