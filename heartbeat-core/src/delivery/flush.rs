//! Flush requests: answered when the engine has nothing left to deliver
//! and every target has flushed what it buffers itself, or at the deadline.

use std::sync::Arc;
use std::time::Instant;

use super::retry::Slot;
use crate::stats::{FlushReport, Undelivered};

/// A pending flush.
#[derive(Debug)]
pub(crate) struct FlushRequest {
    pub(crate) deadline: Instant,
    /// It covers the events queued before it: those numbered below this.
    pub(crate) upto: u64,
    pub(crate) reply: FlushReply,
    /// The process is about to exit (a [`FlushGuard`](crate::FlushGuard)
    /// or the last handle dropped): what this flush cannot deliver is
    /// abandoned, counted, and delivery stops.
    pub(crate) at_exit: bool,
}

/// Where a flush's answer goes: an async caller's future, or a thread
/// blocked in `flush_blocking` (which must not need an executor: it may run
/// inside one).
#[derive(Debug)]
pub(crate) enum FlushReply {
    Async(futures::channel::oneshot::Sender<FlushReport>),
    Blocking(std::sync::mpsc::SyncSender<FlushReport>),
}

impl FlushRequest {
    /// Answers now, with what is still undelivered.
    pub(crate) fn answer(self, report: FlushReport) {
        // The caller may have stopped waiting (its future was dropped).
        match self.reply {
            FlushReply::Async(tx) => drop(tx.send(report)),
            FlushReply::Blocking(tx) => drop(tx.try_send(report)),
        }
    }

    /// The engine is idle: asks every target to flush what it buffers,
    /// then answers, by the deadline at the latest. Runs as its own task so
    /// that a slow target does not hold up deliveries.
    pub(crate) fn flush_targets(self, slots: Vec<Arc<Slot>>, mut report: FlushReport) {
        tokio::spawn(async move {
            let deadline = self.deadline;
            let flushes = slots.iter().map(|slot| async move {
                let done =
                    tokio::time::timeout_at(deadline.into(), slot.target.flush(deadline)).await;
                (slot.name().to_owned(), matches!(done, Ok(true)))
            });
            for (target, done) in futures::future::join_all(flushes).await {
                if !done {
                    report
                        .undelivered
                        .push(Undelivered::TargetBuffer { target });
                }
            }
            self.answer(report);
        });
    }
}
