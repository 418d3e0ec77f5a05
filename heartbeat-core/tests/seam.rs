//! The public seam that integrations plug into: custom targets, run options
//! and attempts, "will be retried" and "interrupted", hooks with the typed
//! error, the one-expression `run!` for every common output type, the
//! current run, and the tracing layer.

mod support;

use heartbeat_core::test::{Receiver, Recorder, Request};
use heartbeat_core::{
    Check, ConfigError, Cronitor, Event, EventKind, Healthchecks, Monitor, Outcome, RunFinish,
    RunId, RunOptions, RunStart, UrlTemplate, Verdict,
};
use std::sync::{Arc, Mutex};
use support::{PATIENCE, fast};

fn flushed(monitor: &Monitor) {
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{report}");
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind().clone()).collect()
}

/// A monitor with one recorder; the recorder keeps every event.
fn recorded() -> (Monitor, Recorder) {
    let recorder = Recorder::new();
    let monitor = fast().target(recorder.clone()).build().unwrap();
    (monitor, recorder)
}

#[derive(Debug, thiserror::Error)]
#[error("sync failed")]
struct SyncFailed(#[source] std::io::Error);

fn sync_failed() -> SyncFailed {
    SyncFailed(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "connection refused",
    ))
}

#[test]
fn a_retried_attempt_is_a_message_never_a_failure() {
    let hc = Receiver::start().unwrap();
    let cronitor = Receiver::start().unwrap();
    let stack = Receiver::start().unwrap();
    let monitor = fast()
        .target(Healthchecks::new().ping_url(hc.url()).ping_key("k"))
        .target(
            Cronitor::new("key")
                .ping_url(cronitor.url())
                .sync_monitors(false),
        )
        .target(UrlTemplate::better_stack().base_url(stack.url()))
        .build()
        .unwrap();
    let check = Check::builder("import")
        .target_id("betterstack", "tok")
        .build()
        .unwrap();
    let run_id = RunId::new();
    let options = |attempt| {
        RunOptions::new()
            .run_id(run_id)
            .attempt(attempt)
            .max_attempts(3)
    };
    let first = monitor.start_with(&check, options(1));
    assert_eq!(first.run_id(), run_id);
    first.retry(&sync_failed());
    monitor.start_with(&check, options(2)).success();
    flushed(&monitor);

    // Healthchecks: start, log (with the reason), start, success, one rid.
    let hc = hc.requests();
    let paths: Vec<&str> = hc.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/k/import/start",
            "/k/import/log",
            "/k/import/start",
            "/k/import"
        ]
    );
    assert!(
        hc.iter()
            .all(|r| r.query("rid") == Some(&run_id.to_string()[..]))
    );
    assert_eq!(
        hc[1].body,
        "attempt 1 of 3 failed, will be retried: sync failed: connection refused"
    );
    // Cronitor: run, run with the message, run, complete; never fail.
    let cronitor = cronitor.requests();
    let states: Vec<Option<&str>> = cronitor.iter().map(|r| r.query("state")).collect();
    assert_eq!(
        states,
        [Some("run"), Some("run"), Some("run"), Some("complete")]
    );
    let message = cronitor[1].query("message");
    assert!(
        message.is_some_and(|m| m.starts_with("attempt 1 of 3 failed, will be retried")),
        "{message:?}"
    );
    // Better Stack keeps no messages: only the final success.
    let stack: Vec<String> = stack.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(stack, ["/api/v1/heartbeat/tok"]);
}

#[test]
fn a_retry_on_the_last_attempt_is_the_failure() {
    let (monitor, recorder) = recorded();
    let check = Check::new("import").unwrap();
    let options = RunOptions::new().attempt(3).max_attempts(3);
    monitor.start_with(&check, options).retry(&sync_failed());
    flushed(&monitor);
    let events = recorder.events();
    assert_eq!(kinds(&events), [EventKind::Start, EventKind::Fail]);
    assert_eq!(events[1].attempt(), 3);
    assert_eq!(events[1].max_attempts(), Some(3));
}

