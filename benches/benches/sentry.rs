//! Sentry Crons under a slow endpoint, as the issue's anchor measured
//! sentry-python (32 of 400 check-ins delivered with the endpoint slow):
//! 400 monitors with one run each, the endpoint taking 2 s per request,
//! the process living on until the check-ins are delivered.
//!
//! Prints the job-path cost of a run (start + success) with the Sentry
//! target and, in the same run, with a Healthchecks target; then the
//! fraction of final check-ins delivered and how long it took.
//!
//! ```text
//! cargo bench -p heartbeat-benches --bench sentry
//! ```

use std::time::{Duration, Instant};

use heartbeat_core::test::{Fault, Receiver};
use heartbeat_core::{Check, Healthchecks, Monitor, SentryCrons};

const MONITORS: usize = 400;

/// Runs one run of each check; returns the median cost of a run.
fn runs(monitor: &Monitor, checks: &[Check]) -> Duration {
    let mut times: Vec<Duration> = checks
        .iter()
        .map(|check| {
            let t = Instant::now();
            monitor.start(check).success();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let checks: Vec<Check> = (0..MONITORS)
        .map(|i| Check::new(format!("monitor-{i}")).expect("slug"))
        .collect();

    let hc_rx = Receiver::start().expect("receiver");
    let hc = Monitor::builder()
        .target(Healthchecks::new().ping_url(hc_rx.url()).ping_key("bench"))
        .build()
        .expect("monitor");
    let hc_run = runs(&hc, &checks);

    let rx = Receiver::start().expect("receiver");
    rx.set_fault(Fault::Slow(Duration::from_secs(2)));
    let sentry = Monitor::builder()
        .target(SentryCrons::new().dsn(format!("http://key@{}/1", rx.addr())))
        .build()
        .expect("monitor");
    let started = Instant::now();
    let sentry_run = runs(&sentry, &checks);
    println!(
        "job path, start + success, median of {MONITORS}: Sentry target {sentry_run:?}, Healthchecks target {hc_run:?}"
    );

    // The process lives on: wait until every final check-in is answered.
    let is_final = |body: &str| body.contains("\"status\":\"ok\"");
    let requests = rx.wait_until(Duration::from_secs(600), |requests| {
        requests
            .iter()
            .filter(|r| r.was_answered() && is_final(&r.body))
            .count()
            >= MONITORS
    });
    let delivered = requests
        .iter()
        .filter(|r| r.was_answered() && is_final(&r.body))
        .count();
    println!(
        "endpoint slow (2 s per request): {delivered} of {MONITORS} final check-ins delivered ({:.0} %) in {:.1} s; stats {:?}",
        100.0 * delivered as f64 / MONITORS as f64,
        started.elapsed().as_secs_f64(),
        sentry.stats()
    );
}
