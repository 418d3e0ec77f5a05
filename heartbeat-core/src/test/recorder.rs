//! [`Recorder`]: an in-memory target that keeps every event it is given.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::event::{Event, EventKind};
use crate::sync::lock;
use crate::target::{BoxFuture, Target, Verdict};

/// An in-memory [`Target`] that records every delivery attempt, for testing
/// what your jobs report without any HTTP (as sentry's `TestTransport` does).
/// Clones share their record: keep one, give the other to the monitor.
///
/// ```
/// use std::time::Duration;
/// use heartbeat_core::test::Recorder;
/// use heartbeat_core::{Check, EventKind, Monitor};
///
/// let recorder = Recorder::new();
/// let monitor = Monitor::builder().target(recorder.clone()).build().unwrap();
/// monitor.start(&Check::new("nightly-backup").unwrap()).success();
/// monitor.flush_blocking(Duration::from_secs(5));
///
/// let kinds: Vec<EventKind> = recorder.events().iter().map(|e| e.kind().clone()).collect();
/// assert_eq!(kinds, [EventKind::Start, EventKind::Success]);
/// ```
#[derive(Debug, Clone)]
pub struct Recorder(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    name: String,
    events: Mutex<Vec<Event>>,
    changed: Condvar,
    verdict: Mutex<Verdict>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder named `recorder` that accepts everything.
    pub fn new() -> Self {
        Self::named("recorder")
    }

    /// A recorder with another name (several in one monitor need distinct
    /// names).
    pub fn named(name: impl Into<String>) -> Self {
        Self(Arc::new(Inner {
            name: name.into(),
            events: Mutex::default(),
            changed: Condvar::new(),
            verdict: Mutex::new(Verdict::Delivered),
        }))
    }

    /// Answers every later attempt with `verdict` (say, a
    /// [`Verdict::retry`] to act as a service that is down).
    pub fn set_verdict(&self, verdict: Verdict) {
        *lock(&self.0.verdict) = verdict;
    }

    /// Every attempt so far, in the order they were made.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.0.events).clone()
    }

    /// Every attempt so far as (check slug, event kind, message): what
    /// most assertions compare.
    pub fn sent(&self) -> Vec<(String, EventKind, Option<String>)> {
        lock(&self.0.events)
            .iter()
            .map(|e| {
                (
                    e.check().slug().to_owned(),
                    e.kind().clone(),
                    e.message().map(str::to_owned),
                )
            })
            .collect()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        lock(&self.0.events).clear();
    }

    /// Waits until `done` holds for the recorded attempts, or `timeout`
    /// passes; returns them either way.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        let deadline = crate::delivery::after(Instant::now(), timeout);
        let mut events = lock(&self.0.events);
        while !done(&events) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            events = self
                .0
                .changed
                .wait_timeout(events, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        events.clone()
    }
}

impl Target for Recorder {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn send<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Verdict> {
        lock(&self.0.events).push(event.clone());
        self.0.changed.notify_all();
        let verdict = lock(&self.0.verdict).clone();
        Box::pin(async move { verdict })
    }
}