#[test]
fn interrupted_runs_send_no_failure() {
    let (monitor, recorder) = recorded();
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let seen = outcomes.clone();
    let monitor_with_hook = fast()
        .target(recorder.clone())
        .on_finish(move |run: &RunFinish<'_>| seen.lock().unwrap().push(run.outcome().clone()))
        .build()
        .unwrap();
    drop(monitor);
    let check = Check::new("consumer").unwrap();

    monitor_with_hook.start(&check).interrupted();
    // Before a shutdown, a dropped guard is a cancellation (a failure)…
    drop(monitor_with_hook.start(&check));
    // …after it, an interruption.
    monitor_with_hook.shutdown();
    assert!(monitor_with_hook.is_shutting_down());
    drop(monitor_with_hook.start(&check));
    flushed(&monitor_with_hook);

    assert_eq!(
        kinds(&recorder.events()),
        [
            EventKind::Start,
            EventKind::Start,
            EventKind::Fail,
            EventKind::Start
        ]
    );
    assert_eq!(
        *outcomes.lock().unwrap(),
        [
            Outcome::Interrupted,
            Outcome::Failure("cancelled".into()),
            Outcome::Interrupted
        ]
    );
}

/// What a finish hook saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    outcome: Option<Outcome>,
    error_is_sync_failed: bool,
    chain: Vec<String>,
    attempt: u32,
    max_attempts: Option<u32>,
    panic: Option<String>,
    started_with: Option<&'static str>,
    log: String,
}

fn hooked() -> (Monitor, Recorder, Arc<Mutex<Vec<Seen>>>) {
    let recorder = Recorder::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let monitor = fast()
        .target(recorder.clone())
        .on_start(|run: &mut RunStart<'_>| {
            if run.attempt() == 2 {
                run.insert("second attempt");
            }
        })
        .on_finish(move |run: &RunFinish<'_>| {
            let mut chain = Vec::new();
            let mut cur = run.error();
            while let Some(e) = cur {
                chain.push(e.to_string());
                cur = e.source();
            }
            sink.lock().unwrap().push(Seen {
                outcome: Some(run.outcome().clone()),
                error_is_sync_failed: run.error().is_some_and(|e| e.is::<SyncFailed>()),
                chain,
                attempt: run.attempt(),
                max_attempts: run.max_attempts(),
                panic: run.panic_message().map(str::to_owned),
                started_with: run.get::<&'static str>().copied(),
                log: String::from_utf8_lossy(run.log()).into_owned(),
            });
        })
        .build()
        .unwrap();
    (monitor, recorder, seen)
}

#[test]
fn hooks_see_the_typed_error_its_chain_the_attempt_and_what_start_attached() {
    let (monitor, _recorder, seen) = hooked();
    let check = Check::new("sync").unwrap();
    let options = RunOptions::new().attempt(2).max_attempts(5);
    let result: Result<(), SyncFailed> = monitor.run_blocking_with(&check, options, || {
        heartbeat_core::current_run().unwrap().log("about to sync");
        Err(sync_failed())
    });
    assert!(result.is_err());
    let caught = std::panic::catch_unwind(|| {
        monitor.run_blocking(&check, || {
            if check.slug() == "sync" {
                panic!("disk on fire")
            }
        })
    });
    assert!(caught.is_err(), "the panic is resumed");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].error_is_sync_failed, "{:?}", seen[0]);
    assert_eq!(seen[0].chain, ["sync failed", "connection refused"]);
    assert_eq!((seen[0].attempt, seen[0].max_attempts), (2, Some(5)));
    assert_eq!(seen[0].started_with, Some("second attempt"));
    assert_eq!(seen[0].log, "about to sync\n");
    assert_eq!(
        seen[0].outcome,
        Some(Outcome::Failure("sync failed: connection refused".into()))
    );
    assert_eq!(seen[1].panic.as_deref(), Some("panicked: disk on fire"));
    assert_eq!(seen[1].started_with, None);
    assert_eq!(seen[1].attempt, 1);
}

#[test]
fn run_macro_reports_the_whole_chain_of_every_common_output_type() {
    let (monitor, recorder, seen) = hooked();
    // One check per output type: runs of one check could be coalesced.
    let checks: Vec<Check> = (0..7)
        .map(|i| Check::new(format!("job-{i}")).unwrap())
        .collect();
    let io = || std::io::Error::other("disk full");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let _: () = heartbeat_core::run!(monitor, &checks[0], async {}).await;
        let _: i32 = heartbeat_core::run!(monitor, &checks[1], async { 3 }).await;
        let _: Result<(), SyncFailed> =
            heartbeat_core::run!(monitor, &checks[2], async { Err(sync_failed()) }).await;
        type Boxed = Box<dyn std::error::Error + Send + Sync>;
        let boxed = async { Err::<(), Boxed>(Box::new(sync_failed())) };
        let _ = heartbeat_core::run!(monitor, &checks[3], boxed).await;
        let _: anyhow::Result<()> = heartbeat_core::run!(monitor, &checks[4], async {
            use anyhow::Context;
            Err(io()).context("nightly export")
        })
        .await;
        let _: Result<(), String> =
            heartbeat_core::run!(monitor, &checks[5], async { Err("no input".to_owned()) }).await;
    });
    let _ = heartbeat_core::run_blocking!(
        monitor,
        &checks[6],
        || -> Result<(), Box<dyn std::error::Error>> { Err(io().into()) }
    );
    flushed(&monitor);

    let finals: Vec<(EventKind, Option<String>)> = recorder
        .events()
        .into_iter()
        .filter(|e| e.kind().is_final())
        .map(|e| (e.kind().clone(), e.message().map(str::to_owned)))
        .collect();
    let failure = |m: &str| (EventKind::Fail, Some(m.to_owned()));
    assert_eq!(
        finals,
        [
            (EventKind::Success, None),
            (EventKind::ExitCode(3), Some("exit code 3".into())),
            failure("sync failed: connection refused"),
            failure("sync failed: connection refused"),
            failure("nightly export: disk full"),
            failure("no input"),
            failure("disk full"),
        ]
    );
    // Typed errors reach the hooks for every kind that has one.
    let typed: Vec<bool> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| !s.chain.is_empty())
        .collect();
    assert_eq!(typed, [false, false, true, true, true, false, true]);
}

