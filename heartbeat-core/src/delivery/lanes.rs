//! Lanes: the work of one (target, check) pair, done in the order it was
//! created, across runs, by one task at a time. A service's status for a
//! check is its last ping, so a later run's ping must never overtake an
//! earlier one's; and a check's first contact is single-flight: its
//! monitor's upsert goes before its first ping, and one ping at a time
//! creates a missing check, because the services' create-if-missing is not
//! atomic. The task carries on with the lane's next item itself, so a
//! run's finish does not wait for the worker loop to notice that its start
//! went out; different checks' lanes run concurrently.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

use super::reporter::Reporter;
use super::retry::{Delivery, RetryPolicy, Slot, Waited, attempt_once, deliver};
use super::shared::Shared;
use super::timers::after;
use crate::check::Check;
use crate::event::{Event, EventKind};
use crate::sync::lock;
use crate::target::Verdict;

/// How long a check's pings wait for its upsert. Past it, the upsert is
/// tried again later in the lane, after the pings waiting behind it.
const UPSERT_HOLDS_PINGS: Duration = Duration::from_secs(2);

/// A lane's key: the target's index and the check's slug.
pub(crate) type LaneKey = (usize, String);

/// Work waiting in a lane.
#[derive(Debug)]
pub(crate) enum LaneItem {
    Event(Arc<Event>),
    Upsert(Upsert),
}

impl LaneItem {
    /// The queue sequence number it belongs to (an upsert: its start's).
    pub(crate) fn seq(&self) -> u64 {
        match self {
            Self::Event(e) => e.seq,
            Self::Upsert(u) => u.seq,
        }
    }
}

/// The upsert of a check's monitor, waiting in the check's lane.
#[derive(Debug)]
pub(crate) struct Upsert {
    pub(crate) check: Check,
    seq: u64,
    first_try: Option<Instant>,
    retries: u32,
    not_before: Option<Instant>,
}

impl Upsert {
    pub(crate) fn new(check: Check, seq: u64) -> Self {
        Self {
            check,
            seq,
            first_try: None,
            retries: 0,
            not_before: None,
        }
    }
}

/// The work waiting in one lane.
#[derive(Debug, Default)]
pub(crate) struct LaneState {
    pub(crate) items: VecDeque<LaneItem>,
    /// Whether a task is working through this lane.
    pub(crate) running: bool,
    /// While the task waits with no request outstanding (between retries,
    /// for the service's `Retry-After`, for the check's pace, for an
    /// upsert's next try): when it will try again. A flush that only this
    /// kind of wait stands between and its deadline need not wait.
    pub(crate) waiting_until: Option<Instant>,
}

/// A lane: its work, and a signal to its task that work arrived (a run's
/// final event, which a start waiting to be retried gives way to).
#[derive(Debug, Default)]
pub(crate) struct LaneCell {
    state: Mutex<LaneState>,
    arrived: Notify,
}

impl LaneCell {
    pub(crate) fn lock(&self) -> MutexGuard<'_, LaneState> {
        lock(&self.state)
    }
}

pub(crate) type Lane = Arc<LaneCell>;

/// Queues `item` on `lane`; true when no task is working the lane, so the
/// caller must start one.
pub(crate) fn enqueue(lane: &Lane, item: LaneItem) -> bool {
    let mut l = lane.lock();
    l.items.push_back(item);
    let start = !std::mem::replace(&mut l.running, true);
    drop(l);
    lane.arrived.notify_one();
    start
}

