//! Delivery throughput: runs delivered per second to a loopback receiver,
//! against a plain reqwest loop sending the same requests (start then
//! finish per run, POST, same URLs) at the same concurrency (16) to the same
//! receiver, in one run. The runs are spread over 1000 checks, two runs
//! each: heartbeat delivers one check's events in order, one at a time, and
//! different checks concurrently; with two runs a check nothing is
//! coalesced, so both senders send every request (the bench checks it).

// criterion_group! generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use heartbeat_core::test::Receiver;
use heartbeat_core::{Check, Healthchecks, Monitor};

const RUNS: u64 = 2000;
const CONCURRENCY: usize = 16;
const CHECKS: u64 = 1000;

fn throughput(c: &mut Criterion) {
    let rx = Receiver::start().unwrap();
    let checks: Vec<Check> = (0..CHECKS)
        .map(|i| Check::new(format!("bench-job-{i}")).unwrap())
        .collect();
    let monitor = Monitor::builder()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("bench"))
        .concurrency(CONCURRENCY)
        .queue_capacity(2 * RUNS as usize)
        .build()
        .unwrap();

    let mut g = c.benchmark_group("throughput");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Elements(RUNS));

    g.bench_function("heartbeat", |b| {
        b.iter(|| {
            rx.clear();
            for i in 0..RUNS {
                monitor.start(&checks[(i % CHECKS) as usize]).success();
            }
            let report = monitor.flush_blocking(Duration::from_secs(60));
            assert!(report.is_complete(), "{report}");
            assert_eq!(report.stats.folded, 0, "nothing coalesced: a fair race");
        })
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // heartbeat's reqwest has no crypto provider of its own; a bench binary
    // may install one process-wide (a library may not).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().build().unwrap();
    let base = Arc::new(format!("{}/bench/bench-job", rx.url()));
    g.bench_function("plain_reqwest", |b| {
        b.iter(|| {
            rx.clear();
            runtime.block_on(async {
                futures::stream::iter(0..RUNS)
                    .for_each_concurrent(CONCURRENCY, |i| {
                        let (client, base) = (client.clone(), base.clone());
                        async move {
                            let base = format!("{base}-{}", i % CHECKS);
                            let rid = uuid::Uuid::new_v4().to_string();
                            for url in [
                                format!("{base}/start?rid={rid}&create=1"),
                                format!("{base}?rid={rid}&create=1"),
                            ] {
                                let resp = client.post(url).body("").send().await.unwrap();
                                let _ = resp.bytes().await.unwrap();
                            }
                        }
                    })
                    .await;
            });
        })
    });
    g.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
