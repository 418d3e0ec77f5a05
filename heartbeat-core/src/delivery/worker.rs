//! The delivery worker: a thread running a single-threaded tokio runtime.
//!
//! Besides delivering events it owns the process's timers: keepalive ticks
//! and the max-runtime watch of running runs, so that neither costs the job
//! path a thread or a timer.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{DeliveryConfig, RetryPolicy, Shared, after, take_all};
use crate::check::Check;
use crate::event::{Event, EventKind};
use crate::keepalive::KeepaliveState;
use crate::stats::{Counters, FlushReport, Undelivered};
use crate::sync::lock;
use crate::target::{BoxFuture, HttpContext, Plan, Target, Verdict};

/// One target as the worker holds it, with its health state.
#[derive(Debug)]
struct Slot {
    target: Arc<dyn Target>,
    /// False while the service is failing, so that the log says "failing"
    /// once and "recovered" once instead of a line per attempt.
    healthy: AtomicBool,
    /// Set by `Retry-After`: no request to this target starts before then.
    paused_until: Mutex<Option<Instant>>,
}

type LaneKey = (usize, Uuid);

/// The events of one (target, run) pair, delivered in order by one task at
/// a time. The task carries on with the lane's next event itself, so a run's
/// finish does not wait for the worker loop to notice its start went out.
#[derive(Debug, Default)]
struct LaneState {
    events: VecDeque<Arc<Event>>,
    /// Whether a task is delivering this lane's events.
    running: bool,
}

type Lane = Arc<Mutex<LaneState>>;

/// Remembers which configuration problems were logged, so each is reported
/// once per (target, check, reason) rather than once per ping. Shared with
/// the lane tasks, which log their own rejections.
#[derive(Debug, Default)]
struct Reporter(Mutex<HashSet<(String, String, String)>>);

impl Reporter {
    /// ERROR the first time, DEBUG after that.
    fn report_once(&self, service: &str, slug: &str, reason: &str, what: &str) {
        let key = (service.to_owned(), slug.to_owned(), reason.to_owned());
        if lock(&self.0).insert(key) {
            tracing::error!(
                target: "heartbeat",
                service,
                check = slug,
                "heartbeat {what}: {reason} (reported once per check)"
            );
        } else {
            tracing::debug!(target: "heartbeat", service, check = slug, "heartbeat {what}: {reason}");
        }
    }
}

/// How a delivery ended.
enum Outcome {
    Delivered,
    /// Rejected by the service, or out of retry budget.
    Failed {
        reason: String,
        permanent: bool,
    },
}

/// What a finished task was.
enum Done {
    /// A lane's task ran out of events.
    Lane(LaneKey),
    Upsert(usize, Check, Outcome),
}

/// A registered keepalive and when it next ticks.
struct Ticker {
    state: Arc<KeepaliveState>,
    next: Instant,
    last_progress: u64,
    stalled: bool,
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
            let _release = ReleaseOnExit(shared.clone());
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
                upserts_running: 0,
                reporter: Arc::new(Reporter::default()),
                tickers: Vec::new(),
                watch: BTreeSet::new(),
                watched: HashMap::new(),
            };
            runtime.block_on(worker.run());
        })
}

/// When the worker thread ends, normally or by a panic, nothing can be
/// delivered any more: close the queue so pushes are counted as dropped, and
/// drop pending flush requests so their callers return at once instead of
/// waiting for an answer that cannot come.
struct ReleaseOnExit(Arc<Shared>);

impl Drop for ReleaseOnExit {
    fn drop(&mut self) {
        self.0.queue.close();
        drop(take_all(&self.0.flushes));
    }
}

