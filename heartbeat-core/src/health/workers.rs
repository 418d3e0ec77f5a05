//! [`WorkerRegistry`]: workers that must stay alive, each beating within
//! its time-to-live.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::sync::lock;

/// The workers a process depends on. A worker registers with a
/// time-to-live and [`beat`](Worker::beat)s; one that misses its TTL, or
/// whose [`Worker`] handle is dropped (it stopped), is down. A critical
/// worker down makes the [`HealthReport`](super::HealthReport) "down" (P1:
/// "worker process down"); another makes it "degraded".
///
/// Cloning gives another handle to the same registry.
#[derive(Debug, Clone, Default)]
pub struct WorkerRegistry {
    workers: Arc<Mutex<BTreeMap<String, Entry>>>,
}

#[derive(Debug)]
struct Entry {
    ttl: Duration,
    critical: bool,
    last_beat: Instant,
    last_beat_at: SystemTime,
    stopped: bool,
}

/// A registered worker; dropping it marks the worker stopped.
#[derive(Debug)]
#[must_use = "dropping the Worker marks it stopped"]
pub struct Worker {
    registry: WorkerRegistry,
    name: String,
}

/// One worker, as a health report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WorkerStatus {
    /// Its name.
    pub name: String,
    /// Whether its death takes the process down (P1).
    pub critical: bool,
    /// Whether it beat within its TTL and has not stopped.
    pub alive: bool,
    /// Whether its handle was dropped.
    pub stopped: bool,
    /// Seconds since its last beat.
    pub last_beat_secs_ago: f64,
    /// Its time-to-live, in seconds.
    pub ttl_secs: f64,
}

impl WorkerRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a critical worker that beats at least every `ttl`; it
    /// counts as having beaten now. Registering a name again replaces it
    /// (a restarted worker).
    pub fn register(&self, name: impl Into<String>, ttl: Duration) -> Worker {
        self.add(name.into(), ttl, true)
    }

    /// Registers a worker whose death degrades the process without taking
    /// it down.
    pub fn register_optional(&self, name: impl Into<String>, ttl: Duration) -> Worker {
        self.add(name.into(), ttl, false)
    }

    fn add(&self, name: String, ttl: Duration, critical: bool) -> Worker {
        let entry = Entry {
            ttl,
            critical,
            last_beat: Instant::now(),
            last_beat_at: SystemTime::now(),
            stopped: false,
        };
        lock(&self.workers).insert(name.clone(), entry);
        Worker {
            registry: self.clone(),
            name,
        }
    }

    /// Every worker as of `now` (tests look into the future with it).
    pub fn report_at(&self, now: Instant) -> Vec<WorkerStatus> {
        lock(&self.workers)
            .iter()
            .map(|(name, e)| {
                let ago = now.saturating_duration_since(e.last_beat);
                let alive = !e.stopped && ago <= e.ttl;
                crate::metrics::worker(name, alive);
                WorkerStatus {
                    name: name.clone(),
                    critical: e.critical,
                    alive,
                    stopped: e.stopped,
                    last_beat_secs_ago: ago.as_secs_f64(),
                    ttl_secs: e.ttl.as_secs_f64(),
                }
            })
            .collect()
    }

    /// Every worker now.
    pub fn report(&self) -> Vec<WorkerStatus> {
        self.report_at(Instant::now())
    }

    /// When `name` last beat (wall clock), if it is registered.
    pub fn last_beat(&self, name: &str) -> Option<SystemTime> {
        lock(&self.workers).get(name).map(|e| e.last_beat_at)
    }
}

impl Worker {
    /// The worker is alive and working: one lock and two clock reads.
    pub fn beat(&self) {
        if let Some(e) = lock(&self.registry.workers).get_mut(&self.name) {
            e.last_beat = Instant::now();
            e.last_beat_at = SystemTime::now();
            e.stopped = false;
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(e) = lock(&self.registry.workers).get_mut(&self.name) {
            e.stopped = true;
        }
    }
}
