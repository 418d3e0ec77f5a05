//! [`Shared`]: the state the job path and the delivery worker both touch.

use std::sync::{Arc, Mutex};

use super::flush::FlushRequest;
use super::queue::{Pushed, Queue};
use super::timers::KeepaliveState;
use crate::event::Event;
use crate::stats::Counters;

/// State shared by the job path and the worker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queue: Queue,
    pub(crate) counters: Counters,
    pub(crate) flushes: Mutex<Vec<FlushRequest>>,
    /// Keepalives registered since the worker last looked.
    pub(crate) keepalives: Mutex<Vec<Arc<KeepaliveState>>>,
    /// Wakes the worker for flushes, keepalives and shutdown. Apart
    /// from the queue's own wake-up so that a full worker can stop listening
    /// to pushes (each would be a pointless wake) and still hear these.
    pub(crate) control: tokio::sync::Notify,
    /// Each check's last final event (its outcome and time), recorded by
    /// the worker as it takes events, off the job path.
    pub(crate) last_runs:
        Mutex<std::collections::HashMap<String, (&'static str, std::time::SystemTime)>>,
}

impl Shared {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            queue: Queue::new(capacity),
            counters: Counters::default(),
            flushes: Mutex::new(Vec::new()),
            keepalives: Mutex::new(Vec::new()),
            control: tokio::sync::Notify::new(),
            last_runs: Mutex::default(),
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
                target: "heartbeat",
                dropped_total = n,
                "heartbeat queue full: dropped an event ({what}); the monitoring service is \
                 unreachable or slower than the jobs"
            );
        }
    }

    pub(crate) fn request_flush(&self, request: FlushRequest) {
        self.hand_over(&self.flushes, request);
    }

    /// The counters now, with the queue's length in `pending`.
    pub(crate) fn stats(&self) -> crate::Stats {
        self.counters.snapshot(self.queue.len())
    }

    /// Whether a flush is waiting for an answer.
    pub(crate) fn has_flushes(&self) -> bool {
        !crate::sync::lock(&self.flushes).is_empty()
    }

    pub(crate) fn add_keepalive(&self, state: Arc<KeepaliveState>) {
        self.hand_over(&self.keepalives, state);
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

/// Takes everything from a hand-over list.
pub(crate) fn take_all<T>(list: &Mutex<Vec<T>>) -> Vec<T> {
    std::mem::take(&mut *crate::sync::lock(list))
}
