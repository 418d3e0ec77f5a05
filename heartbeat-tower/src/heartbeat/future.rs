//! [`ResponseFuture`]: finishes the call's run when the call completes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use heartbeat_core::RunGuard;
use pin_project_lite::pin_project;

use super::Classify;

pin_project! {
    /// The response future of [`Heartbeat`](super::Heartbeat). Dropped
    /// before it completes (an outer timeout, a client gone), its run ends
    /// as "cancelled", or "interrupted" during a shutdown: the run guard's
    /// own drop says which.
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        run: Option<RunGuard>,
        classify: C,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn new(inner: F, run: Option<RunGuard>, classify: C) -> Self {
        Self {
            inner,
            run,
            classify,
        }
    }
}

impl<F, C> std::fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("run", &self.run.as_ref().map(RunGuard::run_id))
            .finish_non_exhaustive()
    }
}

impl<F, C, Resp, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<Resp, E>>,
    C: Classify<Resp, E>,
{
    type Output = Result<Resp, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.run.as_ref() {
            // The inner future runs inside its run's span.
            Some(run) => {
                let _entered = run.span().enter();
                ready!(this.inner.poll(cx))
            }
            None => ready!(this.inner.poll(cx)),
        };
        if let Some(run) = this.run.take() {
            run.finish_with(this.classify.classify(&result));
        }
        Poll::Ready(result)
    }
}
