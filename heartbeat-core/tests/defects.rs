//! Defects found by using the public API as a new user would, one test
//! each: redirects, keepalives outliving their monitor handle, extreme
//! settings.

mod support;

use std::time::Duration;

use heartbeat_core::test::Receiver;
use heartbeat_core::{Check, Healthchecks, Monitor, Stats};
use support::{PATIENCE, fast};

#[test]
fn a_redirect_is_a_configuration_error_and_is_not_followed() {
    let (rx, elsewhere) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    rx.set_reply(307, "");
    rx.set_header("Location", format!("{}/stolen", elsewhere.url()));
    let monitor = fast()
        .target(
            Healthchecks::new()
                .ping_url(rx.url())
                .ping_key("secret-key"),
        )
        .build()
        .unwrap();
    monitor
        .start(&Check::new("job").unwrap())
        .fail_message("boom");
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{report}");
    let stats: Stats = monitor.stats();
    assert_eq!((stats.delivered, stats.failed), (0, 2), "{stats:?}");
    assert_eq!(rx.requests().len(), 2, "one request per event, no retry");
    assert!(
        elsewhere.requests().is_empty(),
        "the key never left its origin"
    );
}

#[test]
fn a_keepalive_keeps_its_monitor_delivering() {
    let rx = Receiver::start().unwrap();
    // The monitor handle is a temporary: only the keepalive holds it.
    let alive = fast()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("k"))
        .build()
        .unwrap()
        .keepalive(&Check::new("consumer").unwrap(), Duration::from_millis(100))
        .regardless_of_progress();
    let heartbeats = rx.wait_for_requests(2, PATIENCE);
    assert!(heartbeats.len() >= 2, "{heartbeats:?}");
    assert!(heartbeats.iter().all(|r| r.path == "/k/consumer"));
    drop(alive);
}

#[test]
fn extreme_settings_build_and_deliver() {
    let rx = Receiver::start().unwrap();
    let monitor = Monitor::builder()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("k"))
        .concurrency(usize::MAX)
        .queue_capacity(usize::MAX)
        .shutdown_timeout(Duration::MAX)
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    monitor.start(&Check::new("job").unwrap()).success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    assert_eq!(rx.requests().len(), 2);
}
