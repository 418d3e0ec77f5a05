//! [`RunGuard`]: one run of a check, from start to finish.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use tracing::Span;
use uuid::Uuid;

use crate::check::Check;
use crate::event::{Event, EventKind, RunId};
use crate::monitor::Monitor;
use crate::outcome::Outcome;

/// The most log text a run keeps (its tail) for its failure ping.
pub const LOG_TAIL_BYTES: usize = 32 * 1024;

/// One run of a [`Check`], from [`Monitor::start`] to its finish.
///
/// Creating it opens a `run` span (fields `check`, `run_id`), logs "run
/// started" at INFO with the UTC start time, and queues a start event.
/// Finishing it with [`success`](Self::success), [`fail`](Self::fail),
/// [`fail_message`](Self::fail_message) or [`exit_code`](Self::exit_code)
/// logs the outcome and duration (INFO on success, ERROR on failure, with the
/// error chain and the runbook) and queues the final event. Nothing here
/// waits on the network: events go to a bounded in-memory queue.
///
/// Dropping a guard that was not finished reports a failure: "panicked" if
/// the thread is panicking, "cancelled" otherwise (a future dropped at an
/// `.await`, an early `return`).
#[must_use = "dropping a RunGuard without finishing it reports the run as failed"]
pub struct RunGuard {
    monitor: Monitor,
    check: Check,
    run_id: Uuid,
    started: Instant,
    /// Wall-clock start; the finish time is derived from it and the
    /// monotonic duration, which saves a clock read on the job path.
    started_at: SystemTime,
    span: Span,
    log: Mutex<String>,
    finished: bool,
}

/// Formats a wall-clock time as RFC 3339 UTC, only when a log line is
/// actually written (tracing evaluates fields lazily).
struct Utc(SystemTime);

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
    pub(crate) fn start(monitor: &Monitor, check: &Check) -> Self {
        let run_id = Uuid::new_v4();
        let span = tracing::info_span!(target: "heartbeat", "run", check = check.slug(), %run_id);
        let event = Event::new(check.clone(), run_id, EventKind::Start, SystemTime::now());
        let started_at = event.at;
        span.in_scope(|| {
            tracing::info!(target: "heartbeat", started_at = %Utc(started_at), "run started");
        });
        monitor.push(event);
        Self {
            monitor: monitor.clone(),
            check: check.clone(),
            run_id,
            started: Instant::now(),
            started_at,
            span,
            log: Mutex::new(String::new()),
            finished: false,
        }
    }

    /// This run's id (sent as Healthchecks `rid`, Cronitor `series`).
    pub fn run_id(&self) -> RunId {
        RunId(self.run_id)
    }

    /// The check being run.
    pub fn check(&self) -> &Check {
        &self.check
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

    /// Appends a line to the run's log. The last [`LOG_TAIL_BYTES`] are kept
    /// and sent with a failure (as the Healthchecks ping body, for instance).
    pub fn log(&self, line: impl fmt::Display) {
        let mut log = crate::sync::lock(&self.log);
        use fmt::Write;
        let _ = writeln!(log, "{line}");
        // Trim in batches, not on every line: amortised O(1) per line.
        if log.len() > 2 * LOG_TAIL_BYTES {
            keep_tail(&mut log);
        }
    }

    /// The run succeeded.
    pub fn success(mut self) {
        self.finish(Outcome::Success);
    }

    /// The run failed with `error`; the message is the error and its source
    /// chain ("sync failed: connect: connection refused").
    pub fn fail<E: std::error::Error + ?Sized>(mut self, error: &E) {
        self.finish(Outcome::Failure(crate::error::chain(error)));
    }

    /// The run failed for the given reason.
    pub fn fail_message(mut self, message: impl Into<String>) {
        self.finish(Outcome::Failure(message.into()));
    }

    /// The run ended with a process exit status: 0 is success, anything else
    /// a failure.
    pub fn exit_code(mut self, code: i32) {
        self.finish(Outcome::ExitCode(code));
    }

    /// Ends the run with an [`Outcome`].
    pub fn finish_with(mut self, outcome: Outcome) {
        self.finish(outcome);
    }

    /// Ends the run with the outcome of a job's output, or with its panic,
    /// which is then resumed: monitoring never swallows a panic.
    pub(crate) fn conclude<T>(
        self,
        result: std::thread::Result<T>,
        outcome: impl FnOnce(&T) -> Outcome,
    ) -> T {
        match result {
            Ok(output) => {
                self.finish_with(outcome(&output));
                output
            }
            Err(payload) => {
                self.fail_message(crate::outcome::panic_message(&*payload));
                std::panic::resume_unwind(payload)
            }
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        self.finished = true;
        let duration = self.started.elapsed();
        let (kind, message) = match outcome {
            Outcome::Success => (EventKind::Success, None),
            Outcome::Failure(m) => (EventKind::Fail, Some(m)),
            Outcome::ExitCode(0) => (EventKind::ExitCode(0), None),
            Outcome::ExitCode(c) => (EventKind::ExitCode(c), Some(format!("exit code {c}"))),
        };
        let at = self.started_at + duration;
        let mut event = Event::new(self.check.clone(), self.run_id, kind, at);
        event.duration = Some(duration);
        let _entered = self.span.enter();
        if event.kind.is_failure() {
            let reason = message.as_deref().unwrap_or("failed");
            tracing::error!(
                target: "heartbeat",
                outcome = event.kind.name(),
                ?duration,
                priority = %self.check.priority(),
                runbook = self.check.runbook(),
                "run failed: {reason}"
            );
            // The runbook travels with the failure to every service.
            event.message = Some(match self.check.runbook() {
                Some(url) => format!("{reason}\nrunbook: {url}"),
                None => reason.to_owned(),
            });
            let mut log = std::mem::take(&mut *crate::sync::lock(&self.log));
            keep_tail(&mut log);
            event.log = (!log.is_empty()).then_some(log);
        } else {
            tracing::info!(target: "heartbeat", outcome = event.kind.name(), ?duration, "run finished");
        }
        self.monitor.push(event);
    }
}

/// Cuts `log` to its last [`LOG_TAIL_BYTES`], starting at a line boundary.
fn keep_tail(log: &mut String) {
    if log.len() <= LOG_TAIL_BYTES {
        return;
    }
    let tail = crate::target::tail_of(log, LOG_TAIL_BYTES);
    let mut cut = log.len() - tail.len();
    if let Some(nl) = tail.find('\n') {
        cut += nl + 1;
    }
    log.drain(..cut);
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if !self.finished {
            let why = if std::thread::panicking() {
                "panicked"
            } else {
                "cancelled"
            };
            self.finish(Outcome::Failure(why.to_owned()));
        }
    }
}

impl fmt::Debug for RunGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunGuard")
            .field("check", &self.check.slug())
            .field("run_id", &self.run_id)
            .field("elapsed", &self.started.elapsed())
            .finish()
    }
}
