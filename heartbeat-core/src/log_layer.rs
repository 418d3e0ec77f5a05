//! [`RunLogLayer`]: copies what a job logs through `tracing` into its run's
//! log tail, so the lines that explain a failure go with the failure ping.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer())
//!     .with(heartbeat_core::log_layer::RunLogLayer::new())
//!     .init();
//!
//! #[heartbeat_core::job]
//! fn nightly_backup() -> Result<(), std::io::Error> {
//!     tracing::info!(files = 3, "copied"); // in the run's log tail
//!     Ok(())
//! }
//! # nightly_backup().unwrap();
//! ```

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;

use crate::current::with_current;

/// A `tracing_subscriber::Layer` that appends every event emitted while a
/// run is [current](crate::current_run) (inside `#[job]`, `Monitor::run`,
/// `run!`, `RunGuard::in_scope`/`bind`) to that run's log tail, as
/// `LEVEL target: message key=value…`. heartbeat's own lines are left out.
/// Events at a level more verbose than the layer's (INFO unless set) are
/// left out too.
#[derive(Debug, Clone)]
pub struct RunLogLayer {
    max_level: Level,
}

impl Default for RunLogLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl RunLogLayer {
    /// A layer copying INFO and more severe events.
    pub fn new() -> Self {
        Self {
            max_level: Level::INFO,
        }
    }

    /// Copies events up to this verbosity (`Level::DEBUG` adds DEBUG lines).
    #[must_use]
    pub fn max_level(self, max_level: Level) -> Self {
        Self { max_level }
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for RunLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > self.max_level || meta.target().starts_with("heartbeat") {
            return;
        }
        with_current(|run| {
            let mut line = Line {
                message: String::new(),
                fields: String::new(),
            };
            event.record(&mut line);
            let text = format!(
                "{} {}: {}{}\n",
                meta.level(),
                meta.target(),
                line.message,
                line.fields
            );
            run.log_bytes(text.as_bytes());
        });
    }
}

/// An event's message and its other fields, formatted.
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}
