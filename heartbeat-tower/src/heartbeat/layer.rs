//! [`HeartbeatLayer`]: wraps services in [`Heartbeat`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use heartbeat_core::{Check, Monitor};
use tower_layer::Layer;

use super::{DefaultClassify, Heartbeat};

/// How many distinct checks a layer creates by default.
const MAX_CHECKS: usize = 100;

/// Monitors every call of the services it wraps as a run of a check.
///
/// ```no_run
/// use heartbeat_core::{Check, Monitor};
/// use heartbeat_tower::{HeartbeatLayer, HttpStatus};
///
/// let monitor = Monitor::from_env().unwrap();
/// // One check for every call:
/// let fixed = HeartbeatLayer::new(&monitor, Check::new("payments-webhook").unwrap());
/// // A check per route, 5xx as failures (axum: pick from `MatchedPath`):
/// let per_route = HeartbeatLayer::per_request(&monitor, |req: &http::Request<()>| {
///     Check::new(format!("route{}", req.uri().path().replace('/', "-"))).ok()
/// })
/// .classify(HttpStatus)
/// .max_checks(20);
/// ```
///
/// Runs log their start and success at DEBUG ([`RunOptions::quiet`](heartbeat_core::RunOptions::quiet)):
/// an INFO line per request costs microseconds. Failures log at ERROR.
#[derive(Debug, Clone)]
pub struct HeartbeatLayer<P = Check, C = DefaultClassify> {
    pub(crate) monitor: Monitor,
    pub(crate) pick: P,
    pub(crate) classify: C,
    pub(crate) checks: Arc<CheckCap>,
}

/// The distinct checks a layer has created, up to its cap.
#[derive(Debug)]
pub(crate) struct CheckCap {
    max: usize,
    seen: Mutex<HashSet<String>>,
    warned: AtomicBool,
}

impl CheckCap {
    fn new(max: usize) -> Self {
        Self {
            max,
            seen: Mutex::default(),
            warned: AtomicBool::new(false),
        }
    }

    /// Whether a run of `check` may start: it is known, or there is room.
    pub(crate) fn admit(&self, check: &Check) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains(check.slug()) {
            return true;
        }
        if seen.len() < self.max {
            seen.insert(check.slug().to_owned());
            return true;
        }
        drop(seen);
        if !self.warned.swap(true, Relaxed) {
            tracing::warn!(
                target: "heartbeat",
                check = check.slug(),
                max_checks = self.max,
                "HeartbeatLayer: too many distinct checks; calls of new ones are not monitored \
                 (pick checks from a bounded key, or raise max_checks)"
            );
        }
        false
    }
}

impl HeartbeatLayer {
    /// Every call is a run of `check`.
    pub fn new(monitor: &Monitor, check: Check) -> Self {
        Self::per_request(monitor, check)
    }
}

impl<P> HeartbeatLayer<P> {
    /// Every call is a run of the check `pick` chooses for its request
    /// (see [`PickCheck`](super::PickCheck)).
    pub fn per_request(monitor: &Monitor, pick: P) -> Self {
        Self {
            monitor: monitor.clone(),
            pick,
            classify: DefaultClassify,
            checks: Arc::new(CheckCap::new(MAX_CHECKS)),
        }
    }
}

impl<P, C> HeartbeatLayer<P, C> {
    /// How results become outcomes (default: [`DefaultClassify`]; for
    /// HTTP services, [`HttpStatus`](super::HttpStatus)).
    pub fn classify<C2>(self, classify: C2) -> HeartbeatLayer<P, C2> {
        HeartbeatLayer {
            monitor: self.monitor,
            pick: self.pick,
            classify,
            checks: self.checks,
        }
    }

    /// At most this many distinct checks (default 100); calls of checks
    /// beyond it run unmonitored, with one WARN line.
    pub fn max_checks(mut self, max: usize) -> Self {
        self.checks = Arc::new(CheckCap::new(max));
        self
    }
}

impl<S, P: Clone, C: Clone> Layer<S> for HeartbeatLayer<P, C> {
    type Service = Heartbeat<S, P, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Heartbeat {
            inner,
            layer: self.clone(),
        }
    }
}
