//! [`Keepalive`]: periodic liveness pings for a long-running process.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::delivery::KeepaliveState;
use crate::sink::Sink;

/// Pings a check every interval while a long-running process makes
/// progress; from [`Monitor::keepalive`](crate::Monitor::keepalive).
///
/// Call [`progress`](Self::progress) whenever the process gets work done. At
/// each tick, if there was progress since the last one, a heartbeat is sent;
/// if not, nothing is sent (and a warning is logged), so a process that is
/// alive but stuck goes silent and the service alerts.
/// [`regardless_of_progress`](Self::regardless_of_progress) pings at every
/// tick instead. Dropping the guard stops the pings.
#[must_use = "dropping the Keepalive stops its pings"]
pub struct Keepalive {
    state: Option<Arc<KeepaliveState>>,
    /// Keeps the monitor's delivery alive while the guard lives, even when
    /// every `Monitor` handle is gone.
    _sink: Option<Arc<Sink>>,
    /// A registered worker that progress also beats.
    worker: Option<crate::health::Worker>,
}

impl Keepalive {
    pub(crate) fn new(parts: Option<(Arc<KeepaliveState>, Arc<Sink>)>) -> Self {
        let (state, sink) = parts.unzip();
        Self {
            state,
            _sink: sink,
            worker: None,
        }
    }

    /// Records that the process made progress since the last tick. Cheap:
    /// one atomic increment.
    pub fn progress(&self) {
        if let Some(s) = &self.state {
            s.progress.fetch_add(1, Relaxed);
        }
        if let Some(worker) = &self.worker {
            worker.beat();
        }
    }

    /// Also beats `worker` (from a [`WorkerRegistry`](crate::health::WorkerRegistry))
    /// at every [`progress`](Self::progress), so one call keeps both the
    /// monitoring service and the health endpoint informed; dropping the
    /// keepalive stops the worker.
    pub fn feeding(mut self, worker: crate::health::Worker) -> Self {
        self.worker = Some(worker);
        self
    }

    /// Pings at every tick, whether or not [`progress`](Self::progress) was called.
    pub fn regardless_of_progress(self) -> Self {
        if let Some(s) = &self.state {
            s.always.store(true, Relaxed);
        }
        self
    }
}

impl Drop for Keepalive {
    fn drop(&mut self) {
        if let Some(s) = &self.state {
            s.stopped.store(true, Relaxed);
        }
    }
}

impl fmt::Debug for Keepalive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            Some(s) => f
                .debug_struct("Keepalive")
                .field("check", &s.check.slug())
                .field("every", &s.every)
                .field("progress", &s.progress.load(Relaxed))
                .finish(),
            None => f.write_str("Keepalive(disabled)"),
        }
    }
}
