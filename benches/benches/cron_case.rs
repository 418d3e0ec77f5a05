//! The cron case: a job that meets a sleeping delivery worker in a fresh
//! process. Each scenario runs `cron_probe` (src/bin/cron_probe.rs) as
//! separate processes against one loopback receiver and prints, per run,
//! the cost of `start()` + `success()` (median, p99, max, and how many runs
//! had their thread switched out), the delivery latency (start pushed →
//! its request at the receiver), and per process the time from spawn to
//! the first request at the receiver.
//!
//! ```text
//! cargo bench -p heartbeat-benches --bench cron_case [-- FILTER]
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

/// One scenario: `processes` fresh processes of `runs` runs each, in the
/// probe's `mode` with `gap_ms` between runs.
struct Scenario {
    name: &'static str,
    processes: usize,
    runs: usize,
    gap_ms: u64,
    mode: &'static str,
}

impl Scenario {
    const fn new(
        name: &'static str,
        processes: usize,
        runs: usize,
        gap_ms: u64,
        mode: &'static str,
    ) -> Self {
        Self {
            name,
            processes,
            runs,
            gap_ms,
            mode,
        }
    }

    /// Whether its runs send pings.
    fn sends(&self) -> bool {
        matches!(self.mode, "gap" | "isolated")
    }
}

const SCENARIOS: &[Scenario] = &[
    Scenario::new("isolated (flush, then run)", 3, 300, 0, "isolated"),
    Scenario::new("1 ms gap", 3, 300, 1, "gap"),
    Scenario::new("10 ms gap (cron case)", 5, 300, 10, "gap"),
    Scenario::new("100 ms gap", 3, 40, 100, "gap"),
    // The parts of the cron case: the run with no thread to wake, and the
    // same steps without a run.
    Scenario::new("10 ms gap, no thread", 3, 300, 10, "no_thread"),
    Scenario::new("10 ms gap, unmonitored", 3, 300, 10, "unmonitored"),
];

/// What one scenario measured.
#[derive(Default)]
struct Measured {
    runs: Vec<Duration>,
    switched: usize,
    delivery: Vec<Duration>,
    first_request: Vec<Duration>,
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects scenarios.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let probe =
        std::env::var("CRON_PROBE").unwrap_or_else(|_| env!("CARGO_BIN_EXE_cron_probe").into());
    let rx = Receiver::start().expect("receiver");
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>9} | {:>12} {:>12} | {:>13}",
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
        let mut m = Measured::default();
        for _ in 0..s.processes {
            measure_process(s, &probe, &rx, &mut m);
        }
        m.runs.sort();
        m.delivery.sort();
        m.first_request.sort();
        let show = |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), fmt);
        println!(
            "{:<28} {:>10} {:>10} {:>10} {:>8.0}% | {:>12} {:>12} | {:>13}",
            s.name,
            show(pct(&m.runs, 50)),
            show(pct(&m.runs, 99)),
            show(m.runs.last().copied()),
            100.0 * m.switched as f64 / m.runs.len().max(1) as f64,
            show(pct(&m.delivery, 50)),
            show(pct(&m.delivery, 99)),
            show(pct(&m.first_request, 50)),
        );
    }
}

/// Runs one probe process and adds what it measured to `m`.
fn measure_process(s: &Scenario, probe: &str, rx: &Receiver, m: &mut Measured) {
    rx.clear();
    let spawned = SystemTime::now();
    let out = Command::new(probe)
        .args([s.runs.to_string(), s.gap_ms.to_string(), s.mode.to_string()])
        .env_clear()
        .env("HEALTHCHECKS_PING_URL", rx.url())
        .env("HEALTHCHECKS_PING_KEY", "probe")
        .output()
        .expect("cron_probe runs");
    assert!(out.status.success(), "{out:?}");
    let requests = if s.sends() {
        rx.wait_for_requests(2 * s.runs, Duration::from_secs(30))
    } else {
        Vec::new()
    };
    if let Some(first) = requests.iter().map(|r| r.received_at).min() {
        m.first_request
            .push(first.duration_since(spawned).unwrap_or_default());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (i, line) in stdout.lines().filter(|l| l.starts_with("run ")).enumerate() {
        if i == 0 && s.mode != "isolated" {
            // The first run has no gap before it: it is the cold start.
            continue;
        }
        let fields: Vec<u128> = line
            .split(' ')
            .skip(1)
            .map(|f| f.parse().expect("number"))
            .collect();
        let [took, pushed, switches] = fields[..] else {
            panic!("not a run line: {line}");
        };
        m.runs.push(Duration::from_nanos(took as u64));
        m.switched += usize::from(switches > 0);
        if !s.sends() {
            continue;
        }
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
        m.delivery
            .push(Duration::from_nanos(at.saturating_sub(pushed) as u64));
    }
}

fn pct(sorted: &[Duration], p: usize) -> Option<Duration> {
    let last = sorted.len().checked_sub(1)?;
    Some(sorted[(sorted.len() * p / 100).min(last)])
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}
