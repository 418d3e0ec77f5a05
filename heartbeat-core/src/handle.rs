//! [`RunHandle`]: a running run, as the job itself reaches it; and the
//! state a run shares with its handles.

use std::fmt;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::check::Check;
use crate::event::RunId;
use crate::log_tail::LogTail;
use crate::sync::lock;

/// Which run this is.
#[derive(Debug, Clone)]
pub(crate) struct RunInfo {
    pub(crate) check: Check,
    pub(crate) run_id: Uuid,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: Option<u32>,
}

/// What a run's guard and its handles share: made on first need (a handle,
/// a log line, the run made current), so that a run that needs none of it
/// costs no allocation.
#[derive(Debug)]
pub(crate) struct RunState {
    pub(crate) info: RunInfo,
    pub(crate) log: Mutex<LogTail>,
}

impl RunState {
    pub(crate) fn log_bytes(&self, bytes: &[u8]) {
        lock(&self.log).push(bytes);
    }

    pub(crate) fn log_line(&self, line: fmt::Arguments<'_>) {
        use std::io::Write;
        let mut log = lock(&self.log);
        let mut line_buf = Vec::new();
        let _ = writeln!(line_buf, "{line}");
        log.push(&line_buf);
    }
}

/// A handle on a running run, for the job itself: from
/// [`current_run`](crate::current_run) or [`RunGuard::handle`](crate::RunGuard::handle). Cheap to
/// clone; it does not end the run.
#[derive(Debug, Clone)]
pub struct RunHandle(pub(crate) Arc<RunState>);

impl RunHandle {
    /// Appends a line to the run's log, whose tail goes with a failure.
    pub fn log(&self, line: impl fmt::Display) {
        self.0.log_line(format_args!("{line}"));
    }

    /// Appends raw bytes (a command's output, say) to the run's log.
    pub fn log_bytes(&self, bytes: &[u8]) {
        self.0.log_bytes(bytes);
    }

    /// The run's id.
    pub fn run_id(&self) -> RunId {
        RunId(self.0.info.run_id)
    }

    /// The check being run.
    pub fn check(&self) -> &Check {
        &self.0.info.check
    }

    /// Which attempt this is (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.0.info.attempt
    }

    /// How many attempts the run may have, when known.
    pub fn max_attempts(&self) -> Option<u32> {
        self.0.info.max_attempts
    }
}
