//! apalis throughput: tasks per second of a no-op job on apalis-sqlite (in
//! memory), with and without `TaskMonitorLayer`, side by side in one run,
//! alternated twice. Each iteration pushes the tasks first (not timed),
//! then times a fresh worker from its start until it has run them all. The
//! layer's monitor has a live Healthchecks target on a loopback receiver:
//!
//! - `with_layer`: the receiver answers after 20 ms, as a service across
//!   the network does; while a ping is in flight the check's backlog is
//!   coalesced (only the newest success of a backlog is sent);
//! - `with_layer_instant_service`: the receiver answers at once, in this
//!   process, so nearly every start and success is a request whose cost
//!   (client and server) lands on the same two cores: the worst case.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_sqlite::{SqlitePool, SqliteStorage};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use heartbeat_apalis::TaskMonitorLayer;
use heartbeat_core::test::{Fault, Receiver};
use heartbeat_core::{Healthchecks, Monitor};

const TASKS: u64 = 500;

/// The no-op job; the worker stops itself after the last task.
async fn noop(
    _n: u64,
    done: Data<Arc<AtomicU64>>,
    worker: WorkerContext,
) -> Result<(), BoxDynError> {
    if done.fetch_add(1, Ordering::SeqCst) + 1 == TASKS {
        worker.stop()?;
    }
    Ok(())
}

async fn filled_queue() -> SqliteStorage<u64> {
    let pool = SqlitePool::connect(":memory:").await.unwrap();
    SqliteStorage::setup(&pool).await.unwrap();
    let mut backend = SqliteStorage::<u64>::new(&pool);
    for n in 0..TASKS {
        backend.push(n).await.unwrap();
    }
    backend
}

/// Time to run all the tasks of one filled queue.
async fn drain(monitor: Option<&Monitor>) -> Duration {
    let backend = filled_queue().await;
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    match monitor {
        Some(monitor) => {
            WorkerBuilder::new("bench-worker")
                .backend(backend)
                .layer(TaskMonitorLayer::new(monitor))
                .data(done.clone())
                .build(noop)
                .run()
                .await
        }
        None => {
            WorkerBuilder::new("bench-worker")
                .backend(backend)
                .data(done.clone())
                .build(noop)
                .run()
                .await
        }
    }
    .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(done.load(Ordering::SeqCst), TASKS);
    elapsed
}

fn apalis_throughput(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let monitor_on = |rx: &Receiver| {
        Monitor::builder()
            .target(Healthchecks::new().ping_url(rx.url()).ping_key("bench"))
            .build()
            .unwrap()
    };
    let remote = Receiver::start().unwrap();
    remote.set_fault(Fault::Slow(Duration::from_millis(20)));
    let instant = Receiver::start().unwrap();
    let (monitor, monitor_instant) = (monitor_on(&remote), monitor_on(&instant));

    let mut g = c.benchmark_group("apalis_sqlite");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(TASKS));
    for round in 1..=2 {
        g.bench_function(format!("without_layer/{round}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| runtime.block_on(drain(None))).sum())
        });
        for (name, monitor) in [
            ("with_layer", &monitor),
            ("with_layer_instant_service", &monitor_instant),
        ] {
            g.bench_function(format!("{name}/{round}"), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| runtime.block_on(drain(Some(monitor))))
                        .sum()
                })
            });
        }
    }
    g.finish();
    for (monitor, rx) in [(&monitor, &remote), (&monitor_instant, &instant)] {
        let report = monitor.flush_blocking(Duration::from_secs(60));
        assert!(report.is_complete(), "{report}");
        println!("{}: {} requests; {report}", rx.url(), rx.requests().len());
    }
}

criterion_group!(benches, apalis_throughput);
criterion_main!(benches);
