//! Test utilities, so you can test your own job monitoring end to end (they
//! are what this crate's own tests use): [`Receiver`], a real HTTP server on
//! 127.0.0.1 that records every request and misbehaves on demand;
//! [`HealthchecksService`], a receiver that keeps state as Healthchecks
//! does, non-atomic creates included; and [`Recorder`], an in-memory target
//! that keeps every event.
//!
//! ```
//! use std::time::Duration;
//! use heartbeat_core::test::{Fault, Receiver};
//! use heartbeat_core::{Check, Healthchecks, Monitor};
//!
//! let receiver = Receiver::start().unwrap();
//! let monitor = Monitor::builder()
//!     .target(Healthchecks::new().ping_url(receiver.url()).ping_key("test-key"))
//!     .build()
//!     .unwrap();
//! let check = Check::new("nightly-backup").unwrap();
//!
//! monitor.start(&check).success();
//! assert!(monitor.flush_blocking(Duration::from_secs(5)).is_complete());
//!
//! let requests = receiver.requests();
//! assert_eq!(requests[0].path, "/test-key/nightly-backup/start");
//! assert_eq!(requests[1].path, "/test-key/nightly-backup");
//! assert_eq!(requests[0].query("rid"), requests[1].query("rid"));
//!
//! receiver.set_fault(Fault::Status(500)); // now every request gets a 500
//! ```

mod healthchecks;
mod receiver;
mod recorder;

pub use healthchecks::{
    API_KEY, CheckStatus, HealthchecksService, PING_KEY, ServiceCheck, ServicePing,
};
pub use receiver::{Fault, Receiver, Reply, Request};
pub use recorder::Recorder;
