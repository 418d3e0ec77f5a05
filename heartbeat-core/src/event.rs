//! [`Event`]: one thing a run tells the monitoring services.

use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::check::Check;

/// The id of one run, shared by all its events: sent as Healthchecks `rid`
/// and Cronitor `series`. Displays as a lowercase hyphenated UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub(crate) Uuid);

impl RunId {
    /// The id's 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// What happened in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The run started.
    Start,
    /// The run finished successfully.
    Success,
    /// The run failed; [`Event::message`] says why.
    Fail,
    /// The run ended with a process exit status (0 = success).
    ExitCode(i32),
    /// A message during the run that does not end it (e.g. "over max runtime").
    Log,
    /// A liveness tick of a long-running process (see
    /// [`Monitor::keepalive`](crate::Monitor::keepalive)): not a run, so no
    /// start and no run id on the wire.
    Heartbeat,
}

impl EventKind {
    /// Whether this event ends its run.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Success | Self::Fail | Self::ExitCode(_))
    }

    /// Whether the run this event ends failed.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Fail) || matches!(self, Self::ExitCode(c) if *c != 0)
    }

    /// How much losing this event costs; the queue drops the lowest first.
    /// A missing final event looks like a missed run, a missing start only
    /// loses the duration, a missing log line loses little.
    pub(crate) fn importance(&self) -> usize {
        match self {
            Self::Log => 0,
            Self::Start | Self::Heartbeat => 1,
            Self::Success | Self::Fail | Self::ExitCode(_) => 2,
        }
    }

    /// A short lowercase name for logs and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Success => "success",
            Self::Fail => "fail",
            Self::ExitCode(_) => "exit-code",
            Self::Log => "log",
            Self::Heartbeat => "heartbeat",
        }
    }
}

/// One event of one run, as handed to the delivery worker.
#[derive(Debug, Clone)]
pub struct Event {
    pub(crate) check: Check,
    pub(crate) run_id: Uuid,
    pub(crate) kind: EventKind,
    pub(crate) at: SystemTime,
    pub(crate) duration: Option<Duration>,
    pub(crate) message: Option<String>,
    pub(crate) log: Option<String>,
}

impl Event {
    /// An event that happened at `at`. The caller passes the time so that a
    /// run's final event can be stamped from its start and its monotonic
    /// duration, without another clock read on the job path.
    pub(crate) fn new(check: Check, run_id: Uuid, kind: EventKind, at: SystemTime) -> Self {
        Self {
            check,
            run_id,
            kind,
            at,
            duration: None,
            message: None,
            log: None,
        }
    }

    /// The check this event belongs to.
    pub fn check(&self) -> &Check {
        &self.check
    }

    /// The run's id, shared by all events of one run.
    pub fn run_id(&self) -> RunId {
        RunId(self.run_id)
    }

    /// What happened.
    pub fn kind(&self) -> &EventKind {
        &self.kind
    }

    /// When the event was created (wall clock).
    pub fn at(&self) -> SystemTime {
        self.at
    }

    /// How long the run took, on final events.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// The failure or log message, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The run's captured log tail, if any.
    pub fn log(&self) -> Option<&str> {
        self.log.as_deref()
    }
}
