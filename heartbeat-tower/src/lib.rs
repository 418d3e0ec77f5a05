//! tower middleware for [heartbeat](heartbeat_core).
//!
//! - [`HeartbeatLayer`]: every call of a service is a monitored run: the
//!   check fixed, or picked per request from a bounded key (for axum, the
//!   matched route, never the raw URI); `Ok`/`Err` (or, for HTTP, 5xx) map
//!   to success and failure; a call dropped before it completes is
//!   "cancelled" (interrupted during a shutdown).
//! - [`HealthService`] (feature `http`): a `GET`/`HEAD` endpoint answering
//!   the process's [`HealthReport`](heartbeat_core::health::HealthReport)
//!   as JSON, 200 when healthy and 503 when a critical worker is down or a
//!   P1 rule is breached; for Docker `HEALTHCHECK`, Kubernetes probes and
//!   uptime monitors.
//!
//! ```no_run
//! use heartbeat_core::{Check, Monitor};
//! use heartbeat_tower::HeartbeatLayer;
//!
//! # fn wrap<S>(service: S) -> heartbeat_tower::Heartbeat<S> {
//! let monitor = Monitor::from_env().unwrap();
//! let layer = HeartbeatLayer::new(&monitor, Check::new("webhook-consumer").unwrap());
//! tower_layer::Layer::layer(&layer, service)
//! # }
//! ```

#[cfg(feature = "http")]
mod health;
mod heartbeat;

#[cfg(feature = "http")]
pub use health::HealthService;
#[cfg(feature = "http")]
pub use heartbeat::HttpStatus;
pub use heartbeat::{
    Classify, DefaultClassify, Heartbeat, HeartbeatLayer, PickCheck, ResponseFuture,
};
