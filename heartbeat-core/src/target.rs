//! [`Target`]: the seam between the delivery engine and a monitoring service.
//!
//! A target turns [`Event`]s into one service's wire format, sends them and
//! judges the service's reply. The delivery engine does everything else:
//! queueing, ordering, retries with backoff, pausing on `Retry-After`,
//! counting and flushing. The built-in services ([`Healthchecks`](crate::Healthchecks),
//! [`Cronitor`](crate::Cronitor), [`UrlTemplate`](crate::UrlTemplate)) are
//! targets like any other; add your own with
//! [`MonitorBuilder::target`](crate::MonitorBuilder::target).
//!
//! ```
//! use heartbeat_core::{BoxFuture, Event, Target, Verdict};
//!
//! /// Prints every event; a real target would make a request here.
//! #[derive(Debug)]
//! struct Stdout;
//!
//! impl Target for Stdout {
//!     fn name(&self) -> &str {
//!         "stdout"
//!     }
//!
//!     fn send<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Verdict> {
//!         Box::pin(async move {
//!             println!("{} {} {}", event.check().slug(), event.kind().name(), event.run_id());
//!             Verdict::Delivered
//!         })
//!     }
//! }
//!
//! let monitor = heartbeat_core::Monitor::builder().target(Stdout).build()?;
//! assert_eq!(monitor.targets(), ["stdout"]);
//! # Ok::<(), heartbeat_core::ConfigError>(())
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::check::Check;
use crate::event::Event;

/// A boxed, sendable future: what [`Target`]'s methods return, so that the
/// trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether a target handles an event; from [`Target::plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Plan {
    /// Deliver it.
    Send,
    /// Not for this target (e.g. a start event on a service without starts).
    Skip,
    /// This target cannot deliver events of this check (say, the check has
    /// no id for it). Logged once per check at ERROR, with this reason.
    Misconfigured(String),
}

/// The result of one delivery attempt; from [`Target::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The service accepted the event.
    Delivered,
    /// A transient failure (connection refused, timeout, 408, 429, 5xx):
    /// the engine tries again after its backoff, and no sooner than
    /// `after` for every event of this target (a `Retry-After`).
    Retry {
        /// Why, for the log. Never put a secret here.
        reason: String,
        /// The service asked to wait this long.
        after: Option<Duration>,
    },
    /// A permanent failure, such as a configuration error: never retried,
    /// logged once per (target, check, reason) at ERROR.
    Reject {
        /// Why, and how to fix it, for the log. Never put a secret here.
        reason: String,
    },
}

impl Verdict {
    /// A transient failure with no `Retry-After`.
    pub fn retry(reason: impl Into<String>) -> Self {
        Self::Retry {
            reason: reason.into(),
            after: None,
        }
    }

    /// A permanent failure.
    pub fn reject(reason: impl Into<String>) -> Self {
        Self::Reject {
            reason: reason.into(),
        }
    }
}

/// A monitoring service, as the delivery engine sees it.
///
/// Implement [`name`](Self::name) and [`send`](Self::send); the rest have
/// defaults. The engine calls `send` on its own thread, one event of a run
/// at a time and in order, retries it as the [`Verdict`] says, and never
/// calls it on the job's path. `send` must not panic: every failure is a
/// verdict. See the [module docs](crate::target) for an example.
pub trait Target: Send + Sync + fmt::Debug + 'static {
    /// A short name for logs, [`Stats`](crate::Stats) and
    /// [`CheckBuilder::target_id`](crate::CheckBuilder::target_id). Names
    /// are unique within a monitor.
    fn name(&self) -> &str;

    /// Whether to deliver this event here. Cheap; called once per event.
    fn plan(&self, event: &Event) -> Plan {
        let _ = event;
        Plan::Send
    }

    /// One delivery attempt, judged by the target itself.
    fn send<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Verdict>;

    /// Whether this target creates or updates the service's monitor of a
    /// check (through an API that needs a key). When true, the engine calls
    /// [`upsert`](Self::upsert) once per scheduled check per process.
    fn upserts(&self) -> bool {
        false
    }

    /// One attempt at creating or updating the monitor of `check`.
    fn upsert<'a>(&'a self, check: &'a Check) -> BoxFuture<'a, Verdict> {
        let _ = check;
        Box::pin(async { Verdict::Delivered })
    }

    /// The most pings one check may send to this service, as (pings, per
    /// period): the engine paces each check to it, letting a burst of
    /// `pings` through, and a check whose backlog grows meanwhile is
    /// coalesced. `None` (the default) for no limit. Hosted Healthchecks,
    /// for instance, drops more than about 5 pings a minute per check.
    fn per_check_limit(&self) -> Option<(u32, Duration)> {
        None
    }

    /// Pushes out anything the target buffers itself (a file writer, a
    /// client with its own queue). Called by [`Monitor::flush`](crate::Monitor::flush)
    /// once the engine has nothing left to send; returns whether everything
    /// went out before `deadline`. The default has nothing to flush.
    fn flush(&self, deadline: Instant) -> BoxFuture<'_, bool> {
        let _ = deadline;
        Box::pin(async { true })
    }
}
