//! Hooks: code an integration runs at the start and the finish of every run.
//!
//! A start hook sees the run before its job does and can attach values to
//! it ([`RunStart::insert`]); a finish hook sees how it ended, with the
//! typed error (and its source chain) before it becomes text, the panic
//! message, the attempt and the values attached at start. Hooks run on the
//! job's thread, so keep them cheap and never block in them.
//!
//! ```
//! use heartbeat_core::{Monitor, RunFinish, RunStart};
//!
//! let monitor = Monitor::builder()
//!     .on_start(|run: &mut RunStart<'_>| run.insert(std::time::Instant::now()))
//!     .on_finish(|run: &RunFinish<'_>| {
//!         if let Some(err) = run.error() {
//!             eprintln!("{} attempt {} failed: {err}", run.check().slug(), run.attempt());
//!         }
//!     })
//!     .build()?;
//! # Ok::<(), heartbeat_core::ConfigError>(())
//! ```

use std::any::Any;
use std::error::Error;
use std::fmt;
use std::time::Duration;

use crate::check::Check;
use crate::event::RunId;
use crate::outcome::Outcome;

/// Called when a run starts; see the [module docs](crate::hooks).
pub trait StartHook: Send + Sync + 'static {
    /// The run is starting.
    fn on_start(&self, run: &mut RunStart<'_>);
}

impl<F> StartHook for F
where
    F: Fn(&mut RunStart<'_>) + Send + Sync + 'static,
{
    fn on_start(&self, run: &mut RunStart<'_>) {
        self(run)
    }
}

/// Called when a run ends, however it ends; see the [module docs](crate::hooks).
pub trait FinishHook: Send + Sync + 'static {
    /// The run has ended.
    fn on_finish(&self, run: &RunFinish<'_>);
}

impl<F> FinishHook for F
where
    F: Fn(&RunFinish<'_>) + Send + Sync + 'static,
{
    fn on_finish(&self, run: &RunFinish<'_>) {
        self(run)
    }
}

/// Values hooks attach to a run, one per type.
#[derive(Default)]
pub(crate) struct Extensions(Vec<Box<dyn Any + Send + Sync>>);

impl Extensions {
    fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.retain(|v| !v.is::<T>());
        self.0.push(Box::new(value));
    }

    fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0.iter().find_map(|v| v.downcast_ref())
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Extensions({})", self.0.len())
    }
}

/// The facts about a run that both hooks see.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunFacts<'a> {
    pub(crate) check: &'a Check,
    pub(crate) run_id: RunId,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: Option<u32>,
}

/// A starting run, as a [`StartHook`] sees it.
#[derive(Debug)]
pub struct RunStart<'a> {
    pub(crate) facts: RunFacts<'a>,
    pub(crate) extensions: &'a mut Extensions,
}

/// The accessors both hook views have, over their `facts` field.
macro_rules! run_facts {
    () => {
        /// The check being run.
        pub fn check(&self) -> &Check {
            self.facts.check
        }

        /// The run's id.
        pub fn run_id(&self) -> RunId {
            self.facts.run_id
        }

        /// Which attempt this is (1 for the first).
        pub fn attempt(&self) -> u32 {
            self.facts.attempt
        }

        /// How many attempts the run may have, when known.
        pub fn max_attempts(&self) -> Option<u32> {
            self.facts.max_attempts
        }
    };
}

impl RunStart<'_> {
    run_facts!();

    /// Attaches a value to the run (one per type; a second replaces the
    /// first), for the finish hooks to read with [`RunFinish::get`]. It is
    /// dropped when the run ends, so a guard kept here lives as long as the
    /// run.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.extensions.insert(value);
    }
}

/// An ended run, as a [`FinishHook`] sees it.
#[derive(Debug)]
pub struct RunFinish<'a> {
    pub(crate) facts: RunFacts<'a>,
    pub(crate) extensions: &'a Extensions,
    pub(crate) outcome: &'a Outcome,
    pub(crate) duration: Duration,
    pub(crate) error: Option<&'a (dyn Error + 'static)>,
    pub(crate) panic: Option<&'a str>,
    pub(crate) log: &'a [u8],
}

impl RunFinish<'_> {
    run_facts!();

    /// How the run ended.
    pub fn outcome(&self) -> &Outcome {
        self.outcome
    }

    /// How long it ran.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The error the job failed (or will be retried) with, typed, when it
    /// returned one; walk [`Error::source`] for its chain.
    pub fn error(&self) -> Option<&(dyn Error + 'static)> {
        self.error
    }

    /// The panic message, when the job panicked.
    pub fn panic_message(&self) -> Option<&str> {
        self.panic
    }

    /// The run's log tail (raw bytes, usually UTF-8); empty unless the run
    /// failed or will be retried.
    pub fn log(&self) -> &[u8] {
        self.log
    }

    /// A value a start hook attached with [`RunStart::insert`].
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.extensions.get()
    }
}
