//! [`Monitor`]: the handle jobs report through, and its builder.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::check::Check;
use crate::delivery::{self, DeliveryConfig, FlushRequest, RetryPolicy, Shared};
use crate::error::ConfigError;
use crate::event::Event;
use crate::keepalive::{Keepalive, KeepaliveState};
use crate::outcome::{Outcome, RunOutcome};
use crate::run::RunGuard;
use crate::stats::{FlushReport, Stats};
use crate::target::{Cronitor, Healthchecks, HttpContext, Target, UrlTemplate};

/// The environment variables [`Monitor::from_env`] reads.
pub mod env {
    /// Healthchecks ping base (default `https://hc-ping.com`); setting it enables Healthchecks.
    pub const HEALTHCHECKS_PING_URL: &str = "HEALTHCHECKS_PING_URL";
    /// Healthchecks project ping key, for slug URLs; setting it enables Healthchecks.
    pub const HEALTHCHECKS_PING_KEY: &str = "HEALTHCHECKS_PING_KEY";
    /// Healthchecks Management API key: scheduled checks are upserted; setting it enables Healthchecks.
    pub const HEALTHCHECKS_API_KEY: &str = "HEALTHCHECKS_API_KEY";
    /// Healthchecks Management API base (default `https://healthchecks.io/api/v3`).
    pub const HEALTHCHECKS_API_URL: &str = "HEALTHCHECKS_API_URL";
    /// Cronitor API key; setting it enables Cronitor.
    pub const CRONITOR_API_KEY: &str = "CRONITOR_API_KEY";
    /// Cronitor telemetry base (default `https://cronitor.link`).
    pub const CRONITOR_PING_URL: &str = "CRONITOR_PING_URL";
    /// Cronitor monitors API base (default `https://cronitor.io/api`).
    pub const CRONITOR_API_URL: &str = "CRONITOR_API_URL";
    /// Environment name attached to pings.
    pub const HEARTBEAT_ENV: &str = "HEARTBEAT_ENV";
}

/// A cheap-to-clone handle that jobs report through.
///
/// It owns the targets and a background delivery thread; the job path only
/// queues events. With no target configured it still runs jobs and logs
/// their start and finish, sending nothing.
///
/// ```no_run
/// use std::time::Duration;
/// use heartbeat_core::{Check, Monitor};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let monitor = Monitor::from_env()?;
/// let _flush = monitor.flush_on_drop(Duration::from_secs(5));
///
/// let check = Check::new("nightly-backup")?;
/// let run = monitor.start(&check);
/// match backup() {
///     Ok(()) => run.success(),
///     Err(e) => run.fail(&e),
/// }
/// # Ok(()) }
/// # fn backup() -> std::io::Result<()> { Ok(()) }
/// ```
#[derive(Clone)]
pub struct Monitor {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` when no target is configured (log-only).
    shared: Option<Arc<Shared>>,
    targets: Vec<String>,
    /// How long the guard from [`crate::init`] waits.
    flush_timeout: Duration,
    /// Whether any target upserts monitors of scheduled checks.
    upserts: bool,
    /// Slugs already upserted by this monitor (once per check per process).
    upserted: Mutex<HashSet<String>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The worker keeps delivering for the shutdown timeout, then exits.
        if let Some(shared) = &self.shared {
            shared.close();
        }
    }
}

impl Monitor {
    /// Starts building a monitor; see [`MonitorBuilder`] for the defaults.
    pub fn builder() -> MonitorBuilder {
        MonitorBuilder::new()
    }

    /// A monitor configured from the environment variables in [`env`](mod@crate::env); with
    /// none set, a log-only monitor.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the variable whose value is unusable.
    pub fn from_env() -> Result<Self, ConfigError> {
        MonitorBuilder::from_env()?.build()
    }

    /// A monitor with no targets and no delivery thread: jobs run and log
    /// their start and finish, nothing is sent, and nothing runs in the
    /// background (so no max-runtime warning and no keepalive ticks). A
    /// builder with no target gives a monitor that keeps those timers.
    pub fn log_only() -> Self {
        Self {
            inner: Arc::new(Inner {
                shared: None,
                targets: Vec::new(),
                flush_timeout: Duration::ZERO,
                upserts: false,
                upserted: Mutex::default(),
            }),
        }
    }

    /// Starts a run of `check`. Returns at once: the start event is queued,
    /// not sent. The first run of a scheduled check also queues the upsert
    /// of its monitor, when a target is configured for that.
    pub fn start(&self, check: &Check) -> RunGuard {
        self.upsert_once(check);
        RunGuard::start(self, check)
    }

    /// Pings `check` every `every` (at least 100 ms) while the process
    /// makes progress; see [`Keepalive`]. Dropping the guard stops it.
    ///
    /// ```no_run
    /// # fn next_message() -> Option<u32> { None }
    /// # fn f(monitor: heartbeat_core::Monitor) -> Result<(), heartbeat_core::CheckError> {
    /// let check = heartbeat_core::Check::new("event-consumer")?;
    /// let alive = monitor.keepalive(&check, std::time::Duration::from_secs(60));
    /// while let Some(message) = next_message() {
    ///     // … handle the message …
    ///     alive.progress();
    /// }
    /// # Ok(()) }
    /// ```
    pub fn keepalive(&self, check: &Check, every: Duration) -> Keepalive {
        let Some(shared) = &self.inner.shared else {
            return Keepalive::new(None);
        };
        let state = Arc::new(KeepaliveState {
            check: check.clone(),
            every: every.max(Duration::from_millis(100)),
            progress: AtomicU64::new(0),
            always: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        });
        shared.add_keepalive(state.clone());
        Keepalive::new(Some(state))
    }

