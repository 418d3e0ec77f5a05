//! [`RunGuard`]: one run of a check, from start to finish, and
//! [`RunOptions`] to start one.

use std::error::Error;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tracing::Span;
use uuid::Uuid;

use crate::check::Check;
use crate::current::{self, InRun};
use crate::event::{Event, EventKind, RunId};
use crate::handle::{RunHandle, RunInfo, RunState};
use crate::hooks::{Extensions, RunFacts, RunFinish, RunStart};
use crate::log_tail::LogTail;
use crate::outcome::{Outcome, Reported};
use crate::sink::Sink;
use crate::sync::lock;

/// How to start a run: [`Monitor::start_with`](crate::Monitor::start_with)
/// and the other `_with` methods take it.
///
/// | setting | default |
/// |---|---|
/// | [`run_id`](Self::run_id) | a fresh random id |
/// | [`attempt`](Self::attempt) | 1 |
/// | [`max_attempts`](Self::max_attempts) | unknown |
/// | [`log_tail`](Self::log_tail) | the monitor's ([`MonitorBuilder::log_tail`](crate::MonitorBuilder::log_tail)) |
///
/// A framework that retries a task gives every attempt the task's id and
/// its attempt number, and ends a failed attempt that will be retried with
/// [`RunGuard::retry`]: the services then see one run, and no failure until
/// the last attempt fails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct RunOptions {
    run_id: Option<RunId>,
    attempt: Option<u32>,
    max_attempts: Option<u32>,
    log_tail: Option<usize>,
    quiet: bool,
}

impl RunOptions {
    /// The defaults above.
    pub fn new() -> Self {
        Self::default()
    }

    /// The run's id, shared by all attempts of one task.
    pub fn run_id(self, run_id: RunId) -> Self {
        Self {
            run_id: Some(run_id),
            ..self
        }
    }

    /// Which attempt this is, counting from 1.
    pub fn attempt(self, attempt: u32) -> Self {
        Self {
            attempt: Some(attempt.max(1)),
            ..self
        }
    }

    /// How many attempts the run may have in all. When the last one ends
    /// with [`RunGuard::retry`], that is a failure: no attempt follows.
    pub fn max_attempts(self, max_attempts: u32) -> Self {
        Self {
            max_attempts: Some(max_attempts.max(1)),
            ..self
        }
    }

    /// How many bytes of the run's log to keep for its failure ping.
    pub fn log_tail(self, bytes: usize) -> Self {
        Self {
            log_tail: Some(bytes),
            ..self
        }
    }

    /// Logs the run's span, its start and a successful finish at DEBUG
    /// instead of INFO (failures stay ERROR/WARN): for runs that happen
    /// thousands of times a second, such as one per request, where an INFO
    /// line would cost microseconds each.
    pub fn quiet(self) -> Self {
        Self {
            quiet: true,
            ..self
        }
    }
}

/// One run of a [`Check`], from [`Monitor::start`](crate::Monitor::start)
/// to its finish.
///
/// Creating it opens a `run` span (fields `check`, `run_id`, `attempt`),
/// logs "run started" at INFO with the UTC start time, runs the start hooks
/// and queues a start event. Finishing it logs the outcome and duration,
/// runs the finish hooks and queues the final event:
///
/// | finish | log | sent |
/// |---|---|---|
/// | [`success`](Self::success), [`exit_code(0)`](Self::exit_code) | INFO | success |
/// | [`fail`](Self::fail), [`fail_message`](Self::fail_message), [`exit_code(n)`](Self::exit_code) | ERROR, with the error chain and runbook | failure, with the log tail |
/// | [`retry`](Self::retry), [`retry_message`](Self::retry_message) | WARN | a message where the service keeps one; a failure on the last attempt |
/// | [`interrupted`](Self::interrupted) | WARN | nothing |
///
/// Nothing here waits on the network: events go to a bounded in-memory
/// queue.
///
/// Dropping a guard that was not finished ends the run too: "panicked"
/// (a failure) if the thread is panicking; interrupted if the monitor is
/// [shutting down](crate::Monitor::shutdown); otherwise "cancelled" (a
/// failure: a future dropped at an `.await`, an early `return`).
///
/// What the services show after an interrupted run: Healthchecks keeps the
/// check "started" until the next run's ping, or alerts when its grace
/// time passes without one; Cronitor keeps the run "running" until its
/// next ping or its schedule says it is late; URL-template services saw no
/// start, so nothing changes there.
#[must_use = "dropping a RunGuard without finishing it reports the run as failed (or interrupted, during a shutdown)"]
pub struct RunGuard {
    sink: Arc<Sink>,
    info: RunInfo,
    log_tail: usize,
    shared: OnceLock<Arc<RunState>>,
    started: Instant,
    /// Wall-clock start; the finish time is derived from it and the
    /// monotonic duration, which saves a clock read on the job path.
    started_at: SystemTime,
    span: Span,
    extensions: Extensions,
    finished: bool,
    /// Start and success at DEBUG (see [`RunOptions::quiet`]).
    quiet: bool,
}

