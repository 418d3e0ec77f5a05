//! The delivery worker: a thread running a single-threaded tokio runtime,
//! which takes events from the queue, fans them out to the targets' lanes,
//! upserts monitors, runs the timers and answers flushes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::DeliveryConfig;
use super::flush::FlushRequest;
use super::lanes::{self, Lane, LaneItem, LaneKey, LaneTask, Upsert};
use super::reporter::Reporter;
use super::retry::Slot;
use super::shared::{Shared, take_all};
use super::timers::{Keepalives, RuntimeWatch, after, sleep_until};
use crate::event::{Event, EventKind};
use crate::stats::{FlushEnd, FlushReport, Undelivered};
use crate::sync::lock;
use crate::target::{Plan, Target};

/// Starts the worker thread. Its runtime is built on that thread, so that a
/// failure leaves nothing to drop on the caller's (dropping a runtime inside
/// another one panics); the thread then ends and the queue closes.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    targets: Vec<Arc<dyn Target>>,
    config: DeliveryConfig,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("heartbeat-delivery".into())
        .spawn(move || {
            let _release = ReleaseOnExit(shared.clone());
            super::priority::lower_current_thread();
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::error!(
                        target: "heartbeat",
                        "heartbeat cannot deliver: its runtime did not start ({e}); runs are logged, nothing is sent"
                    );
                    return;
                }
            };
            let worker = Worker {
                slots: targets
                    .into_iter()
                    .map(|t| Arc::new(Slot::new(t)))
                    .collect(),
                semaphore: Arc::new(Semaphore::new(config.concurrency.max(1))),
                shared,
                config,
                lanes: HashMap::new(),
                tasks: JoinSet::new(),
                reporter: Arc::new(Reporter::default()),
                keepalives: Keepalives::default(),
                watch: RuntimeWatch::default(),
                abandoned: false,
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
        // The runtime and its lane tasks are gone: the worker holds nothing.
        self.0.counters.in_worker.store(0, Relaxed);
    }
}

struct Worker {
    shared: Arc<Shared>,
    slots: Vec<Arc<Slot>>,
    config: DeliveryConfig,
    semaphore: Arc<Semaphore>,
    /// A lane exists while it has work or its task has not reported back.
    lanes: HashMap<LaneKey, Lane>,
    /// Lane tasks; each returns its lane's key when the lane is empty.
    tasks: JoinSet<LaneKey>,
    reporter: Arc<Reporter>,
    keepalives: Keepalives,
    watch: RuntimeWatch,
    /// Everything left was given up (see [`Worker::abandon`]).
    abandoned: bool,
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
            let now = Instant::now();
            self.keepalives.tick(&self.shared, now);
            self.watch.fire(&self.shared, now);
            self.answer_flushes(false);
            if self.shared.queue.is_closed() {
                let deadline = *closing_deadline
                    .get_or_insert_with(|| after(Instant::now(), self.config.shutdown_timeout));
                let stuck = self
                    .all_waiting_until(u64::MAX)
                    .is_some_and(|t| t > deadline);
                if self.abandoned || self.is_idle() || stuck || Instant::now() >= deadline {
                    self.give_up_at_shutdown();
                    return;
                }
            }
            let wake_at = [
                self.next_flush_deadline(),
                closing_deadline,
                self.keepalives.next(),
                self.watch.next(),
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
        self.lanes.is_empty() && self.shared.queue.len() == 0
    }

