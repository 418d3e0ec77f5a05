//! What a short process meets when its service misbehaves: a failing start
//! never holds back its run's outcome, a flush does not wait for retries
//! that fall after its deadline, and what is left at exit is counted.

mod support;

use std::time::Duration;

use heartbeat_core::test::{Fault, Receiver, Reply, Request};
use heartbeat_core::{Check, FlushEnd, Healthchecks, Monitor, MonitorBuilder, RetryPolicy};
use support::{PATIENCE, fast};

fn healthchecks(builder: MonitorBuilder, rx: &Receiver) -> Monitor {
    builder
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("key"))
        .build()
        .unwrap()
}

#[test]
fn a_standing_500_on_starts_still_delivers_every_final_ping() {
    let rx = Receiver::start().unwrap();
    rx.set_responder(|r: &Request| {
        if r.path.ends_with("/start") {
            Reply::new(500, "start endpoint broken")
        } else {
            Reply::new(200, "OK")
        }
    });
    let monitor = healthchecks(fast(), &rx);
    let checks: Vec<Check> = (0..5)
        .map(|i| Check::new(format!("outage-{i}")).unwrap())
        .collect();
    for (i, check) in checks.iter().enumerate() {
        let run = monitor.start(check);
        if i % 2 == 0 {
            run.success();
        } else {
            run.fail_message("disk full");
        }
    }
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{report}");
    let finals: Vec<String> = rx
        .requests()
        .into_iter()
        .filter(|r| r.was_answered() && !r.path.ends_with("/start"))
        .map(|r| r.path)
        .collect();
    for (i, check) in checks.iter().enumerate() {
        let path = match i % 2 {
            0 => format!("/key/{}", check.slug()),
            _ => format!("/key/{}/fail", check.slug()),
        };
        assert!(finals.contains(&path), "{path} missing from {finals:?}");
    }
    let stats = monitor.stats();
    assert_eq!((stats.delivered, stats.superseded), (5, 5), "{stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");
}

#[test]
fn a_start_in_flight_is_not_superseded_by_its_final() {
    let rx = Receiver::start().unwrap();
    // The start is answered late; its run finishes meanwhile.
    rx.push_faults([Fault::Slow(Duration::from_millis(300))]);
    let monitor = healthchecks(fast(), &rx);
    let run = monitor.start(&Check::new("in-flight").unwrap());
    // The receiver has read the start: its request is in flight.
    rx.wait_until(PATIENCE, |r| !r.is_empty());
    run.success();
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{report}");
    let requests = rx.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/key/in-flight/start", "/key/in-flight"]);
    assert_eq!(monitor.stats().superseded, 0);
}

/// The default policy: a first retry 0.5–1 s after a failure, doubling.
fn default_policy() -> MonitorBuilder {
    Monitor::builder().retry(RetryPolicy::default())
}

#[test]
fn a_flush_returns_once_the_next_retry_falls_after_its_deadline() {
    let rx = Receiver::start().unwrap();
    rx.set_fault(Fault::Refuse);
    let monitor = healthchecks(default_policy(), &rx);
    monitor.start(&Check::new("refused").unwrap()).success();
    let deadline = Duration::from_secs(5);
    let report = monitor.flush_blocking(deadline);
    let FlushEnd::NothingDueBeforeDeadline { next_attempt_in } = report.ended else {
        panic!("expected an early return: {report}");
    };
    assert!(next_attempt_in > Duration::ZERO, "{report}");
    assert!(!report.is_complete(), "{report}");
    assert!(
        report.to_string().contains("returned early"),
        "the report says why: {report}"
    );
    // Not at exit: the monitor keeps retrying.
    assert_eq!(report.stats.abandoned, 0, "{report}");
    rx.set_fault(Fault::None);
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let stats = monitor.stats();
    assert_eq!((stats.delivered, stats.superseded), (1, 1), "{stats:?}");
}

#[test]
fn an_exit_flush_counts_what_it_abandons() {
    let rx = Receiver::start().unwrap();
    rx.set_fault(Fault::Refuse);
    let monitor = healthchecks(default_policy(), &rx);
    for slug in ["exit-a", "exit-b"] {
        monitor.start(&Check::new(slug).unwrap()).success();
    }
    drop(monitor.flush_on_drop(Duration::from_secs(5)));
    let stats = monitor.stats();
    // Both finals abandoned (their starts gave way to them); nothing pending.
    assert_eq!(stats.abandoned, 2, "{stats:?}");
    assert_eq!(stats.superseded, 2, "{stats:?}");
    assert_eq!(stats.pending, 0, "{stats:?}");
    // Monitoring has ended: a later run is logged, and counted as dropped.
    monitor.start(&Check::new("exit-c").unwrap()).success();
    assert_eq!(monitor.stats().dropped, 2);
}
