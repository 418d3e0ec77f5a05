//! [`IntoTarget`] and [`TargetContext`]: how a target's settings become a
//! [`Target`] when the monitor is built.

use std::sync::Arc;

use super::http::HttpClient;
use crate::error::ConfigError;
use crate::target::Target;

/// What a target is built with when the monitor is: see [`IntoTarget`].
#[derive(Debug, Clone)]
pub struct TargetContext {
    pub(crate) environment: Option<String>,
    pub(crate) http: HttpClient,
}

impl TargetContext {
    /// The environment name pings carry
    /// ([`MonitorBuilder::environment`](crate::MonitorBuilder::environment),
    /// `HEARTBEAT_ENV`).
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }
}

/// Something [`MonitorBuilder::target`](crate::MonitorBuilder::target)
/// accepts: any [`Target`], or a built-in service's settings (which are
/// validated and given the monitor's shared HTTP client when the monitor is
/// built).
pub trait IntoTarget {
    /// Builds the target.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting that is unusable.
    fn into_target(self, context: &TargetContext) -> Result<Arc<dyn Target>, ConfigError>;
}

impl<T: Target> IntoTarget for T {
    fn into_target(self, _context: &TargetContext) -> Result<Arc<dyn Target>, ConfigError> {
        Ok(Arc::new(self))
    }
}
