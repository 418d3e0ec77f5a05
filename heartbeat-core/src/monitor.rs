//! [`Monitor`]: the handle jobs report through, and its builder.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use crate::check::Check;
use crate::current::InRun;
use crate::delivery::{self, DeliveryConfig, KeepaliveState, RetryPolicy, Shared};
use crate::error::ConfigError;
use crate::event::{Event, EventKind, RunId};
use crate::hooks::{FinishHook, StartHook};
use crate::keepalive::Keepalive;
use crate::outcome::{Reported, RunOutcome};
use crate::run::{RunGuard, RunOptions};
use crate::sink::Sink;
use crate::stats::{FlushReport, Stats};
use crate::target::Target;
use crate::targets::{self, Cronitor, Healthchecks, HttpClient, IntoTarget, TargetContext};

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

    /// Every variable above.
    pub const ALL: [&str; 8] = [
        HEALTHCHECKS_PING_URL,
        HEALTHCHECKS_PING_KEY,
        HEALTHCHECKS_API_KEY,
        HEALTHCHECKS_API_URL,
        CRONITOR_API_KEY,
        CRONITOR_PING_URL,
        CRONITOR_API_URL,
        HEARTBEAT_ENV,
    ];
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
    sink: Arc<Sink>,
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
            sink: Arc::new(Sink::new(None)),
        }
    }

    /// Starts a run of `check`. Returns at once: the start event is queued,
    /// not sent. The first run of a scheduled check also queues the upsert
    /// of its monitor, when a target is configured for that.
    pub fn start(&self, check: &Check) -> RunGuard {
        self.start_with(check, RunOptions::new())
    }

    /// [`start`](Self::start) with an explicit run id, attempt number and
    /// attempts allowed; see [`RunOptions`].
    pub fn start_with(&self, check: &Check, options: RunOptions) -> RunGuard {
        let upsert = self.sink.first_start(check);
        RunGuard::start(&self.sink, check, options, upsert)
    }

    /// Sends one event outside a run guard, for a run whose start and end
    /// are reported by different processes (a shell script calling
    /// `heartbeat ping --start`, then `heartbeat ping --exit-code $?`) or a
    /// lone signal. `run_id` pairs a start with its end; `message` is the
    /// body (a failure's reason, a log line). No hooks run and no duration
    /// is known. A check's first start upserts its monitor, as
    /// [`start`](Self::start) does.
    pub fn ping(
        &self,
        check: &Check,
        kind: EventKind,
        message: Option<String>,
        run_id: Option<RunId>,
    ) {
        let upsert = kind == EventKind::Start && self.sink.first_start(check);
        let run_id = run_id.unwrap_or_default();
        tracing::debug!(
            target: "heartbeat",
            check = check.slug(),
            %run_id,
            event = kind.name(),
            "ping queued"
        );
        let mut event = Event::new(check.clone(), run_id.0, kind, std::time::SystemTime::now());
        event.message = message;
        event.upsert = upsert;
        self.sink.push(event);
    }

    /// Marks the process as shutting down: from now on a run whose guard is
    /// dropped unfinished (a job aborted for a graceful shutdown) is
    /// *interrupted*, logged and not reported as a failure, instead of
    /// "cancelled". Affects every clone of this monitor.
    pub fn shutdown(&self) {
        self.sink.shutdown();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.sink.is_shutting_down()
    }

    /// Pings `check` every `every` (at least 100 ms) while the process
    /// makes progress; see [`Keepalive`]. Dropping the guard stops it. A
    /// check this monitor has not seen yet is upserted (with its schedule)
    /// before its first heartbeat, as a run's first start does.
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
        let Some(shared) = &self.sink.shared else {
            return Keepalive::new(None);
        };
        let state = Arc::new(KeepaliveState {
            check: check.clone(),
            every: every.max(Duration::from_millis(100)),
            progress: AtomicU64::new(0),
            always: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            // Upserted with its first heartbeat, so the service knows the
            // check's schedule before it is pinged.
            upsert: AtomicBool::new(self.sink.first_start(check)),
        });
        shared.add_keepalive(state.clone());
        Keepalive::new(Some((state, self.sink.clone())))
    }

    /// Runs `job` as a run of `check`: its output ([`RunOutcome`]) decides
    /// success or failure (an error's source chain becomes the message); a
    /// panic is reported and then resumed, never swallowed; a future dropped
    /// before it completes (a timeout) is reported as cancelled, or as
    /// interrupted during a [`shutdown`](Self::shutdown). The job runs
    /// inside the run's span, with the run [current](crate::current_run).
    ///
    /// For errors that are not `std::error::Error` (`anyhow::Error`,
    /// `Box<dyn Error + Send + Sync>`, `String`), use [`run!`](crate::run!).
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
        self.run_with(check, RunOptions::new(), job).await
    }

    /// [`run`](Self::run) with [`RunOptions`].
    pub async fn run_with<F>(&self, check: &Check, options: RunOptions, job: F) -> F::Output
    where
        F: Future,
        F::Output: RunOutcome,
    {
        self.run_reported(check, options, job, |output| Reported::of(output))
            .await
    }

    /// [`run`](Self::run) with the outcome read by `report` (used by
    /// [`run!`](crate::run!) and `#[job]`, which accept more output types).
    pub(crate) async fn run_reported<F: Future>(
        &self,
        check: &Check,
        options: RunOptions,
        job: F,
        report: impl for<'a> FnOnce(&'a F::Output) -> Reported<'a>,
    ) -> F::Output {
        use futures::FutureExt;
        let guard = self.start_with(check, options);
        let job: InRun<F> = guard.bind(job);
        let result = std::panic::AssertUnwindSafe(job).catch_unwind().await;
        guard.conclude(result, report)
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
        self.run_blocking_with(check, RunOptions::new(), job)
    }

    /// [`run_blocking`](Self::run_blocking) with [`RunOptions`].
    pub fn run_blocking_with<T: RunOutcome>(
        &self,
        check: &Check,
        options: RunOptions,
        job: impl FnOnce() -> T,
    ) -> T {
        self.run_blocking_reported(check, options, job, |output| Reported::of(output))
    }

    /// [`run_blocking`](Self::run_blocking) with the outcome read by `report`.
    pub(crate) fn run_blocking_reported<T>(
        &self,
        check: &Check,
        options: RunOptions,
        job: impl FnOnce() -> T,
        report: impl for<'a> FnOnce(&'a T) -> Reported<'a>,
    ) -> T {
        let guard = self.start_with(check, options);
        let result = guard.in_scope(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
        guard.conclude(result, report)
    }

    /// Whether any target is configured (otherwise runs are only logged).
    pub fn is_enabled(&self) -> bool {
        !self.sink.targets.is_empty()
    }

    /// The names of the configured targets, in the order they were added:
    /// `match monitor.targets().as_slice() { ["healthchecks"] => …, _ => … }`.
    pub fn targets(&self) -> Vec<&str> {
        self.sink.targets.iter().map(String::as_str).collect()
    }

    /// Each check's last finished run seen by this monitor's delivery
    /// thread: slug, `"success"` or `"failure"`, and when it finished.
    /// Empty for a monitor without a delivery thread ([`log_only`](Self::log_only)).
    pub fn last_runs(&self) -> Vec<(String, &'static str, std::time::SystemTime)> {
        let Some(shared) = &self.sink.shared else {
            return Vec::new();
        };
        let mut runs: Vec<_> = crate::sync::lock(&shared.last_runs)
            .iter()
            .map(|(slug, (outcome, at))| (slug.clone(), *outcome, *at))
            .collect();
        runs.sort();
        runs
    }

    /// Delivery counters.
    pub fn stats(&self) -> Stats {
        match &self.sink.shared {
            Some(s) => s.stats(),
            None => Stats::default(),
        }
    }

    /// Waits until every event queued so far is delivered (or given up), or
    /// until `timeout` passes, whichever is first, and says which
    /// ([`FlushReport::ended`]).
    ///
    /// Returns within the timeout even when a service hangs, and sooner
    /// when waiting cannot deliver anything more: when everything left waits,
    /// with no request outstanding, for a retry due after the deadline (a
    /// service that is down or answering 5xx).
    pub async fn flush(&self, timeout: Duration) -> FlushReport {
        self.sink.flush(timeout).await
    }

    /// [`flush`](Self::flush) for synchronous code: blocks the calling
    /// thread (without an executor, so it works inside one too, at the cost
    /// of blocking that executor's thread for up to `timeout`).
    pub fn flush_blocking(&self, timeout: Duration) -> FlushReport {
        self.sink.flush_blocking(timeout, false)
    }

    /// A guard that flushes (blocking, up to `timeout`) when dropped: keep it
    /// alive in `main` so a short-lived program delivers its pings before it
    /// exits.
    ///
    /// It marks the end of the program's monitoring: what it cannot deliver
    /// in time is abandoned (counted in [`Stats::abandoned`], listed in the
    /// WARN line it logs) and the monitor stops delivering; runs after it
    /// are only logged.
    pub fn flush_on_drop(&self, timeout: Duration) -> FlushGuard {
        FlushGuard {
            monitor: self.clone(),
            timeout,
        }
    }

    pub(crate) fn default_flush_timeout(&self) -> Duration {
        self.sink.flush_timeout
    }
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("targets", &self.sink.targets)
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
        let report = self.monitor.sink.flush_blocking(self.timeout, true);
        // The wait at exit happened here: the monitor's own drop need not
        // wait again for what this one could not deliver.
        self.monitor.sink.exit_flushed();
        let stats = report.stats;
        // A cron job's last word says what was lost: what this flush gave
        // up, or what was refused or out of retries earlier.
        let lost = if !report.is_complete() {
            Some("heartbeat gave up pings at exit")
        } else if stats.failed > 0 {
            Some("heartbeat flushed; some pings were not delivered")
        } else {
            None
        };
        if let Some(lost) = lost {
            tracing::warn!(
                target: "heartbeat",
                abandoned = stats.abandoned,
                failed = stats.failed,
                %report,
                "{lost}"
            );
        } else {
            tracing::debug!(target: "heartbeat", %report, "heartbeat flushed");
        }
    }
}

