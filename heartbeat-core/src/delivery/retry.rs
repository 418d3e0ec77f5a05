//! [`RetryPolicy`] (exponential backoff with jitter, bounded in time) and
//! the retry loop that every delivery and upsert goes through.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::sync::Semaphore;

use crate::stats::Counters;
use crate::sync::lock;
use crate::target::{BoxFuture, Target, Verdict};

/// How failed deliveries are retried: connect errors, timeouts, 408, 429 and
/// 5xx are retried with exponential backoff and jitter, waiting at least as
/// long as a `Retry-After` header asks; other 4xx are never retried.
///
/// | field | default |
/// |---|---|
/// | `initial_backoff` | 1 s |
/// | `max_backoff` | 60 s |
/// | `give_up_after` | 15 min from the first attempt |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles with every retry.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts (before `Retry-After`).
    pub max_backoff: Duration,
    /// No retry starts later than this after the first attempt.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            give_up_after: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// A policy with the given initial and maximum backoff and time budget.
    pub fn new(initial_backoff: Duration, max_backoff: Duration, give_up_after: Duration) -> Self {
        Self {
            initial_backoff,
            max_backoff,
            give_up_after,
        }
    }

    /// Never retry.
    pub fn none() -> Self {
        Self::new(Duration::ZERO, Duration::ZERO, Duration::ZERO)
    }

    /// The wait before retry number `retry` (1-based): the exponential step,
    /// capped, with "equal jitter" (half fixed, half random) so that many
    /// runs failing together do not retry in lockstep.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exp = 2u32.saturating_pow(retry.saturating_sub(1).min(31));
        let step = self
            .initial_backoff
            .saturating_mul(exp)
            .min(self.max_backoff);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// One target as the retry loop sees it, with the service's health and
/// each check's pace.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) target: std::sync::Arc<dyn Target>,
    /// Per check (slug): the tokens left and when they were counted, for
    /// the target's per-check limit.
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    /// False while the service is failing, so that the log says "failing"
    /// once and "recovered" once instead of a line per attempt.
    healthy: AtomicBool,
    /// Set by `Retry-After`: no request to this target starts before then.
    paused_until: Mutex<Option<Instant>>,
}

impl Slot {
    pub(crate) fn new(target: std::sync::Arc<dyn Target>) -> Self {
        Self {
            target,
            buckets: Mutex::default(),
            healthy: AtomicBool::new(true),
            paused_until: Mutex::new(None),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.target.name()
    }

    /// Takes a ping's turn for `slug` under the target's per-check limit (a
    /// token bucket holding a burst of the limit's pings); returns how long
    /// to wait before sending it.
    pub(crate) fn turn(&self, slug: &str) -> Duration {
        let Some((pings, period)) = self.target.per_check_limit() else {
            return Duration::ZERO;
        };
        let (burst, now) = (f64::from(pings.max(1)), Instant::now());
        let per_second = burst / period.as_secs_f64().max(f64::EPSILON);
        let mut buckets = lock(&self.buckets);
        let (tokens, counted) = buckets.entry(slug.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*counted).as_secs_f64() * per_second).min(burst);
        *counted = now;
        *tokens -= 1.0;
        if *tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-*tokens / per_second)
        }
    }
}

/// How a delivery (or upsert) ended.
#[derive(Debug)]
pub(crate) enum Delivery {
    Delivered,
    /// Given up while waiting between attempts: its run's final event is
    /// ready and goes instead.
    Superseded,
    /// Rejected by the service, or out of retry budget.
    Failed {
        reason: String,
        permanent: bool,
    },
}

impl Delivery {
    /// `delivered`, `superseded` or `failed`, for metrics.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Superseded => "superseded",
            Self::Failed { .. } => "failed",
        }
    }
}

/// One attempt, within the concurrency limit; `None` when shutting down.
/// A target that panics, building its future or while it runs, is a
/// rejection: a user's target must not take the delivery thread down.
pub(crate) async fn attempt_once<'a>(
    semaphore: &Semaphore,
    attempt: &impl Fn() -> BoxFuture<'a, Verdict>,
) -> Option<Verdict> {
    let _permit = semaphore.acquire().await.ok()?;
    let panicked = |payload: Box<dyn std::any::Any + Send>| {
        Verdict::reject(format!(
            "the target {}",
            crate::outcome::panic_message(&*payload)
        ))
    };
    Some(match std::panic::catch_unwind(AssertUnwindSafe(attempt)) {
        Ok(future) => AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .unwrap_or_else(panicked),
        Err(payload) => panicked(payload),
    })
}

/// How a wait between attempts ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    /// Its time came: attempt again.
    Due,
    /// Something more important is ready: give up this delivery.
    GaveWay,
}

/// Runs `attempt` until it is delivered, rejected, out of retry budget, or
/// told to give way by `wait`, which does every wait between attempts.
pub(crate) async fn deliver<'a, W: Future<Output = Waited>>(
    slot: &'a Slot,
    semaphore: &Semaphore,
    counters: &Counters,
    policy: RetryPolicy,
    attempt: impl Fn() -> BoxFuture<'a, Verdict>,
    wait: impl Fn(Instant) -> W,
) -> Delivery {
    let count = |c: fn(&Counters) -> &AtomicU64| {
        c(counters).fetch_add(1, Relaxed);
    };
    let first = Instant::now();
    let service = slot.name();
    let mut retry = 0;
    loop {
        let paused = *lock(&slot.paused_until);
        if let Some(until) = paused.filter(|until| *until > Instant::now())
            && wait(until).await == Waited::GaveWay
        {
            return Delivery::Superseded;
        }
        let Some(verdict) = attempt_once(semaphore, &attempt).await else {
            return Delivery::Failed {
                reason: "shutting down".into(),
                permanent: false,
            };
        };
        match verdict {
            Verdict::Delivered => {
                count(|c| &c.delivered);
                if !slot.healthy.swap(true, Relaxed) {
                    tracing::info!(target: "heartbeat", service, "heartbeat service reachable again");
                }
                return Delivery::Delivered;
            }
            Verdict::Reject { reason } => {
                count(|c| &c.failed);
                return Delivery::Failed {
                    reason,
                    permanent: true,
                };
            }
            Verdict::Retry { reason, after } => {
                retry += 1;
                let pause = policy.backoff(retry).max(after.unwrap_or_default());
                if first.elapsed().saturating_add(pause) > policy.give_up_after {
                    count(|c| &c.failed);
                    return Delivery::Failed {
                        reason,
                        permanent: false,
                    };
                }
                if let Some(after) = after {
                    // Every lane of this service waits, not just this one.
                    let until = super::timers::after(Instant::now(), after);
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
                    tracing::debug!(target: "heartbeat", service, retry, wait = ?pause, "retrying: {reason}");
                }
                if wait(super::timers::after(Instant::now(), pause)).await == Waited::GaveWay {
                    return Delivery::Superseded;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy::new(
            Duration::from_millis(100),
            Duration::from_secs(1),
            Duration::MAX,
        );
        for (retry, step) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            for _ in 0..50 {
                let d = p.backoff(retry).as_millis();
                assert!(
                    d >= step / 2 && d <= step,
                    "retry {retry}: {d} not in [{}, {step}]",
                    step / 2
                );
            }
        }
        let distinct: std::collections::HashSet<_> = (0..20).map(|_| p.backoff(3)).collect();
        assert!(distinct.len() > 1, "no jitter");
    }
}