#[test]
fn the_log_layer_puts_what_the_job_logs_into_its_failure() {
    use tracing_subscriber::prelude::*;
    let (monitor, recorder) = recorded();
    let subscriber =
        tracing_subscriber::registry().with(heartbeat_core::log_layer::RunLogLayer::new());
    let check = Check::new("report").unwrap();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("outside any run: not captured");
        let _: Result<(), SyncFailed> = monitor.run_blocking(&check, || {
            tracing::info!(rows = 42, "exported");
            tracing::debug!("too verbose: not captured");
            tracing::warn!("retrying the upload");
            Err(sync_failed())
        });
    });
    flushed(&monitor);
    let events = recorder.events();
    let fail = events
        .iter()
        .find(|e| e.kind() == &EventKind::Fail)
        .unwrap();
    let log = String::from_utf8(fail.log().unwrap().to_vec()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines,
        [
            "INFO seam: exported rows=42",
            "WARN seam: retrying the upload"
        ]
    );
}

#[test]
fn a_log_tail_is_bytes_of_the_configured_size_and_keeps_its_end() {
    let recorder = Recorder::new();
    let monitor = fast()
        .target(recorder.clone())
        .log_tail(64)
        .build()
        .unwrap();
    let check = Check::new("export").unwrap();
    let run = monitor.start(&check);
    run.log("first line");
    run.log_bytes(&[0xff, 0xfe, b'\n']);
    run.log("x".repeat(200) + "END");
    run.fail_message("boom");
    let per_run = monitor.start_with(&check, RunOptions::new().log_tail(4));
    per_run.log("abcdefgh");
    per_run.fail_message("boom");
    flushed(&monitor);
    let logs: Vec<Vec<u8>> = recorder
        .events()
        .iter()
        .filter_map(|e| e.log().map(<[u8]>::to_vec))
        .collect();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0].len(), 64);
    assert!(logs[0].ends_with(b"END\n"), "{:?}", logs[0]);
    assert_eq!(logs[1], b"fgh\n");
}

/// A target that panics in `send`: the engine treats it as a rejection,
/// and keeps delivering to the others.
#[derive(Debug)]
struct Panics;

impl heartbeat_core::Target for Panics {
    fn name(&self) -> &str {
        "panics"
    }

    fn send<'a>(&'a self, _event: &'a Event) -> heartbeat_core::BoxFuture<'a, Verdict> {
        panic!("a buggy target")
    }
}

#[test]
fn a_panicking_target_neither_stops_delivery_nor_holds_flushes() {
    let recorder = Recorder::new();
    let monitor = fast()
        .target(Panics)
        .target(recorder.clone())
        .build()
        .unwrap();
    // Three checks: runs of one check could be coalesced, which this test
    // is not about.
    for slug in ["job-1", "job-2", "job-3"] {
        monitor.start(&Check::new(slug).unwrap()).success();
    }
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{report}");
    assert_eq!(
        report.stats.failed, 6,
        "each of 6 events rejected once by the panicking target"
    );
    assert_eq!(recorder.events().len(), 6);
    assert_eq!(monitor.targets(), ["panics", "recorder"]);
}

