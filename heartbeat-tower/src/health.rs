//! [`HealthService`]: the health report over HTTP.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use heartbeat_core::health::{HealthReport, QueueWatch, WorkerRegistry};
use http::{Method, Request, Response, StatusCode, header};
use tower_service::Service;

/// Answers `GET` and `HEAD` with the process's [`HealthReport`] as JSON:
/// 200 when every critical worker is alive and no P1 rule is breached
/// (a degraded report is still 200), 503 otherwise; other methods get 405.
///
/// Mount it where probes look:
///
/// ```no_run
/// use heartbeat_core::health::WorkerRegistry;
/// use heartbeat_tower::HealthService;
///
/// let workers = WorkerRegistry::new();
/// let health = HealthService::new().workers(&workers);
/// let app: axum::Router = axum::Router::new().route_service("/health/workers", health);
/// ```
///
/// Docker: `HEALTHCHECK CMD curl -fsS http://127.0.0.1:3000/health/workers || exit 1`.
#[derive(Debug, Clone, Default)]
pub struct HealthService {
    workers: Option<WorkerRegistry>,
    watches: Vec<QueueWatch>,
    monitor: Option<heartbeat_core::Monitor>,
}

impl HealthService {
    /// A service reporting nothing yet (always 200 until given workers or
    /// queues).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports these workers.
    pub fn workers(mut self, workers: &WorkerRegistry) -> Self {
        self.workers = Some(workers.clone());
        self
    }

    /// Reports this queue and its rules.
    pub fn queue(mut self, watch: &QueueWatch) -> Self {
        self.watches.push(watch.clone());
        self
    }

    /// Reports each check's last finished run as `monitor` saw it.
    pub fn checks(mut self, monitor: &heartbeat_core::Monitor) -> Self {
        self.monitor = Some(monitor.clone());
        self
    }

    /// The report now.
    pub fn report(&self) -> HealthReport {
        let report = HealthReport::gather(self.workers.as_ref(), &self.watches);
        match &self.monitor {
            Some(monitor) => report.with_checks(monitor),
            None => report,
        }
    }

    fn respond(&self, method: &Method) -> Response<String> {
        if method != Method::GET && method != Method::HEAD {
            let mut response = Response::new(String::new());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let report = self.report();
        let body = if method == Method::HEAD {
            String::new()
        } else {
            report.to_json()
        };
        let mut response = Response::new(body);
        *response.status_mut() = if report.is_healthy() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        response
    }
}

impl<B> Service<Request<B>> for HealthService {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.respond(request.method())))
    }
}
