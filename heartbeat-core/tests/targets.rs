//! Each target against a real loopback receiver: exactly the documented wire
//! format (method, path, query, body), with one run id per run.

mod support;

use std::time::Duration;

use heartbeat_core::test::Receiver;
use heartbeat_core::{Check, Cronitor, Healthchecks, Monitor, UrlTemplate};
use support::{PATIENCE, fast};

#[derive(Debug, thiserror::Error)]
#[error("sync failed")]
struct SyncFailed(#[source] std::io::Error);

fn flushed(monitor: &Monitor) {
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{report}");
}

fn hc(rx: &Receiver) -> Monitor {
    fast()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("pk123"))
        .build()
        .unwrap()
}

#[test]
fn healthchecks_slug_urls_pair_start_and_finish() {
    let rx = Receiver::start().unwrap();
    let monitor = hc(&rx);
    let check = Check::new("nightly-backup").unwrap();

    let run = monitor.start(&check);
    let rid = run.run_id().to_string();
    run.success();
    flushed(&monitor);
    let run = monitor.start(&check);
    run.fail(&SyncFailed(std::io::Error::other("connection refused")));
    flushed(&monitor);
    monitor.start(&check).exit_code(3);
    flushed(&monitor);
    monitor.start(&check).exit_code(300);
    flushed(&monitor);

    let r = rx.requests();
    let paths: Vec<_> = r
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("POST", "/pk123/nightly-backup/start"),
            ("POST", "/pk123/nightly-backup"),
            ("POST", "/pk123/nightly-backup/start"),
            ("POST", "/pk123/nightly-backup/fail"),
            ("POST", "/pk123/nightly-backup/start"),
            ("POST", "/pk123/nightly-backup/3"),
            ("POST", "/pk123/nightly-backup/start"),
            ("POST", "/pk123/nightly-backup/fail"),
        ]
    );
    assert_eq!(r[0].query("rid"), Some(rid.as_str()));
    assert_eq!(r[1].query("rid"), Some(rid.as_str()));
    for pair in r.chunks(2) {
        assert_eq!(pair[0].query("rid"), pair[1].query("rid"));
        assert_eq!(pair[0].query("create"), Some("1"));
    }
    assert_ne!(r[0].query("rid"), r[2].query("rid"));
    assert_eq!(r[3].body, "sync failed: connection refused");
    assert_eq!(
        r[3].header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(r[5].body, "exit code 3");
    assert_eq!(r[7].body, "exit code 300");
    assert_eq!(r[0].body, "");
}

#[test]
fn healthchecks_uuid_urls_have_no_create() {
    let rx = Receiver::start().unwrap();
    let monitor = fast()
        .target(
            Healthchecks::new()
                .ping_url(format!("{}/ping/", rx.url()))
                .ping_key("pk"),
        )
        .build()
        .unwrap();
    let uuid = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278";
    let check = Check::builder("job")
        .healthchecks_uuid(uuid)
        .build()
        .unwrap();
    monitor.start(&check).success();
    flushed(&monitor);
    let r = rx.requests();
    assert_eq!(r[0].path, format!("/ping/{uuid}/start"));
    assert_eq!(r[1].path, format!("/ping/{uuid}"));
    assert_eq!(r[1].query("create"), None);
    assert!(r[1].query("rid").is_some());
}

#[test]
fn healthchecks_create_can_be_turned_off() {
    let rx = Receiver::start().unwrap();
    let monitor = fast()
        .target(
            Healthchecks::new()
                .ping_url(rx.url())
                .ping_key("pk")
                .create_missing(false),
        )
        .build()
        .unwrap();
    monitor.start(&Check::new("job").unwrap()).success();
    flushed(&monitor);
    assert!(rx.requests().iter().all(|r| r.query("create").is_none()));
}

#[test]
fn healthchecks_body_is_cut_to_the_learned_ping_body_limit() {
    let rx = Receiver::start().unwrap();
    rx.set_header("Ping-Body-Limit", "64");
    let monitor = hc(&rx);
    let check = Check::new("job").unwrap();
    // The start reply teaches the limit before the failure is sent (same lane).
    let run = monitor.start(&check);
    let message = format!("disk full {}", "x".repeat(200));
    run.fail_message(message);
    flushed(&monitor);
    let r = rx.requests();
    assert_eq!(r[1].path, "/pk123/job/fail");
    assert!(r[1].body.len() <= 64, "{} bytes", r[1].body.len());
    assert!(r[1].body.starts_with("disk full xxx"), "{}", r[1].body);
}

