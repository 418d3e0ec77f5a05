//! [`Heartbeat`]: the service that monitors its inner service's calls.

use std::task::{Context, Poll};

use heartbeat_core::Check;
use tower_service::Service;

use super::{Classify, DefaultClassify, HeartbeatLayer, PickCheck, ResponseFuture};

/// Monitors every call of `S` as a run; from [`HeartbeatLayer`].
#[derive(Debug, Clone)]
pub struct Heartbeat<S, P = Check, C = DefaultClassify> {
    pub(crate) inner: S,
    pub(crate) layer: HeartbeatLayer<P, C>,
}

impl<S, P, C> Heartbeat<S, P, C> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req, P, C> Service<Req> for Heartbeat<S, P, C>
where
    S: Service<Req>,
    P: PickCheck<Req>,
    C: Classify<S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let layer = &self.layer;
        let run = layer
            .pick
            .pick(&request)
            .filter(|check| layer.checks.admit(check))
            .map(|check| {
                let options = layer.pick.options(&request).quiet();
                layer.monitor.start_with(&check, options)
            });
        ResponseFuture::new(self.inner.call(request), run, layer.classify.clone())
    }
}
