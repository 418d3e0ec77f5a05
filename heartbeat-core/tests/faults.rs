//! Every HTTP target against every fault: the job's result is unchanged,
//! nothing panics, no run waits on the network, final events arrive once the
//! service recovers, retries respect backoff and Retry-After, rejections are
//! not retried, and flush returns within its deadline.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use heartbeat_core::test::{Fault, Receiver, Request};
use heartbeat_core::{Check, Cronitor, Healthchecks, Monitor, MonitorBuilder, UrlTemplate};
use support::{LogCapture, PATIENCE, fast};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Healthchecks,
    Cronitor,
    BetterStack,
    DeadMansSnitch,
    UptimeKuma,
    Cronhub,
}

const KINDS: [Kind; 6] = [
    Kind::Healthchecks,
    Kind::Cronitor,
    Kind::BetterStack,
    Kind::DeadMansSnitch,
    Kind::UptimeKuma,
    Kind::Cronhub,
];

fn with_target(b: MonitorBuilder, kind: Kind, rx: &Receiver) -> Monitor {
    let template = |t: UrlTemplate| t.base_url(rx.url());
    match kind {
        Kind::Healthchecks => b.target(Healthchecks::new().ping_url(rx.url()).ping_key("pk")),
        Kind::Cronitor => b.target(Cronitor::new("ck").ping_url(rx.url())),
        Kind::BetterStack => b.target(template(UrlTemplate::better_stack())),
        Kind::DeadMansSnitch => b.target(template(UrlTemplate::dead_mans_snitch())),
        Kind::UptimeKuma => b.target(template(UrlTemplate::uptime_kuma("unused"))),
        Kind::Cronhub => b.target(template(UrlTemplate::cronhub())),
    }
    .build()
    .unwrap()
}

fn check() -> Check {
    let mut b = Check::builder("faulty-job");
    for target in ["betterstack", "deadmanssnitch", "uptimekuma", "cronhub"] {
        b = b.target_id(target, "tok");
    }
    b.build().unwrap()
}

/// Whether this service gets a ping when a run starts.
fn has_start(kind: Kind) -> bool {
    matches!(kind, Kind::Healthchecks | Kind::Cronitor | Kind::Cronhub)
}

/// The run id a request belongs to (services without one: `None`), and
/// whether it is a final event.
fn classify(kind: Kind, r: &Request) -> (Option<String>, bool) {
    match kind {
        Kind::Healthchecks => (
            r.query("rid").map(str::to_owned),
            !r.path.ends_with("/start"),
        ),
        Kind::Cronitor => (
            r.query("series").map(str::to_owned),
            r.query("state") != Some("run"),
        ),
        Kind::Cronhub => (None, !r.path.starts_with("/start/")),
        // No run id and no start ping: every request is final.
        Kind::BetterStack | Kind::DeadMansSnitch | Kind::UptimeKuma => (None, true),
    }
}

/// Three jobs, each returning its own result through the monitoring.
fn run_jobs(monitor: &Monitor) -> Vec<Result<u32, String>> {
    let check = check();
    let mut results = Vec::new();
    for i in 0..3u32 {
        let run = monitor.start(&check);
        let result = if i == 1 {
            Err(format!("job {i} failed"))
        } else {
            Ok(i * 10)
        };
        match &result {
            Ok(_) if i == 2 => run.exit_code(0),
            Ok(_) => run.success(),
            Err(e) => run.fail_message(e.clone()),
        }
        results.push(result);
    }
    results
}

