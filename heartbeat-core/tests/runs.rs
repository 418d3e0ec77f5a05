//! Run guards end to end: pairing under concurrency, panics, cancellation,
//! errors, log tails, max runtime and keepalive, against a real receiver.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use heartbeat_core::test::{Receiver, Request};
use heartbeat_core::{Check, Healthchecks, Monitor};
use support::{PATIENCE, fast};

fn monitor(rx: &Receiver) -> Monitor {
    fast()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("k"))
        .build()
        .unwrap()
}

fn flushed(monitor: &Monitor) {
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{report}");
}

/// The last path segment after `/k/<slug>`: "start", "", "fail", "log", …
fn event(r: &Request) -> String {
    r.path.split('/').nth(3).unwrap_or("").to_owned()
}

fn failures(rx: &Receiver) -> Vec<Request> {
    rx.requests()
        .into_iter()
        .filter(|r| event(r) == "fail")
        .collect()
}

#[derive(Debug, thiserror::Error)]
#[error("sync failed")]
struct SyncFailed(#[source] std::io::Error);

#[test]
fn overlapping_runs_of_one_check_keep_their_own_run_ids() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor(&rx);
    let check = Check::new("busy-job").unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (monitor, check) = (&monitor, &check);
            s.spawn(move || {
                // Each thread holds several runs open at once, finishing them
                // in reverse order, so runs of the check overlap everywhere.
                let runs: Vec<_> = (0..10).map(|_| monitor.start(check)).collect();
                for (i, run) in runs.into_iter().rev().enumerate() {
                    if (t + i) % 3 == 0 {
                        run.fail_message("odd")
                    } else {
                        run.success()
                    }
                }
            });
        }
    });
    flushed(&monitor);
    let mut by_run: HashMap<String, Vec<String>> = HashMap::new();
    for r in rx.requests() {
        by_run
            .entry(r.query("rid").unwrap().to_owned())
            .or_default()
            .push(event(&r));
    }
    // A backlog of runs of one check is coalesced: whole runs are folded,
    // never half of one.
    let folded = monitor.stats().folded;
    assert_eq!(folded % 2, 0, "whole runs fold: {folded}");
    assert_eq!(by_run.len() as u64 + folded / 2, 80, "one run id per run");
    for (rid, events) in by_run {
        assert_eq!(events.len(), 2, "{rid}: {events:?}");
        assert_eq!(events[0], "start", "{rid}: start first, {events:?}");
        assert!(
            events[1].is_empty() || events[1] == "fail",
            "{rid}: {events:?}"
        );
    }
}

#[test]
fn a_panic_is_reported_once_and_resumed() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor(&rx);
    let check = Check::new("panicky").unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        monitor.run_blocking(&check, || -> Result<(), SyncFailed> {
            panic!("boom at row 7")
        })
    }));
    assert!(caught.is_err(), "the panic reaches the caller");
    flushed(&monitor);
    let fails = failures(&rx);
    assert_eq!(fails.len(), 1);
    assert_eq!(fails[0].body, "panicked: boom at row 7");
    assert_eq!(rx.requests().len(), 2);
}

