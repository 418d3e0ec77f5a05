//! The cron case: a job that meets a sleeping delivery worker in a fresh
//! process. Each scenario runs `cron_probe` (src/bin/cron_probe.rs) as
//! separate processes against one loopback receiver and prints, per run,
//! the cost of `start()` + `success()` (median, p99, max), the delivery
//! latency (start pushed → its request at the receiver), and per process
//! the time from spawn to the first request at the receiver.
//!
//! ```text
//! cargo bench -p heartbeat-benches --bench cron_case
//! ```
//!
//! `CRON_PROBE=<path>` runs another build of the probe instead, for a
//! before/after comparison in one run of the same harness.
//!
//! Not a criterion bench: criterion repeats one closure in one process,
//! which is exactly the busy worker this bench avoids.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use heartbeat_core::test::Receiver;

/// One scenario: `processes` fresh processes of `runs` runs each.
struct Scenario {
    name: &'static str,
    processes: usize,
    runs: usize,
    gap_ms: u64,
    mode: &'static str,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "isolated (flush, then run)",
        processes: 3,
        runs: 300,
        gap_ms: 0,
        mode: "isolated",
    },
    Scenario {
        name: "1 ms gap",
        processes: 3,
        runs: 300,
        gap_ms: 1,
        mode: "gap",
    },
    Scenario {
        name: "10 ms gap (cron case)",
        processes: 5,
        runs: 300,
        gap_ms: 10,
        mode: "gap",
    },
    Scenario {
        name: "100 ms gap",
        processes: 3,
        runs: 40,
        gap_ms: 100,
        mode: "gap",
    },
];

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects scenarios.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    // CRON_PROBE runs another build of the probe (a before/after comparison).
    let probe =
        std::env::var("CRON_PROBE").unwrap_or_else(|_| env!("CARGO_BIN_EXE_cron_probe").into());
    let rx = Receiver::start().expect("receiver");
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>9} | {:>13} {:>13} | {:>15}",
        "scenario",
        "run p50",
        "run p99",
        "run max",
        "switched",
        "deliver p50",
        "deliver p99",
        "spawn→1st req"
    );
    for s in SCENARIOS {
        if filter
            .as_ref()
            .is_some_and(|f| !s.name.contains(f.as_str()))
        {
            continue;
        }
        let mut runs = Vec::new();
        let mut delivery = Vec::new();
        let mut first_request = Vec::new();
        let mut switched = 0;
        for _ in 0..s.processes {
            rx.clear();
            let spawned = SystemTime::now();
            let out = Command::new(&probe)
                .args([s.runs.to_string(), s.gap_ms.to_string(), s.mode.to_string()])
                .env_clear()
                .env("HEALTHCHECKS_PING_URL", rx.url())
                .env("HEALTHCHECKS_PING_KEY", "probe")
                .output()
                .expect("cron_probe runs");
            assert!(out.status.success(), "{out:?}");
            let requests = rx.wait_for_requests(2 * s.runs, Duration::from_secs(30));
            let first = requests
                .iter()
                .map(|r| r.received_at)
                .min()
                .expect("a request");
            first_request.push(first.duration_since(spawned).unwrap_or_default());
            let stdout = String::from_utf8_lossy(&out.stdout);
            for (i, line) in stdout.lines().filter(|l| l.starts_with("run ")).enumerate() {
                if i == 0 && s.mode == "gap" {
                    // The first run has no gap before it: it is the cold start.
                    continue;
                }
                let mut fields = line
                    .split(' ')
                    .skip(1)
                    .map(|f| f.parse::<u128>().expect("number"));
                let (took, pushed) = (fields.next().expect("ns"), fields.next().expect("unix ns"));
                if fields.next().expect("switches") > 0 {
                    switched += 1;
                }
                runs.push(Duration::from_nanos(took as u64));
                let path = format!("/probe/cron-probe-{i}/start");
                let start = requests
                    .iter()
                    .find(|r| r.path == path)
                    .expect("the run's start");
                let at = start
                    .received_at
                    .duration_since(UNIX_EPOCH)
                    .expect("clock")
                    .as_nanos();
                delivery.push(Duration::from_nanos(at.saturating_sub(pushed) as u64));
            }
        }
        runs.sort();
        delivery.sort();
        first_request.sort();
        println!(
            "{:<28} {:>10} {:>10} {:>10} {:>8.0}% | {:>13} {:>13} | {:>15}",
            s.name,
            fmt(pct(&runs, 50)),
            fmt(pct(&runs, 99)),
            fmt(*runs.last().expect("runs")),
            100.0 * f64::from(switched) / runs.len() as f64,
            fmt(pct(&delivery, 50)),
            fmt(pct(&delivery, 99)),
            fmt(pct(&first_request, 50)),
        );
    }
}

fn pct(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}
