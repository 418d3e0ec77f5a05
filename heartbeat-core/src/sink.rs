//! [`Sink`]: what a monitor's runs report into. Shared by the [`Monitor`]
//! handles and every [`RunGuard`] and [`Keepalive`], so that none of them
//! outlives what it reports to, and so that runs need not know `Monitor`.
//!
//! [`Monitor`]: crate::Monitor
//! [`RunGuard`]: crate::RunGuard
//! [`Keepalive`]: crate::Keepalive

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::check::Check;
use std::time::Instant;

use crate::delivery::{self, FlushReply, FlushRequest, Shared};
use crate::event::Event;
use crate::hooks::{FinishHook, StartHook};
use crate::stats::FlushReport;

/// Gives every sink a distinct id, so a check can remember cheaply which
/// monitor has already seen its first start.
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

pub(crate) struct Sink {
    pub(crate) id: usize,
    /// `None` when there is no delivery thread (log-only).
    pub(crate) shared: Option<Arc<Shared>>,
    pub(crate) targets: Vec<String>,
    /// Whether any target upserts monitors of scheduled checks.
    pub(crate) upserts: bool,
    /// `AssertUnwindSafe` keeps `Monitor` unwind-safe, as users expect of a
    /// handle they use around `catch_unwind`; hooks only run on our calls,
    /// and a panicking job never leaves a hook half-called.
    pub(crate) start_hooks: Vec<AssertUnwindSafe<Box<dyn StartHook>>>,
    pub(crate) finish_hooks: Vec<AssertUnwindSafe<Box<dyn FinishHook>>>,
    pub(crate) log_tail_bytes: usize,
    /// How long the guard from [`crate::init`] waits.
    pub(crate) flush_timeout: Duration,
    shutting_down: AtomicBool,
    /// Whether a [`FlushGuard`](crate::FlushGuard) already waited at exit.
    exit_flushed: AtomicBool,
    /// Slugs whose first start this monitor has handled.
    seen: Mutex<HashSet<String>>,
}

impl Sink {
    pub(crate) fn new(shared: Option<Arc<Shared>>) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Relaxed),
            shared,
            targets: Vec::new(),
            upserts: false,
            start_hooks: Vec::new(),
            finish_hooks: Vec::new(),
            log_tail_bytes: crate::log_tail::LOG_TAIL_BYTES,
            flush_timeout: Duration::ZERO,
            shutting_down: AtomicBool::new(false),
            exit_flushed: AtomicBool::new(false),
            seen: Mutex::default(),
        }
    }

    pub(crate) fn push(&self, event: Event) {
        if let Some(shared) = &self.shared {
            shared.push(event);
        }
    }

    /// Asks the worker to flush the events queued so far, by `timeout`.
    fn request_flush(&self, shared: &Shared, timeout: Duration, reply: FlushReply, at_exit: bool) {
        shared.request_flush(FlushRequest {
            deadline: delivery::after(Instant::now(), timeout),
            upto: shared.queue.next_seq(),
            reply,
            at_exit,
        });
    }

    /// What is still queued, when the worker cannot answer (its thread is
    /// gone, so none of it will ever leave).
    fn unanswered(shared: &Shared) -> FlushReport {
        let mut undelivered = Vec::new();
        shared.queue.describe(u64::MAX, &mut undelivered);
        FlushReport {
            stats: shared.stats(),
            undelivered,
            ended: crate::stats::FlushEnd::Deadline,
        }
    }

    pub(crate) async fn flush(&self, timeout: Duration) -> FlushReport {
        let Some(shared) = &self.shared else {
            return FlushReport::default();
        };
        let (tx, rx) = futures::channel::oneshot::channel();
        self.request_flush(shared, timeout, FlushReply::Async(tx), false);
        // The worker answers by the deadline, or drops the request when its
        // thread ends.
        rx.await.unwrap_or_else(|_| Self::unanswered(shared))
    }

    /// Waits for the events queued so far, by `timeout`. `at_exit`: the
    /// process is about to exit, and what cannot be delivered in time is
    /// abandoned (counted in [`Stats::abandoned`](crate::Stats::abandoned);
    /// delivery stops).
    pub(crate) fn flush_blocking(&self, timeout: Duration, at_exit: bool) -> FlushReport {
        let Some(shared) = &self.shared else {
            return FlushReport::default();
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.request_flush(shared, timeout, FlushReply::Blocking(tx), at_exit);
        // A margin over the deadline for the answer to arrive; the worker
        // never takes longer unless its thread is stuck, and then this still
        // returns.
        let wait = timeout.saturating_add(Duration::from_secs(1));
        rx.recv_timeout(wait)
            .unwrap_or_else(|_| Self::unanswered(shared))
    }

    pub(crate) fn exit_flushed(&self) {
        self.exit_flushed.store(true, Relaxed);
    }

    pub(crate) fn shutdown(&self) {
        self.shutting_down.store(true, Relaxed);
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Relaxed)
    }

    /// What a check's first start in this monitor does: report ids for
    /// targets this monitor does not have, and say whether its monitor is
    /// to be upserted (scheduled or prioritised checks, when a target
    /// upserts), which the start event then carries. One atomic load on
    /// later starts.
    pub(crate) fn first_start(&self, check: &Check) -> bool {
        if check.first_seen_by().load(Relaxed) == self.id {
            return false;
        }
        let new = crate::sync::lock(&self.seen).insert(check.slug().to_owned());
        check.first_seen_by().store(self.id, Relaxed);
        if !new {
            return false;
        }
        for name in check.target_id_names() {
            if !self.targets.iter().any(|t| t == name) {
                tracing::error!(
                    target: "heartbeat",
                    check = check.slug(),
                    unknown_target = name,
                    targets = ?self.targets,
                    "the check has an id for target {name:?}, which this monitor does not have; \
                     fix the name in .target_id(..) or add the target"
                );
            }
        }
        self.upserts && (check.schedule().is_some() || check.has_priority())
    }
}

impl Drop for Sink {
    /// The last handle is gone. A short program is about to exit, and its
    /// worker thread with it: deliver what is pending first, within the
    /// shutdown timeout (less when nothing more can be delivered in it), or
    /// say what is lost.
    fn drop(&mut self) {
        let Some(shared) = &self.shared else { return };
        let pending = shared.stats().pending;
        if pending > 0 && !self.exit_flushed.load(Relaxed) {
            let report = self.flush_blocking(self.flush_timeout, true);
            if !report.is_complete() {
                tracing::warn!(
                    target: "heartbeat",
                    undelivered = report.undelivered.len(),
                    %report,
                    "heartbeat monitor dropped with {} events undelivered after waiting up to {:?}; \
                     keep the guard of heartbeat_core::init or Monitor::flush_on_drop alive in \
                     main, or flush before exit, to give them longer",
                    report.undelivered.len(),
                    self.flush_timeout
                );
            }
        }
        shared.close();
    }
}
