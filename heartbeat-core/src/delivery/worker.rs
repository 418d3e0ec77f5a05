//! The delivery worker: a thread running a single-threaded tokio runtime.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{DeliveryConfig, Shared};
use crate::event::Event;
use crate::stats::{FlushReport, Undelivered};
use crate::target::{HttpContext, Plan, Target, Verdict};

/// One target as the worker holds it, with its health state.
#[derive(Debug)]
struct Slot {
    target: Arc<dyn Target>,
    /// False while the service is failing, so that the log says "failing"
    /// once and "recovered" once instead of a line per attempt.
    healthy: AtomicBool,
    /// Set by `Retry-After`: no lane of this target sends before then.
    paused_until: Mutex<Option<Instant>>,
}

type LaneKey = (usize, Uuid);

/// How a delivery ended.
enum Outcome {
    Delivered,
    /// Rejected by the service, or out of retry budget.
    Failed {
        reason: String,
        permanent: bool,
    },
}

/// Starts the worker thread.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    targets: Vec<Arc<dyn Target>>,
    http: HttpContext,
    config: DeliveryConfig,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("heartbeat-delivery".into())
        .spawn(move || {
            let worker = Worker {
                slots: targets
                    .into_iter()
                    .map(|target| {
                        Arc::new(Slot {
                            target,
                            healthy: AtomicBool::new(true),
                            paused_until: Mutex::new(None),
                        })
                    })
                    .collect(),
                semaphore: Arc::new(Semaphore::new(config.concurrency.max(1))),
                shared,
                http,
                config,
                lanes: HashMap::new(),
                tasks: JoinSet::new(),
                reported: HashSet::new(),
            };
            runtime.block_on(worker.run());
        })
}

struct Worker {
    shared: Arc<Shared>,
    slots: Vec<Arc<Slot>>,
    http: HttpContext,
    config: DeliveryConfig,
    semaphore: Arc<Semaphore>,
    /// A lane exists while it has work; its front event is being delivered.
    lanes: HashMap<LaneKey, VecDeque<Arc<Event>>>,
    tasks: JoinSet<(LaneKey, Outcome)>,
    /// (target, check, reason) already logged, so configuration errors are
    /// reported once per check rather than once per ping.
    reported: HashSet<(usize, String, String)>,
}

