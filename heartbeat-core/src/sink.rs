//! [`Sink`]: what a monitor's runs report into. Shared by the [`Monitor`]
//! handles and every [`RunGuard`] and [`Keepalive`], so that none of them
//! outlives what it reports to, and so that runs need not know `Monitor`.
//!
//! [`Monitor`]: crate::Monitor
//! [`RunGuard`]: crate::RunGuard
//! [`Keepalive`]: crate::Keepalive

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::check::Check;
use crate::delivery::Shared;
use crate::event::Event;
use crate::hooks::{FinishHook, StartHook};

/// Gives every sink a distinct id, so a check can remember cheaply which
/// monitor has already seen its first start.
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

pub(crate) struct Sink {
    pub(crate) id: usize,
    /// `None` when there is no delivery thread (log-only).
    pub(crate) shared: Option<Arc<Shared>>,
    pub(crate) targets: Vec<String>,
    /// Whether any target upserts monitors of scheduled checks.
    pub(crate) upserts: bool,
    /// `AssertUnwindSafe` keeps `Monitor` unwind-safe, as users expect of a
    /// handle they use around `catch_unwind`; hooks only run on our calls,
    /// and a panicking job never leaves a hook half-called.
    pub(crate) start_hooks: Vec<AssertUnwindSafe<Box<dyn StartHook>>>,
    pub(crate) finish_hooks: Vec<AssertUnwindSafe<Box<dyn FinishHook>>>,
    pub(crate) log_tail_bytes: usize,
    /// How long the guard from [`crate::init`] waits.
    pub(crate) flush_timeout: Duration,
    shutting_down: AtomicBool,
    /// Slugs whose first start this monitor has handled.
    seen: Mutex<HashSet<String>>,
}

impl Sink {
    pub(crate) fn new(shared: Option<Arc<Shared>>) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Relaxed),
            shared,
            targets: Vec::new(),
            upserts: false,
            start_hooks: Vec::new(),
            finish_hooks: Vec::new(),
            log_tail_bytes: crate::log_tail::LOG_TAIL_BYTES,
            flush_timeout: Duration::ZERO,
            shutting_down: AtomicBool::new(false),
            seen: Mutex::default(),
        }
    }

    pub(crate) fn push(&self, event: Event) {
        if let Some(shared) = &self.shared {
            shared.push(event);
        }
    }

    pub(crate) fn shutdown(&self) {
        self.shutting_down.store(true, Relaxed);
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Relaxed)
    }

    /// What a check's first start in this monitor does: queue the upsert of
    /// its monitor (scheduled checks, when a target upserts) and report ids
    /// for targets this monitor does not have. One atomic load on later
    /// starts.
    pub(crate) fn first_start(&self, check: &Check) {
        if check.first_seen_by().load(Relaxed) == self.id {
            return;
        }
        let new = crate::sync::lock(&self.seen).insert(check.slug().to_owned());
        check.first_seen_by().store(self.id, Relaxed);
        if !new {
            return;
        }
        for name in check.target_id_names() {
            if !self.targets.iter().any(|t| t == name) {
                tracing::error!(
                    target: "heartbeat",
                    check = check.slug(),
                    unknown_target = name,
                    targets = ?self.targets,
                    "the check has an id for target {name:?}, which this monitor does not have; \
                     fix the name in .target_id(..) or add the target"
                );
            }
        }
        if self.upserts
            && check.schedule().is_some()
            && let Some(shared) = &self.shared
        {
            shared.request_upsert(check.clone());
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // The worker keeps delivering for the shutdown timeout, then exits.
        if let Some(shared) = &self.shared {
            shared.close();
        }
    }
}