#[test]
fn a_guard_dropped_while_panicking_says_so() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor(&rx);
    let check = Check::new("guarded").unwrap();
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _run = monitor.start(&check);
        panic!("inside the run");
    }));
    flushed(&monitor);
    let fails = failures(&rx);
    assert_eq!(fails.len(), 1);
    assert_eq!(fails[0].body, "panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_error_panic_and_cancellation_each_report_one_failure() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor(&rx);

    let check = Check::new("async-error").unwrap();
    let out = monitor
        .run(&check, async {
            Err::<(), _>(SyncFailed(std::io::Error::other("connection refused")))
        })
        .await;
    assert!(out.is_err(), "the job's own result comes back");

    let check = Check::new("async-panic").unwrap();
    let m = monitor.clone();
    let joined = tokio::spawn(async move {
        m.run(&check, async {
            tokio::task::yield_now().await;
            if check_is_set() {
                panic!("async boom");
            }
        })
        .await
    })
    .await;
    assert!(joined.unwrap_err().is_panic());

    let check = Check::new("async-cancelled").unwrap();
    let slow = monitor.run(&check, async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(50), slow)
            .await
            .is_err()
    );

    let check = Check::new("async-ok").unwrap();
    assert_eq!(
        monitor
            .run(&check, async { Ok::<_, SyncFailed>(7) })
            .await
            .unwrap(),
        7
    );

    let m = monitor.clone();
    tokio::task::spawn_blocking(move || flushed(&m))
        .await
        .unwrap();
    let mut fails: Vec<_> = failures(&rx)
        .into_iter()
        .map(|r| (r.path, r.body))
        .collect();
    fails.sort();
    assert_eq!(
        fails,
        [
            ("/k/async-cancelled/fail".to_owned(), "cancelled".to_owned()),
            (
                "/k/async-error/fail".to_owned(),
                "sync failed: connection refused".to_owned()
            ),
            (
                "/k/async-panic/fail".to_owned(),
                "panicked: async boom".to_owned()
            ),
        ]
    );
    let ok: Vec<_> = rx
        .requests()
        .into_iter()
        .filter(|r| r.path == "/k/async-ok")
        .collect();
    assert_eq!(ok.len(), 1);
}

#[test]
fn exit_code_outputs_and_unit_outputs() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor(&rx);
    assert_eq!(
        monitor.run_blocking(&Check::new("script").unwrap(), || 3),
        3
    );
    monitor.run_blocking(&Check::new("unit").unwrap(), || ());
    flushed(&monitor);
    let paths: Vec<_> = rx.requests().into_iter().map(|r| r.path).collect();
    assert!(paths.contains(&"/k/script/3".to_owned()), "{paths:?}");
    assert!(paths.contains(&"/k/unit".to_owned()), "{paths:?}");
}

#[test]
fn log_tail_and_runbook_go_with_the_failure() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor(&rx);
    let check = Check::builder("etl")
        .runbook("https://wiki.example.com/runbooks/etl")
        .build()
        .unwrap();
    let run = monitor.start(&check);
    for i in 0..5000 {
        run.log(format_args!("processed batch {i}"));
    }
    run.fail_message("batch 5000 rejected");
    flushed(&monitor);
    let fail = &failures(&rx)[0];
    assert!(
        fail.body
            .starts_with("batch 5000 rejected\nrunbook: https://wiki.example.com/runbooks/etl\n\n"),
        "{}",
        &fail.body[..200]
    );
    assert!(fail.body.ends_with("processed batch 4999\n"));
    assert!(
        !fail.body.contains("processed batch 0\n"),
        "only the tail is kept"
    );
    assert!(fail.body.len() <= heartbeat_core::LOG_TAIL_BYTES + 200);
}

#[test]
fn max_runtime_is_signalled_once_without_ending_the_run() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor(&rx);
    let check = Check::builder("slow-job")
        .max_runtime(Duration::from_millis(200))
        .build()
        .unwrap();
    let quick = monitor.start(&check);
    quick.success();
    let run = monitor.start(&check);
    // Wait (on the receiver, not a clock) for the signal, then some more.
    let got = rx.wait_until(PATIENCE, |r| r.iter().any(|r| r.path.ends_with("/log")));
    assert!(got.iter().any(|r| r.path.ends_with("/log")));
    std::thread::sleep(Duration::from_millis(600));
    run.success();
    flushed(&monitor);
    let requests = rx.requests();
    let logs: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("/log"))
        .collect();
    assert_eq!(logs.len(), 1, "once per run, and not for the quick run");
    assert!(
        logs[0].body.contains("over its max runtime"),
        "{}",
        logs[0].body
    );
    let rid = logs[0].query("rid").unwrap();
    let same_run: Vec<_> = requests
        .iter()
        .filter(|r| r.query("rid") == Some(rid))
        .map(event)
        .collect();
    assert_eq!(
        same_run,
        ["start", "log", ""],
        "the run went on and succeeded"
    );
}

