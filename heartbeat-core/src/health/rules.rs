//! [`Rule`]s and their state between polls. Evaluation is pure: figures and
//! a time in, healthy or breached out, so it is tested by driving polls.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::QueueStats;
use crate::check::Check;
use crate::schedule::Priority;

/// A condition on a queue's figures that should page someone. Each rule
/// has its own [`Check`]: its alerts are failures of that check, so the
/// service pages with the check's priority and runbook.
#[derive(Debug, Clone)]
pub struct Rule {
    kind: Kind,
    check: Check,
}

#[derive(Debug, Clone)]
enum Kind {
    DepthAbove {
        limit: u64,
    },
    DepthGrowing {
        polls: u32,
    },
    FailureSpike {
        window: Duration,
        floor: u64,
        factor: f64,
    },
}

impl Rule {
    /// Breached while more than `limit` jobs wait (e.g. 500 for a queue
    /// whose steady state is under 50).
    pub fn depth_above(limit: u64, check: Check) -> Self {
        Self {
            kind: Kind::DepthAbove { limit },
            check,
        }
    }

    /// Breached once the number of waiting jobs has grown at `polls`
    /// consecutive polls (at least 1); clears at the first poll it does not.
    pub fn depth_growing(polls: u32, check: Check) -> Self {
        Self {
            kind: Kind::DepthGrowing {
                polls: polls.max(1),
            },
            check,
        }
    }

    /// Breached when the failures within `window` are at least `floor`
    /// (so one failure on a quiet queue does not page) and more than 3×
    /// the baseline learned while healthy (see [`factor`](Self::factor)).
    /// The baseline is learned over the first whole window before the
    /// rule can breach, then smoothed (each healthy poll weighs 20 %).
    pub fn failure_spike(window: Duration, floor: u64, check: Check) -> Self {
        Self {
            kind: Kind::FailureSpike {
                window,
                floor: floor.max(1),
                factor: 3.0,
            },
            check,
        }
    }

    /// For [`failure_spike`](Self::failure_spike): how many times the
    /// baseline counts as a spike (default 3).
    pub fn factor(mut self, factor: f64) -> Self {
        if let Kind::FailureSpike { factor: f, .. } = &mut self.kind {
            *f = factor.max(1.0);
        }
        self
    }

    /// The check its alerts go to.
    pub fn check(&self) -> &Check {
        &self.check
    }

    /// What it watches, for logs and reports: "queue depth above 500".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::DepthAbove { limit } => format!("queue depth above {limit}"),
            Kind::DepthGrowing { polls } => format!("queue depth growing for {polls} polls"),
            Kind::FailureSpike {
                window,
                floor,
                factor,
            } => format!(
                "failures per {}s at least {floor} and over {factor}× the baseline",
                window.as_secs()
            ),
        }
    }
}

/// A rule in breach, as a health report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Breach {
    /// The queue.
    pub queue: String,
    /// The rule, described.
    pub rule: String,
    /// The rule's check.
    pub check: String,
    /// The check's priority (`"P1"`…).
    pub priority: &'static str,
    /// The figures that breached it.
    pub message: String,
    /// When the breach began.
    #[serde(serialize_with = "rfc3339")]
    pub since: SystemTime,
}

impl Breach {
    /// Whether it pages now (P1): a health endpoint answers 503.
    pub fn is_critical(&self) -> bool {
        self.priority == Priority::P1.as_str()
    }
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&crate::run::Utc(*t))
}

/// What a poll changed for one rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    /// Still healthy.
    Healthy,
    /// Still breached: no new alert.
    StillBreached,
    /// Just breached: alert.
    Breached(Breach),
    /// Just cleared: recovery.
    Recovered,
}