#[test]
fn healthchecks_not_found_body_is_a_rejection_not_a_success() {
    let rx = Receiver::start().unwrap();
    rx.set_reply(200, "OK (not found)");
    let monitor = hc(&rx);
    let check = Check::new("job").unwrap();
    monitor.start(&check).success();
    flushed(&monitor);
    let stats = monitor.stats();
    assert_eq!(
        (stats.delivered, stats.failed, stats.retried),
        (0, 2, 0),
        "{stats:?}"
    );
    assert_eq!(rx.requests().len(), 2, "rejections are not retried");
}

#[test]
fn healthchecks_rate_limited_body_is_retried() {
    let rx = Receiver::start().unwrap();
    rx.set_reply(200, "OK (rate limited)");
    let monitor = hc(&rx);
    monitor.start(&Check::new("job").unwrap()).success();
    rx.wait_for_requests(3, PATIENCE);
    rx.set_reply(200, "OK");
    flushed(&monitor);
    let stats = monitor.stats();
    // The start, waiting to be retried, gave way to the run's final event.
    assert_eq!((stats.delivered, stats.superseded), (1, 1), "{stats:?}");
    assert!(stats.retried >= 2, "{stats:?}");
}

#[test]
fn cronitor_telemetry_wire_format() {
    let rx = Receiver::start().unwrap();
    let monitor = fast()
        .target(Cronitor::new("cr-key").ping_url(rx.url()).host("worker-1"))
        .environment("production")
        .build()
        .unwrap();
    let check = Check::builder("nightly-backup")
        .cronitor_key("Nightly Backup")
        .build()
        .unwrap();
    let run = monitor.start(&check);
    let series = run.run_id().to_string();
    run.success();
    flushed(&monitor);
    monitor.start(&check).fail_message("boom: disk full");
    flushed(&monitor);
    monitor.start(&check).exit_code(2);
    flushed(&monitor);

    let r = rx.requests();
    assert_eq!(r.len(), 6);
    for req in &r {
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/p/cr-key/Nightly Backup");
        assert_eq!(req.query("host"), Some("worker-1"));
        assert_eq!(req.query("env"), Some("production"));
    }
    assert_eq!(r[0].query("state"), Some("run"));
    assert_eq!(r[0].query("series"), Some(series.as_str()));
    assert_eq!(r[0].query("metric"), None);
    assert_eq!(r[1].query("state"), Some("complete"));
    assert_eq!(r[1].query("series"), Some(series.as_str()));
    let metric = r[1].query("metric").unwrap();
    let secs: f64 = metric.strip_prefix("duration:").unwrap().parse().unwrap();
    assert!((0.0..60.0).contains(&secs), "{metric}");
    assert_eq!(r[3].query("state"), Some("fail"));
    assert_eq!(r[3].query("message"), Some("boom: disk full"));
    assert_eq!(r[5].query("state"), Some("fail"));
    assert_eq!(r[5].query("status_code"), Some("2"));
}

#[test]
fn cronitor_message_is_cut_to_1000_characters() {
    let rx = Receiver::start().unwrap();
    let monitor = fast()
        .target(Cronitor::new("k").ping_url(rx.url()))
        .build()
        .unwrap();
    monitor
        .start(&Check::new("job").unwrap())
        .fail_message("é".repeat(1500));
    flushed(&monitor);
    let r = rx.requests();
    assert_eq!(r[1].query("message").unwrap().chars().count(), 1000);
}

fn templated(rx: &Receiver, t: UrlTemplate) -> Monitor {
    fast().target(t.base_url(rx.url())).build().unwrap()
}

#[test]
fn better_stack_preset() {
    let rx = Receiver::start().unwrap();
    let monitor = templated(&rx, UrlTemplate::better_stack());
    let check = Check::builder("job")
        .target_id("betterstack", "bsTOKEN")
        .build()
        .unwrap();
    monitor.start(&check).success();
    flushed(&monitor);
    monitor.start(&check).fail_message("boom");
    flushed(&monitor);
    monitor.start(&check).exit_code(4);
    flushed(&monitor);
    let r = rx.requests();
    let seen: Vec<_> = r
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.body.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST", "/api/v1/heartbeat/bsTOKEN", ""),
            ("POST", "/api/v1/heartbeat/bsTOKEN/fail", "boom"),
            ("POST", "/api/v1/heartbeat/bsTOKEN/4", "exit code 4"),
        ],
        "no start ping: Better Stack has none"
    );
}

#[test]
fn dead_mans_snitch_preset() {
    let rx = Receiver::start().unwrap();
    let monitor = templated(&rx, UrlTemplate::dead_mans_snitch());
    let check = Check::builder("job")
        .target_id("deadmanssnitch", "abc123")
        .build()
        .unwrap();
    monitor.start(&check).success();
    flushed(&monitor);
    monitor.start(&check).fail_message("x".repeat(300));
    flushed(&monitor);
    monitor.start(&check).exit_code(7);
    flushed(&monitor);
    let r = rx.requests();
    assert_eq!(r.len(), 3);
    assert!(r.iter().all(|r| r.path == "/abc123" && r.method == "GET"));
    assert_eq!(r[0].query("s"), Some("0"));
    assert_eq!(r[1].query("s"), Some("1"));
    assert_eq!(r[1].query("m").unwrap().len(), 256);
    assert_eq!(r[2].query("s"), Some("7"));
    assert_eq!(r[2].query("m"), Some("exit code 7"));
}