/// Formats a wall-clock time as RFC 3339 UTC, only when a log line is
/// actually written (tracing evaluates fields lazily).
pub(crate) struct Utc(pub(crate) SystemTime);

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t: chrono::DateTime<chrono::Utc> = self.0.into();
        write!(
            f,
            "{}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    }
}

impl RunGuard {
    pub(crate) fn start(
        sink: &Arc<Sink>,
        check: &Check,
        options: RunOptions,
        upsert: bool,
    ) -> Self {
        let run_id = options.run_id.map_or_else(Uuid::new_v4, |r| r.0);
        let attempt = options.attempt.unwrap_or(1);
        let span = if options.quiet {
            tracing::debug_span!(target: "heartbeat", "run", check = check.slug(), %run_id, attempt)
        } else {
            tracing::info_span!(target: "heartbeat", "run", check = check.slug(), %run_id, attempt)
        };
        let mut event = Event::new(check.clone(), run_id, EventKind::Start, SystemTime::now());
        event.attempt = attempt;
        event.max_attempts = options.max_attempts;
        event.upsert = upsert;
        let started_at = event.at;
        let info = RunInfo {
            check: check.clone(),
            run_id,
            attempt,
            max_attempts: options.max_attempts,
        };
        let mut extensions = Extensions::default();
        span.in_scope(|| {
            if options.quiet {
                tracing::debug!(target: "heartbeat", started_at = %Utc(started_at), "run started");
            } else {
                tracing::info!(target: "heartbeat", started_at = %Utc(started_at), "run started");
            }
            if !sink.start_hooks.is_empty() {
                let mut start = RunStart {
                    facts: facts(&info),
                    extensions: &mut extensions,
                };
                for hook in sink.start_hooks.iter() {
                    hook.on_start(&mut start);
                }
            }
        });
        sink.push(event);
        Self {
            sink: sink.clone(),
            info,
            log_tail: options.log_tail.unwrap_or(sink.log_tail_bytes),
            shared: OnceLock::new(),
            started: Instant::now(),
            started_at,
            span,
            extensions,
            finished: false,
            quiet: options.quiet,
        }
    }

    /// What the run shares with its handles, made on first need.
    fn shared(&self) -> &Arc<RunState> {
        self.shared.get_or_init(|| {
            Arc::new(RunState {
                info: self.info.clone(),
                log: Mutex::new(LogTail::new(self.log_tail)),
            })
        })
    }

    /// This run's id (sent as Healthchecks `rid`, Cronitor `series`).
    pub fn run_id(&self) -> RunId {
        RunId(self.info.run_id)
    }

    /// The check being run.
    pub fn check(&self) -> &Check {
        &self.info.check
    }

