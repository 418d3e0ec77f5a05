//! One check, run back to back: 100 000 runs, the last one failing, against
//! the stateful Healthchecks model. Measures the time from the first run to
//! every ping delivered, and checks the service ends in the right state
//! (down, not left "started"). Coalescing is what makes this finish:
//! without it the service would get 200 000 pings one at a time, in order.

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use heartbeat_core::test::{CheckStatus, HealthchecksService, PING_KEY};
use heartbeat_core::{Check, Healthchecks, Monitor};

const RUNS: usize = 100_000;

/// Runs the scenario once on a fresh service; returns the time to drain.
fn scenario(n: usize) -> Duration {
    let service = HealthchecksService::with_race_window(Duration::ZERO).unwrap();
    let monitor = Monitor::builder()
        .target(
            Healthchecks::new()
                .ping_url(service.ping_url())
                .ping_key(PING_KEY),
        )
        .queue_capacity(2 * RUNS)
        .build()
        .unwrap();
    let check = Check::new("busy-check").unwrap();
    let started = Instant::now();
    for i in 0..RUNS {
        let run = monitor.start(&check);
        if i + 1 == RUNS {
            run.fail_message(format!("run {i} failed"));
        } else {
            run.success();
        }
    }
    let report = monitor.flush_blocking(Duration::from_secs(120));
    let elapsed = started.elapsed();
    assert!(report.is_complete(), "{report}");
    let checks = service.checks_with_slug("busy-check");
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].status, CheckStatus::Down, "the last run failed");
    assert!(!checks[0].started, "not left started");
    let stats = monitor.stats();
    if n == 0 {
        println!(
            "{RUNS} runs of one check: drained in {elapsed:?}; {} pings sent, {} folded, {} dropped; final status {:?}",
            stats.delivered, stats.folded, stats.dropped, checks[0].status
        );
    }
    elapsed
}

fn one_check(c: &mut Criterion) {
    let mut g = c.benchmark_group("one_check");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    let mut n = 0;
    g.bench_function("100k_runs_to_drained", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    n += 1;
                    scenario(n - 1)
                })
                .sum()
        })
    });
    g.finish();
}

criterion_group!(benches, one_check);
criterion_main!(benches);
