//! The job side of the `cron_case` bench: a fresh process that builds its
//! monitor from the environment, as a cron job does, then times runs.
//!
//! ```text
//! cron_probe <runs> <gap-ms> <mode>
//! ```
//!
//! - `gap`: sleep `gap-ms` before each run, so the delivery worker has gone
//!   back to sleep (the cron case, or a quiet queue).
//! - `unmonitored`: as `gap`, without the run: what the same code costs
//!   anyway after sleeping (cold caches, a CPU leaving its idle state).
//! - `no_thread`: as `gap`, on [`Monitor::log_only`], which has no delivery
//!   thread to wake: the run's own cost after sleeping.
//! - `isolated`: `flush_blocking` right before each run, no gap (the older
//!   `isolated` figure: a worker that has just been active).
//!
//! The first run goes without a gap (its request times the cold start).
//! Prints one line per run: `run <start+success in ns> <unix ns of the start
//! push> <times this thread was switched out meanwhile (Linux; else 0)>`,
//! then flushes and exits.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use heartbeat_core::{Check, Monitor};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let runs: usize = arg(1, "100").parse().expect("runs");
    let gap = Duration::from_millis(arg(2, "10").parse().expect("gap-ms"));
    let mode = arg(3, "gap");
    let isolated = mode == "isolated";
    let unmonitored = mode == "unmonitored";

    let monitor = if mode == "no_thread" {
        Monitor::log_only()
    } else {
        Monitor::from_env().expect("monitor")
    };
    let checks: Vec<Check> = (0..runs)
        .map(|i| Check::new(format!("cron-probe-{i}")).expect("slug"))
        .collect();
    let mut lines = Vec::with_capacity(runs);
    for (i, check) in checks.iter().enumerate() {
        if isolated {
            monitor.flush_blocking(Duration::from_secs(10));
        } else if i > 0 {
            // The first run goes at once: spawn → first request is the cold start.
            std::thread::sleep(gap);
        }
        let switches = context_switches();
        let pushed = SystemTime::now();
        let t = Instant::now();
        if unmonitored {
            // The floor: the same steps with the job's own work only.
            black_box(check.slug().len());
        } else {
            let run = monitor.start(check);
            black_box(check.slug().len());
            run.success();
        }
        let took = t.elapsed();
        let switched = context_switches() - switches;
        let unix = pushed.duration_since(UNIX_EPOCH).unwrap_or_default();
        lines.push(format!(
            "run {} {} {switched}",
            took.as_nanos(),
            unix.as_nanos()
        ));
    }
    println!("{}", lines.join("\n"));
    monitor.flush_blocking(Duration::from_secs(10));
}

/// This thread's context switches so far (voluntary and not), read from
/// /proc outside the timed part; 0 where there is no /proc.
fn context_switches() -> u64 {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.contains("ctxt_switches:"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}