/// A target waiting for the monitor to be built.
type PendingTarget = Box<dyn FnOnce(&TargetContext) -> Result<Arc<dyn Target>, ConfigError> + Send>;

/// Builds a [`Monitor`].
///
/// | setting | default |
/// |---|---|
/// | [`target`](Self::target)s | none (log-only) |
/// | [`environment`](Self::environment) | none (`HEARTBEAT_ENV` with [`from_env`](Self::from_env)) |
/// | [`queue_capacity`](Self::queue_capacity) | 10 000 events |
/// | [`concurrency`](Self::concurrency) | 16 requests at once |
/// | [`request_timeout`](Self::request_timeout) | 10 s per attempt |
/// | [`retry`](Self::retry) | [`RetryPolicy::default`] (1 s doubling to 60 s, give up after 15 min) |
/// | [`shutdown_timeout`](Self::shutdown_timeout) | 5 s of delivery after the last handle is dropped |
/// | [`log_tail`](Self::log_tail) | 32 KiB of each run's log sent with its failure |
/// | [`on_start`](Self::on_start) / [`on_finish`](Self::on_finish) | no hooks |
#[must_use]
pub struct MonitorBuilder {
    targets: Vec<PendingTarget>,
    start_hooks: Vec<Box<dyn StartHook>>,
    finish_hooks: Vec<Box<dyn FinishHook>>,
    environment: Option<String>,
    queue_capacity: usize,
    concurrency: usize,
    request_timeout: Duration,
    retry: RetryPolicy,
    shutdown_timeout: Duration,
    log_tail: usize,
}

