//! [`PickCheck`]: which check a request is a run of.

use heartbeat_core::{Check, RunOptions};

/// Picks the check a request is a run of, or `None` to leave it
/// unmonitored. A [`Check`] picks itself for every request; a closure
/// `Fn(&Req) -> Option<Check>` picks per request, from something bounded
/// (a route template, a message type), never from raw input such as a
/// URI, since every distinct check may be created on the service.
///
/// Implement it on your own type to also give each request's
/// [`RunOptions`] (a run id and attempt from a delivery's headers, say).
pub trait PickCheck<Req>: Clone + Send + Sync + 'static {
    /// The request's check.
    fn pick(&self, request: &Req) -> Option<Check>;

    /// The request's run options (default: none; the layer adds
    /// [`RunOptions::quiet`]).
    fn options(&self, _request: &Req) -> RunOptions {
        RunOptions::new()
    }
}

impl<Req> PickCheck<Req> for Check {
    fn pick(&self, _: &Req) -> Option<Check> {
        Some(self.clone())
    }
}

impl<Req, F> PickCheck<Req> for F
where
    F: Fn(&Req) -> Option<Check> + Clone + Send + Sync + 'static,
{
    fn pick(&self, request: &Req) -> Option<Check> {
        self(request)
    }
}
