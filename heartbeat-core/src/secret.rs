//! A string that must never be printed: ping keys, API keys, tokens.

use std::fmt;
use std::sync::Arc;

/// A secret value. `Debug` prints `***`, and it has no `Display`, so a secret
/// cannot end up in a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Arc<str>);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// The secret itself, for building a request. Never log the result.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::new("hunter2-key");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.expose(), "hunter2-key");
    }
}
