//! What heartbeat logs, checked through a capture installed for the whole
//! test binary (a thread-local subscriber can miss a callsite that another
//! test's thread saw first). Lines are found by level and structured
//! fields, never by substrings that run ids or durations can contain.

mod support;

use std::time::Duration;

use heartbeat_core::test::{Fault, Receiver, Recorder};
use heartbeat_core::{Check, Healthchecks};
use support::{LogCapture, fast};

fn logs() -> &'static LogCapture {
    support::global_logs()
}

/// The captured lines at `level` that carry every one of `fields`.
fn lines_with(level: &str, fields: &[&str]) -> Vec<String> {
    logs()
        .text()
        .lines()
        .filter(|l| l.contains(&format!(" {level} ")) && fields.iter().all(|f| l.contains(f)))
        .map(str::to_owned)
        .collect()
}

#[test]
fn an_id_for_a_target_the_monitor_lacks_is_reported_once_at_the_first_start() {
    logs();
    let monitor = fast().target(Recorder::new()).build().unwrap();
    let check = Check::builder("unknown-target-job")
        .target_id("betterstak", "tok")
        .build()
        .unwrap();
    for _ in 0..3 {
        monitor.start(&check).success();
    }
    let reports = lines_with(
        "ERROR",
        &[
            "check=\"unknown-target-job\"",
            "unknown_target=\"betterstak\"",
        ],
    );
    assert_eq!(reports.len(), 1, "{reports:?}");
}

#[test]
fn dropping_the_last_handle_delivers_or_says_what_was_lost() {
    logs();
    // No flush guard: the drop itself waits for the pending pings.
    let rx = Receiver::start().unwrap();
    let monitor = fast()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("k"))
        .build()
        .unwrap();
    monitor.start(&Check::new("dropped-job").unwrap()).success();
    drop(monitor);
    let paths: Vec<String> = rx.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/k/dropped-job/start", "/k/dropped-job"]);

    // A service that hangs: the drop gives up after the shutdown timeout,
    // and says how many events were lost.
    let rx = Receiver::start().unwrap();
    rx.set_fault(Fault::Hang);
    let monitor = fast()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("k"))
        .shutdown_timeout(Duration::from_millis(200))
        .environment("hanging-drop")
        .build()
        .unwrap();
    monitor
        .start(&Check::new("hanging-drop-job").unwrap())
        .success();
    drop(monitor);
    let warnings = lines_with("WARN", &["undelivered=2", "heartbeat monitor dropped"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn rejections_explain_the_fix_for_the_url_used() {
    logs();
    // Hosted Healthchecks answers "OK (not found)" with a 200.
    let rx = Receiver::start().unwrap();
    rx.set_reply(200, "OK (not found)");
    let monitor = fast()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("k"))
        .build()
        .unwrap();
    monitor
        .start(&Check::new("slug-not-found").unwrap())
        .success();
    monitor.flush_blocking(support::PATIENCE);
    let lines = lines_with(
        "ERROR",
        &["check=\"slug-not-found\"", "operation=\"rejected\""],
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("no check has this slug"), "{}", lines[0]);

    // Cronitor answers 404 only when the base URL is not the telemetry API.
    let rx = Receiver::start().unwrap();
    rx.set_reply(404, "Not Found");
    let monitor = fast()
        .target(
            heartbeat_core::Cronitor::new("key")
                .ping_url(rx.url())
                .sync_monitors(false),
        )
        .build()
        .unwrap();
    monitor
        .start(&Check::new("cronitor-404").unwrap())
        .success();
    monitor.flush_blocking(support::PATIENCE);
    let lines = lines_with(
        "ERROR",
        &["check=\"cronitor-404\"", "operation=\"rejected\""],
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("CRONITOR_PING_URL"), "{}", lines[0]);
}
