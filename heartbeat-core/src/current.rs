//! The current run: which run the code on this thread is part of, so that a
//! job (and the [`log_layer`](crate::log_layer)) can reach it without
//! passing a guard around.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tracing::Span;

use crate::handle::{RunHandle, RunState};

thread_local! {
    static CURRENT: RefCell<Option<Arc<RunState>>> = const { RefCell::new(None) };
}

/// The run the calling code is part of: inside `#[job]`,
/// [`Monitor::run`](crate::Monitor::run), [`run!`](crate::run!),
/// [`Monitor::run_blocking`](crate::Monitor::run_blocking), and
/// [`RunGuard::in_scope`](crate::RunGuard::in_scope) /
/// [`RunGuard::bind`](crate::RunGuard::bind). `None` elsewhere.
///
/// ```
/// # fn copy_files() -> std::io::Result<u64> { Ok(3) }
/// #[heartbeat_core::job]
/// fn nightly_backup() -> std::io::Result<()> {
///     let copied = copy_files()?;
///     if let Some(run) = heartbeat_core::current_run() {
///         run.log(format_args!("copied {copied} files")); // goes with a failure ping
///     }
///     Ok(())
/// }
/// # nightly_backup().unwrap();
/// ```
pub fn current_run() -> Option<RunHandle> {
    CURRENT.with(|c| c.borrow().clone().map(RunHandle))
}

/// Runs `f` with the current run's state, if there is one, without cloning.
#[cfg(feature = "log-layer")]
pub(crate) fn with_current<R>(f: impl FnOnce(&RunState) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow().as_deref().map(f))
}

/// Makes `run` current until dropped, restoring what was current before.
pub(crate) struct Entered {
    previous: Option<Arc<RunState>>,
}

pub(crate) fn enter(run: &Arc<RunState>) -> Entered {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(run.clone()));
    Entered { previous }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        // `try_with`: during thread teardown the slot may be gone already.
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

pin_project_lite::pin_project! {
    /// A future that runs inside a run: its span is entered and the run is
    /// [current](current_run) while it is polled. From
    /// [`RunGuard::bind`](crate::RunGuard::bind).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct InRun<F> {
        #[pin]
        inner: F,
        span: Span,
        run: Arc<RunState>,
    }
}

impl<F> InRun<F> {
    pub(crate) fn new(inner: F, span: Span, run: Arc<RunState>) -> Self {
        Self { inner, span, run }
    }
}

impl<F: Future> Future for InRun<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _span = this.span.enter();
        let _run = enter(this.run);
        this.inner.poll(cx)
    }
}
