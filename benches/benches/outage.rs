//! One million runs while the service is down (connections refused): the
//! job-path cost (criterion, against a healthy service in the same run),
//! then peak memory and drop counts for exactly 1 000 000 runs (printed).

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use heartbeat_core::test::{Fault, Receiver};
use heartbeat_core::{Check, Healthchecks, Monitor};

fn monitor(rx: &Receiver) -> Monitor {
    Monitor::builder()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("bench"))
        .build()
        .unwrap()
}

/// Resident memory and its peak, from /proc (Linux), in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn outage(c: &mut Criterion) {
    let check = Check::new("bench-job").unwrap();
    let healthy_rx = Receiver::start().unwrap();
    let down_rx = Receiver::start().unwrap();
    down_rx.set_fault(Fault::Refuse);

    // Exactly one million runs while the service is down, first, so that the
    // RSS baseline is not inflated by criterion's own allocations.
    let m = monitor(&down_rx);
    let (rss_before, _) = memory_kib();
    let t = Instant::now();
    let mut rss_half = 0;
    for i in 0..1_000_000 {
        m.start(&check).success();
        if i == 500_000 {
            rss_half = memory_kib().0;
        }
    }
    let elapsed = t.elapsed();
    let (rss_after, peak) = memory_kib();
    let s = m.stats();
    println!(
        "1 000 000 runs with the service down: {:?} ({:.0} ns/run); RSS {} KiB -> {} KiB after \
         500 000 runs -> {} KiB after 1 000 000 (+{} KiB), peak RSS of the process {} KiB; \
         events queued {} + dropped {} = {}; pending {}",
        elapsed,
        elapsed.as_nanos() as f64 / 1e6,
        rss_before,
        rss_half,
        rss_after,
        rss_after.saturating_sub(rss_before),
        peak,
        s.queued,
        s.dropped,
        s.queued + s.dropped,
        s.pending
    );
    drop(m);

    // The job-path cost, healthy and down, in one criterion group.
    let healthy = monitor(&healthy_rx);
    let down = monitor(&down_rx);
    let mut g = c.benchmark_group("outage");
    g.measurement_time(Duration::from_secs(4));
    for (name, m) in [("healthy", &healthy), ("service_down", &down)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let run = m.start(&check);
                black_box(&run);
                run.success();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, outage);
criterion_main!(benches);
