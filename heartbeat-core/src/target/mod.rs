//! Targets: one per monitoring service, translating [`Event`]s into that
//! service's wire format.
//!
//! The public types here are configuration; the delivery worker turns each
//! into an internal [`Target`] when the monitor is built.

mod body;
mod cronitor;
mod healthchecks;
mod http;
mod url_template;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use cronitor::Cronitor;
pub use healthchecks::Healthchecks;
pub use url_template::UrlTemplate;

pub(crate) use body::tail as tail_of;
pub(crate) use http::{HttpContext, is_absolute_http, segment_problem};

use crate::check::Check;
use crate::event::Event;

/// A boxed future, as the `Target` trait returns (object-safe).
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether a target handles an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Deliver it.
    Send,
    /// Not for this target (e.g. a start event on a service without starts).
    Skip,
    /// This target cannot deliver events of this check; logged once per check.
    Misconfigured(String),
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The service accepted the event.
    Delivered,
    /// A transient failure: try again after a backoff (at least `after`).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// A permanent failure (configuration error): logged once per check,
    /// never retried.
    Reject { reason: String },
}

/// A monitoring service as the delivery worker sees it.
pub(crate) trait Target: Send + Sync + fmt::Debug + 'static {
    /// A short name for logs and reports ("healthchecks", "cronitor", …).
    fn name(&self) -> &str;

    /// Whether to deliver this event here. Cheap; called once per event.
    fn plan(&self, event: &Event) -> Plan;

    /// One delivery attempt. Must not panic; every failure is a [`Verdict`].
    fn send<'a>(&'a self, http: &'a HttpContext, event: &'a Event) -> BoxFuture<'a, Verdict>;

    /// Whether this target creates or updates the service's monitor for
    /// scheduled checks (it has an API for it and a key).
    fn upserts(&self) -> bool {
        false
    }

    /// One attempt at creating or updating the monitor of a scheduled check.
    fn upsert<'a>(&'a self, _http: &'a HttpContext, _check: &'a Check) -> BoxFuture<'a, Verdict> {
        Box::pin(async { Verdict::Delivered })
    }
}

/// A duration in whole seconds within `[min, max]`, rounded to the nearest
/// second (the management APIs take integers and have floors).
pub(crate) fn whole_seconds(d: std::time::Duration, min: u64, max: u64) -> u64 {
    (d.as_secs_f64().round() as u64).clamp(min, max)
}
