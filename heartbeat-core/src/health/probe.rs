//! [`QueueStats`] and the [`QueueProbe`] a queue implements to report them.

use serde::{Deserialize, Serialize};

use crate::target::BoxFuture;

/// A queue's figures at one moment: the JSON shape Sidekiq's and Bull's
/// users already expose (`{queued, active, failed, processed, workers}`).
/// `failed` and `processed` are running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueueStats {
    /// Jobs waiting to run.
    pub queued: u64,
    /// Jobs running now.
    pub active: u64,
    /// Jobs that failed, since the queue began counting.
    pub failed: u64,
    /// Jobs that finished, since the queue began counting.
    pub processed: u64,
    /// Workers consuming the queue.
    pub workers: u64,
}

impl QueueStats {
    /// Figures with these counts (`active` and `workers` zero).
    pub fn new(queued: u64, failed: u64, processed: u64) -> Self {
        Self {
            queued,
            failed,
            processed,
            ..Self::default()
        }
    }

    /// With `active` jobs running.
    pub fn active(mut self, active: u64) -> Self {
        self.active = active;
        self
    }

    /// With `workers` consumers.
    pub fn workers(mut self, workers: u64) -> Self {
        self.workers = workers;
        self
    }
}

/// Why a probe could not report.
pub type ProbeError = Box<dyn std::error::Error + Send + Sync>;

/// A queue that can report its [`QueueStats`]. The future runs on the
/// application's tokio runtime (a [`QueueWatch`](super::QueueWatch) polls
/// it there), so it may use I/O bound to that runtime, such as a sqlx pool.
pub trait QueueProbe: Send + Sync + 'static {
    /// The queue's current figures.
    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, ProbeError>>;
}

impl<F, Fut> QueueProbe for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<QueueStats, ProbeError>> + Send + 'static,
{
    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, ProbeError>> {
        Box::pin(self())
    }
}
