//! Every HTTP target against every fault: the job's result is unchanged,
//! nothing panics, no run waits on the network, final events arrive once the
//! service recovers, retries respect backoff and Retry-After, rejections are
//! not retried, and flush returns within its deadline.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use heartbeat_core::test::{Fault, Receiver, Request};
use heartbeat_core::{Check, Cronitor, Healthchecks, Monitor, MonitorBuilder, UrlTemplate};
use support::{PATIENCE, fast};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Healthchecks,
    Cronitor,
    BetterStack,
}

const KINDS: [Kind; 3] = [Kind::Healthchecks, Kind::Cronitor, Kind::BetterStack];

fn with_target(b: MonitorBuilder, kind: Kind, rx: &Receiver) -> Monitor {
    match kind {
        Kind::Healthchecks => b.healthchecks(Healthchecks::new().ping_url(rx.url()).ping_key("pk")),
        Kind::Cronitor => b.cronitor(Cronitor::new("ck").ping_url(rx.url())),
        Kind::BetterStack => b.url_template(UrlTemplate::better_stack().base_url(rx.url())),
    }
    .build()
    .unwrap()
}

fn check() -> Check {
    Check::builder("faulty-job")
        .target_id("betterstack", "tok")
        .build()
        .unwrap()
}

/// The run id a request belongs to, and whether it is a final event.
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
        // Better Stack has no run id and no start ping: every request is final.
        Kind::BetterStack => (None, true),
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
        let _held = monitor.start(&Check::new("holder").unwrap());
        if !matches!(kind, Kind::BetterStack) {
            assert!(rx.wait_for_held(1, PATIENCE), "{kind:?}: nothing held");
        }
    }
    let results = run_jobs(&monitor);
    assert_eq!(
        results,
        [Ok(0), Err("job 1 failed".into()), Ok(20)],
        "{kind:?}"
    );
    if standing == Some(Fault::Hang) && !matches!(kind, Kind::BetterStack) {
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

#[test]
fn unavailable_then_recovery_with_backoff() {
    for kind in KINDS {
        let requests = survive(kind, None, vec![Fault::Status(503); 4]);
        // The first four attempts failed, and each retry waited at least the
        // jittered minimum of its backoff step (20 ms doubling, half fixed).
        let t: Vec<_> = requests.iter().map(|r| r.received_at).collect();
        assert!(requests.len() >= 4 + 3, "{kind:?}");
        let mut retries_checked = 0;
        for (i, r) in requests.iter().enumerate().take(4) {
            // Find the retry of this exact request: same path and query.
            if let Some(j) = requests[i + 1..]
                .iter()
                .position(|n| n.path == r.path && n.query == r.query)
            {
                let gap = t[i + 1 + j].duration_since(t[i]).unwrap_or_default();
                assert!(
                    gap >= Duration::from_millis(10),
                    "{kind:?}: retry after {gap:?}"
                );
                retries_checked += 1;
            }
        }
        assert!(retries_checked >= 1, "{kind:?}");
    }
}

#[test]
fn rate_limited_honours_retry_after() {
    for kind in KINDS {
        let requests = survive(
            kind,
            None,
            vec![Fault::TooManyRequests {
                retry_after_secs: 1,
            }],
        );
        let first = &requests[0];
        let retry = requests[1..]
            .iter()
            .find(|n| n.path == first.path && n.query == first.query)
            .expect("the rate-limited ping was retried");
        let gap = retry.received_at.duration_since(first.received_at).unwrap();
        assert!(
            gap >= Duration::from_millis(950),
            "{kind:?}: retried after {gap:?}"
        );
    }
}

#[test]
fn client_errors_are_not_retried() {
    for kind in KINDS {
        let rx = Receiver::start().unwrap();
        rx.set_fault(Fault::Status(404));
        let monitor = with_target(fast(), kind, &rx);
        let results = run_jobs(&monitor);
        assert_eq!(results.len(), 3);
        let report = monitor.flush_blocking(PATIENCE);
        assert!(report.is_complete(), "{report}");
        let sent = rx.requests().len();
        let expected = if matches!(kind, Kind::BetterStack) {
            3
        } else {
            6
        };
        assert_eq!(sent, expected, "{kind:?}: one request per event, no retry");
        let stats = monitor.stats();
        assert_eq!(
            (stats.failed, stats.retried),
            (expected as u64, 0),
            "{kind:?}"
        );
    }
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
    let starts = answered
        .iter()
        .filter(|r| r.path.ends_with("/start"))
        .count();
    let finals = answered.len() - starts;
    assert!(finals > starts, "{finals} finals vs {starts} starts kept");
    let stats = monitor.stats();
    assert_eq!(stats.queued, stats.delivered, "{stats:?}");
    assert_eq!(stats.queued + stats.dropped, 1000, "{stats:?}");
}

#[test]
fn dropping_the_monitor_while_hanging_does_not_block() {
    let rx = Receiver::start().unwrap();
    rx.set_fault(Fault::Hang);
    let monitor = with_target(fast(), Kind::Healthchecks, &rx);
    monitor.start(&check()).success();
    assert!(rx.wait_for_held(1, PATIENCE));
    drop(monitor); // returns at once; the worker gives up after its shutdown timeout
}
