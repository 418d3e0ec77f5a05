//! [`QueueWatch`]: polls a [`QueueProbe`] and turns rule breaches into
//! alerts and recoveries on the rules' checks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::rules::{Change, RuleState};
use super::{Breach, Lease, QueueProbe, QueueStats, Rule};
use crate::event::EventKind;
use crate::monitor::Monitor;
use crate::schedule::Priority;
use crate::sync::lock;

type BreachHook = Box<dyn Fn(&Breach) + Send + Sync>;

/// Watches one queue: polls its probe on the application's tokio runtime
/// and evaluates the rules at every poll.
///
/// - A breach is one alert: a failure ping to the rule's check (the body
///   says the rule and the figures; the check's runbook is added by the
///   service targets), an ERROR line (WARN below P1), and the
///   [`on_breach`](QueueWatchBuilder::on_breach) hooks.
/// - While it lasts, nothing more is sent; when it clears, one success.
/// - While healthy, every poll sends the rule's check a success, so the
///   service alerts when the watcher itself stops (a dead process, a
///   stuck runtime). Services that limit pings per check get them paced
///   and coalesced by the monitor.
/// - A probe that errors, or answers later than its timeout, breaches
///   every rule: a queue that cannot be read is not a healthy one.
///
/// Cloning gives another handle to the same watch.
#[derive(Clone)]
pub struct QueueWatch {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    probe: Box<dyn QueueProbe>,
    monitor: Monitor,
    every: Duration,
    timeout: Duration,
    rules: Mutex<Vec<RuleState>>,
    last: Mutex<Option<QueueStats>>,
    hooks: Vec<BreachHook>,
    lease: Option<Box<dyn Lease>>,
    /// Whether the last poll held the lease (always, without one).
    leading: AtomicBool,
}

impl std::fmt::Debug for QueueWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueWatch")
            .field("queue", &self.inner.name)
            .field("every", &self.inner.every)
            .field("last", &self.stats())
            .field("breaches", &self.breaches())
            .finish_non_exhaustive()
    }
}

/// Builds a [`QueueWatch`]; from [`QueueWatch::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct QueueWatchBuilder {
    name: String,
    probe: Box<dyn QueueProbe>,
    monitor: Monitor,
    every: Duration,
    timeout: Duration,
    rules: Vec<Rule>,
    hooks: Vec<BreachHook>,
    lease: Option<Box<dyn Lease>>,
}

