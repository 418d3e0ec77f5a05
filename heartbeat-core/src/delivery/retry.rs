//! [`RetryPolicy`]: exponential backoff with jitter, bounded in time.

use std::time::Duration;

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