impl fmt::Debug for MonitorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorBuilder")
            .field("targets", &self.targets.len())
            .field("start_hooks", &self.start_hooks.len())
            .field("finish_hooks", &self.finish_hooks.len())
            .field("environment", &self.environment)
            .field("queue_capacity", &self.queue_capacity)
            .field("concurrency", &self.concurrency)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("log_tail", &self.log_tail)
            .finish()
    }
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
            targets: Vec::new(),
            start_hooks: Vec::new(),
            finish_hooks: Vec::new(),
            environment: None,
            queue_capacity: 10_000,
            concurrency: 16,
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            shutdown_timeout: Duration::from_secs(5),
            log_tail: crate::log_tail::LOG_TAIL_BYTES,
        }
    }

    /// A builder with the targets the environment enables (see [`env`](mod@crate::env)).
    /// Unset and empty variables are ignored.
    ///
    /// # Errors
    /// [`ConfigError::InvalidKey`] when `CRONITOR_PING_URL` is set without
    /// `CRONITOR_API_KEY`.
    pub fn from_env() -> Result<Self, ConfigError> {
        for name in env::ALL {
            if std::env::var_os(name).is_some_and(|v| v.to_str().is_none()) {
                return Err(ConfigError::InvalidSetting {
                    setting: name.to_owned(),
                    reason: "is not valid UTF-8; set it to the value from the service's dashboard"
                        .into(),
                });
            }
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The builder for the variables `get` gives; every error names the
    /// variable, never its value.
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let url = |name: &str, example| -> Result<Option<String>, ConfigError> {
            get(name)
                .map(|v| targets::parse_base_url(name, &v, example).map(|_| v))
                .transpose()
        };
        let key = |name: &str| -> Result<Option<String>, ConfigError> {
            get(name)
                .map(|v| targets::check_key(name, &v).map(|()| v))
                .transpose()
        };
        let mut b = Self::new();
        let hc_url = url(env::HEALTHCHECKS_PING_URL, Healthchecks::DEFAULT_PING_URL)?;
        let hc_key = key(env::HEALTHCHECKS_PING_KEY)?;
        let hc_api_key = key(env::HEALTHCHECKS_API_KEY)?;
        let hc_api_url = url(env::HEALTHCHECKS_API_URL, Healthchecks::DEFAULT_API_URL)?;
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
            if let Some(url) = hc_api_url {
                hc = hc.api_url(url);
            }
            b = b.target(hc);
        }
        let cronitor_url = url(env::CRONITOR_PING_URL, Cronitor::DEFAULT_PING_URL)?;
        let cronitor_api_url = url(env::CRONITOR_API_URL, Cronitor::DEFAULT_API_URL)?;
        match (key(env::CRONITOR_API_KEY)?, cronitor_url) {
            (Some(key), url) => {
                let mut c = Cronitor::new(key);
                if let Some(url) = url {
                    c = c.ping_url(url);
                }
                if let Some(url) = cronitor_api_url {
                    c = c.api_url(url);
                }
                b = b.target(c);
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
        !self.targets.is_empty()
    }

    /// Sends to a monitoring service: a built-in one's settings
    /// ([`Healthchecks`], [`Cronitor`], [`UrlTemplate`](crate::UrlTemplate)),
    /// or any [`Target`]. May be called several times, with several
    /// targets of one kind too, as long as their names differ.
    pub fn target(mut self, target: impl IntoTarget + Send + 'static) -> Self {
        self.targets
            .push(Box::new(move |context| target.into_target(context)));
        self
    }

    /// Runs `hook` when each run starts, on the job's thread; see
    /// [`hooks`](crate::hooks).
    pub fn on_start(mut self, hook: impl StartHook) -> Self {
        self.start_hooks.push(Box::new(hook));
        self
    }

    /// Runs `hook` when each run ends, on the job's thread, with the typed
    /// error; see [`hooks`](crate::hooks).
    pub fn on_finish(mut self, hook: impl FinishHook) -> Self {
        self.finish_hooks.push(Box::new(hook));
        self
    }

    /// Reports failed runs to Sentry through the application's client, and
    /// tags events captured during a run with it: [`SentryEvents`](crate::SentryEvents)
    /// as both a start and a finish hook.
    #[cfg(feature = "sentry")]
    pub fn sentry_events(self) -> Self {
        self.on_start(crate::SentryEvents::new())
            .on_finish(crate::SentryEvents::new())
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

    /// How many bytes of each run's log to keep and send with its failure
    /// (per run: [`RunOptions::log_tail`]); 0 keeps none.
    pub fn log_tail(self, bytes: usize) -> Self {
        Self {
            log_tail: bytes,
            ..self
        }
    }

    /// Validates the configuration and starts the delivery thread.
    ///
    /// # Errors
    /// - [`ConfigError::InvalidUrl`] / [`ConfigError::InvalidKey`] /
    ///   [`ConfigError::InvalidTemplate`] for a target's settings;
    /// - [`ConfigError::InvalidSetting`] for a zero capacity, concurrency or
    ///   timeout, or two targets with one name.
    ///
    /// Only invalid configuration is an error: a monitor whose delivery
    /// thread cannot start logs one ERROR line and only logs runs, so that
    /// monitoring never stops a program before its job.
    pub fn build(self) -> Result<Monitor, ConfigError> {
        let invalid = |setting: &str, reason: String| ConfigError::InvalidSetting {
            setting: setting.into(),
            reason,
        };
        if self.queue_capacity == 0 {
            return Err(invalid("queue_capacity", "must be at least 1".into()));
        }
        if self.concurrency == 0 {
            return Err(invalid("concurrency", "must be at least 1".into()));
        }
        if self.request_timeout.is_zero() {
            return Err(invalid("request_timeout", "must be more than zero".into()));
        }
        let context = TargetContext {
            environment: self.environment.clone(),
            http: HttpClient::new(self.request_timeout),
        };
        let mut targets: Vec<Arc<dyn Target>> = Vec::new();
        for pending in self.targets {
            let target = pending(&context)?;
            if targets.iter().any(|t| t.name() == target.name()) {
                return Err(invalid(
                    "target",
                    format!(
                        "two targets are named {:?}; give one another name (`.name(..)` on \
                         Healthchecks and Cronitor, the name of a UrlTemplate)",
                        target.name()
                    ),
                ));
            }
            targets.push(target);
        }
        if targets.is_empty() {
            // Still start the delivery thread: it owns the timers, so runs
            // past their max runtime and stalled keepalives are still logged.
            tracing::info!(target: "heartbeat", "no monitoring target configured: runs are logged, nothing is sent");
        }
        let names: Vec<String> = targets.iter().map(|t| t.name().to_owned()).collect();
        let upserts = targets.iter().any(|t| t.upserts());
        let shared = Arc::new(Shared::new(self.queue_capacity));
        let config = DeliveryConfig {
            // Enough in-flight work to keep `concurrency` requests busy across
            // many lanes; the rest waits in the queue, where overflow drops by
            // importance. Memory is bounded by capacity + this.
            max_in_worker: self.queue_capacity.clamp(64, 1024),
            concurrency: self.concurrency.min(tokio::sync::Semaphore::MAX_PERMITS),
            retry: self.retry,
            shutdown_timeout: self.shutdown_timeout,
        };
        let shared = match delivery::spawn(shared.clone(), targets, config) {
            Ok(_) => Some(shared),
            // Monitoring never stops the job from running: without its
            // thread (a container's thread or pid limit) the monitor only
            // logs, and says so once.
            Err(e) => {
                tracing::error!(
                    target: "heartbeat",
                    targets = ?names,
                    "heartbeat cannot deliver: its delivery thread did not start ({e}); runs are \
                     logged, nothing is sent"
                );
                None
            }
        };
        let mut sink = Sink::new(shared);
        sink.targets = names;
        sink.upserts = upserts;
        sink.start_hooks = self.start_hooks.into_iter().map(AssertUnwindSafe).collect();
        sink.finish_hooks = self
            .finish_hooks
            .into_iter()
            .map(AssertUnwindSafe)
            .collect();
        sink.log_tail_bytes = self.log_tail;
        sink.flush_timeout = self.shutdown_timeout;
        Ok(Monitor {
            sink: Arc::new(sink),
        })
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
        for (var, value) in [
            ("HEALTHCHECKS_PING_URL", "hc-ping.com/secret-path"),
            ("HEALTHCHECKS_API_URL", "ftp://secret-path"),
            ("HEALTHCHECKS_PING_KEY", "https://hc-ping.com/secret-path"),
            ("HEALTHCHECKS_API_KEY", "secret-path\u{7}"),
            ("CRONITOR_API_KEY", "secret-path/x"),
            ("CRONITOR_API_URL", "secret-path"),
        ] {
            let vars = [
                (var, value),
                ("CRONITOR_API_KEY", "k"),
                ("HEALTHCHECKS_PING_KEY", "k"),
            ];
            // The bad value comes first, so it is the one looked up.
            let err = MonitorBuilder::from_lookup(lookup(&vars)).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with(var), "{var}: {msg}");
            assert!(!msg.contains("secret-path"), "{msg}");
        }
        let vars = [("CRONITOR_PING_URL", "https://cronitor.link")];
        assert!(MonitorBuilder::from_lookup(lookup(&vars)).is_err());
    }

    #[test]
    fn bad_key_is_rejected() {
        let err = Monitor::builder()
            .target(Healthchecks::new().ping_key("https://hc-ping.com/abc"))
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidKey { .. }), "{err}");
    }
}