#[test]
fn two_targets_of_one_kind_need_distinct_names() {
    let hc = |name: Option<&str>| {
        let t = Healthchecks::new().ping_key("k");
        match name {
            Some(n) => t.name(n),
            None => t,
        }
    };
    let err = Monitor::builder()
        .target(hc(None))
        .target(hc(None))
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidSetting { .. }), "{err}");
    assert!(err.to_string().contains("\"healthchecks\""), "{err}");
    let monitor = Monitor::builder()
        .target(hc(None))
        .target(hc(Some("healthchecks-eu")))
        .build()
        .unwrap();
    assert_eq!(monitor.targets(), ["healthchecks", "healthchecks-eu"]);
}

#[test]
fn two_healthchecks_projects_each_get_their_pings() {
    let (a, b) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    let monitor = fast()
        .target(Healthchecks::new().ping_url(a.url()).ping_key("ka"))
        .target(
            Healthchecks::new()
                .name("hc-b")
                .ping_url(b.url())
                .ping_key("kb"),
        )
        .build()
        .unwrap();
    monitor.start(&Check::new("job").unwrap()).success();
    flushed(&monitor);
    let paths = |r: &Receiver| -> Vec<String> {
        r.requests().into_iter().map(|r: Request| r.path).collect()
    };
    assert_eq!(paths(&a), ["/ka/job/start", "/ka/job"]);
    assert_eq!(paths(&b), ["/kb/job/start", "/kb/job"]);
}

/// A target that buffers and flushes on request.
#[derive(Debug, Default)]
struct Buffered {
    buffer: Mutex<Vec<String>>,
    written: Arc<Mutex<Vec<String>>>,
}

impl heartbeat_core::Target for Buffered {
    fn name(&self) -> &str {
        "buffered"
    }

    fn send<'a>(&'a self, event: &'a Event) -> heartbeat_core::BoxFuture<'a, Verdict> {
        self.buffer
            .lock()
            .unwrap()
            .push(event.kind().name().to_owned());
        Box::pin(async { Verdict::Delivered })
    }

    fn flush(&self, _deadline: std::time::Instant) -> heartbeat_core::BoxFuture<'_, bool> {
        let drained: Vec<String> = self.buffer.lock().unwrap().drain(..).collect();
        self.written.lock().unwrap().extend(drained);
        Box::pin(async { true })
    }
}

#[test]
fn flush_flushes_the_targets_own_buffers() {
    let target = Buffered::default();
    let written = target.written.clone();
    let monitor = fast().target(target).build().unwrap();
    monitor.start(&Check::new("job").unwrap()).success();
    flushed(&monitor);
    assert_eq!(*written.lock().unwrap(), ["start", "success"]);
}

#[test]
fn a_retrying_service_is_retried_and_counted() {
    let (monitor, recorder) = recorded();
    recorder.set_verdict(Verdict::retry("down"));
    monitor.start(&Check::new("job").unwrap()).success();
    recorder.wait_until(PATIENCE, |e| e.len() >= 4);
    recorder.set_verdict(Verdict::Delivered);
    flushed(&monitor);
    let stats = monitor.stats();
    // The start, waiting to be retried, gave way to the run's final event.
    assert_eq!((stats.delivered, stats.superseded), (1, 1), "{stats:?}");
    assert!(stats.retried >= 2, "{stats:?}");
}

/// Delivers every event at once, except those of check `held`, which wait
/// until released.
#[derive(Debug)]
struct Gate(Arc<tokio::sync::Semaphore>);

impl heartbeat_core::Target for Gate {
    fn name(&self) -> &str {
        "gate"
    }

    fn send<'a>(&'a self, event: &'a Event) -> heartbeat_core::BoxFuture<'a, Verdict> {
        Box::pin(async move {
            if event.check().slug() == "held" {
                let _permit = self.0.acquire().await;
            }
            Verdict::Delivered
        })
    }
}

#[test]
fn a_flush_answers_for_the_events_queued_before_it() {
    use futures::FutureExt;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let monitor = fast().target(Gate(gate.clone())).build().unwrap();
    monitor.start(&Check::new("early").unwrap()).success();
    let mut flush = Box::pin(monitor.flush(PATIENCE));
    // The first poll hands the request to the worker (and may already get
    // the answer, when "early" was delivered by then).
    let first_poll = flush.as_mut().now_or_never();
    // Queued after the flush, and held back by the service.
    monitor.start(&Check::new("held").unwrap()).success();
    let report = first_poll.unwrap_or_else(|| futures::executor::block_on(flush));
    assert!(report.is_complete(), "{report}");
    assert!(
        monitor.stats().pending > 0,
        "the later events are still pending"
    );
    gate.add_permits(1000);
    flushed(&monitor);
}

