//! A monitor with no target still logs runs, warns about runs past their
//! max runtime, and warns about stalled keepalives; it sends nothing.

mod support;

use std::time::Duration;

use heartbeat_core::{Check, Monitor};
use support::{LogCapture, PATIENCE};

fn wait_for_line(logs: &LogCapture, needle: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let lines: Vec<String> = logs
            .text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect();
        if !lines.is_empty() || std::time::Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_monitor_without_targets_keeps_its_timers() {
    let logs = LogCapture::default();
    logs.install_global();
    let monitor = Monitor::builder().build().unwrap();
    assert!(!monitor.is_enabled());

    let check = Check::builder("slow-local")
        .max_runtime(Duration::from_millis(100))
        .build()
        .unwrap();
    let run = monitor.start(&check);
    let warned = wait_for_line(&logs, "run is taking too long");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("slow-local") && warned[0].contains("WARN"),
        "{}",
        warned[0]
    );
    run.success();

    let alive = monitor.keepalive(
        &Check::new("stuck-local").unwrap(),
        Duration::from_millis(100),
    );
    let stalled = wait_for_line(&logs, "no progress since the last heartbeat");
    assert_eq!(stalled.len(), 1, "{stalled:?}");
    assert!(stalled[0].contains("stuck-local"));
    drop(alive);

    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let stats = monitor.stats();
    assert_eq!(
        (stats.delivered, stats.failed),
        (0, 0),
        "nothing is sent: {stats:?}"
    );
    let text = logs.text();
    assert_eq!(
        text.matches("run is taking too long").count(),
        1,
        "once per run"
    );
}
