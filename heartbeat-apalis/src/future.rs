//! [`TaskFuture`]: ends a task's run with what its attempt means.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use apalis_core::error::{AbortError, BoxDynError, DeferredError, RetryAfterError};
use apalis_core::task::ExecutionContext;
use apalis_core::worker::context::WorkerContext;
use heartbeat_core::{InRun, Monitor, RunGuard};
use pin_project_lite::pin_project;

pin_project! {
    /// The response future of [`TaskMonitor`](crate::TaskMonitor). The task
    /// runs inside its run: in the run's `tracing` span, with the run
    /// [current](heartbeat_core::current_run) (lines the task logs to it go
    /// into its failure ping).
    pub struct TaskFuture<F> {
        #[pin]
        inner: InRun<F>,
        run: Option<RunGuard>,
        ctx: Arc<ExecutionContext>,
        past_max: Option<usize>,
        worker: Option<WorkerContext>,
        monitor: Monitor,
    }

    impl<F> PinnedDrop for TaskFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(run) = this.run.take() {
                dropped(run, this.ctx, this.worker.as_ref(), this.monitor);
            }
        }
    }
}

impl<F> TaskFuture<F> {
    pub(crate) fn new(
        inner: InRun<F>,
        run: RunGuard,
        ctx: Arc<ExecutionContext>,
        past_max: Option<usize>,
        worker: Option<WorkerContext>,
        monitor: Monitor,
    ) -> Self {
        Self {
            inner,
            run: Some(run),
            ctx,
            past_max,
            worker,
            monitor,
        }
    }
}

impl<F> std::fmt::Debug for TaskFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskFuture")
            .field("run", &self.run.as_ref().map(RunGuard::run_id))
            .finish_non_exhaustive()
    }
}

impl<F, T, E> Future for TaskFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxDynError>,
{
    type Output = Result<T, BoxDynError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx)).map_err(Into::into);
        if let Some(run) = this.run.take() {
            match &result {
                Ok(_) => run.success(),
                // An abort (a panic caught by catch_panic too) is final.
                Err(error) if error.is::<AbortError>() => run.fail(&**error),
                Err(error) => match *this.past_max {
                    Some(max) => run.retry_message(format!(
                        "{error} (attempt {} is past the task's max_attempts of {max}: its failure was reported then; the backend retries it anyway)",
                        this.ctx.attempt()
                    )),
                    None if is_final(error, this.ctx) => run.fail(&**error),
                    None => run.retry(&**error),
                },
            }
        }
        Poll::Ready(result)
    }
}

/// Whether a failed attempt (not an abort) is the task's last: no attempt
/// left, or attempts that are not known. A pause the task asked for
/// (`RetryAfterError`, `DeferredError`) is not.
fn is_final(error: &BoxDynError, ctx: &ExecutionContext) -> bool {
    if error.is::<RetryAfterError>() || error.is::<DeferredError>() {
        return false;
    }
    attempts_exhausted(ctx)
}

/// The attempt counter is current once the task has run (apalis raises it
/// when the task starts); in-process retries raise it too.
fn attempts_exhausted(ctx: &ExecutionContext) -> bool {
    ctx.max_attempts()
        .is_none_or(|max| ctx.attempt().max(1) >= max)
}

/// A task future dropped before it finished.
fn dropped(
    run: RunGuard,
    ctx: &ExecutionContext,
    worker: Option<&WorkerContext>,
    monitor: &Monitor,
) {
    if std::thread::panicking() {
        // The task panicked (no catch_panic layer): the guard reports it.
        return drop(run);
    }
    if monitor.is_shutting_down() || worker.is_some_and(WorkerContext::is_shutting_down) {
        return run.interrupted();
    }
    if attempts_exhausted(ctx) {
        return run.fail_message("cancelled before it finished, on its last attempt");
    }
    run.retry_message("cancelled before it finished; the backend will deliver it again");
}
