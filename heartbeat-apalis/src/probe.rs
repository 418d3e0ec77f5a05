//! [`BackendProbe`]: a queue's figures from any apalis backend that keeps
//! statistics (`Metrics`: SQLite, Postgres, Redis).

use apalis_core::backend::Metrics;
use apalis_core::backend::Statistic;
use heartbeat_core::BoxFuture;
use heartbeat_core::health::{ProbeError, QueueProbe, QueueStats};

/// A [`QueueProbe`] reading an apalis backend's own statistics for its
/// queue, so a [`QueueWatch`](heartbeat_core::health::QueueWatch) and the
/// health endpoint work on any backend that implements apalis's `Metrics`
/// (apalis-sqlite, apalis-postgres, apalis-redis; not the memory and cron
/// backends, which keep none). On a shared Redis or Postgres queue every
/// process reads the same figures: the whole fleet's queue.
///
/// | `QueueStats` | apalis statistic |
/// |---|---|
/// | `queued` | `PENDING_JOBS` |
/// | `active` | `RUNNING_JOBS` |
/// | `failed` | `FAILED_JOBS` + `KILLED_JOBS` (final failures and aborts) |
/// | `processed` | `DONE_JOBS` |
///
/// Give it a clone of the backend you hand to the worker; clones share
/// the pool or connection.
#[derive(Debug, Clone)]
pub struct BackendProbe<B> {
    backend: B,
}

impl<B> BackendProbe<B> {
    /// A probe of `backend`'s queue.
    pub fn new(backend: B) -> Self {
        Self { backend }
    }
}

impl<B> QueueProbe for BackendProbe<B>
where
    B: Metrics + Send + Sync + 'static,
{
    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, ProbeError>> {
        Box::pin(async move {
            let stats = self.backend.fetch_by_queue().await?;
            Ok(queue_stats(&stats))
        })
    }
}

/// The figures from apalis's statistic rows; a missing or unreadable row
/// counts 0 (the backends leave out what they do not count).
fn queue_stats(stats: &[Statistic]) -> QueueStats {
    let get = |title: &str| {
        stats
            .iter()
            .find(|s| s.title == title)
            .and_then(|s| s.value.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map_or(0, |v| v.round() as u64)
    };
    QueueStats::new(
        get("PENDING_JOBS"),
        get("FAILED_JOBS") + get("KILLED_JOBS"),
        get("DONE_JOBS"),
    )
    .active(get("RUNNING_JOBS"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use apalis_core::backend::StatType;

    #[test]
    fn reads_the_rows_apalis_writes() {
        let row = |title: &str, value: &str| Statistic {
            title: title.to_owned(),
            stat_type: StatType::Number,
            value: value.to_owned(),
            priority: None,
        };
        let stats = queue_stats(&[
            row("RUNNING_JOBS", "2"),
            row("PENDING_JOBS", "7.0"),
            row("FAILED_JOBS", "1"),
            row("KILLED_JOBS", "3"),
            row("DONE_JOBS", "40"),
            row("SUCCESS_RATE", "90.00"),
        ]);
        assert_eq!(stats, QueueStats::new(7, 4, 40).active(2));
        assert_eq!(
            queue_stats(&[row("PENDING_JOBS", "")]),
            QueueStats::default()
        );
    }
}
