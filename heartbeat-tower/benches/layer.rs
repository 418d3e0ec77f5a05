//! Per-request overhead of `HeartbeatLayer`, against the bare service and
//! against tower-http's `TraceLayer` on the same service, in one criterion
//! group. The monitor has a live Healthchecks target on a loopback
//! receiver (a busy route is coalesced by the engine); no `tracing`
//! subscriber is installed, so neither layer formats log lines.
//!
//! ```text
//! cargo bench -p heartbeat-tower --bench layer
//! ```

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use heartbeat_core::test::Receiver;
use heartbeat_core::{Check, Healthchecks, Monitor};
use heartbeat_tower::{HeartbeatLayer, HttpStatus};
use tower::{Layer, Service, service_fn};
use tower_http::trace::TraceLayer;

type Request = http::Request<String>;

fn handler(_: Request) -> std::future::Ready<Result<http::Response<String>, Infallible>> {
    std::future::ready(Ok(http::Response::new(String::new())))
}

/// Calls `service` once, polling its future to completion without a
/// runtime (it is always ready).
fn call<S, R>(service: &mut S) -> R
where
    S: Service<Request, Response = R, Error = Infallible>,
{
    let future = service.call(http::Request::new(String::new()));
    match futures_executor(future) {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn futures_executor<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn layer_overhead(c: &mut Criterion) {
    let rx = Receiver::start().unwrap();
    let monitor = Monitor::builder()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("bench"))
        .build()
        .unwrap();
    let mut g = c.benchmark_group("layer");
    g.measurement_time(Duration::from_secs(4));

    let mut bare = service_fn(handler);
    g.bench_function("bare", |b| b.iter(|| black_box(call(&mut bare))));

    let mut traced = TraceLayer::new_for_http().layer(service_fn(handler));
    g.bench_function("trace_layer", |b| b.iter(|| black_box(call(&mut traced))));

    let mut monitored = HeartbeatLayer::new(&monitor, Check::new("bench-route").unwrap())
        .classify(HttpStatus)
        .layer(service_fn(handler));
    g.bench_function("heartbeat_layer", |b| {
        b.iter(|| black_box(call(&mut monitored)))
    });
    g.finish();
}

criterion_group!(benches, layer_overhead);
criterion_main!(benches);
