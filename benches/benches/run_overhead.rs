//! What monitoring adds to a job: `start()` + `success()` (both events),
//! against the same job unmonitored, in one run.
//!
//! - `unmonitored`: the job alone (a little arithmetic, so the loop is not empty).
//! - `log_only`: a monitor with no target (run guard, span, log macros).
//! - `live_target`: a Healthchecks target pointed at a loopback receiver that
//!   answers 200; delivery runs on the worker thread meanwhile.
//! - `live_target_with_subscriber`: the same with a `tracing` fmt subscriber
//!   installed (writing to a sink), so every start/finish line is formatted.
//! - `live_target_noop_finish_hook` / `live_target_noop_both_hooks`: the live
//!   target with a finish hook (and a start hook) that does nothing: the
//!   cost of the seam an integration such as Sentry plugs into.
//!
//! A tight loop outruns any HTTP service, so in `live_target` the queue is
//! soon full and the push takes the eviction path; `isolated` (printed, not a
//! criterion figure) times single runs on an idle, healthy monitor, which
//! includes waking the worker.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use heartbeat_core::test::Receiver;
use heartbeat_core::{Check, Healthchecks, Monitor, MonitorBuilder, RunFinish, RunStart};

fn job(n: u64) -> u64 {
    (0..16).fold(n, |a, i| a.wrapping_mul(31).wrapping_add(i))
}

/// The job, monitored: what every monitored variant runs.
fn monitored<'a>(monitor: &'a Monitor, check: &'a Check) -> impl FnMut() -> u64 + 'a {
    let mut n = 0u64;
    move || {
        n += 1;
        let run = monitor.start(check);
        let out = black_box(job(black_box(n)));
        run.success();
        out
    }
}

fn live(rx: &Receiver) -> Monitor {
    live_builder(rx).build().unwrap()
}

fn live_builder(rx: &Receiver) -> MonitorBuilder {
    Monitor::builder().target(Healthchecks::new().ping_url(rx.url()).ping_key("bench"))
}

fn overhead(c: &mut Criterion) {
    let rx = Receiver::start().unwrap();
    let check = Check::new("bench-job").unwrap();
    let mut g = c.benchmark_group("run_overhead");
    g.measurement_time(Duration::from_secs(4));

    g.bench_function("unmonitored", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            black_box(job(black_box(n)))
        })
    });

    let log_only = Monitor::log_only();
    g.bench_function("log_only", |b| b.iter(monitored(&log_only, &check)));

    let monitor = live(&rx);
    g.bench_function("live_target", |b| b.iter(monitored(&monitor, &check)));

    let finish_hook = live_builder(&rx)
        .on_finish(|run: &RunFinish<'_>| {
            black_box(run.attempt());
        })
        .build()
        .unwrap();
    g.bench_function("live_target_noop_finish_hook", |b| {
        b.iter(monitored(&finish_hook, &check))
    });
    let both_hooks = live_builder(&rx)
        .on_start(|run: &mut RunStart<'_>| {
            black_box(run.attempt());
        })
        .on_finish(|run: &RunFinish<'_>| {
            black_box(run.attempt());
        })
        .build()
        .unwrap();
    g.bench_function("live_target_noop_both_hooks", |b| {
        b.iter(monitored(&both_hooks, &check))
    });

    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    g.bench_function("live_target_with_subscriber", |b| {
        b.iter(monitored(&monitor, &check))
    });
    drop(guard);
    g.finish();
    let stats = monitor.stats();
    println!(
        "live_target monitor: {} queued, {} delivered, {} dropped while the loop outran delivery",
        stats.queued, stats.delivered, stats.dropped
    );

    isolated(&rx, &check);
}

/// Single runs on an idle, healthy monitor: the realistic case of a cron job,
/// where the push also wakes the sleeping worker. Median of 2000.
fn isolated(rx: &Receiver, check: &Check) {
    let monitor = live(rx);
    let mut times = Vec::with_capacity(2000);
    for n in 0..2000u64 {
        monitor.flush_blocking(Duration::from_secs(10));
        let t = Instant::now();
        let run = monitor.start(check);
        black_box(job(black_box(n)));
        run.success();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "isolated runs on an idle healthy monitor: median {:?}, p90 {:?} (start + success, 2000 runs)",
        times[times.len() / 2],
        times[times.len() * 9 / 10]
    );
}

criterion_group!(benches, overhead);
criterion_main!(benches);