/// A rule with what it remembers between polls.
#[derive(Debug)]
pub(crate) struct RuleState {
    pub(crate) rule: Rule,
    pub(crate) breach: Option<Breach>,
    last_depth: Option<u64>,
    growing: u32,
    /// (time, failed total) samples within the spike window.
    failures: VecDeque<(Instant, u64)>,
    /// Failures per window while healthy, smoothed.
    baseline: Option<f64>,
    /// The first figures seen: the baseline is learned for a window first.
    first_sample: Option<Instant>,
}

impl RuleState {
    pub(crate) fn new(rule: Rule) -> Self {
        Self {
            rule,
            breach: None,
            last_depth: None,
            growing: 0,
            failures: VecDeque::new(),
            baseline: None,
            first_sample: None,
        }
    }

    /// One poll's figures (or the probe's failure) at `now`.
    pub(crate) fn observe(
        &mut self,
        queue: &str,
        now: Instant,
        stats: Result<QueueStats, String>,
    ) -> Change {
        let problem = match stats {
            Ok(stats) => self.problem(now, stats),
            Err(why) => Some(format!("the queue cannot be watched: {why}")),
        };
        match (problem, self.breach.is_some()) {
            (None, false) => Change::Healthy,
            (None, true) => {
                self.breach = None;
                Change::Recovered
            }
            (Some(_), true) => Change::StillBreached,
            (Some(message), false) => {
                let breach = Breach {
                    queue: queue.to_owned(),
                    rule: self.rule.describe(),
                    check: self.rule.check.slug().to_owned(),
                    priority: self.rule.check.priority().as_str(),
                    message,
                    since: SystemTime::now(),
                };
                self.breach = Some(breach.clone());
                Change::Breached(breach)
            }
        }
    }

    /// What is wrong with these figures, if anything.
    fn problem(&mut self, now: Instant, stats: QueueStats) -> Option<String> {
        match self.rule.kind {
            Kind::DepthAbove { limit } => (stats.queued > limit)
                .then(|| format!("{} jobs queued, over the limit of {limit}", stats.queued)),
            Kind::DepthGrowing { polls } => {
                let grew = self.last_depth.is_some_and(|last| stats.queued > last);
                self.last_depth = Some(stats.queued);
                self.growing = if grew { self.growing + 1 } else { 0 };
                (self.growing >= polls).then(|| {
                    format!(
                        "{} jobs queued, growing for {} consecutive polls",
                        stats.queued, self.growing
                    )
                })
            }
            Kind::FailureSpike {
                window,
                floor,
                factor,
            } => self.spike(now, stats.failed, window, floor, factor),
        }
    }

    fn spike(
        &mut self,
        now: Instant,
        failed: u64,
        window: Duration,
        floor: u64,
        factor: f64,
    ) -> Option<String> {
        // A total that went down: the queue restarted its counters.
        if self.failures.back().is_some_and(|(_, last)| failed < *last) {
            self.failures.clear();
        }
        // Keep the newest sample at or before the window's start, so that
        // `recent` covers the whole window.
        self.failures.push_back((now, failed));
        while self
            .failures
            .get(1)
            .is_some_and(|(at, _)| now.duration_since(*at) >= window)
        {
            self.failures.pop_front();
        }
        let oldest = self.failures.front().map_or(failed, |(_, f)| *f);
        let recent = failed - oldest;
        let first = *self.first_sample.get_or_insert(now);
        if now.duration_since(first) < window {
            // Warming up: a baseline needs one whole window of history,
            // or a steady rate would look like a spike against zero.
            self.baseline = Some(recent as f64);
            return None;
        }
        let baseline = self.baseline.unwrap_or(0.0);
        if recent >= floor && recent as f64 > factor * baseline {
            return Some(format!(
                "{recent} failures in the last {}s (baseline {baseline:.1}, floor {floor})",
                window.as_secs()
            ));
        }
        // Learned only while healthy, so a long spike does not become normal.
        self.baseline = Some(match self.baseline {
            None => recent as f64,
            Some(b) => 0.8 * b + 0.2 * recent as f64,
        });
        None
    }
}