    fn upsert_once(&self, check: &Check) {
        let inner = &self.inner;
        if !inner.upserts || check.schedule().is_none() {
            return;
        }
        let new = crate::sync::lock(&inner.upserted).insert(check.slug().to_owned());
        if let (true, Some(shared)) = (new, &inner.shared) {
            shared.request_upsert(check.clone());
        }
    }

    /// Runs `job` as a run of `check`: its output ([`RunOutcome`]) decides
    /// success or failure (an error's source chain becomes the message); a
    /// panic is reported and then resumed, never swallowed; a future dropped
    /// before it completes (a timeout, a shutdown) is reported as cancelled.
    /// The job runs inside the run's span.
    ///
    /// ```no_run
    /// # async fn sync_accounts() -> std::io::Result<()> { Ok(()) }
    /// # async fn f(monitor: heartbeat_core::Monitor) -> Result<(), Box<dyn std::error::Error>> {
    /// let check = heartbeat_core::Check::new("sync-accounts")?;
    /// monitor.run(&check, sync_accounts()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run<F>(&self, check: &Check, job: F) -> F::Output
    where
        F: Future,
        F::Output: RunOutcome,
    {
        self.run_with(check, job, RunOutcome::outcome).await
    }

    /// [`run`](Self::run) with the outcome read by `outcome` (used by `#[job]`,
    /// which also accepts errors that are only `Display`).
    pub(crate) async fn run_with<F: Future>(
        &self,
        check: &Check,
        job: F,
        outcome: impl FnOnce(&F::Output) -> Outcome,
    ) -> F::Output {
        use futures::FutureExt;
        use tracing::Instrument;
        let guard = self.start(check);
        let span = guard.span().clone();
        let result = std::panic::AssertUnwindSafe(job.instrument(span))
            .catch_unwind()
            .await;
        guard.conclude(result, outcome)
    }

    /// [`run`](Self::run) for synchronous code.
    ///
    /// ```no_run
    /// # fn rotate_logs() -> std::io::Result<()> { Ok(()) }
    /// # fn f(monitor: heartbeat_core::Monitor) -> Result<(), Box<dyn std::error::Error>> {
    /// let check = heartbeat_core::Check::new("rotate-logs")?;
    /// monitor.run_blocking(&check, rotate_logs)?;
    /// # Ok(()) }
    /// ```
    pub fn run_blocking<T: RunOutcome>(&self, check: &Check, job: impl FnOnce() -> T) -> T {
        self.run_blocking_with(check, job, RunOutcome::outcome)
    }

