//! [`RunGuard`]: one run of a check, from start to finish.

use std::fmt;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::check::Check;
use crate::event::{Event, EventKind};
use crate::monitor::Monitor;

/// One run of a [`Check`], from [`Monitor::start`] to its finish.
///
/// Creating it logs "started" and queues a start event; finishing it with
/// [`success`](Self::success), [`fail`](Self::fail),
/// [`fail_message`](Self::fail_message) or [`exit_code`](Self::exit_code)
/// logs the outcome and duration and queues the final event. Nothing here
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
    finished: bool,
}

impl RunGuard {
    pub(crate) fn start(monitor: &Monitor, check: &Check) -> Self {
        let run_id = Uuid::new_v4();
        tracing::info!(target: "heartbeat", check = check.slug(), %run_id, "run started");
        monitor.push(Event::new(check.clone(), run_id, EventKind::Start));
        Self {
            monitor: monitor.clone(),
            check: check.clone(),
            run_id,
            started: Instant::now(),
            finished: false,
        }
    }

    /// This run's id (sent as Healthchecks `rid`, Cronitor `series`).
    pub fn run_id(&self) -> Uuid {
        self.run_id
    }

    /// The check being run.
    pub fn check(&self) -> &Check {
        &self.check
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The run succeeded.
    pub fn success(mut self) {
        self.finish(EventKind::Success, None);
    }

    /// The run failed with `error`; the message is the error and its source
    /// chain ("sync failed: connect: connection refused").
    pub fn fail<E: std::error::Error + ?Sized>(mut self, error: &E) {
        self.finish(EventKind::Fail, Some(crate::error::chain(error)));
    }

    /// The run failed for the given reason.
    pub fn fail_message(mut self, message: impl Into<String>) {
        self.finish(EventKind::Fail, Some(message.into()));
    }

    /// The run ended with a process exit status: 0 is success, anything else
    /// a failure.
    pub fn exit_code(mut self, code: i32) {
        let message = (code != 0).then(|| format!("exit code {code}"));
        self.finish(EventKind::ExitCode(code), message);
    }

    fn finish(&mut self, kind: EventKind, message: Option<String>) {
        self.finished = true;
        let duration = self.started.elapsed();
        let slug = self.check.slug();
        let run_id = self.run_id;
        let outcome = kind.name();
        if kind.is_failure() {
            let reason = message.as_deref().unwrap_or("");
            tracing::warn!(target: "heartbeat", check = slug, %run_id, outcome, ?duration, "run failed: {reason}");
        } else {
            tracing::info!(target: "heartbeat", check = slug, %run_id, outcome, ?duration, "run finished");
        }
        let mut event = Event::new(self.check.clone(), run_id, kind);
        event.duration = Some(duration);
        event.message = message;
        self.monitor.push(event);
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if !self.finished {
            let why = if std::thread::panicking() {
                "panicked"
            } else {
                "cancelled"
            };
            self.finish(EventKind::Fail, Some(why.to_owned()));
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