impl Worker {
    async fn run(mut self) {
        let mut batch = Vec::new();
        let mut closing_deadline = None;
        loop {
            let in_worker = self.in_worker();
            if in_worker < self.config.max_in_worker {
                self.shared
                    .queue
                    .drain(self.config.max_in_worker - in_worker, &mut batch);
                for event in batch.drain(..) {
                    self.dispatch(Arc::new(event));
                }
            }
            self.answer_flushes(false);
            let idle = self.lanes.is_empty() && self.shared.queue.len() == 0;
            if self.shared.queue.is_closed() {
                let deadline = *closing_deadline
                    .get_or_insert_with(|| Instant::now() + self.config.shutdown_timeout);
                if idle || Instant::now() >= deadline {
                    self.give_up_at_shutdown();
                    return;
                }
            }
            let wake_at = self
                .next_flush_deadline()
                .into_iter()
                .chain(closing_deadline)
                .min();
            tokio::select! {
                () = self.shared.queue.notify.notified() => {}
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Ok((key, outcome)) = done {
                        self.finish(key, outcome);
                    }
                }
                () = sleep_until(wake_at) => {}
            }
        }
    }

    fn in_worker(&self) -> usize {
        self.lanes.values().map(VecDeque::len).sum()
    }

    /// Fans an event out to the targets that take it, one lane per target.
    fn dispatch(&mut self, event: Arc<Event>) {
        for idx in 0..self.slots.len() {
            match self.slots[idx].target.plan(&event) {
                Plan::Send => {}
                Plan::Skip => continue,
                Plan::Misconfigured(reason) => {
                    self.report_once(idx, &event, &reason, "skipped");
                    continue;
                }
            }
            self.shared.counters.in_worker.fetch_add(1, Relaxed);
            let key = (idx, event.run_id);
            let lane = self.lanes.entry(key).or_default();
            lane.push_back(event.clone());
            if lane.len() == 1 {
                self.start(key, event.clone());
            }
        }
    }

    fn start(&mut self, key: LaneKey, event: Arc<Event>) {
        let slot = self.slots[key.0].clone();
        let http = self.http.clone();
        let semaphore = self.semaphore.clone();
        let shared = self.shared.clone();
        let policy = self.config.retry;
        self.tasks.spawn(async move {
            let outcome = deliver(&slot, &http, &event, &semaphore, &shared, policy).await;
            (key, outcome)
        });
    }

    /// A lane's front delivery ended: log it, then start the lane's next event.
    fn finish(&mut self, key: LaneKey, outcome: Outcome) {
        let Some(lane) = self.lanes.get_mut(&key) else {
            return;
        };
        let Some(event) = lane.pop_front() else {
            return;
        };
        self.shared.counters.in_worker.fetch_sub(1, Relaxed);
        let next = lane.front().cloned();
        if next.is_none() {
            self.lanes.remove(&key);
        }
        if let Outcome::Failed { reason, permanent } = outcome {
            if permanent {
                self.report_once(key.0, &event, &reason, "rejected");
            } else {
                tracing::error!(
                    target: "heartbeat",
                    service = self.slots[key.0].target.name(),
                    check = event.check.slug(),
                    event = event.kind.name(),
                    run_id = %event.run_id,
                    "heartbeat ping lost: still failing after the retry budget ({reason})"
                );
            }
        }
        if let Some(next) = next {
            self.start(key, next);
        }
    }

    /// Logs a configuration problem at ERROR the first time it is seen for a
    /// check, and at DEBUG after that.
    fn report_once(&mut self, idx: usize, event: &Event, reason: &str, what: &str) {
        let service = self.slots[idx].target.name();
        let key = (idx, event.check.slug().to_owned(), reason.to_owned());
        if self.reported.insert(key) {
            tracing::error!(
                target: "heartbeat",
                service,
                check = event.check.slug(),
                "heartbeat ping {what}: {reason} (reported once per check)"
            );
        } else {
            tracing::debug!(target: "heartbeat", service, check = event.check.slug(), "heartbeat ping {what}: {reason}");
        }
    }

    fn undelivered(&self) -> Vec<Undelivered> {
        let mut out = Vec::new();
        for ((idx, _), lane) in &self.lanes {
            let name = self.slots[*idx].target.name();
            out.extend(lane.iter().map(|e| Undelivered::of(e, Some(name))));
        }
        self.shared.queue.describe(&mut out);
        out
    }

    fn report(&self) -> FlushReport {
        FlushReport {
            stats: self.shared.counters.snapshot(self.shared.queue.len()),
            undelivered: self.undelivered(),
        }
    }

    /// Answers the flushes that are complete or past their deadline.
    fn answer_flushes(&mut self, force: bool) {
        let now = Instant::now();
        let mut flushes = self
            .shared
            .flushes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if flushes.is_empty() {
            return;
        }
        let done = self.lanes.is_empty() && self.shared.queue.len() == 0;
        let mut report = None;
        for request in std::mem::take(&mut *flushes) {
            if done || force || now >= request.deadline {
                let r = report.get_or_insert_with(|| self.report()).clone();
                let _ = request.reply.send(r);
            } else {
                flushes.push(request);
            }
        }
    }

    fn next_flush_deadline(&self) -> Option<Instant> {
        let flushes = self
            .shared
            .flushes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        flushes.iter().map(|f| f.deadline).min()
    }

    fn give_up_at_shutdown(&mut self) {
        let left = self.undelivered();
        if !left.is_empty() {
            tracing::warn!(
                target: "heartbeat",
                undelivered = left.len(),
                "heartbeat monitor shut down with pings undelivered; flush before exit to wait for them"
            );
        }
        self.answer_flushes(true);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Delivers one event to one target, retrying transient failures.
async fn deliver(
    slot: &Slot,
    http: &HttpContext,
    event: &Event,
    semaphore: &Semaphore,
    shared: &Shared,
    policy: super::RetryPolicy,
) -> Outcome {
    let counters = &shared.counters;
    let first = Instant::now();
    let service = slot.target.name();
    let mut retry = 0;
    loop {
        let paused = *slot.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = paused {
            tokio::time::sleep_until(until.into()).await;
        }
        let verdict = {
            let Ok(_permit) = semaphore.acquire().await else {
                return Outcome::Failed {
                    reason: "shutting down".into(),
                    permanent: false,
                };
            };
            slot.target.send(http, event).await
        };
        match verdict {
            Verdict::Delivered => {
                counters.delivered.fetch_add(1, Relaxed);
                if !slot.healthy.swap(true, Relaxed) {
                    tracing::info!(target: "heartbeat", service, "heartbeat service reachable again");
                }
                return Outcome::Delivered;
            }
            Verdict::Reject { reason } => {
                counters.failed.fetch_add(1, Relaxed);
                return Outcome::Failed {
                    reason,
                    permanent: true,
                };
            }
            Verdict::Retry { reason, after } => {
                retry += 1;
                let wait = policy.backoff(retry).max(after.unwrap_or_default());
                if first.elapsed() + wait > policy.give_up_after {
                    counters.failed.fetch_add(1, Relaxed);
                    return Outcome::Failed {
                        reason,
                        permanent: false,
                    };
                }
                if let Some(after) = after {
                    // Every lane of this service waits, not just this one.
                    let until = Instant::now() + after;
                    let mut p = slot.paused_until.lock().unwrap_or_else(|p| p.into_inner());
                    *p = Some(p.map_or(until, |old| old.max(until)));
                }
                counters.retried.fetch_add(1, Relaxed);
                if slot.healthy.swap(false, Relaxed) {
                    tracing::warn!(
                        target: "heartbeat",
                        service,
                        "heartbeat service failing ({reason}); retrying in the background, jobs are not affected"
                    );
                } else {
                    tracing::debug!(target: "heartbeat", service, retry, ?wait, "retrying: {reason}");
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}