    /// [`run_blocking`](Self::run_blocking) with the outcome read by `outcome`.
    pub(crate) fn run_blocking_with<T>(
        &self,
        check: &Check,
        job: impl FnOnce() -> T,
        outcome: impl FnOnce(&T) -> Outcome,
    ) -> T {
        let guard = self.start(check);
        let result = guard
            .span()
            .in_scope(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
        guard.conclude(result, outcome)
    }

    /// Whether any target is configured (otherwise runs are only logged).
    pub fn is_enabled(&self) -> bool {
        !self.inner.targets.is_empty()
    }

    /// The names of the configured targets.
    pub fn targets(&self) -> &[String] {
        &self.inner.targets
    }

    /// Delivery counters.
    pub fn stats(&self) -> Stats {
        match &self.inner.shared {
            Some(s) => s.counters.snapshot(s.queue.len()),
            None => Stats::default(),
        }
    }

    /// Waits until every event queued so far is delivered (or given up), or
    /// until `timeout` passes, whichever is first, and says which.
    ///
    /// Returns within the timeout even when a service hangs.
    pub async fn flush(&self, timeout: Duration) -> FlushReport {
        let Some(shared) = &self.inner.shared else {
            return FlushReport::default();
        };
        let (tx, rx) = futures::channel::oneshot::channel();
        shared.request_flush(FlushRequest {
            deadline: delivery::after(Instant::now(), timeout),
            reply: tx,
        });
        // The worker answers by the deadline; it only fails to answer if its
        // thread is gone, and then what is still queued will never leave.
        rx.await.unwrap_or_else(|_| {
            let mut undelivered = Vec::new();
            shared.queue.describe(&mut undelivered);
            FlushReport {
                stats: self.stats(),
                undelivered,
            }
        })
    }

    /// [`flush`](Self::flush) for synchronous code: blocks the calling thread.
    pub fn flush_blocking(&self, timeout: Duration) -> FlushReport {
        futures::executor::block_on(self.flush(timeout))
    }

    /// A guard that flushes (blocking, up to `timeout`) when dropped: keep it
    /// alive in `main` so a short-lived program delivers its pings before it
    /// exits.
    pub fn flush_on_drop(&self, timeout: Duration) -> FlushGuard {
        FlushGuard {
            monitor: self.clone(),
            timeout,
        }
    }

    pub(crate) fn default_flush_timeout(&self) -> Duration {
        self.inner.flush_timeout
    }

    pub(crate) fn push(&self, event: Event) {
        if let Some(shared) = &self.inner.shared {
            shared.push(event);
        }
    }
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("targets", &self.inner.targets)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Flushes its monitor when dropped; from [`Monitor::flush_on_drop`].
#[must_use = "the flush happens when this guard is dropped; dropping it at once flushes at once"]
#[derive(Debug)]
pub struct FlushGuard {
    monitor: Monitor,
    timeout: Duration,
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        if !self.monitor.is_enabled() {
            return;
        }
        let report = self.monitor.flush_blocking(self.timeout);
        if report.is_complete() {
            tracing::debug!(target: "heartbeat", %report, "heartbeat flushed");
        } else {
            tracing::warn!(target: "heartbeat", %report, "heartbeat flush timed out with pings undelivered");
        }
    }
}

/// Builds a [`Monitor`].
///
/// | setting | default |
/// |---|---|
/// | targets | none (log-only) |
/// | [`environment`](Self::environment) | none (`HEARTBEAT_ENV` with [`from_env`](Self::from_env)) |
/// | [`queue_capacity`](Self::queue_capacity) | 10 000 events |
/// | [`concurrency`](Self::concurrency) | 16 requests at once |
/// | [`request_timeout`](Self::request_timeout) | 10 s per attempt |
/// | [`retry`](Self::retry) | [`RetryPolicy::default`] (1 s doubling to 60 s, give up after 15 min) |
/// | [`shutdown_timeout`](Self::shutdown_timeout) | 5 s of delivery after the last handle is dropped |
#[derive(Debug, Clone)]
#[must_use]
pub struct MonitorBuilder {
    healthchecks: Option<Healthchecks>,
    cronitor: Option<Cronitor>,
    templates: Vec<UrlTemplate>,
    environment: Option<String>,
    queue_capacity: usize,
    concurrency: usize,
    request_timeout: Duration,
    retry: RetryPolicy,
    shutdown_timeout: Duration,
}

impl Default for MonitorBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl MonitorBuilder {
    /// A builder with no targets and the defaults above.
    pub fn new() -> Self {
        Self {
            healthchecks: None,
            cronitor: None,
            templates: Vec::new(),
            environment: None,
            queue_capacity: 10_000,
            concurrency: 16,
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            shutdown_timeout: Duration::from_secs(5),
        }
    }

