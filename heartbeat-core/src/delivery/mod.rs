//! The delivery engine: the only place that does I/O.
//!
//! The job path pushes [`Event`]s into a bounded [`Queue`] and returns. A
//! worker thread with its own single-threaded tokio runtime (so it works
//! whether or not the caller runs in one) drains the queue, fans each event
//! out to the targets, and delivers with retries. Each (target, run) pair is
//! a *lane*: one task delivers a lane's events one at a time, carrying on
//! with the next itself, so a run's start reaches a service before its
//! finish, while different lanes run concurrently.

pub(crate) mod queue;
mod retry;
mod worker;

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use retry::RetryPolicy;

pub(crate) use queue::{Pushed, Queue};
pub(crate) use worker::spawn;

use crate::event::Event;
use crate::stats::{Counters, FlushReport};

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

/// A pending flush: answered when everything queued is done, or at `deadline`.
#[derive(Debug)]
pub(crate) struct FlushRequest {
    pub(crate) deadline: Instant,
    pub(crate) reply: futures::channel::oneshot::Sender<FlushReport>,
}

/// State shared by the job path and the worker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queue: Queue,
    pub(crate) counters: Counters,
    pub(crate) flushes: Mutex<Vec<FlushRequest>>,
    /// Keepalives registered since the worker last looked.
    pub(crate) keepalives: Mutex<Vec<std::sync::Arc<crate::keepalive::KeepaliveState>>>,
    /// Checks whose monitors should be upserted, not yet picked up.
    pub(crate) upserts: Mutex<Vec<crate::check::Check>>,
    /// Wakes the worker for flushes, keepalives, upserts and shutdown. Apart
    /// from the queue's own wake-up so that a full worker can stop listening
    /// to pushes (each would be a pointless wake) and still hear these.
    pub(crate) control: tokio::sync::Notify,
}

impl Shared {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: Queue::new(capacity),
            counters: Counters::default(),
            flushes: Mutex::new(Vec::new()),
            keepalives: Mutex::new(Vec::new()),
            upserts: Mutex::new(Vec::new()),
            control: tokio::sync::Notify::new(),
        }
    }

    /// Queues an event, counting it or its loss. Never blocks on I/O.
    pub(crate) fn push(&self, event: Event) {
        use std::sync::atomic::Ordering::Relaxed;
        let kind = event.kind.name();
        match self.queue.push(event) {
            Pushed::Queued => {
                self.counters.queued.fetch_add(1, Relaxed);
            }
            // The new event is in, the evicted one is out: `queued` stays,
            // so that queued + dropped always equals the events pushed.
            Pushed::Evicted => self.count_drop("a less important event was evicted"),
            Pushed::Rejected => self.count_drop(kind),
            Pushed::Closed => self.count_drop("the monitor is shut down"),
        }
    }

    /// Counts a dropped event, warning on the first and every 1000th so the
    /// loss is visible without flooding the log.
    fn count_drop(&self, what: &str) {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.counters.dropped.fetch_add(1, Relaxed) + 1;
        if n == 1 || n.is_multiple_of(1000) {
            tracing::warn!(
                dropped_total = n,
                "heartbeat queue full: dropped an event ({what}); the monitoring service is \
                 unreachable or slower than the jobs"
            );
        }
    }

    pub(crate) fn request_flush(&self, request: FlushRequest) {
        self.hand_over(&self.flushes, request);
    }

    pub(crate) fn add_keepalive(&self, state: std::sync::Arc<crate::keepalive::KeepaliveState>) {
        self.hand_over(&self.keepalives, state);
    }

    pub(crate) fn request_upsert(&self, check: crate::check::Check) {
        self.hand_over(&self.upserts, check);
    }

    /// Closes the queue and tells the worker to finish up.
    pub(crate) fn close(&self) {
        self.queue.close();
        self.control.notify_one();
    }

    /// Puts `item` where the worker will find it, and wakes the worker.
    fn hand_over<T>(&self, list: &Mutex<Vec<T>>, item: T) {
        crate::sync::lock(list).push(item);
        self.control.notify_one();
    }
}

/// `base + d`, or a time far enough away to mean "never" when that would
/// overflow (`Instant + Duration` panics on overflow, and users may well pass
/// `Duration::MAX` for "no limit").
pub(crate) fn after(base: Instant, d: Duration) -> Instant {
    const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    base.checked_add(d.min(FOREVER))
        .or_else(|| base.checked_add(Duration::from_secs(24 * 3600)))
        .unwrap_or(base)
}

/// Takes everything from a hand-over list.
pub(crate) fn take_all<T>(list: &Mutex<Vec<T>>) -> Vec<T> {
    std::mem::take(&mut *crate::sync::lock(list))
}