#[test]
fn keepalive_pings_while_progressing_and_stops_when_stuck() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor(&rx);
    let check = Check::new("consumer").unwrap();
    let every = Duration::from_millis(150);
    let alive = monitor.keepalive(&check, every);
    // Progress until three heartbeats arrived.
    loop {
        alive.progress();
        if rx.requests().len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Stuck: once the tick covering the last progress is in, nothing more
    // is sent. Wait for the count to settle (bounded), then watch it stay.
    let mut stuck_at = rx.requests().len();
    for _ in 0..20 {
        std::thread::sleep(every * 4);
        let now = rx.requests().len();
        if now == stuck_at {
            break;
        }
        stuck_at = now;
    }
    std::thread::sleep(every * 6);
    assert_eq!(
        rx.requests().len(),
        stuck_at,
        "no heartbeat without progress"
    );
    // Progress resumes, heartbeats resume.
    alive.progress();
    let resumed = rx.wait_for_requests(stuck_at + 1, PATIENCE);
    assert_eq!(resumed.len(), stuck_at + 1);
    for r in &resumed {
        assert_eq!(r.path, "/k/consumer", "a plain success ping");
        assert_eq!(r.query("rid"), None, "heartbeats are not runs");
    }
    drop(alive);
    std::thread::sleep(every * 4);
    let after_drop = rx.requests().len();
    std::thread::sleep(every * 4);
    assert_eq!(
        rx.requests().len(),
        after_drop,
        "dropping the guard stops it"
    );
}

#[test]
fn keepalive_regardless_of_progress() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor(&rx);
    let _alive = monitor
        .keepalive(&Check::new("ticker").unwrap(), Duration::from_millis(100))
        .regardless_of_progress();
    assert_eq!(rx.wait_for_requests(3, PATIENCE).len(), 3);
}

/// Keeps the compiler from seeing a future that can only panic (whose output
/// type would be `!`).
fn check_is_set() -> bool {
    std::hint::black_box(true)
}

#[test]
fn huge_durations_mean_no_limit_not_a_panic() {
    let rx = Receiver::start().unwrap();
    let monitor = fast()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("k"))
        .shutdown_timeout(Duration::MAX)
        .retry(heartbeat_core::RetryPolicy::new(
            Duration::from_millis(20),
            Duration::MAX,
            Duration::MAX,
        ))
        .build()
        .unwrap();
    let check = Check::builder("forever")
        .max_runtime(Duration::MAX)
        .build()
        .unwrap();
    let _alive = monitor.keepalive(&check, Duration::MAX);
    let error = heartbeat_core::test::Fault::Status(500);
    rx.push_faults([error.clone(), error]);
    monitor.start(&check).success();
    assert!(monitor.flush_blocking(Duration::MAX).is_complete());
    // The start fails and gives way to the final, which fails once and is
    // retried after a backoff whose cap is `Duration::MAX`.
    let paths: Vec<String> = rx
        .wait_for_requests(3, PATIENCE)
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(paths, ["/k/forever/start", "/k/forever", "/k/forever"]);
}

/// Built, used, flushed and dropped inside a current-thread runtime: the
/// delivery thread owns its own runtime, so nothing here blocks the caller's
/// runtime or panics with "cannot drop a runtime in an async context".
#[tokio::test(flavor = "current_thread")]
async fn works_inside_a_current_thread_runtime() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor(&rx);
    let check = Check::new("in-runtime").unwrap();
    let out = monitor
        .run(&check, async {
            tokio::task::yield_now().await;
            Ok::<_, SyncFailed>(1)
        })
        .await;
    assert_eq!(out.unwrap(), 1);
    assert!(monitor.flush(PATIENCE).await.is_complete());
    assert_eq!(rx.requests().len(), 2);
    monitor.start(&check).success();
    drop(monitor.flush_on_drop(PATIENCE)); // a blocking flush, from async code
    assert_eq!(rx.requests().len(), 4);
    drop(monitor);
}

#[test]
fn handles_are_send_and_sync() {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<Monitor>();
    shared_across_threads::<Check>();
    shared_across_threads::<heartbeat_core::RunGuard>();
    shared_across_threads::<heartbeat_core::Keepalive>();
    shared_across_threads::<heartbeat_core::FlushGuard>();
    shared_across_threads::<heartbeat_core::test::Receiver>();
}
