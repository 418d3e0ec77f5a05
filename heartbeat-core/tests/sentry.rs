//! Sentry Crons over heartbeat's engine, against a loopback server playing
//! Sentry's ingest: envelopes parsed and checked as Sentry reads them.
#![cfg(feature = "sentry")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use heartbeat_core::test::{Receiver, Reply, Request};
use heartbeat_core::{Check, Monitor, RetryPolicy, SentryCrons};
use serde_json::Value;
use support::{PATIENCE, fast};

fn dsn(rx: &Receiver) -> String {
    format!("http://publickey@{}/42", rx.addr())
}

/// An envelope's header, and its items as (item header, payload).
fn envelope(request: &Request) -> (Value, Vec<(Value, Value)>) {
    let mut rest = request.body.as_str();
    let (header, tail) = rest.split_once('\n').expect("an envelope header line");
    rest = tail;
    let mut items = Vec::new();
    while !rest.is_empty() {
        let (item, tail) = rest.split_once('\n').expect("an item header line");
        let item: Value = serde_json::from_str(item).unwrap();
        let length = item["length"].as_u64().expect("a length") as usize;
        let payload: Value = serde_json::from_str(&tail[..length]).unwrap();
        items.push((item, payload));
        rest = tail[length..].strip_prefix('\n').unwrap_or(&tail[length..]);
    }
    (serde_json::from_str(header).unwrap(), items)
}

/// The check-in of each request, in order.
fn check_ins(rx: &Receiver) -> Vec<Value> {
    rx.requests()
        .iter()
        .filter(|r| r.was_answered())
        .map(|r| {
            let (_, items) = envelope(r);
            assert_eq!(items.len(), 1);
            assert_eq!(items[0].0["type"], "check_in");
            items[0].1.clone()
        })
        .collect()
}

#[test]
fn runs_are_paired_check_ins_with_the_monitor_config() {
    let rx = Receiver::start().unwrap();
    let monitor = fast()
        .environment("production")
        .target(SentryCrons::new().dsn(dsn(&rx)))
        .build()
        .unwrap();
    let check = Check::builder("nightly-backup")
        .schedule("0 3 * * *")
        .timezone("Europe/Paris")
        .grace(Duration::from_secs(15 * 60))
        .max_runtime(Duration::from_secs(60 * 60 + 30))
        .failure_tolerance(2)
        .recovery_threshold(3)
        .build()
        .unwrap();
    monitor.start(&check).success();
    monitor.start(&check).fail_message("disk full");
    assert!(monitor.flush_blocking(PATIENCE).is_complete());

    let requests = rx.requests();
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/api/42/envelope/");
        assert_eq!(
            r.header("content-type"),
            Some("application/x-sentry-envelope")
        );
        let auth = r.header("x-sentry-auth").unwrap();
        assert!(
            auth.split([' ', ',']).any(|f| f == "sentry_key=publickey"),
            "{auth}"
        );
        let (header, _) = envelope(r);
        assert!(header["sent_at"].as_str().unwrap().ends_with('Z'));
    }
    let c = check_ins(&rx);
    let statuses: Vec<&str> = c.iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["in_progress", "ok", "in_progress", "error"]);
    // Start and end of a run share the run's id; runs differ.
    assert_eq!(c[0]["check_in_id"], c[1]["check_in_id"]);
    assert_eq!(c[2]["check_in_id"], c[3]["check_in_id"]);
    assert_ne!(c[0]["check_in_id"], c[2]["check_in_id"]);
    assert_eq!(c[0]["check_in_id"].as_str().unwrap().len(), 32);
    assert!(c[0].get("duration").is_none(), "no duration in progress");
    assert!(c[1]["duration"].as_f64().unwrap() >= 0.0);
    for check_in in &c {
        assert_eq!(check_in["monitor_slug"], "nightly-backup");
        assert_eq!(check_in["environment"], "production");
        assert_eq!(
            check_in["monitor_config"],
            serde_json::json!({
                "schedule": {"type": "crontab", "value": "0 3 * * *"},
                "timezone": "Europe/Paris",
                "checkin_margin": 15,
                "max_runtime": 61,
                "failure_issue_threshold": 3,
                "recovery_threshold": 3,
            })
        );
    }
}

