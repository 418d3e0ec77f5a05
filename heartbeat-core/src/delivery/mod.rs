//! The delivery engine: the only place that does I/O.
//!
//! The job path pushes [`Event`](crate::Event)s into a bounded
//! [`queue`] and returns. A [`worker`] thread with its own single-threaded
//! tokio runtime (so it works whether or not the caller runs in one) drains
//! the queue and fans each event out to the targets' [`lanes`], which
//! deliver through the [`retry`] loop. The worker also owns the [`timers`]
//! (keepalive ticks, max-runtime watch) and answers [`flush`] requests.

mod flush;
mod lanes;
mod priority;
mod queue;
mod reporter;
mod retry;
mod shared;
mod timers;
mod worker;

use std::time::Duration;

pub use retry::RetryPolicy;

pub(crate) use flush::{FlushReply, FlushRequest};
pub(crate) use shared::Shared;
pub(crate) use timers::{KeepaliveState, after};
pub(crate) use worker::spawn;

/// Tuning of the delivery worker (set through [`MonitorBuilder`](crate::MonitorBuilder)).
#[derive(Debug, Clone)]
pub(crate) struct DeliveryConfig {
    /// Deliveries the worker holds at once (in flight or waiting in a lane);
    /// beyond that, events wait in the queue, where overflow is by importance.
    pub(crate) max_in_worker: usize,
    pub(crate) concurrency: usize,
    pub(crate) retry: RetryPolicy,
    /// How long the worker keeps delivering after the last handle is dropped.
    pub(crate) shutdown_timeout: Duration,
}