struct Worker {
    shared: Arc<Shared>,
    slots: Vec<Arc<Slot>>,
    http: HttpContext,
    config: DeliveryConfig,
    semaphore: Arc<Semaphore>,
    /// A lane exists while it has work or its task has not reported back.
    lanes: HashMap<LaneKey, Lane>,
    tasks: JoinSet<Done>,
    upserts_running: usize,
    reporter: Arc<Reporter>,
    tickers: Vec<Ticker>,
    /// Running runs with a max runtime, by deadline; `watched` indexes them
    /// by run id so a final event can remove its run.
    watch: BTreeSet<(Instant, Uuid)>,
    watched: HashMap<Uuid, (Instant, Arc<Event>)>,
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
            for check in take_all(&self.shared.upserts) {
                self.start_upserts(check);
            }
            let now = Instant::now();
            self.tick_keepalives(now);
            self.fire_watch(now);
            self.answer_flushes(false);
            if self.shared.queue.is_closed() {
                let deadline = *closing_deadline
                    .get_or_insert_with(|| after(Instant::now(), self.config.shutdown_timeout));
                if self.is_idle() || Instant::now() >= deadline {
                    self.give_up_at_shutdown();
                    return;
                }
            }
            let wake_at = [
                self.next_flush_deadline(),
                closing_deadline,
                self.tickers.iter().map(|t| t.next).min(),
                self.watch.first().map(|(at, _)| *at),
            ]
            .into_iter()
            .flatten()
            .min();
            // Pushes only matter when there is room to take them.
            let room = self.in_worker() < self.config.max_in_worker;
            tokio::select! {
                () = self.shared.queue.notify.notified(), if room => {}
                () = self.shared.control.notified() => {}
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Ok(done) = done {
                        self.finish(done);
                    }
                    // Take every other finished task too, before the loop's
                    // housekeeping runs again.
                    while let Some(done) = self.tasks.try_join_next() {
                        if let Ok(done) = done {
                            self.finish(done);
                        }
                    }
                }
                () = sleep_until(wake_at) => {}
            }
        }
    }

    fn in_worker(&self) -> usize {
        self.shared.counters.in_worker.load(Relaxed) as usize
    }

    fn is_idle(&self) -> bool {
        self.lanes.is_empty() && self.upserts_running == 0 && self.shared.queue.len() == 0
    }

    /// Fans an event out to the targets that take it, one lane per target.
    fn dispatch(&mut self, event: Arc<Event>) {
        self.track_runtime(&event);
        for idx in 0..self.slots.len() {
            match self.slots[idx].target.plan(&event) {
                Plan::Send => {}
                Plan::Skip => continue,
                Plan::Misconfigured(reason) => {
                    self.report_once(idx, event.check.slug(), &reason, "skipped");
                    continue;
                }
            }
            self.shared.counters.in_worker.fetch_add(1, Relaxed);
            let key = (idx, event.run_id);
            let lane = self.lanes.entry(key).or_default().clone();
            let idle = {
                let mut l = lock(&lane);
                l.events.push_back(event.clone());
                !std::mem::replace(&mut l.running, true)
            };
            if idle {
                self.start(key, lane);
            }
        }
    }

    /// Spawns the task that delivers `lane`'s events, in order, until the
    /// lane is empty.
    fn start(&mut self, key: LaneKey, lane: Lane) {
        let slot = self.slots[key.0].clone();
        let http = self.http.clone();
        let semaphore = self.semaphore.clone();
        let shared = self.shared.clone();
        let reporter = self.reporter.clone();
        let policy = self.config.retry;
        self.tasks.spawn(async move {
            loop {
                let Some(event) = lock(&lane).events.front().cloned() else {
                    break;
                };
                let outcome = deliver(&slot, &semaphore, Some(&shared.counters), policy, || {
                    slot.target.send(&http, &event)
                })
                .await;
                shared.counters.in_worker.fetch_sub(1, Relaxed);
                if let Outcome::Failed { reason, permanent } = outcome {
                    let service = slot.target.name();
                    if permanent {
                        reporter.report_once(service, event.check.slug(), &reason, "rejected");
                    } else {
                        tracing::error!(
                            target: "heartbeat",
                            service,
                            check = event.check.slug(),
                            event = event.kind.name(),
                            run_id = %event.run_id,
                            "heartbeat ping lost: still failing after the retry budget ({reason})"
                        );
                    }
                }
                let mut l = lock(&lane);
                l.events.pop_front();
                if l.events.is_empty() {
                    l.running = false;
                    break;
                }
            }
            Done::Lane(key)
        });
    }

    fn start_upserts(&mut self, check: Check) {
        for idx in 0..self.slots.len() {
            if !self.slots[idx].target.upserts() {
                continue;
            }
            let slot = self.slots[idx].clone();
            let http = self.http.clone();
            let semaphore = self.semaphore.clone();
            let policy = self.config.retry;
            let check = check.clone();
            self.upserts_running += 1;
            self.tasks.spawn(async move {
                let outcome = deliver(&slot, &semaphore, None, policy, || {
                    slot.target.upsert(&http, &check)
                })
                .await;
                Done::Upsert(idx, check, outcome)
            });
        }
    }

    fn finish(&mut self, done: Done) {
        match done {
            Done::Lane(key) => {
                // Drop the lane unless an event arrived after its task stopped
                // (then a new task is already delivering it).
                let finished = self.lanes.get(&key).is_some_and(|lane| {
                    let l = lock(lane);
                    !l.running && l.events.is_empty()
                });
                if finished {
                    self.lanes.remove(&key);
                }
            }
            Done::Upsert(idx, check, outcome) => {
                self.upserts_running -= 1;
                let service = self.slots[idx].target.name().to_owned();
                match outcome {
                    Outcome::Delivered => tracing::info!(
                        target: "heartbeat",
                        service,
                        check = check.slug(),
                        schedule = check.schedule().map(tracing::field::display),
                        timezone = check.timezone(),
                        "monitor created or updated"
                    ),
                    Outcome::Failed { reason, .. } => {
                        self.report_once(idx, check.slug(), &reason, "monitor upsert failed");
                    }
                }
            }
        }
    }

    fn report_once(&self, idx: usize, slug: &str, reason: &str, what: &str) {
        self.reporter
            .report_once(self.slots[idx].target.name(), slug, reason, what);
    }

    /// Starts watching a run with a max runtime; stops when it finishes.
    fn track_runtime(&mut self, event: &Arc<Event>) {
        if event.kind == EventKind::Start {
            if let Some(max) = event.check.max_runtime() {
                let elapsed = SystemTime::now()
                    .duration_since(event.at)
                    .unwrap_or_default();
                let at = after(Instant::now(), max.saturating_sub(elapsed));
                self.watch.insert((at, event.run_id));
                self.watched.insert(event.run_id, (at, event.clone()));
            }
        } else if event.kind.is_final()
            && let Some((at, _)) = self.watched.remove(&event.run_id)
        {
            self.watch.remove(&(at, event.run_id));
        }
    }

    /// Runs past their max runtime: one warning and one signal each.
    fn fire_watch(&mut self, now: Instant) {
        while let Some(&(at, run_id)) = self.watch.first() {
            if at > now {
                break;
            }
            self.watch.pop_first();
            let Some((_, start)) = self.watched.remove(&run_id) else {
                continue;
            };
            let max = start.check.max_runtime().unwrap_or_default();
            let elapsed = SystemTime::now()
                .duration_since(start.at)
                .unwrap_or_default();
            let message = format!(
                "still running after {}s, over its max runtime of {}s",
                elapsed.as_secs(),
                max.as_secs()
            );
            tracing::warn!(
                target: "heartbeat",
                check = start.check.slug(),
                %run_id,
                priority = %start.check.priority(),
                "run is taking too long: {message}"
            );
            let mut event = Event::new(
                start.check.clone(),
                run_id,
                EventKind::Log,
                SystemTime::now(),
            );
            event.message = Some(message);
            self.shared.push(event);
        }
    }

    /// Takes new keepalives and sends the heartbeats that are due.
    fn tick_keepalives(&mut self, now: Instant) {
        for state in take_all(&self.shared.keepalives) {
            self.tickers.push(Ticker {
                next: after(now, state.every),
                last_progress: state.progress.load(Relaxed),
                stalled: false,
                state,
            });
        }
        let shared = &self.shared;
        self.tickers.retain_mut(|t| {
            if t.state.stopped.load(Relaxed) {
                return false;
            }
            if t.next > now {
                return true;
            }
            t.next = after(now, t.state.every);
            let progress = t.state.progress.load(Relaxed);
            let slug = t.state.check.slug();
            if progress != t.last_progress || t.state.always.load(Relaxed) {
                if std::mem::take(&mut t.stalled) {
                    tracing::info!(target: "heartbeat", check = slug, "progress resumed; heartbeats resume");
                }
                t.last_progress = progress;
                shared.push(Event::new(
                    t.state.check.clone(),
                    Uuid::new_v4(),
                    EventKind::Heartbeat,
                    SystemTime::now(),
                ));
            } else if !std::mem::replace(&mut t.stalled, true) {
                tracing::warn!(
                    target: "heartbeat",
                    check = slug,
                    every = ?t.state.every,
                    "no progress since the last heartbeat; not pinging, so the service will alert"
                );
            }
            true
        });
    }

    fn undelivered(&self) -> Vec<Undelivered> {
        let mut out = Vec::new();
        for ((idx, _), lane) in &self.lanes {
            let name = self.slots[*idx].target.name();
            out.extend(
                lock(lane)
                    .events
                    .iter()
                    .map(|e| Undelivered::of(e, Some(name))),
            );
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

    /// Answers the flushes that are complete or past their deadline (all of
    /// them when `force`).
    fn answer_flushes(&mut self, force: bool) {
        let mut flushes = lock(&self.shared.flushes);
        if flushes.is_empty() {
            return;
        }
        let now = Instant::now();
        let done = self.is_idle();
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
        let flushes = lock(&self.shared.flushes);
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

/// Runs `attempt` until it is delivered, rejected, or out of retry budget.
/// Events count in `counters`; upserts (which are not events) pass `None`.
async fn deliver<'a>(
    slot: &Slot,
    semaphore: &Semaphore,
    counters: Option<&Counters>,
    policy: RetryPolicy,
    attempt: impl Fn() -> BoxFuture<'a, Verdict>,
) -> Outcome {
    let count = |c: fn(&Counters) -> &std::sync::atomic::AtomicU64| {
        if let Some(counters) = counters {
            c(counters).fetch_add(1, Relaxed);
        }
    };
    let first = Instant::now();
    let service = slot.target.name();
    let mut retry = 0;
    loop {
        let paused = *lock(&slot.paused_until);
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
            attempt().await
        };
        match verdict {
            Verdict::Delivered => {
                count(|c| &c.delivered);
                if !slot.healthy.swap(true, Relaxed) {
                    tracing::info!(target: "heartbeat", service, "heartbeat service reachable again");
                }
                return Outcome::Delivered;
            }
            Verdict::Reject { reason } => {
                count(|c| &c.failed);
                return Outcome::Failed {
                    reason,
                    permanent: true,
                };
            }
            Verdict::Retry { reason, after } => {
                retry += 1;
                let wait = policy.backoff(retry).max(after.unwrap_or_default());
                if first.elapsed().saturating_add(wait) > policy.give_up_after {
                    count(|c| &c.failed);
                    return Outcome::Failed {
                        reason,
                        permanent: false,
                    };
                }
                if let Some(after) = after {
                    // Every lane of this service waits, not just this one.
                    let until = Instant::now() + after;
                    let mut p = lock(&slot.paused_until);
                    *p = Some(p.map_or(until, |old| old.max(until)));
                }
                count(|c| &c.retried);
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