/// The shared scenario: fault, jobs, bounded flush, recovery, full delivery.
fn survive(kind: Kind, standing: Option<Fault>, scripted: Vec<Fault>) -> Vec<Request> {
    let rx = Receiver::start().unwrap();
    if let Some(f) = standing.clone() {
        rx.set_fault(f);
    }
    rx.push_faults(scripted);
    let monitor = with_target(fast(), kind, &rx);

    if standing == Some(Fault::Hang) {
        // Hold one request open, then run the jobs: they complete while the
        // service still holds it, so no run waits on the network.
        let _held = monitor.start(&check());
        if has_start(kind) {
            assert!(rx.wait_for_held(1, PATIENCE), "{kind:?}: nothing held");
        }
    }
    let results = run_jobs(&monitor);
    assert_eq!(
        results,
        [Ok(0), Err("job 1 failed".into()), Ok(20)],
        "{kind:?}"
    );
    if standing == Some(Fault::Hang) && has_start(kind) {
        assert!(
            rx.held() >= 1,
            "{kind:?}: the runs finished while a request was held"
        );
    }

    // A flush during the outage returns by its deadline and says what is missing.
    if standing.is_some() && standing != Some(Fault::Slow(Duration::from_millis(50))) {
        let deadline = Duration::from_millis(300);
        let t = Instant::now();
        let report = monitor.flush_blocking(deadline);
        assert!(
            t.elapsed() < deadline + Duration::from_secs(2),
            "{kind:?}: flush overran"
        );
        assert!(!report.is_complete(), "{kind:?} {standing:?}: {report}");
    }

    rx.set_fault(Fault::None);
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{kind:?} {standing:?}: {report}");
    let stats = monitor.stats();
    assert_eq!(stats.failed, 0, "{kind:?} {standing:?}: {stats:?}");
    assert_eq!(stats.dropped, 0, "{kind:?}: {stats:?}");

    let requests = rx.requests();
    let answered: Vec<_> = requests.iter().filter(|r| r.was_answered()).collect();
    let finals = answered.iter().filter(|r| classify(kind, r).1).count();
    assert!(
        finals >= 3,
        "{kind:?} {standing:?}: {finals} final events answered"
    );
    // Per run: the start reached the service before the final event.
    let mut seen: HashMap<String, Vec<bool>> = HashMap::new();
    for r in &answered {
        if let (Some(id), is_final) = classify(kind, r) {
            seen.entry(id).or_default().push(is_final);
        }
    }
    for (id, events) in seen {
        if events.len() == 2 {
            assert_eq!(events, [false, true], "{kind:?}: run {id} out of order");
        }
    }
    requests
}

#[test]
fn refused() {
    for kind in KINDS {
        survive(kind, Some(Fault::Refuse), vec![]);
    }
}

#[test]
fn hanging() {
    for kind in KINDS {
        survive(kind, Some(Fault::Hang), vec![]);
    }
}

#[test]
fn slow() {
    for kind in KINDS {
        survive(kind, Some(Fault::Slow(Duration::from_millis(50))), vec![]);
    }
}

#[test]
fn server_errors() {
    for kind in KINDS {
        survive(kind, Some(Fault::Status(500)), vec![]);
    }
}

#[test]
fn connection_reset() {
    for kind in KINDS {
        survive(kind, Some(Fault::Reset), vec![]);
    }
}

#[test]
fn malformed_response() {
    for kind in KINDS {
        survive(kind, Some(Fault::Malformed), vec![]);
    }
}

/// One run against scripted faults, its first event retried through them
/// before the run finishes (a final event ready behind it would take its
/// place); with a single run every attempt of that event has the same URL,
/// so retries are unambiguous even for services without a run id.
fn single_run(kind: Kind, scripted: Vec<Fault>) -> Vec<Request> {
    let rx = Receiver::start().unwrap();
    rx.push_faults(scripted);
    let monitor = with_target(fast(), kind, &rx);
    let run = monitor.start(&check());
    if has_start(kind) {
        rx.wait_until(PATIENCE, |r| r.iter().any(Request::was_answered));
    }
    run.success();
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{kind:?}: {report}");
    assert_eq!(monitor.stats().failed, 0, "{kind:?}");
    rx.requests()
}

fn gap(a: &Request, b: &Request) -> Duration {
    b.received_at
        .duration_since(a.received_at)
        .unwrap_or_default()
}

#[test]
fn unavailable_then_recovery_with_backoff() {
    for kind in KINDS {
        survive(kind, None, vec![Fault::Status(503); 4]);
        let r = single_run(kind, vec![Fault::Status(503); 4]);
        // Four 503s, then the same request succeeds; retry k waits at least
        // half of its step (20 ms doubling, "equal jitter").
        assert!(r.len() >= 5, "{kind:?}: {} requests", r.len());
        for k in 1..5 {
            assert_eq!(
                (&r[k].path, &r[k].query),
                (&r[0].path, &r[0].query),
                "{kind:?}"
            );
            let min = Duration::from_millis(10 << (k - 1));
            let got = gap(&r[k - 1], &r[k]);
            assert!(
                got >= min,
                "{kind:?}: retry {k} after {got:?}, expected at least {min:?}"
            );
        }
        assert!(r[4].was_answered() && !r[3].was_answered(), "{kind:?}");
    }
}