impl std::fmt::Debug for QueueWatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueWatchBuilder")
            .field("queue", &self.name)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl QueueWatchBuilder {
    /// How often to poll (default 30 s).
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every.max(Duration::from_millis(1));
        self
    }

    /// How long a poll may take before the probe counts as hanging
    /// (default 10 s).
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Calls `hook` once per breach, when it begins (a Sentry integration
    /// can make it an event). It runs on the polling task: keep it short.
    pub fn on_breach(mut self, hook: impl Fn(&Breach) + Send + Sync + 'static) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }

    /// Sends alerts only while this process holds `lease`: one process of
    /// a fleet sharing the queue speaks for it (see [`Lease`]). Give the
    /// lease a time-to-live longer than [`every`](Self::every), since each
    /// poll renews it.
    pub fn lease(mut self, lease: impl Lease) -> Self {
        self.lease = Some(Box::new(lease));
        self
    }

    /// The watch; poll it with [`QueueWatch::spawn`] or
    /// [`QueueWatch::poll_at`].
    pub fn build(self) -> QueueWatch {
        QueueWatch {
            inner: Arc::new(Inner {
                name: self.name,
                probe: self.probe,
                monitor: self.monitor,
                every: self.every,
                timeout: self.timeout,
                rules: Mutex::new(self.rules.into_iter().map(RuleState::new).collect()),
                last: Mutex::new(None),
                hooks: self.hooks,
                leading: AtomicBool::new(self.lease.is_none()),
                lease: self.lease,
            }),
        }
    }
}

impl QueueWatch {
    /// A watch of the queue `name` through `probe`, alerting through `monitor`.
    pub fn builder(
        name: impl Into<String>,
        probe: impl QueueProbe,
        monitor: &Monitor,
    ) -> QueueWatchBuilder {
        QueueWatchBuilder {
            name: name.into(),
            probe: Box::new(probe),
            monitor: monitor.clone(),
            every: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            rules: Vec::new(),
            hooks: Vec::new(),
            lease: None,
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The figures of the last poll that read them.
    pub fn stats(&self) -> Option<QueueStats> {
        *lock(&self.inner.last)
    }

    /// Whether this process sent the queue's alerts at the last poll: always
    /// without a [`lease`](QueueWatchBuilder::lease), else whether it held it.
    pub fn is_leading(&self) -> bool {
        self.inner.leading.load(Ordering::Relaxed)
    }

    /// The rules in breach now.
    pub fn breaches(&self) -> Vec<Breach> {
        lock(&self.inner.rules)
            .iter()
            .filter_map(|r| r.breach.clone())
            .collect()
    }

    /// Polls every [`every`](QueueWatchBuilder::every) on the current tokio
    /// runtime until the returned task is aborted.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let watch = self.clone();
        tokio::spawn(async move {
            loop {
                watch.poll_at(Instant::now()).await;
                tokio::time::sleep(watch.inner.every).await;
            }
        })
    }

    /// One poll, as of `now`: reads the probe (within the probe timeout)
    /// and evaluates every rule. Tests drive rules with it.
    pub async fn poll_at(&self, now: Instant) {
        let inner = &self.inner;
        let read = tokio::time::timeout(inner.timeout, inner.probe.stats()).await;
        let stats = match read {
            Ok(Ok(stats)) => {
                *lock(&inner.last) = Some(stats);
                crate::metrics::queue(&inner.name, &stats);
                Ok(stats)
            }
            Ok(Err(e)) => Err(format!("its probe failed: {e}")),
            Err(_) => Err(format!(
                "its probe did not answer within {:?}",
                inner.timeout
            )),
        };
        let changes: Vec<(crate::Check, Change)> = lock(&inner.rules)
            .iter_mut()
            .map(|rule| {
                let change = rule.observe(&inner.name, now, stats.clone());
                (rule.rule.check().clone(), change)
            })
            .collect();
        if !self.lead().await {
            return;
        }
        for (check, change) in changes {
            self.report(&check, change);
        }
    }

    /// Whether this poll's alerts are ours to send: the lease is held (or
    /// there is none), or it cannot be asked.
    async fn lead(&self) -> bool {
        let inner = &self.inner;
        let Some(lease) = &inner.lease else {
            return true;
        };
        let queue = inner.name.as_str();
        let held = match tokio::time::timeout(inner.timeout, lease.hold()).await {
            Ok(Ok(held)) => held,
            Ok(Err(e)) => {
                tracing::warn!(target: "heartbeat", queue, "the queue lease cannot be read, so this process alerts: {e}");
                true
            }
            Err(_) => {
                tracing::warn!(target: "heartbeat", queue, "the queue lease did not answer within {:?}, so this process alerts", inner.timeout);
                true
            }
        };
        let was = inner.leading.swap(held, Ordering::Relaxed);
        if held != was {
            if held {
                tracing::info!(target: "heartbeat", queue, "this process holds the queue lease: it sends the queue's alerts");
            } else {
                tracing::info!(target: "heartbeat", queue, "another process holds the queue lease: it sends the queue's alerts");
            }
        }
        held
    }

    fn report(&self, check: &crate::Check, change: Change) {
        let inner = &self.inner;
        let queue = inner.name.as_str();
        match change {
            Change::Healthy => inner.monitor.ping(check, EventKind::Success, None, None),
            Change::StillBreached => {}
            Change::Recovered => {
                tracing::info!(target: "heartbeat", queue, check = check.slug(), "queue rule recovered");
                inner.monitor.ping(check, EventKind::Success, None, None);
            }
            Change::Breached(breach) => {
                let text = format!("{queue}: {} ({})", breach.rule, breach.message);
                if check.priority() == Priority::P1 {
                    tracing::error!(target: "heartbeat", queue, check = check.slug(), priority = breach.priority, "queue rule breached: {text}");
                } else {
                    tracing::warn!(target: "heartbeat", queue, check = check.slug(), priority = breach.priority, "queue rule breached: {text}");
                }
                inner.monitor.ping(check, EventKind::Fail, Some(text), None);
                for hook in &inner.hooks {
                    hook(&breach);
                }
            }
        }
    }
}