/// Coalesces a lane whose backlog holds more than two whole runs that
/// nothing has been sent of, so that a busy check (thousands of runs a
/// minute, or a slow or rate-limiting service) does not flood the service
/// while the service still ends in the right state: of consecutive
/// successful runs only the newest is sent; of three or more consecutive
/// failed runs, the first and the newest, the newest's message saying how
/// many were folded between them. Runs with a message (a max-runtime
/// warning, a retried attempt) or not finished yet are kept, and keep the
/// runs on either side apart. Returns how many events were folded.
pub(crate) fn coalesce(lane: &Lane) -> usize {
    let mut l = lane.lock();
    // The front item may be in flight: its run is not touched.
    let protected = if l.running {
        match l.items.front() {
            Some(LaneItem::Event(e)) => Some(e.run_id),
            _ => None,
        }
    } else {
        None
    };
    // Cheap test first: it runs on every final event of the check.
    let finals = l
        .items
        .iter()
        .filter(|i| matches!(i, LaneItem::Event(e) if e.kind.is_final() || e.kind == EventKind::Heartbeat))
        .count();
    if finals <= 2 {
        return 0;
    }
    // Runs in the order they appear, with their items' places.
    let mut runs: Vec<(uuid::Uuid, Vec<usize>)> = Vec::new();
    for (i, item) in l.items.iter().enumerate() {
        if let LaneItem::Event(e) = item {
            match runs.iter_mut().find(|(id, _)| *id == e.run_id) {
                Some((_, places)) => places.push(i),
                None => runs.push((e.run_id, vec![i])),
            }
        }
    }
    let event = |i: usize| match &l.items[i] {
        LaneItem::Event(e) => e.clone(),
        LaneItem::Upsert(_) => unreachable!("runs hold events only"),
    };
    // Each run: Some(failed) when it can be folded, None when it is kept.
    let class = |(id, places): &(uuid::Uuid, Vec<usize>)| -> Option<bool> {
        if Some(*id) == protected {
            return None;
        }
        let events: Vec<Arc<Event>> = places.iter().map(|&i| event(i)).collect();
        let last = events.last()?;
        // A guarded run's final (it carries a duration) whose start is not
        // here has had its start sent (or superseded): folding the final
        // would leave half a run at the service.
        if events[0].kind != EventKind::Start && last.duration.is_some() {
            return None;
        }
        let plain = events.iter().all(|e| {
            matches!(e.kind, EventKind::Start | EventKind::Heartbeat) || e.kind.is_final()
        });
        (plain && (last.kind.is_final() || last.kind == EventKind::Heartbeat))
            .then(|| last.kind.is_failure())
    };
    let classes: Vec<Option<bool>> = runs.iter().map(class).collect();
    if classes.iter().filter(|c| c.is_some()).count() <= 2 {
        return 0;
    }
    let mut drop_places = Vec::new();
    let mut replace: Vec<(usize, Arc<Event>)> = Vec::new();
    let mut start = 0;
    while start < runs.len() {
        let Some(failed) = classes[start] else {
            start += 1;
            continue;
        };
        let mut end = start + 1;
        while end < runs.len() && classes[end] == Some(failed) {
            end += 1;
        }
        let segment = &runs[start..end];
        let folded: &[(uuid::Uuid, Vec<usize>)] = match (failed, segment.len()) {
            (false, n) if n > 1 => &segment[..n - 1],
            (true, n) if n > 2 => &segment[1..n - 1],
            _ => &[],
        };
        for (_, places) in folded {
            drop_places.extend_from_slice(places);
        }
        if failed && !folded.is_empty() {
            let (_, places) = &segment[segment.len() - 1];
            let last = *places.last().expect("a run has events");
            let mut newest = (*event(last)).clone();
            // Runs folded earlier into the ones folded now count too.
            let count: u32 = folded
                .iter()
                .map(|(_, places)| 1 + event(*places.last().expect("events")).folded_before)
                .sum();
            newest.folded_before += count;
            replace.push((last, Arc::new(newest)));
        }
        start = end;
    }
    for (i, event) in replace {
        l.items[i] = LaneItem::Event(event);
    }
    drop_places.sort_unstable();
    for &i in drop_places.iter().rev() {
        l.items.remove(i);
    }
    drop_places.len()
}

/// Whether a lane has nothing left and no task: it can be forgotten.
pub(crate) fn is_finished(lane: &Lane) -> bool {
    let l = lane.lock();
    !l.running && l.items.is_empty()
}

/// What a lane's task needs.
pub(crate) struct LaneTask {
    pub(crate) lane: Lane,
    pub(crate) slot: Arc<Slot>,
    pub(crate) semaphore: Arc<Semaphore>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) reporter: Arc<Reporter>,
    pub(crate) policy: RetryPolicy,
}

/// What to do with the item at the front once it is dealt with.
enum Next {
    Done,
    /// Try it again later: behind the items now waiting, and not before
    /// its time.
    Later,
}

impl LaneTask {
    /// Works through the lane, in order, until it is empty.
    pub(crate) async fn run(self) {
        loop {
            let front = {
                let l = self.lane.lock();
                match l.items.front() {
                    None => break,
                    Some(LaneItem::Event(e)) => Some(e.clone()),
                    Some(LaneItem::Upsert(_)) => None,
                }
            };
            let next = match front {
                Some(event) => {
                    self.send(&event).await;
                    Next::Done
                }
                None => self.upsert().await,
            };
            let mut l = self.lane.lock();
            let item = l.items.pop_front();
            if let (Next::Later, Some(item)) = (next, item) {
                l.items.push_back(item);
            }
            if l.items.is_empty() {
                l.running = false;
                break;
            }
        }
    }