    /// Fans an event out to the targets that take it, to the lane of its
    /// check on each.
    fn dispatch(&mut self, event: Arc<Event>) {
        self.watch.track(&event);
        if event.kind.is_final() {
            self.record_last_run(&event);
        }
        for idx in 0..self.slots.len() {
            match self.slots[idx].target.plan(&event) {
                Plan::Send => {}
                Plan::Skip => continue,
                Plan::Misconfigured(reason) => {
                    self.report_once(idx, event.check.slug(), "skipped", &reason);
                    continue;
                }
            }
            self.shared.counters.in_worker.fetch_add(1, Relaxed);
            let key = (idx, event.check.slug().to_owned());
            let lane = self.lanes.entry(key.clone()).or_default().clone();
            // A check's first start: its monitor's upsert goes first.
            if event.upsert && self.slots[idx].target.upserts() {
                let upsert = Upsert::new(event.check.clone(), event.seq);
                self.enqueue(&key, &lane, LaneItem::Upsert(upsert));
            }
            self.enqueue(&key, &lane, LaneItem::Event(event.clone()));
            if event.kind.is_final() || event.kind == EventKind::Heartbeat {
                let folded = lanes::coalesce(&lane) as u64;
                let counters = &self.shared.counters;
                counters.in_worker.fetch_sub(folded, Relaxed);
                counters.folded.fetch_add(folded, Relaxed);
            }
        }
    }

    /// Remembers a check's last finished run for health reports (no
    /// allocation once the check is known: this runs for every run).
    fn record_last_run(&self, event: &Event) {
        let outcome = if event.kind.is_failure() {
            "failure"
        } else {
            "success"
        };
        let mut last_runs = lock(&self.shared.last_runs);
        match last_runs.get_mut(event.check.slug()) {
            Some(last) => *last = (outcome, event.at),
            None => {
                last_runs.insert(event.check.slug().to_owned(), (outcome, event.at));
            }
        }
    }

    /// Queues an item on a lane, starting the lane's task when it is idle.
    fn enqueue(&mut self, key: &LaneKey, lane: &Lane, item: LaneItem) {
        if lanes::enqueue(lane, item) {
            let task = LaneTask {
                lane: lane.clone(),
                slot: self.slots[key.0].clone(),
                semaphore: self.semaphore.clone(),
                shared: self.shared.clone(),
                reporter: self.reporter.clone(),
                policy: self.config.retry,
            };
            let key = key.clone();
            self.tasks.spawn(async move {
                task.run().await;
                key
            });
        }
    }

    /// Drops a lane whose task finished, unless an item arrived after it
    /// stopped (then a new task is already working it).
    fn finish(&mut self, key: LaneKey) {
        if self.lanes.get(&key).is_some_and(lanes::is_finished) {
            self.lanes.remove(&key);
        }
    }

    fn report_once(&self, idx: usize, slug: &str, what: &'static str, reason: &str) {
        self.reporter
            .report_once(self.slots[idx].name(), slug, what, reason);
    }

    /// What is not done yet of the work numbered below `upto`: events and
    /// the upserts of their checks.
    fn undelivered(&self, upto: u64) -> Vec<Undelivered> {
        let mut out = Vec::new();
        for ((idx, _), lane) in &self.lanes {
            let name = self.slots[*idx].name();
            for item in lane.lock().items.iter().filter(|i| i.seq() < upto) {
                out.push(match item {
                    LaneItem::Event(e) => Undelivered::event(e, Some(name)),
                    LaneItem::Upsert(u) => Undelivered::Upsert {
                        check: u.check.slug().to_owned(),
                        target: name.to_owned(),
                    },
                });
            }
        }
        self.shared.queue.describe(upto, &mut out);
        out
    }

    fn report(&self, upto: u64, ended: FlushEnd) -> FlushReport {
        FlushReport {
            stats: self.shared.stats(),
            undelivered: self.undelivered(upto),
            ended,
        }
    }

    /// The sequence number of the oldest event not delivered yet.
    fn oldest_pending(&self) -> Option<u64> {
        // Not only the front: a retried upsert waits at the back.
        let in_lanes = self
            .lanes
            .values()
            .filter_map(|lane| lane.lock().items.iter().map(LaneItem::seq).min())
            .min();
        in_lanes
            .into_iter()
            .chain(self.shared.queue.oldest_seq())
            .min()
    }