    /// A builder with the targets the environment enables (see [`env`](mod@crate::env)).
    /// Unset and empty variables are ignored.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] when `CRONITOR_PING_URL` is set without
    /// `CRONITOR_API_KEY`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let mut b = Self::new();
        let hc_url = get(env::HEALTHCHECKS_PING_URL);
        let hc_key = get(env::HEALTHCHECKS_PING_KEY);
        let hc_api_key = get(env::HEALTHCHECKS_API_KEY);
        if hc_url.is_some() || hc_key.is_some() || hc_api_key.is_some() {
            let mut hc = Healthchecks::new();
            if let Some(url) = hc_url {
                hc = hc.ping_url(url);
            }
            if let Some(key) = hc_key {
                hc = hc.ping_key(key);
            }
            if let Some(key) = hc_api_key {
                hc = hc.api_key(key);
            }
            if let Some(url) = get(env::HEALTHCHECKS_API_URL) {
                hc = hc.api_url(url);
            }
            b = b.healthchecks(hc);
        }
        match (get(env::CRONITOR_API_KEY), get(env::CRONITOR_PING_URL)) {
            (Some(key), url) => {
                let mut c = Cronitor::new(key);
                if let Some(url) = url {
                    c = c.ping_url(url);
                }
                if let Some(url) = get(env::CRONITOR_API_URL) {
                    c = c.api_url(url);
                }
                b = b.cronitor(c);
            }
            (None, Some(_)) => {
                return Err(ConfigError::InvalidKey {
                    setting: env::CRONITOR_PING_URL.into(),
                    reason: "is set but CRONITOR_API_KEY is not; set the key too, or unset the URL"
                        .into(),
                });
            }
            (None, None) => {}
        }
        if let Some(e) = get(env::HEARTBEAT_ENV) {
            b = b.environment(e);
        }
        Ok(b)
    }

    /// Whether any target is configured (otherwise [`build`](Self::build)
    /// gives a log-only monitor).
    pub fn has_targets(&self) -> bool {
        self.healthchecks.is_some() || self.cronitor.is_some() || !self.templates.is_empty()
    }

    /// Sends to Healthchecks.io.
    pub fn healthchecks(self, target: Healthchecks) -> Self {
        Self {
            healthchecks: Some(target),
            ..self
        }
    }

    /// Sends to Cronitor.
    pub fn cronitor(self, target: Cronitor) -> Self {
        Self {
            cronitor: Some(target),
            ..self
        }
    }

    /// Sends to a URL-template service (Better Stack, Dead Man's Snitch, …).
    /// May be called several times.
    pub fn url_template(mut self, target: UrlTemplate) -> Self {
        self.templates.push(target);
        self
    }

    /// The environment name attached to pings (Cronitor `env`).
    pub fn environment(self, environment: impl Into<String>) -> Self {
        Self {
            environment: Some(environment.into()),
            ..self
        }
    }

    /// The most events waiting for delivery. When full, the least important
    /// events are dropped first (log, then start; final events last), and
    /// every drop is counted in [`Stats::dropped`]. The delivery thread holds
    /// up to 1024 more (deliveries in flight or waiting to retry).
    pub fn queue_capacity(self, capacity: usize) -> Self {
        Self {
            queue_capacity: capacity,
            ..self
        }
    }

    /// The most requests in flight at once, across all targets.
    pub fn concurrency(self, concurrency: usize) -> Self {
        Self {
            concurrency,
            ..self
        }
    }

    /// The time limit of one delivery attempt (connect, send, reply).
    pub fn request_timeout(self, timeout: Duration) -> Self {
        Self {
            request_timeout: timeout,
            ..self
        }
    }

    /// How failed deliveries are retried.
    pub fn retry(self, retry: RetryPolicy) -> Self {
        Self { retry, ..self }
    }

    /// How long the worker keeps delivering after the last handle is dropped,
    /// and how long the guard returned by [`init`](crate::init) waits.
    pub fn shutdown_timeout(self, timeout: Duration) -> Self {
        Self {
            shutdown_timeout: timeout,
            ..self
        }
    }

