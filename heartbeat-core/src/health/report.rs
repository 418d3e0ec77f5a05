//! [`HealthReport`]: the process's health as one status, for an endpoint.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::{Breach, QueueStats, QueueWatch, WorkerRegistry, WorkerStatus};

/// Overall health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Every worker alive, no rule breached.
    Ok,
    /// Something needs a look: a rule below P1 breached, or a worker that
    /// is not critical is down.
    Degraded,
    /// A critical worker is down, or a P1 rule is breached.
    Down,
}

/// The process's health: the overall status, each queue's figures, each
/// worker, and the rules in breach. Serialises to JSON for a health
/// endpoint; [`is_healthy`](Self::is_healthy) decides 200 or 503.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// Overall.
    pub status: HealthStatus,
    /// Each watched queue's last figures, by name.
    pub queues: BTreeMap<String, QueueStats>,
    /// Each registered worker.
    pub workers: Vec<WorkerStatus>,
    /// The rules in breach.
    pub breaches: Vec<Breach>,
    /// Each check's last finished run, when the report was given a monitor
    /// ([`with_checks`](Self::with_checks)).
    pub checks: Vec<CheckReport>,
}

/// A check's last finished run, as a health report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CheckReport {
    /// The check's slug.
    pub check: String,
    /// `"success"` or `"failure"`.
    pub last_outcome: &'static str,
    /// Seconds since that run finished.
    pub age_secs: f64,
}

impl HealthReport {
    /// The report now.
    pub fn gather(workers: Option<&WorkerRegistry>, watches: &[QueueWatch]) -> Self {
        Self::gather_at(Instant::now(), workers, watches)
    }

    /// The report as of `now`.
    pub fn gather_at(
        now: Instant,
        workers: Option<&WorkerRegistry>,
        watches: &[QueueWatch],
    ) -> Self {
        let workers = workers.map(|w| w.report_at(now)).unwrap_or_default();
        let queues = watches
            .iter()
            .filter_map(|w| Some((w.name().to_owned(), w.stats()?)))
            .collect();
        let breaches: Vec<Breach> = watches.iter().flat_map(QueueWatch::breaches).collect();
        let down = workers.iter().any(|w| w.critical && !w.alive)
            || breaches.iter().any(Breach::is_critical);
        let degraded = !breaches.is_empty() || workers.iter().any(|w| !w.alive);
        let status = if down {
            HealthStatus::Down
        } else if degraded {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        };
        Self {
            status,
            queues,
            workers,
            breaches,
            checks: Vec::new(),
        }
    }

    /// Adds each check's last finished run as `monitor` saw it (its
    /// outcome and age; it does not change the status: a failed run is
    /// the monitoring service's to alert on).
    pub fn with_checks(mut self, monitor: &crate::Monitor) -> Self {
        let now = std::time::SystemTime::now();
        self.checks = monitor
            .last_runs()
            .into_iter()
            .map(|(check, last_outcome, at)| CheckReport {
                check,
                last_outcome,
                age_secs: now.duration_since(at).unwrap_or_default().as_secs_f64(),
            })
            .collect();
        self
    }

    /// Whether a health endpoint answers 200: every critical worker is
    /// alive and no P1 rule is breached (degraded is still healthy).
    pub fn is_healthy(&self) -> bool {
        self.status != HealthStatus::Down
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