#[test]
fn flush_blocking_works_inside_an_executor() {
    let (monitor, recorder) = recorded();
    monitor.start(&Check::new("job").unwrap()).success();
    let report = futures::executor::block_on(async { monitor.flush_blocking(PATIENCE) });
    assert!(report.is_complete(), "{report}");
    assert_eq!(recorder.events().len(), 2);
}

/// Polls `done` until it holds, within [`PATIENCE`].
fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    false
}

#[test]
fn a_backlogged_check_sends_its_newest_runs_and_keeps_its_final_state() {
    let (monitor, recorder) = recorded();
    // The service is down: the first run's start stays at the lane's front.
    recorder.set_verdict(Verdict::retry("down"));
    let check = Check::new("busy").unwrap();
    let mut runs = Vec::new();
    for n in 1..=15 {
        let run = monitor.start(&check);
        runs.push(run.run_id());
        match n {
            11..=14 => run.fail_message(format!("failure {n}")),
            _ => run.success(),
        }
    }
    // r2..r9 (two events each) fold into r10; r12 and r13 into r14.
    assert!(
        eventually(|| monitor.stats().folded == 20),
        "{:?}",
        monitor.stats()
    );
    recorder.set_verdict(Verdict::Delivered);
    flushed(&monitor);
    let delivered: Vec<(usize, EventKind, u32)> = {
        let events = recorder.events();
        let mut out: Vec<(usize, EventKind, u32)> = events
            .iter()
            .map(|e| {
                let n = runs.iter().position(|r| *r == e.run_id()).unwrap() + 1;
                (n, e.kind().clone(), e.folded_before())
            })
            .collect();
        out.dedup(); // the retried attempts of the first start
        out
    };
    let expected = [
        (1, EventKind::Start, 0),
        (1, EventKind::Success, 0),
        (10, EventKind::Start, 0),
        (10, EventKind::Success, 0),
        (11, EventKind::Start, 0),
        (11, EventKind::Fail, 0),
        (14, EventKind::Start, 0),
        (14, EventKind::Fail, 2),
        (15, EventKind::Start, 0),
        (15, EventKind::Success, 0),
    ];
    assert_eq!(delivered, expected);
    let fail = recorder
        .events()
        .into_iter()
        .find(|e| e.folded_before() == 2)
        .unwrap();
    assert_eq!(
        fail.message_with_folds().as_deref(),
        Some("failure 14\n(2 earlier failed runs were folded into this one)")
    );
    let stats = monitor.stats();
    assert_eq!((stats.queued, stats.folded, stats.dropped), (30, 20, 0));
}

/// A recorder whose service takes two pings per check per hour.
#[derive(Debug)]
struct Limited(Recorder);

impl heartbeat_core::Target for Limited {
    fn name(&self) -> &str {
        "limited"
    }

    fn send<'a>(&'a self, event: &'a Event) -> heartbeat_core::BoxFuture<'a, Verdict> {
        self.0.send(event)
    }

    fn per_check_limit(&self) -> Option<(u32, std::time::Duration)> {
        Some((2, std::time::Duration::from_secs(3600)))
    }
}

#[test]
fn a_per_check_limit_paces_the_check_and_its_backlog_coalesces() {
    let recorder = Recorder::new();
    let monitor = fast()
        .target(Limited(recorder.clone()))
        .shutdown_timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    let (paced, free) = (Check::new("paced").unwrap(), Check::new("free").unwrap());
    for _ in 0..6 {
        monitor.start(&paced).success();
    }
    monitor.start(&free).success();
    // The burst of two goes at once (the first run); the third ping waits
    // for its turn, and the runs behind it fold into the newest: runs 2-5
    // (8 events), or 3-5 (6) when run 2's start was already taking its turn.
    let paced_count = || {
        recorder
            .events()
            .iter()
            .filter(|e| e.check().slug() == "paced")
            .count()
    };
    assert!(
        eventually(|| monitor.stats().folded >= 6 && paced_count() == 2),
        "{:?}",
        monitor.stats()
    );
    assert!(
        [6, 8].contains(&monitor.stats().folded),
        "{:?}",
        monitor.stats()
    );
    let report = monitor.flush_blocking(std::time::Duration::from_millis(300));
    assert!(!report.is_complete());
    let sent: Vec<(String, EventKind)> = recorder
        .events()
        .iter()
        .map(|e| (e.check().slug().to_owned(), e.kind().clone()))
        .collect();
    let paced_sent = sent.iter().filter(|(slug, _)| slug == "paced").count();
    assert_eq!(paced_sent, 2, "{sent:?}");
    // Another check has its own pace.
    let free_sent = sent.iter().filter(|(slug, _)| slug == "free").count();
    assert_eq!(free_sent, 2, "{sent:?}");
}