/// The only test that binds a client to the main hub (process-wide).
#[test]
fn the_dsn_and_environment_come_from_the_sentry_client_bound_later() {
    let rx = Receiver::start().unwrap();
    // Built before the Sentry client exists, as a `main` may do.
    let monitor = fast().target(SentryCrons::new()).build().unwrap();
    let transport = sentry::test::TestTransport::new();
    let options = sentry::ClientOptions::new()
        .dsn(&dsn(&rx))
        .environment("staging")
        .transport(transport.clone());
    sentry::Hub::main().bind_client(Some(Arc::new(sentry::Client::from(options))));
    monitor
        .start(&Check::new("hourly-report").unwrap())
        .success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let c = check_ins(&rx);
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|c| c["environment"] == "staging"));
    assert!(
        c.iter().all(|c| c.get("monitor_config").is_none()),
        "no schedule, no config"
    );

    // A run over its max runtime: one warning event through that client,
    // and the check-in stays in progress.
    let slow = Check::builder("slow-report")
        .max_runtime(Duration::from_secs(1))
        .build()
        .unwrap();
    let run = monitor.start(&slow);
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut warnings = Vec::new();
    while warnings.is_empty() && std::time::Instant::now() < deadline {
        warnings.extend(transport.fetch_and_clear_envelopes());
        std::thread::sleep(Duration::from_millis(5));
    }
    run.success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    warnings.extend(transport.fetch_and_clear_envelopes());
    assert_eq!(warnings.len(), 1, "one warning per run");
    let event = warnings[0].event().unwrap();
    assert_eq!(event.level, sentry::Level::Warning);
    assert_eq!(event.tags["job"], "slow-report");
    assert!(
        event
            .message
            .as_deref()
            .unwrap()
            .contains("job taking too long")
    );
}

#[test]
fn a_rate_limit_for_monitors_is_waited_out_and_the_check_in_delivered() {
    let rx = Receiver::start().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    rx.set_responder(move |_: &Request| {
        let mut reply = Reply::new(200, "{}");
        if counted.fetch_add(1, SeqCst) == 0 {
            reply.status = 429;
            reply.headers.push((
                "X-Sentry-Rate-Limits".into(),
                "1:monitor:organization".into(),
            ));
        }
        reply
    });
    let monitor = Monitor::builder()
        .retry(RetryPolicy::new(
            Duration::from_millis(10),
            Duration::from_millis(10),
            Duration::from_secs(30),
        ))
        .target(SentryCrons::new().dsn(dsn(&rx)))
        .build()
        .unwrap();
    let run = monitor.start(&Check::new("limited").unwrap());
    rx.wait_until(PATIENCE, |r| r.iter().any(Request::was_answered));
    run.success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let requests = rx.requests();
    // The start was limited; the run's end went once the limit passed, at
    // least the second Sentry asked for after the limited answer.
    let gap = requests[1]
        .received_at
        .duration_since(requests[0].received_at)
        .unwrap();
    assert!(gap >= Duration::from_millis(950), "{gap:?}");
    let stats = monitor.stats();
    assert_eq!((stats.delivered, stats.failed), (1, 0), "{stats:?}");
    assert_eq!(check_ins(&rx).last().unwrap()["status"], "ok");
}

#[test]
fn a_retried_attempt_keeps_the_run_in_progress() {
    let rx = Receiver::start().unwrap();
    let monitor = fast()
        .target(SentryCrons::new().dsn(dsn(&rx)))
        .build()
        .unwrap();
    let check = Check::new("flaky").unwrap();
    let options = heartbeat_core::RunOptions::new().max_attempts(2);
    monitor
        .start_with(&check, options.clone())
        .retry_message("timeout talking to the bank");
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let statuses: Vec<Value> = check_ins(&rx).iter().map(|c| c["status"].clone()).collect();
    assert_eq!(statuses, ["in_progress"]);
}

#[test]
fn a_bad_dsn_is_a_typed_error_that_does_not_echo_it() {
    let err = Monitor::builder()
        .target(SentryCrons::new().dsn("not a dsn with secretkey"))
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Sentry DSN"), "{text}");
    assert!(!text.contains("secretkey"), "{text}");
}

#[derive(Debug)]
struct BackupFailed(std::io::Error);

impl std::fmt::Display for BackupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("nightly backup failed")
    }
}

impl std::error::Error for BackupFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn a_failed_run_is_one_sentry_event_through_the_applications_client() {
    use heartbeat_core::{Priority, SentryEvents};
    use sentry::protocol::{EnvelopeItem, Level};

    let monitor = Monitor::builder()
        .on_finish(SentryEvents::new())
        .build()
        .unwrap();
    let check = Check::builder("nightly-backup")
        .priority(Priority::P1)
        .runbook("https://wiki.example.com/backup")
        .build()
        .unwrap();
    let envelopes = sentry::test::with_captured_envelopes(|| {
        monitor.start(&check).success();
        let run = monitor.start(&check);
        run.log("copied 3 of 5 tables");
        run.fail(&BackupFailed(std::io::Error::other("disk full")));
    });
    assert_eq!(envelopes.len(), 1, "the success sends nothing");
    let event = envelopes[0].event().expect("an event");
    let chain: Vec<(&str, Option<&str>)> = event
        .exception
        .iter()
        .map(|e| (e.ty.as_str(), e.value.as_deref()))
        .collect();
    assert_eq!(
        chain,
        [
            ("Custom", Some("disk full")),
            ("BackupFailed", Some("nightly backup failed")),
        ]
    );
    assert_eq!(event.level, Level::Fatal, "P1");
    assert_eq!(event.tags["job"], "nightly-backup");
    assert_eq!(event.tags["priority"], "P1");
    assert_eq!(event.tags["attempt"], "1");
    assert_eq!(event.tags["run_id"].len(), 36);
    let fingerprint: Vec<&str> = event.fingerprint.iter().map(|f| f.as_ref()).collect();
    assert_eq!(fingerprint, ["heartbeat", "nightly-backup", "BackupFailed"]);
    let runbook = serde_json::to_value(&event.contexts["runbook"]).unwrap();
    assert_eq!(runbook["url"], "https://wiki.example.com/backup");
    let log = envelopes[0]
        .items()
        .find_map(|item| match item {
            EnvelopeItem::Attachment(a) if a.filename == "run.log" => Some(a.buffer.clone()),
            _ => None,
        })
        .expect("the log tail attached as run.log");
    assert!(String::from_utf8_lossy(&log).contains("copied 3 of 5 tables"));
}

