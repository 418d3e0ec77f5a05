//! Lanes: the events of one (target, check) pair, delivered in the order
//! they were created, across runs, by one task at a time. A service's
//! status for a check is its last ping, so a later run's ping must never
//! overtake an earlier one's. The task carries on with the lane's next event
//! itself, so a run's finish does not wait for the worker loop to notice
//! that its start went out; different checks' lanes run concurrently.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::reporter::Reporter;
use super::retry::{Delivery, RetryPolicy, Slot, deliver};
use super::shared::Shared;
use crate::event::Event;
use crate::sync::lock;

/// A lane's key: the target's index and the check's slug.
pub(crate) type LaneKey = (usize, String);

/// The events waiting in one lane.
#[derive(Debug, Default)]
pub(crate) struct LaneState {
    pub(crate) events: VecDeque<Arc<Event>>,
    /// Whether a task is delivering this lane's events.
    pub(crate) running: bool,
}

pub(crate) type Lane = Arc<Mutex<LaneState>>;

/// Queues `event` on `lane`; true when no task is delivering the lane, so
/// the caller must start one.
pub(crate) fn enqueue(lane: &Lane, event: Arc<Event>) -> bool {
    let mut l = lock(lane);
    l.events.push_back(event);
    !std::mem::replace(&mut l.running, true)
}

/// Whether a lane has nothing left and no task: it can be forgotten.
pub(crate) fn is_finished(lane: &Lane) -> bool {
    let l = lock(lane);
    !l.running && l.events.is_empty()
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

impl LaneTask {
    /// Delivers the lane's events, in order, until the lane is empty.
    pub(crate) async fn run(self) {
        let Self {
            lane,
            slot,
            semaphore,
            shared,
            reporter,
            policy,
        } = self;
        loop {
            let Some(event) = lock(&lane).events.front().cloned() else {
                break;
            };
            let delivery = deliver(&slot, &semaphore, Some(&shared.counters), policy, || {
                slot.target.send(&event)
            })
            .await;
            shared.counters.in_worker.fetch_sub(1, Relaxed);
            if let Delivery::Failed { reason, permanent } = delivery {
                let service = slot.name();
                if permanent {
                    reporter.report_once(service, event.check.slug(), "rejected", &reason);
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
    }
}
