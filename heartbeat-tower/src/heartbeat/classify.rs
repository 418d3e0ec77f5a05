//! [`Classify`]: what a call's result means for its run.

use heartbeat_core::Outcome;

/// Turns a call's result into the run's [`Outcome`]: any outcome of the
/// core (success, failure, exit status, "will be retried", interrupted).
pub trait Classify<Resp, E>: Clone + Send + Sync + 'static {
    /// The outcome of a call that ended with `result`.
    fn classify(&self, result: &Result<Resp, E>) -> Outcome;
}

impl<Resp, E, F> Classify<Resp, E> for F
where
    F: Fn(&Result<Resp, E>) -> Outcome + Clone + Send + Sync + 'static,
{
    fn classify(&self, result: &Result<Resp, E>) -> Outcome {
        self(result)
    }
}

/// `Ok` is a success, `Err` a failure with the error's text and sources.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultClassify;

impl<Resp, E: std::fmt::Display> Classify<Resp, E> for DefaultClassify {
    fn classify(&self, result: &Result<Resp, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(e.to_string()),
        }
    }
}

/// For HTTP services: a 5xx response is a failure ("HTTP 503 Service
/// Unavailable"), any other response a success, an `Err` a failure.
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpStatus;

#[cfg(feature = "http")]
impl<B, E: std::fmt::Display> Classify<http::Response<B>, E> for HttpStatus {
    fn classify(&self, result: &Result<http::Response<B>, E>) -> Outcome {
        match result {
            Ok(response) if response.status().is_server_error() => {
                Outcome::Failure(format!("HTTP {}", response.status()))
            }
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(e.to_string()),
        }
    }
}