#[test]
fn rate_limited_honours_retry_after() {
    for kind in KINDS {
        survive(
            kind,
            None,
            vec![Fault::TooManyRequests {
                retry_after_secs: 1,
            }],
        );
        let r = single_run(
            kind,
            vec![Fault::TooManyRequests {
                retry_after_secs: 1,
            }],
        );
        assert_eq!(
            (&r[1].path, &r[1].query),
            (&r[0].path, &r[0].query),
            "{kind:?}"
        );
        let got = gap(&r[0], &r[1]);
        assert!(
            got >= Duration::from_millis(950),
            "{kind:?}: retried after {got:?}"
        );
    }
}

#[test]
fn client_errors_are_not_retried_and_logged_once() {
    let logs = LogCapture::default();
    logs.install_global();
    for kind in KINDS {
        let rx = Receiver::start().unwrap();
        rx.set_fault(Fault::Status(404));
        let monitor = with_target(fast(), kind, &rx);
        let results = run_jobs(&monitor);
        assert_eq!(results.len(), 3);
        let report = monitor.flush_blocking(PATIENCE);
        assert!(report.is_complete(), "{report}");
        let sent = rx.requests().len();
        let expected = if has_start(kind) { 6 } else { 3 };
        assert_eq!(sent, expected, "{kind:?}: one request per event, no retry");
        let stats = monitor.stats();
        assert_eq!(
            (stats.failed, stats.retried),
            (expected as u64, 0),
            "{kind:?}"
        );
    }
    // Every service rejected every ping of the check, and each said so once.
    let text = logs.text();
    let rejections: Vec<_> = text
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("rejected") && l.contains("faulty-job"))
        .collect();
    assert_eq!(rejections.len(), KINDS.len(), "{rejections:#?}");
}

#[test]
fn body_limit_smaller_than_the_body() {
    let rx = Receiver::start().unwrap();
    rx.set_header("Ping-Body-Limit", "40");
    let monitor = with_target(fast(), Kind::Healthchecks, &rx);
    let run = monitor.start(&check());
    run.fail_message(format!("failed: {}", "y".repeat(500)));
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let fail = rx
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/fail"))
        .unwrap();
    assert!(
        fail.body.len() <= 40 && fail.body.starts_with("failed: y"),
        "{:?}",
        fail.body
    );
}

#[test]
fn overflow_keeps_final_events_and_counts_drops() {
    let rx = Receiver::start().unwrap();
    rx.set_fault(Fault::Refuse);
    let monitor = with_target(fast().queue_capacity(8), Kind::Healthchecks, &rx);
    let check = check();
    for _ in 0..500 {
        monitor.start(&check).success();
    }
    let stats = monitor.stats();
    assert!(stats.dropped > 0, "{stats:?}");
    rx.set_fault(Fault::None);
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let answered: Vec<_> = rx
        .requests()
        .into_iter()
        .filter(Request::was_answered)
        .collect();
    // The newest run's final event is never the one dropped (the queue
    // evicts starts first, then the oldest finals), and coalescing keeps
    // the newest run: the service's last word is that final.
    let last = answered.last().expect("something was delivered");
    assert!(!last.path.ends_with("/start"), "{last:?}");
    let stats = monitor.stats();
    // Every queued event was delivered, folded into a newer run, or (a
    // start waiting to be retried) superseded by its run's final event.
    assert_eq!(
        stats.queued,
        stats.delivered + stats.folded + stats.superseded,
        "{stats:?}"
    );
    assert_eq!(stats.queued + stats.dropped, 1000, "{stats:?}");
}

#[test]
fn dropping_the_monitor_while_hanging_returns_after_its_shutdown_timeout() {
    let rx = Receiver::start().unwrap();
    rx.set_fault(Fault::Hang);
    let builder = fast().shutdown_timeout(Duration::from_millis(200));
    let monitor = with_target(builder, Kind::Healthchecks, &rx);
    monitor.start(&check()).success();
    assert!(rx.wait_for_held(1, PATIENCE));
    // Waits up to the shutdown timeout for the pending pings, then warns
    // and returns: a hanging service never holds a program's exit for long.
    drop(monitor);
}
