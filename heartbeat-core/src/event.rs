//! [`Event`]: one thing a run tells the monitoring services.

use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::check::Check;

/// The id of one run, shared by all its events: sent as Healthchecks `rid`
/// and Cronitor `series`. Displays as a lowercase hyphenated UUID.
///
/// A fresh run gets a random id. A framework that retries a task passes
/// the task's own id ([`RunOptions::run_id`](crate::RunOptions::run_id)),
/// so every attempt of one task is one run on the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub(crate) Uuid);

impl RunId {
    /// A new random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// The id with these 16 bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(Uuid::from_bytes(bytes))
    }

    /// The id with this 128-bit value (a ULID or UUID as a number).
    pub fn from_u128(value: u128) -> Self {
        Self(Uuid::from_u128(value))
    }

    /// The id's 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// The id as a 128-bit number.
    pub fn as_u128(&self) -> u128 {
        self.0.as_u128()
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::str::FromStr for RunId {
    type Err = InvalidRunId;

    /// Parses a UUID in any of its usual forms (hyphenated or not, any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::try_parse(s.trim())
            .map(Self)
            .map_err(|_| InvalidRunId)
    }
}

/// A run id that does not parse as a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a run id is a UUID (32 hex digits, optionally hyphenated as 8-4-4-4-12)")]
#[non_exhaustive]
pub struct InvalidRunId;

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
    /// This attempt failed and another will follow: not a failure, and not
    /// the run's end. [`Event::message`] says why it failed. Services with a
    /// log get it as a message (Healthchecks `/log`, a Cronitor message);
    /// the others get nothing.
    Retry,
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
            Self::Start | Self::Heartbeat | Self::Retry => 1,
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
            Self::Retry => "retry",
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
    pub(crate) attempt: u32,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) duration: Option<Duration>,
    pub(crate) message: Option<String>,
    pub(crate) log: Option<Vec<u8>>,
    /// Its place in the order events were queued (set by the queue), so a
    /// flush can tell the events queued before it from later ones.
    pub(crate) seq: u64,
    /// On the first start of a check in a monitor: its monitor is to be
    /// created or updated before this event goes out.
    pub(crate) upsert: bool,
    /// On a failure: how many failed runs of its check were folded into it
    /// (coalesced) before it was sent.
    pub(crate) folded_before: u32,
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
            attempt: 1,
            max_attempts: None,
            duration: None,
            message: None,
            log: None,
            seq: 0,
            upsert: false,
            folded_before: 0,
        }
    }

    /// Another event of the same run (same check, run id and attempt).
    pub(crate) fn follow_up(&self, kind: EventKind, at: SystemTime) -> Self {
        Self {
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            ..Self::new(self.check.clone(), self.run_id, kind, at)
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

    /// On a failure: how many earlier failed runs of the check were folded
    /// into this one because the check's backlog grew (see
    /// [`Stats::folded`](crate::Stats::folded)). Targets add it to the
    /// message they send ([`Event::message_with_folds`]).
    pub fn folded_before(&self) -> u32 {
        self.folded_before
    }

    /// The message, with a note of the failed runs folded into this one.
    pub fn message_with_folds(&self) -> Option<std::borrow::Cow<'_, str>> {
        match (self.message.as_deref(), self.folded_before) {
            (m, 0) => m.map(std::borrow::Cow::Borrowed),
            (m, n) => {
                let note = format!("({n} earlier failed runs were folded into this one)");
                Some(std::borrow::Cow::Owned(match m {
                    Some(m) => format!("{m}\n{note}"),
                    None => note,
                }))
            }
        }
    }

    /// Which attempt of the run this is (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// How many attempts the run may have, when known.
    pub fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// The run's captured log tail (raw bytes, usually UTF-8), on failures.
    pub fn log(&self) -> Option<&[u8]> {
        self.log.as_deref()
    }
}
