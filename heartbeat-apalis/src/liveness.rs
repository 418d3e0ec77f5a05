//! [`WorkerLiveness`]: apalis worker events feed the core
//! [`WorkerRegistry`], so the health endpoint sees a worker die.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apalis_core::worker::context::WorkerContext;
use apalis_core::worker::event::Event;
use heartbeat_core::health::{Worker, WorkerRegistry};
use heartbeat_core::{Check, Keepalive, Monitor};

use crate::naming::slug_for_worker;

/// Turns an apalis worker's lifecycle events into liveness: hand
/// [`listener`](Self::listener) to `WorkerBuilder::on_event`.
///
/// | apalis event | registry |
/// |---|---|
/// | `Start` | registered (critical unless [`optional`](Self::optional)), alive |
/// | `HeartBeat`, a task's `Success` or `Error` | beat |
/// | `Stop`, `Exit` | stopped: a critical worker makes the health report "down" (503) |
///
/// A worker that neither beats nor finishes a task within the
/// [`ttl`](Self::ttl) is down too. The durable backends (SQLite, Postgres,
/// Redis) send `HeartBeat` every 30 s by default, so the default TTL of
/// 90 s allows two missed beats; the cron and memory backends send none,
/// so give their workers a TTL longer than the gap between tasks (a cron
/// worker's schedule period plus its longest run).
///
/// With [`keepalive`](Self::keepalive), each worker also gets a
/// [`Keepalive`] on a check of its own (`<worker>-alive`): a heartbeat
/// every TTL while the worker beats, none once it stops beating, so the
/// monitoring service alerts on a dead worker even if nothing polls the
/// health endpoint.
#[derive(Debug, Clone)]
pub struct WorkerLiveness {
    registry: WorkerRegistry,
    ttl: Duration,
    critical: bool,
    keepalive: Option<Monitor>,
    workers: Arc<Mutex<HashMap<String, Registered>>>,
}

/// A started worker: its registry entry, fed directly or through its
/// keepalive (which beats the entry at each progress).
#[derive(Debug)]
enum Registered {
    Worker(Worker),
    Keepalive(Keepalive),
}

impl Registered {
    fn beat(&self) {
        match self {
            Self::Worker(worker) => worker.beat(),
            Self::Keepalive(keepalive) => keepalive.progress(),
        }
    }
}

impl WorkerLiveness {
    /// Liveness of workers in `registry`: critical, TTL 90 s.
    pub fn new(registry: &WorkerRegistry) -> Self {
        Self {
            registry: registry.clone(),
            ttl: Duration::from_secs(90),
            critical: true,
            keepalive: None,
            workers: Arc::default(),
        }
    }

    /// How long a worker may go without a beat before it counts as down.
    pub fn ttl(self, ttl: Duration) -> Self {
        Self { ttl, ..self }
    }

    /// The workers' deaths degrade the process instead of taking it down.
    pub fn optional(self) -> Self {
        Self {
            critical: false,
            ..self
        }
    }

    /// Also keeps a check per worker alive, `<worker slug>-alive`: a
    /// heartbeat every TTL while the worker beats (its check scheduled
    /// every TTL rounded up to whole minutes, the services' unit). The
    /// processes of a fleet (`mailer@host-1`, `mailer@host-2`) share
    /// `mailer-alive`: it alerts when none of them beats.
    pub fn keepalive(self, monitor: &Monitor) -> Self {
        Self {
            keepalive: Some(monitor.clone()),
            ..self
        }
    }

    /// The event handler for `WorkerBuilder::on_event` (several workers
    /// may share one: each is registered under its own name).
    pub fn listener(&self) -> impl Fn(&WorkerContext, &Event) + Send + Sync + 'static {
        let this = self.clone();
        move |ctx, event| this.observe(ctx.name(), event)
    }

    fn observe(&self, name: &str, event: &Event) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Start => {
                let worker = if self.critical {
                    self.registry.register(name, self.ttl)
                } else {
                    self.registry.register_optional(name, self.ttl)
                };
                let registered = match &self.keepalive {
                    Some(monitor) => {
                        let keepalive = monitor.keepalive(&self.keepalive_check(name), self.ttl);
                        Registered::Keepalive(keepalive.feeding(worker))
                    }
                    None => Registered::Worker(worker),
                };
                // Starting is the first sign of life (the first heartbeat).
                registered.beat();
                tracing::debug!(target: "heartbeat", worker = name, "apalis worker started");
                workers.insert(name.to_owned(), registered);
            }
            Event::HeartBeat | Event::Success(_) | Event::Error(_) => {
                if let Some(registered) = workers.get(name) {
                    registered.beat();
                }
            }
            Event::Stop | Event::Exit if workers.remove(name).is_some() => {
                tracing::info!(target: "heartbeat", worker = name, "apalis worker stopped");
            }
            _ => {}
        }
    }

    fn keepalive_check(&self, name: &str) -> Check {
        let minutes = self.ttl.as_secs().div_ceil(60).max(1);
        // The worker's slug (its name before any `@instance`), then the
        // suffix: a fleet's processes keep one check alive together.
        let slug = slug_for_worker(&format!("{}-alive", slug_for_worker(name)));
        Check::builder(slug)
            .every(Duration::from_secs(minutes * 60))
            .build()
            .expect("a derived slug and a whole-minute period are valid")
    }
}
