//! Delivery counters ([`Stats`]) and the outcome of a flush ([`FlushReport`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::event::{Event, EventKind, RunId};

/// A snapshot of a monitor's delivery counters, from [`Monitor::stats`](crate::Monitor::stats).
///
/// Events are counted once when queued; deliveries are counted per target
/// (an event fanned out to two targets is two deliveries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Events accepted into the queue (and not evicted later): with
    /// `dropped`, this adds up to every event the runs produced.
    pub queued: u64,
    /// Deliveries the service acknowledged.
    pub delivered: u64,
    /// Attempts that failed and were retried.
    pub retried: u64,
    /// Events lost because the queue was full (evicted, or refused), or the
    /// monitor was shut down.
    pub dropped: u64,
    /// Deliveries given up: rejected by the service (4xx, unknown check) or
    /// still failing when the retry budget ran out.
    pub failed: u64,
    /// Work not finished right now: events waiting in the queue, plus
    /// deliveries the worker holds (one per target per event).
    pub pending: u64,
    /// Deliveries not made because newer runs of their check made them
    /// moot: a check whose backlog grows sends only its newest successful
    /// run, and the first and newest of consecutive failures (see
    /// [`Event::folded_before`](crate::Event::folded_before)). Not a loss:
    /// the service ends in the same state.
    pub folded: u64,
    /// Monitors created or updated (upserts the service accepted).
    pub upserted: u64,
    /// Upserts given up: rejected (a bad key, a bad definition) or still
    /// failing when the retry budget ran out. Logged once per check.
    pub upserts_failed: u64,
    /// Starts and log lines not sent because, while they waited to be
    /// retried (no request outstanding), their run's final event was ready:
    /// it went instead, so a failing start never holds back the run's
    /// outcome. The service then shows the outcome without a duration.
    pub superseded: u64,
    /// Deliveries given up when the monitor shut down (the last handle
    /// dropped, or an exit flush that could not finish): the events a
    /// short process leaves behind, as opposed to [`dropped`](Self::dropped)
    /// ones, which never got into the queue.
    pub abandoned: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) queued: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) folded: AtomicU64,
    pub(crate) upserted: AtomicU64,
    pub(crate) upserts_failed: AtomicU64,
    pub(crate) superseded: AtomicU64,
    pub(crate) abandoned: AtomicU64,
    /// Events inside the worker (taken from the queue, not yet finished).
    pub(crate) in_worker: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self, queue_len: usize) -> Stats {
        Stats {
            queued: self.queued.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            retried: self.retried.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            failed: self.failed.load(Relaxed),
            pending: queue_len as u64 + self.in_worker.load(Relaxed),
            folded: self.folded.load(Relaxed),
            upserted: self.upserted.load(Relaxed),
            upserts_failed: self.upserts_failed.load(Relaxed),
            superseded: self.superseded.load(Relaxed),
            abandoned: self.abandoned.load(Relaxed),
        }
    }
}

/// Work that was not done when a flush ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Undelivered {
    /// An event that had not reached a service.
    Event {
        /// The check's slug.
        check: String,
        /// What the event was.
        kind: EventKind,
        /// The run id.
        run_id: RunId,
        /// The target it was bound for, or `None` while still queued (all targets).
        target: Option<String>,
    },
    /// A check's monitor was still being created or updated.
    Upsert {
        /// The check's slug.
        check: String,
        /// The target doing it.
        target: String,
    },
    /// A target had not flushed what it buffers itself
    /// ([`Target::flush`](crate::Target::flush)).
    TargetBuffer {
        /// The target.
        target: String,
    },
}

impl Undelivered {
    pub(crate) fn event(event: &Event, target: Option<&str>) -> Self {
        Self::Event {
            check: event.check.slug().to_owned(),
            kind: event.kind.clone(),
            run_id: RunId(event.run_id),
            target: target.map(str::to_owned),
        }
    }
}

impl fmt::Display for Undelivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Event {
                check,
                kind,
                run_id,
                target,
            } => {
                write!(f, "{check} {} (run {run_id})", kind.name())?;
                if let Some(t) = target {
                    write!(f, " to {t}")?;
                }
                Ok(())
            }
            Self::Upsert { check, target } => write!(f, "{check} monitor upsert to {target}"),
            Self::TargetBuffer { target } => write!(f, "{target}'s own buffer"),
        }
    }
}

/// What a [`flush`](crate::Monitor::flush) achieved before its deadline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushReport {
    /// Counters at the moment the flush returned.
    pub stats: Stats,
    /// Everything still queued or in delivery; empty when the flush completed.
    pub undelivered: Vec<Undelivered>,
    /// Why the flush returned.
    pub ended: FlushEnd,
}

/// Why a flush returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushEnd {
    /// Everything it covered was delivered or given up.
    #[default]
    Complete,
    /// Its deadline passed with deliveries under way (a request in flight
    /// counts as under way until its timeout).
    Deadline,
    /// It returned before its deadline because waiting could not deliver
    /// anything more: every pending delivery waits, with no request
    /// outstanding, for a retry, a `Retry-After` or the check's pace that
    /// falls after the deadline.
    NothingDueBeforeDeadline {
        /// When the soonest of them will be tried, from the moment the
        /// flush returned.
        next_attempt_in: std::time::Duration,
    },
}

impl FlushReport {
    /// Whether everything queued before the flush was delivered or given up
    /// (see [`Stats::failed`]) before the deadline.
    pub fn is_complete(&self) -> bool {
        self.undelivered.is_empty()
    }
}

impl fmt::Display for FlushReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "{} delivered, {} folded, {} superseded, {} failed, {} dropped, {} abandoned, {} undelivered",
            s.delivered,
            s.folded,
            s.superseded,
            s.failed,
            s.dropped,
            s.abandoned,
            self.undelivered.len()
        )?;
        match self.ended {
            FlushEnd::Complete => Ok(()),
            FlushEnd::Deadline => f.write_str(" (deadline reached)"),
            FlushEnd::NothingDueBeforeDeadline { next_attempt_in } => write!(
                f,
                " (returned early: the next retry is in {:.1} s, after the deadline)",
                next_attempt_in.as_secs_f64()
            ),
        }
    }
}
