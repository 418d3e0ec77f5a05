//! [`TaskMonitorLayer`] and [`TaskMonitor`]: every task execution of an
//! apalis worker is a run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use apalis_core::error::BoxDynError;
use apalis_core::task::Task;
use apalis_core::worker::context::WorkerContext;
use heartbeat_core::{Check, Monitor, RunOptions};
use tower_layer::Layer;
use tower_service::Service;

use crate::future::TaskFuture;
use crate::naming::{check_for_worker, run_id_for};

/// A worker's checks by worker name: one entry per worker, so the map stays
/// as small as the process's worker list.
type CheckCache = Arc<Mutex<HashMap<String, Check>>>;

/// Monitors every task an apalis worker runs: add it with
/// `WorkerBuilder::layer` **before** any `.retry(..)`, so it sees each
/// delivery of a task whole.
///
/// - **Check**: the worker's name made a slug
///   ([`slug_for_worker`](crate::slug_for_worker)), so every process of a
///   fleet reports to the same check; or the one given to
///   [`check`](Self::check) (a cron worker's, from
///   [`cron_check`](crate::cron_check), carries its schedule).
/// - **Run**: the run id comes from the task id, so every attempt of a task
///   is one run; the attempt number and the task's `max_attempts` are the
///   run's.
/// - **Outcome**: `Ok` is a success. An error is a failure when it is
///   final: an `AbortError` (also a panic caught by `catch_panic`), the
///   last attempt, or a task whose attempts are unknown. An error that will
///   be retried (an earlier attempt, a `RetryAfterError`, a
///   `DeferredError`) is logged and sent as a message (a Healthchecks
///   `/log`, a Cronitor message; Sentry stays in progress), never as a
///   failure.
/// - **Past the limit**: a backend that retries a task beyond its
///   `max_attempts` (apalis-redis 1.0 retries every failed task up to 25
///   attempts) gets the failure reported once, at the last attempt the
///   task allowed; later failed attempts are messages, and a later
///   success is a success.
/// - **Shutdown**: a task stopped because its worker is shutting down, or
///   the monitor is, is "interrupted": logged, nothing final sent. A task
///   dropped mid-run for another reason (an outer timeout, a worker future
///   dropped) will be delivered again by its backend: a "will be retried"
///   message, unless it was its last attempt (a failure).
#[derive(Debug, Clone)]
pub struct TaskMonitorLayer {
    monitor: Monitor,
    check: Option<Check>,
    quiet: bool,
    checks: CheckCache,
}

impl TaskMonitorLayer {
    /// Tasks monitored through `monitor`, on a check named after their worker.
    pub fn new(monitor: &Monitor) -> Self {
        Self {
            monitor: monitor.clone(),
            check: None,
            quiet: false,
            checks: CheckCache::default(),
        }
    }

    /// Every task on `check` instead of the worker's own: a schedule, a
    /// grace time, a runbook, or a name of your choosing.
    pub fn check(self, check: Check) -> Self {
        Self {
            check: Some(check),
            ..self
        }
    }

    /// Runs log their start and success at DEBUG instead of INFO (failures
    /// stay WARN/ERROR): for workers that run thousands of tasks a minute.
    pub fn quiet(self) -> Self {
        Self {
            quiet: true,
            ..self
        }
    }

    fn check_for(&self, worker: Option<&WorkerContext>) -> Check {
        if let Some(check) = &self.check {
            return check.clone();
        }
        let name = worker.map_or("apalis-worker", WorkerContext::name);
        let mut checks = self.checks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(check) = checks.get(name) {
            return check.clone();
        }
        let check = check_for_worker(name);
        checks.insert(name.to_owned(), check.clone());
        check
    }
}

impl<S> Layer<S> for TaskMonitorLayer {
    type Service = TaskMonitor<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TaskMonitor {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`TaskMonitorLayer`] wraps a worker's service in.
#[derive(Debug, Clone)]
pub struct TaskMonitor<S> {
    inner: S,
    layer: TaskMonitorLayer,
}

impl<S, Args> Service<Task<Args>> for TaskMonitor<S>
where
    S: Service<Task<Args>>,
    S::Error: Into<BoxDynError>,
{
    type Response = S::Response;
    type Error = BoxDynError;
    type Future = TaskFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, task: Task<Args>) -> Self::Future {
        let worker = task.data().get::<WorkerContext>().cloned();
        let check = self.layer.check_for(worker.as_ref());
        let ctx = task.ctx().clone();
        // The attempt counter goes up when the task starts running (inside
        // us): now it holds the attempts before this one.
        let attempt = u32::try_from(ctx.attempt() + 1).unwrap_or(u32::MAX);
        let mut options = RunOptions::new().attempt(attempt);
        if let Some(id) = ctx.task_id() {
            options = options.run_id(run_id_for(id));
        }
        // A backend may retry past a task's max_attempts (apalis-redis 1.0
        // retries up to 25 attempts whatever the task says): the failure
        // was reported at the last attempt the task allowed, so later
        // attempts run without a limit and their failures are messages.
        let past_max = ctx.max_attempts().filter(|&max| attempt as usize > max);
        if let (Some(max), None) = (ctx.max_attempts(), past_max) {
            options = options.max_attempts(u32::try_from(max).unwrap_or(u32::MAX));
        }
        if self.layer.quiet {
            options = options.quiet();
        }
        let run = self.layer.monitor.start_with(&check, options);
        TaskFuture::new(
            run.bind(self.inner.call(task)),
            run,
            ctx,
            past_max,
            worker,
            self.layer.monitor.clone(),
        )
    }
}