    /// Which attempt this is (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.info.attempt
    }

    /// How many attempts the run may have, when known.
    pub fn max_attempts(&self) -> Option<u32> {
        self.info.max_attempts
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The run's `tracing` span: enter it (or `instrument` a future with it)
    /// so the job's own log lines carry the check and run id.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// A handle for the job to log through; see [`RunHandle`].
    pub fn handle(&self) -> RunHandle {
        RunHandle(self.shared().clone())
    }

    /// Appends a line to the run's log. Its tail (32 KiB unless configured,
    /// see [`RunOptions::log_tail`]) is sent with a failure (as the
    /// Healthchecks ping body, for instance).
    pub fn log(&self, line: impl fmt::Display) {
        self.shared().log_line(format_args!("{line}"));
    }

    /// Appends raw bytes to the run's log.
    pub fn log_bytes(&self, bytes: &[u8]) {
        self.shared().log_bytes(bytes);
    }

    /// Runs `f` inside the run: its span entered, the run
    /// [current](crate::current_run).
    pub fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        let _run = current::enter(self.shared());
        self.span.in_scope(f)
    }

    /// Binds a future to the run: while it is polled, the run's span is
    /// entered and the run is [current](crate::current_run).
    pub fn bind<F: Future>(&self, future: F) -> InRun<F> {
        InRun::new(future, self.span.clone(), self.shared().clone())
    }

    /// The run succeeded.
    pub fn success(mut self) {
        self.finish(Reported::of(&()), None);
    }

    /// The run failed with `error`; the message is the error and its source
    /// chain ("sync failed: connect: connection refused"), and finish hooks
    /// see the error itself.
    pub fn fail(mut self, error: &(dyn Error + 'static)) {
        self.finish(Reported::error(error), None);
    }

    /// The run failed for the given reason.
    pub fn fail_message(mut self, message: impl Into<String>) {
        self.finish_outcome(Outcome::Failure(message.into()));
    }

    /// The run ended with a process exit status: 0 is success, anything else
    /// a failure.
    pub fn exit_code(mut self, code: i32) {
        self.finish_outcome(Outcome::ExitCode(code));
    }

    /// This attempt failed with `error`, and another attempt will follow: a
    /// WARN line and a message to the services that keep one, no failure.
    /// On the last attempt ([`RunOptions::max_attempts`]) it is a failure.
    pub fn retry(mut self, error: &(dyn Error + 'static)) {
        let reported = Reported::error(error);
        let Outcome::Failure(reason) = reported.outcome else {
            unreachable!("Reported::error is a failure")
        };
        self.finish(
            Reported {
                outcome: Outcome::Retry(reason),
                error: Some(error),
            },
            None,
        );
    }

    /// [`retry`](Self::retry) with a reason instead of an error.
    pub fn retry_message(mut self, message: impl Into<String>) {
        self.finish_outcome(Outcome::Retry(message.into()));
    }

    /// The run was stopped by a shutdown: a WARN line, nothing sent.
    pub fn interrupted(mut self) {
        self.finish_outcome(Outcome::Interrupted);
    }

    /// Ends the run with an [`Outcome`].
    pub fn finish_with(mut self, outcome: Outcome) {
        self.finish_outcome(outcome);
    }

    /// Ends the run with the outcome of a job's output, or with its panic,
    /// which is then resumed: monitoring never swallows a panic.
    pub(crate) fn conclude<T>(
        mut self,
        result: std::thread::Result<T>,
        report: impl for<'a> FnOnce(&'a T) -> Reported<'a>,
    ) -> T {
        match result {
            Ok(output) => {
                self.finish(report(&output), None);
                output
            }
            Err(payload) => {
                let message = crate::outcome::panic_message(&*payload);
                self.finish(
                    Reported {
                        outcome: Outcome::Failure(message.clone()),
                        error: None,
                    },
                    Some(&message),
                );
                std::panic::resume_unwind(payload)
            }
        }
    }

    fn finish_outcome(&mut self, outcome: Outcome) {
        self.finish(
            Reported {
                outcome,
                error: None,
            },
            None,
        );
    }

    fn is_last_attempt(&self) -> bool {
        self.info
            .max_attempts
            .is_some_and(|max| self.info.attempt >= max)
    }

    fn finish(&mut self, reported: Reported<'_>, panic: Option<&str>) {
        self.finished = true;
        let duration = self.started.elapsed();
        let _entered = self.span.enter();
        let outcome = match reported.outcome {
            Outcome::Retry(reason) if self.is_last_attempt() => {
                tracing::debug!(target: "heartbeat", "the last attempt failed: no retry follows");
                Outcome::Failure(reason)
            }
            other => other,
        };
        let check = &self.info.check;
        crate::metrics::run(check.slug(), outcome.name(), duration);
        let failed = |reason: &str| {
            tracing::error!(
                target: "heartbeat",
                outcome = outcome.name(),
                ?duration,
                priority = %check.priority(),
                runbook = check.runbook(),
                "run failed: {reason}"
            );
            // The runbook travels with the failure to every service.
            Some(match check.runbook() {
                Some(url) => format!("{reason}\nrunbook: {url}"),
                None => reason.to_owned(),
            })
        };
        let (kind, message) = match &outcome {
            Outcome::Success | Outcome::ExitCode(0) => {
                if self.quiet {
                    tracing::debug!(target: "heartbeat", outcome = outcome.name(), ?duration, "run finished");
                } else {
                    tracing::info!(target: "heartbeat", outcome = outcome.name(), ?duration, "run finished");
                }
                let kind = match outcome {
                    Outcome::ExitCode(0) => EventKind::ExitCode(0),
                    _ => EventKind::Success,
                };
                (Some(kind), None)
            }
            Outcome::Failure(reason) => (Some(EventKind::Fail), failed(reason)),
            Outcome::ExitCode(c) => (
                Some(EventKind::ExitCode(*c)),
                failed(&format!("exit code {c}")),
            ),
            Outcome::Retry(reason) => {
                let of = self
                    .info
                    .max_attempts
                    .map(|m| format!(" of {m}"))
                    .unwrap_or_default();
                let message = format!(
                    "attempt {}{of} failed, will be retried: {reason}",
                    self.info.attempt
                );
                tracing::warn!(target: "heartbeat", outcome = outcome.name(), ?duration, "{message}");
                (Some(EventKind::Retry), Some(message))
            }
            Outcome::Interrupted => {
                tracing::warn!(
                    target: "heartbeat",
                    outcome = outcome.name(),
                    ?duration,
                    "run interrupted by shutdown; no failure reported"
                );
                (None, None)
            }
        };
        // The log tail goes with failures and retries only.
        let log = match self.shared.get() {
            Some(shared) if message.is_some() => lock(&shared.log).take(),
            _ => Vec::new(),
        };
        if !self.sink.finish_hooks.is_empty() {
            let finish = RunFinish {
                facts: facts(&self.info),
                extensions: &self.extensions,
                outcome: &outcome,
                duration,
                error: reported.error,
                panic,
                log: &log,
            };
            for hook in self.sink.finish_hooks.iter() {
                hook.on_finish(&finish);
            }
        }
        if let Some(kind) = kind {
            let at = self.started_at + duration;
            let mut event = Event::new(check.clone(), self.info.run_id, kind, at);
            event.attempt = self.info.attempt;
            event.max_attempts = self.info.max_attempts;
            event.duration = Some(duration);
            event.message = message;
            event.log = (!log.is_empty()).then_some(log);
            self.sink.push(event);
        }
    }
}

fn facts(info: &RunInfo) -> RunFacts<'_> {
    RunFacts {
        check: &info.check,
        run_id: RunId(info.run_id),
        attempt: info.attempt,
        max_attempts: info.max_attempts,
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if std::thread::panicking() {
            let message = "panicked".to_owned();
            self.finish(
                Reported {
                    outcome: Outcome::Failure(message.clone()),
                    error: None,
                },
                Some(&message),
            );
        } else if self.sink.is_shutting_down() {
            self.finish_outcome(Outcome::Interrupted);
        } else {
            self.finish_outcome(Outcome::Failure("cancelled".to_owned()));
        }
    }
}

impl fmt::Debug for RunGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunGuard")
            .field("check", &self.info.check.slug())
            .field("run_id", &self.info.run_id)
            .field("attempt", &self.info.attempt)
            .field("elapsed", &self.started.elapsed())
            .finish()
    }
}