    /// When all the work numbered below `upto` waits, with no request
    /// outstanding, for a retry, a `Retry-After` or its check's pace: the
    /// soonest time any of it will be tried. `None` when some of it can
    /// move now (queued, in flight, about to be sent) or none is left.
    fn all_waiting_until(&self, upto: u64) -> Option<Instant> {
        if self.shared.queue.oldest_seq().is_some_and(|seq| seq < upto) {
            return None;
        }
        let mut soonest: Option<Instant> = None;
        for lane in self.lanes.values() {
            let l = lane.lock();
            if l.items.iter().any(|i| i.seq() < upto) {
                let until = l.waiting_until?;
                soonest = Some(soonest.map_or(until, |s| s.min(until)));
            }
        }
        soonest
    }

    /// Answers the flushes that are done (every event queued before them,
    /// and its check's upsert, delivered or given up), past their deadline
    /// (all of them when `force`), or that waiting cannot help (everything
    /// left waits for a retry due after the deadline). A done one first
    /// asks the targets to flush what they buffer. An exit flush that ends
    /// with work left abandons it all.
    fn answer_flushes(&mut self, force: bool) {
        let requests = take_all(&self.shared.flushes);
        if requests.is_empty() {
            return;
        }
        let now = Instant::now();
        let oldest = self.oldest_pending();
        let mut waiting = Vec::new();
        for request in requests {
            let done = oldest.is_none_or(|seq| seq >= request.upto);
            if done && !force {
                let report = self.report(request.upto, FlushEnd::Complete);
                request.flush_targets(self.slots.clone(), report);
                continue;
            }
            let ended = if force || now >= request.deadline {
                FlushEnd::Deadline
            } else if let Some(next) = self
                .all_waiting_until(request.upto)
                .filter(|next| *next > request.deadline)
            {
                FlushEnd::NothingDueBeforeDeadline {
                    next_attempt_in: next - now,
                }
            } else {
                waiting.push(request);
                continue;
            };
            self.end_flush(request, ended);
        }
        crate::sync::lock(&self.shared.flushes).extend(waiting);
    }

    /// Answers a flush that ends with work left, abandoning the work when
    /// the process is exiting.
    fn end_flush(&mut self, request: FlushRequest, ended: FlushEnd) {
        let mut report = self.report(request.upto, ended);
        if report.undelivered.is_empty() {
            report.ended = FlushEnd::Complete;
        } else if request.at_exit {
            self.abandon();
            report.stats = self.shared.stats();
        }
        request.answer(report);
    }

    /// Gives up everything not delivered yet: closes the queue (later
    /// pushes count as dropped), empties it, and counts every event left
    /// there and in the lanes as abandoned. The worker then stops at once,
    /// which cancels the lanes' tasks.
    fn abandon(&mut self) {
        if std::mem::replace(&mut self.abandoned, true) {
            return;
        }
        self.shared.queue.close();
        let left = self
            .undelivered(u64::MAX)
            .iter()
            .filter(|u| matches!(u, Undelivered::Event { .. }))
            .count() as u64;
        self.shared.queue.clear();
        let counters = &self.shared.counters;
        counters.abandoned.fetch_add(left, Relaxed);
        // The worker stops without awaiting again, so no lane task runs
        // (and counts) after this: it holds nothing any more.
        counters.in_worker.store(0, Relaxed);
    }

    fn next_flush_deadline(&self) -> Option<Instant> {
        let flushes = lock(&self.shared.flushes);
        flushes.iter().map(|f| f.deadline).min()
    }

    fn give_up_at_shutdown(&mut self) {
        let left = self.undelivered(u64::MAX);
        if !left.is_empty() && !self.abandoned {
            tracing::warn!(
                target: "heartbeat",
                undelivered = left.len(),
                "heartbeat monitor shut down with pings undelivered; flush before exit to wait for them"
            );
        }
        self.abandon();
        self.answer_flushes(true);
    }
}