    async fn send(&self, event: &Event) {
        let slot = &self.slot;
        let wait = slot.turn(event.check.slug());
        if !wait.is_zero() {
            // Paced: the backlog behind this event is coalesced meanwhile.
            self.wait(after(Instant::now(), wait), None).await;
        }
        // A start or log line waiting to be retried gives way to its run's
        // final event; one with a request in flight does not (landing after
        // the final, it would leave the check "started").
        let gives_way =
            (!event.kind.is_final() && event.kind != EventKind::Heartbeat).then_some(event.run_id);
        let delivery = deliver(
            slot,
            &self.semaphore,
            &self.shared.counters,
            self.policy,
            || slot.target.send(event),
            |until| self.wait(until, gives_way),
        )
        .await;
        let counters = &self.shared.counters;
        counters.in_worker.fetch_sub(1, Relaxed);
        crate::metrics::delivery(slot.name(), delivery.name());
        match delivery {
            Delivery::Delivered => {}
            Delivery::Superseded => {
                let skipped = 1 + self.skip_to_final(event.run_id) as u64;
                counters.in_worker.fetch_sub(skipped - 1, Relaxed);
                counters.superseded.fetch_add(skipped, Relaxed);
                tracing::debug!(
                    target: "heartbeat",
                    service = slot.name(),
                    check = event.check.slug(),
                    run_id = %event.run_id,
                    skipped,
                    "the run's final event goes before its start, which was waiting to be retried"
                );
            }
            Delivery::Failed { reason, permanent } => {
                let service = slot.name();
                if permanent {
                    self.reporter
                        .report_once(service, event.check.slug(), "rejected", &reason);
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
        }
    }

    /// Waits, with no request outstanding, until `until`; with `gives_way`,
    /// stops early when that run's final event is in the lane.
    async fn wait(&self, until: Instant, gives_way: Option<uuid::Uuid>) -> Waited {
        self.lane.lock().waiting_until = Some(until);
        // A flush may now be unable to make progress before its deadline.
        if self.shared.has_flushes() {
            self.shared.control.notify_one();
        }
        let waited = loop {
            // Listening before looking, so an arrival in between is not missed.
            let arrived = self.lane.arrived.notified();
            if gives_way.is_some_and(|run| self.final_waits(run)) {
                break Waited::GaveWay;
            }
            tokio::select! {
                () = tokio::time::sleep_until(until.into()) => break Waited::Due,
                () = arrived => {}
            }
        };
        self.lane.lock().waiting_until = None;
        waited
    }

    /// Whether the final event of `run` is in the lane, behind the front.
    fn final_waits(&self, run: uuid::Uuid) -> bool {
        self.lane
            .lock()
            .items
            .iter()
            .skip(1)
            .any(|i| matches!(i, LaneItem::Event(e) if e.run_id == run && e.kind.is_final()))
    }

    /// Removes the items of `run` between the front (the event that gave
    /// way, which the caller pops) and its final event; returns how many.
    fn skip_to_final(&self, run: uuid::Uuid) -> usize {
        let mut l = self.lane.lock();
        let before = l.items.len();
        let mut reached_final = false;
        let mut index = 0;
        l.items.retain(|item| {
            index += 1;
            if index == 1 || reached_final {
                return true;
            }
            match item {
                LaneItem::Event(e) if e.run_id == run => {
                    reached_final = e.kind.is_final();
                    reached_final
                }
                _ => true,
            }
        });
        before - l.items.len()
    }

    /// One attempt at the upsert at the front of the lane, holding the
    /// pings behind it for at most [`UPSERT_HOLDS_PINGS`].
    async fn upsert(&self) -> Next {
        let (check, not_before, alone) = {
            let l = self.lane.lock();
            let Some(LaneItem::Upsert(u)) = l.items.front() else {
                return Next::Done;
            };
            (u.check.clone(), u.not_before, l.items.len() == 1)
        };
        if let Some(at) = not_before.filter(|at| *at > Instant::now()) {
            if !alone {
                // Not due: the pings behind it go first.
                return Next::Later;
            }
            self.wait(at, None).await;
        }
        let slot = &self.slot;
        let upsert = || slot.target.upsert(&check);
        let attempt = attempt_once(&self.semaphore, &upsert);
        let verdict = tokio::time::timeout(UPSERT_HOLDS_PINGS, attempt)
            .await
            .unwrap_or_else(|_| {
                Some(Verdict::retry(format!(
                    "no answer within {UPSERT_HOLDS_PINGS:?}"
                )))
            });
        let service = slot.name();
        let (reason, retry_after) = match verdict {
            // Shutting down: nothing more to do.
            None => return Next::Done,
            Some(Verdict::Delivered) => {
                self.shared.counters.upserted.fetch_add(1, Relaxed);
                tracing::info!(
                    target: "heartbeat",
                    service,
                    check = check.slug(),
                    schedule = check.schedule().map(tracing::field::display),
                    timezone = check.timezone(),
                    "monitor created or updated"
                );
                return Next::Done;
            }
            Some(Verdict::Reject { reason }) => {
                self.shared.counters.upserts_failed.fetch_add(1, Relaxed);
                self.reporter
                    .report_once(service, check.slug(), "monitor upsert failed", &reason);
                return Next::Done;
            }
            Some(Verdict::Retry { reason, after }) => (reason, after),
        };
        let mut l = self.lane.lock();
        let Some(LaneItem::Upsert(u)) = l.items.front_mut() else {
            return Next::Done;
        };
        let now = Instant::now();
        let first_try = *u.first_try.get_or_insert(now);
        u.retries += 1;
        let wait = self
            .policy
            .backoff(u.retries)
            .max(retry_after.unwrap_or_default());
        if now.duration_since(first_try).saturating_add(wait) > self.policy.give_up_after {
            drop(l);
            self.shared.counters.upserts_failed.fetch_add(1, Relaxed);
            self.reporter.report_once(
                service,
                check.slug(),
                "monitor upsert failed",
                &format!("still failing after the retry budget ({reason})"),
            );
            return Next::Done;
        }
        tracing::debug!(target: "heartbeat", service, check = check.slug(), ?wait, "upsert will be retried: {reason}");
        u.not_before = Some(after(now, wait));
        Next::Later
    }
}