#[test]
fn an_exit_status_is_a_message_event_and_p3_a_warning() {
    use heartbeat_core::{Priority, SentryEvents};
    let monitor = Monitor::builder()
        .on_finish(SentryEvents::new())
        .build()
        .unwrap();
    let check = Check::builder("cleanup")
        .priority(Priority::P3)
        .build()
        .unwrap();
    let envelopes = sentry::test::with_captured_envelopes(|| {
        monitor.start(&check).exit_code(3);
    });
    let event = envelopes[0].event().unwrap();
    assert_eq!(
        event.message.as_deref(),
        Some("cleanup: exited with status 3")
    );
    assert_eq!(event.level, sentry::protocol::Level::Warning);
    let fingerprint: Vec<&str> = event.fingerprint.iter().map(|f| f.as_ref()).collect();
    assert_eq!(fingerprint, ["heartbeat", "cleanup", "message"]);
}

/// Sentry down, erroring, rate-limiting or slow: the runs return at once,
/// a short flush keeps its deadline, and once Sentry is back every run's
/// final check-in arrives.
#[test]
fn every_final_check_in_survives_sentry_misbehaving() {
    use heartbeat_core::test::Fault;
    for fault in [
        Fault::Refuse,
        Fault::Status(500),
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
        Fault::Slow(Duration::from_secs(2)),
    ] {
        let rx = Receiver::start().unwrap();
        rx.set_fault(fault.clone());
        let monitor = fast()
            .target(SentryCrons::new().dsn(dsn(&rx)))
            .build()
            .unwrap();
        for i in 0..3 {
            let run = monitor.start(&Check::new(format!("job-{i}")).unwrap());
            if i == 1 {
                run.fail_message("broken");
            } else {
                run.success();
            }
        }
        let deadline = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let report = monitor.flush_blocking(deadline);
        assert!(
            started.elapsed() < deadline + Duration::from_secs(2),
            "{fault:?}: the flush overran its deadline"
        );
        assert!(!report.is_complete(), "{fault:?}: {report}");
        rx.set_fault(Fault::None);
        let report = monitor.flush_blocking(PATIENCE);
        assert!(report.is_complete(), "{fault:?}: {report}");
        let mut finals: Vec<(String, String)> = check_ins(&rx)
            .iter()
            .filter(|c| c["status"] != "in_progress")
            .map(|c| {
                (
                    c["monitor_slug"].as_str().unwrap().to_owned(),
                    c["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        finals.sort();
        finals.dedup();
        assert_eq!(
            finals,
            [
                ("job-0".to_owned(), "ok".to_owned()),
                ("job-1".to_owned(), "error".to_owned()),
                ("job-2".to_owned(), "ok".to_owned()),
            ],
            "{fault:?}"
        );
        assert_eq!(monitor.stats().failed, 0, "{fault:?}");
    }
}

#[test]
fn a_panic_is_one_event_from_the_panic_integration_carrying_the_run() {
    let monitor = Monitor::builder().sentry_events().build().unwrap();
    let check = Check::new("panicky").unwrap();
    let options = sentry::ClientOptions::new()
        .add_integration(sentry::integrations::panic::PanicIntegration::new());
    let envelopes = sentry::test::with_captured_envelopes_options(
        || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _run = monitor.start(&check);
                panic!("index out of range");
            }));
            assert!(outcome.is_err());
            // After the run, the thread's scope no longer carries its tags.
            sentry::capture_message("after the run", sentry::Level::Info);
        },
        options,
    );
    let events: Vec<_> = envelopes.iter().filter_map(|e| e.event()).collect();
    assert_eq!(
        events.len(),
        2,
        "the panic once, then the message: {events:#?}"
    );
    let panic = events[0];
    assert_eq!(panic.tags["job"], "panicky");
    assert_eq!(panic.tags["run_id"].len(), 36);
    assert!(!events[1].tags.contains_key("job"), "{:?}", events[1].tags);
}