#[test]
fn uptime_kuma_preset_and_unknown_token() {
    let rx = Receiver::start().unwrap();
    let monitor = templated(&rx, UrlTemplate::uptime_kuma("http://unused"));
    let check = Check::builder("job")
        .target_id("uptimekuma", "kumaTok")
        .build()
        .unwrap();
    monitor.start(&check).success();
    flushed(&monitor);
    monitor.start(&check).fail_message("db down");
    flushed(&monitor);
    let r = rx.requests();
    assert_eq!(r[0].path, "/api/push/kumaTok");
    assert_eq!(r[0].query("status"), Some("up"));
    assert_eq!(r[0].query("msg"), Some("OK"));
    let ping: u64 = r[0].query("ping").unwrap().parse().unwrap();
    assert!(ping < 60_000);
    assert_eq!(r[1].query("status"), Some("down"));
    assert_eq!(r[1].query("msg"), Some("db down"));

    // Kuma's answer for an unknown token: 500 with ok:false. Not retried.
    rx.clear();
    rx.set_reply(
        500,
        r#"{"ok":false,"msg":"Monitor not found or not active."}"#,
    );
    monitor.start(&check).success();
    flushed(&monitor);
    assert_eq!(rx.requests().len(), 1);
    assert_eq!(monitor.stats().failed, 1);
}

#[test]
fn cronhub_preset() {
    let rx = Receiver::start().unwrap();
    let monitor = templated(&rx, UrlTemplate::cronhub());
    let check = Check::builder("job")
        .target_id("cronhub", "c-uuid")
        .build()
        .unwrap();
    monitor.start(&check).success();
    flushed(&monitor);
    monitor.start(&check).fail_message("boom");
    flushed(&monitor);
    let seen: Vec<_> = rx
        .requests()
        .iter()
        .map(|r| (r.path.clone(), r.body.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("/start/c-uuid".to_owned(), String::new()),
            ("/finish/c-uuid".to_owned(), String::new()),
            ("/start/c-uuid".to_owned(), String::new()),
            ("/fail/c-uuid".to_owned(), "boom".to_owned()),
        ]
    );
}

#[test]
fn several_targets_at_once() {
    let hc_rx = Receiver::start().unwrap();
    let cr_rx = Receiver::start().unwrap();
    let monitor = fast()
        .target(Healthchecks::new().ping_url(hc_rx.url()).ping_key("k"))
        .target(Cronitor::new("c").ping_url(cr_rx.url()))
        .build()
        .unwrap();
    let run = monitor.start(&Check::new("job").unwrap());
    let rid = run.run_id().to_string();
    run.success();
    flushed(&monitor);
    assert_eq!(hc_rx.requests().len(), 2);
    assert_eq!(cr_rx.requests().len(), 2);
    assert_eq!(hc_rx.requests()[1].query("rid"), Some(rid.as_str()));
    assert_eq!(cr_rx.requests()[1].query("series"), Some(rid.as_str()));
    assert_eq!(monitor.stats().delivered, 4);
}

#[test]
fn missing_target_id_is_skipped_not_sent() {
    let rx = Receiver::start().unwrap();
    let monitor = templated(&rx, UrlTemplate::better_stack());
    monitor.start(&Check::new("no-token").unwrap()).success();
    let report = monitor.flush_blocking(Duration::from_secs(5));
    assert!(report.is_complete());
    assert!(rx.requests().is_empty());
}

#[test]
fn template_bodies_keep_the_message_and_the_newest_log_lines() {
    let rx = Receiver::start().unwrap();
    let monitor = templated(&rx, UrlTemplate::cronhub());
    let check = Check::builder("job")
        .target_id("cronhub", "c-uuid")
        .build()
        .unwrap();
    let run = monitor.start(&check);
    for i in 0..500 {
        run.log(format_args!("line {i}"));
    }
    run.fail_message("boom");
    flushed(&monitor);
    let fail = rx
        .requests()
        .into_iter()
        .find(|r| r.path == "/fail/c-uuid")
        .unwrap();
    assert!(fail.body.chars().count() <= 1000, "{}", fail.body.len());
    assert!(fail.body.starts_with("boom\n\n"), "{}", fail.body);
    assert!(fail.body.ends_with("line 499\n"), "{}", fail.body);
}