    /// Validates the configuration and starts the delivery thread (only when
    /// a target is configured).
    ///
    /// # Errors
    /// - [`ConfigError::InvalidUrl`] / [`ConfigError::InvalidKey`] /
    ///   [`ConfigError::InvalidTemplate`] for a target's settings;
    /// - [`ConfigError::InvalidSetting`] for a zero capacity, concurrency or timeout;
    /// - [`ConfigError::Worker`] if the thread or HTTP client cannot start.
    pub fn build(mut self) -> Result<Monitor, ConfigError> {
        let invalid = |setting: &str, reason: &str| ConfigError::InvalidSetting {
            setting: setting.into(),
            reason: reason.into(),
        };
        if self.queue_capacity == 0 {
            return Err(invalid("queue_capacity", "must be at least 1"));
        }
        if self.concurrency == 0 {
            return Err(invalid("concurrency", "must be at least 1"));
        }
        if self.request_timeout.is_zero() {
            return Err(invalid("request_timeout", "must be more than zero"));
        }
        let mut targets: Vec<Arc<dyn Target>> = Vec::new();
        if let Some(hc) = self.healthchecks.take() {
            targets.push(Arc::new(hc.build()?));
        }
        if let Some(c) = self.cronitor.take() {
            targets.push(Arc::new(c.build(self.environment.as_deref())?));
        }
        for t in std::mem::take(&mut self.templates) {
            targets.push(Arc::new(t.build()?));
        }
        if targets.is_empty() {
            // Still start the delivery thread: it owns the timers, so runs
            // past their max runtime and stalled keepalives are still logged.
            tracing::info!(target: "heartbeat", "no monitoring target configured: runs are logged, nothing is sent");
        }
        let no_targets = targets.is_empty();
        let started = self.start_worker(targets);
        let (shared, names, upserts) = match started {
            Ok(v) => v,
            // Without targets nothing needs the thread badly enough to fail
            // a log-only configuration: fall back to the thread-free monitor.
            Err(e) if no_targets => {
                tracing::debug!(target: "heartbeat", "no delivery thread for a monitor without targets: {e}");
                return Ok(Monitor::log_only());
            }
            Err(e) => return Err(e),
        };
        Ok(Monitor {
            inner: Arc::new(Inner {
                shared: Some(shared),
                targets: names,
                flush_timeout: self.shutdown_timeout,
                upserts,
                upserted: Mutex::default(),
            }),
        })
    }

    /// The HTTP client and the delivery thread for `targets`.
    fn start_worker(
        &self,
        targets: Vec<Arc<dyn Target>>,
    ) -> Result<(Arc<Shared>, Vec<String>, bool), ConfigError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("heartbeat/", env!("CARGO_PKG_VERSION")))
            .timeout(self.request_timeout)
            .connect_timeout(self.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ConfigError::Worker(crate::error::chain(&e.without_url())))?;
        let names = targets.iter().map(|t| t.name().to_owned()).collect();
        let upserts = targets.iter().any(|t| t.upserts());
        let shared = Arc::new(Shared::new(self.queue_capacity));
        let config = DeliveryConfig {
            // Enough in-flight work to keep `concurrency` requests busy across
            // many lanes; the rest waits in the queue, where overflow drops by
            // importance. Memory is bounded by capacity + this.
            max_in_worker: self.queue_capacity.clamp(64, 1024),
            concurrency: self.concurrency,
            retry: self.retry,
            shutdown_timeout: self.shutdown_timeout,
        };
        delivery::spawn(shared.clone(), targets, HttpContext { client }, config)
            .map_err(|e| ConfigError::Worker(e.to_string()))?;
        Ok((shared, names, upserts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn no_variables_means_log_only() {
        let m = MonitorBuilder::from_lookup(lookup(&[]))
            .unwrap()
            .build()
            .unwrap();
        assert!(!m.is_enabled());
        assert!(m.targets().is_empty());
    }

    #[test]
    fn each_variable_enables_its_target() {
        let vars = [
            ("HEALTHCHECKS_PING_KEY", "pk-secret-1"),
            ("CRONITOR_API_KEY", "cr-secret-2"),
            ("HEARTBEAT_ENV", "staging"),
        ];
        let m = MonitorBuilder::from_lookup(lookup(&vars))
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(m.targets(), ["healthchecks", "cronitor"]);
        let b = MonitorBuilder::from_lookup(lookup(&vars)).unwrap();
        let dbg = format!("{b:?} {m:?}");
        assert!(
            !dbg.contains("pk-secret-1") && !dbg.contains("cr-secret-2"),
            "{dbg}"
        );
    }

    #[test]
    fn bad_url_names_the_setting_not_the_secret() {
        let vars = [("HEALTHCHECKS_PING_URL", "hc-ping.com/secret-path")];
        let err = MonitorBuilder::from_lookup(lookup(&vars))
            .unwrap()
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("Healthchecks ping URL"), "{msg}");
        assert!(!msg.contains("secret-path"), "{msg}");
        let vars = [("CRONITOR_PING_URL", "https://cronitor.link")];
        assert!(MonitorBuilder::from_lookup(lookup(&vars)).is_err());
    }

    #[test]
    fn bad_key_is_rejected() {
        let err = Monitor::builder()
            .healthchecks(Healthchecks::new().ping_key("https://hc-ping.com/abc"))
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidKey { .. }), "{err}");
    }
}
