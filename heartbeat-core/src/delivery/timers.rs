//! The worker's timers: keepalive ticks and the max-runtime watch of
//! running runs, so that neither costs the job path a thread or a timer.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime};

use uuid::Uuid;

use super::shared::{Shared, take_all};
use crate::check::Check;
use crate::event::{Event, EventKind};

/// `base + d`, or a time far enough away to mean "never" when that would
/// overflow (`Instant + Duration` panics on overflow, and users may well pass
/// `Duration::MAX` for "no limit").
pub(crate) fn after(base: Instant, d: Duration) -> Instant {
    const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    base.checked_add(d.min(FOREVER))
        .or_else(|| base.checked_add(Duration::from_secs(24 * 3600)))
        .unwrap_or(base)
}

/// Sleeps until `at`, or forever.
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A keepalive, shared by its guard ([`Keepalive`](crate::Keepalive)) and
/// the worker, which ticks it.
#[derive(Debug)]
pub(crate) struct KeepaliveState {
    pub(crate) check: Check,
    pub(crate) every: Duration,
    pub(crate) progress: AtomicU64,
    pub(crate) always: AtomicBool,
    pub(crate) stopped: AtomicBool,
    /// Whether the first heartbeat upserts the check (its monitor had not
    /// seen it yet), as a run's first start does.
    pub(crate) upsert: AtomicBool,
}

/// A registered keepalive and when it next ticks.
struct Ticker {
    state: Arc<KeepaliveState>,
    next: Instant,
    last_progress: u64,
    stalled: bool,
}

/// Keepalive tickers: a heartbeat per tick while there is progress.
#[derive(Default)]
pub(crate) struct Keepalives(Vec<Ticker>);

impl Keepalives {
    /// When the next tick is due.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().map(|t| t.next).min()
    }

    /// Takes new keepalives and sends the heartbeats that are due.
    pub(crate) fn tick(&mut self, shared: &Shared, now: Instant) {
        for state in take_all(&shared.keepalives) {
            self.0.push(Ticker {
                next: after(now, state.every),
                last_progress: state.progress.load(Relaxed),
                stalled: false,
                state,
            });
        }
        self.0.retain_mut(|t| {
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
                let mut event = Event::new(
                    t.state.check.clone(),
                    Uuid::new_v4(),
                    EventKind::Heartbeat,
                    SystemTime::now(),
                );
                event.upsert = t.state.upsert.swap(false, Relaxed);
                shared.push(event);
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
}

/// Running runs with a max runtime, by deadline; `runs` indexes them by
/// run id so that a final event can remove its run.
#[derive(Default)]
pub(crate) struct RuntimeWatch {
    by_deadline: BTreeSet<(Instant, Uuid)>,
    runs: HashMap<Uuid, (Instant, Arc<Event>)>,
}

impl RuntimeWatch {
    /// When the next run goes over its max runtime.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(at, _)| *at)
    }

    /// Starts watching a run with a max runtime; stops when it ends. A run
    /// that ends without a final event (retried, interrupted) sends nothing
    /// to remove it: its watch fires once, harmlessly, or is replaced by
    /// the next attempt's start.
    pub(crate) fn track(&mut self, event: &Arc<Event>) {
        if event.kind == EventKind::Start {
            if let Some(max) = event.check.max_runtime() {
                let elapsed = SystemTime::now()
                    .duration_since(event.at)
                    .unwrap_or_default();
                let at = after(Instant::now(), max.saturating_sub(elapsed));
                if let Some((old, _)) = self.runs.insert(event.run_id, (at, event.clone())) {
                    self.by_deadline.remove(&(old, event.run_id));
                }
                self.by_deadline.insert((at, event.run_id));
            }
        } else if event.kind.is_final() || event.kind == EventKind::Retry {
            self.forget(event.run_id);
        }
    }

    fn forget(&mut self, run_id: Uuid) {
        if let Some((at, _)) = self.runs.remove(&run_id) {
            self.by_deadline.remove(&(at, run_id));
        }
    }

    /// Runs past their max runtime: one warning and one signal each.
    pub(crate) fn fire(&mut self, shared: &Shared, now: Instant) {
        while let Some(&(at, run_id)) = self.by_deadline.first() {
            if at > now {
                break;
            }
            self.by_deadline.pop_first();
            let Some((_, start)) = self.runs.remove(&run_id) else {
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
            let mut event = start.follow_up(EventKind::Log, SystemTime::now());
            event.message = Some(message);
            shared.push(event);
        }
    }
}
