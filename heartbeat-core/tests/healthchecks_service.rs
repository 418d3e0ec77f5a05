//! Against a model of a real Healthchecks server (the `test` feature's
//! `HealthchecksService`): non-atomic creates, whole-check API updates, and
//! a status that is the last finish received. The model reproduces the
//! races a real server showed; the library avoids them.

mod support;

use std::time::Duration;

use heartbeat_core::test::{API_KEY, CheckStatus, HealthchecksService, PING_KEY};
use heartbeat_core::{Check, Healthchecks, Monitor};
use support::{PATIENCE, fast};

fn monitor(service: &HealthchecksService, api: bool) -> Monitor {
    let mut hc = Healthchecks::new()
        .ping_url(service.ping_url())
        .ping_key(PING_KEY);
    if api {
        hc = hc.api_key(API_KEY).api_url(service.api_url());
    }
    fast().target(hc).build().unwrap()
}

fn flushed(monitor: &Monitor) {
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{report}");
}

/// One raw request, as a client without per-check ordering sends.
fn send(method: &str, url: &str, body: Option<String>) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut request = support::http_client().request(method.parse().unwrap(), url);
        if let Some(body) = body {
            request = request.header("X-Api-Key", API_KEY).body(body);
        }
        request.send().await.unwrap().status().as_u16()
    })
}

/// Sends `first`, waits until the service is inside its race window for
/// it, then sends `second`: the second request races the first for sure
/// (the window, 1 s, is far longer than a loopback request).
fn racing(
    service: &HealthchecksService,
    first: (&str, String, Option<String>),
    second: (&str, String, Option<String>),
) -> (u16, u16) {
    std::thread::scope(|s| {
        let first = s.spawn(move || send(first.0, &first.1, first.2));
        let deadline = std::time::Instant::now() + PATIENCE;
        while service.writes_in_window() == 0 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        let second = send(second.0, &second.1, second.2);
        (first.join().unwrap(), second)
    })
}

#[test]
fn the_model_reproduces_the_races_of_a_real_server() {
    let service = HealthchecksService::with_race_window(Duration::from_secs(1)).unwrap();
    let base = service.ping_url();
    let create = |suffix: &str| {
        (
            "POST",
            format!("{base}/{PING_KEY}/racy{suffix}?create=1"),
            None,
        )
    };
    // Two creating pings at once: two checks, and then every ping is 409.
    assert_eq!(racing(&service, create("/start"), create("")), (201, 201));
    assert_eq!(service.checks_with_slug("racy").len(), 2);
    assert_eq!(send("POST", &create("/fail").1, None), 409);

    // An API update at the same time as a failure ping: the update writes
    // the check back as it read it, and the failure is lost.
    assert_eq!(
        send("POST", &format!("{base}/{PING_KEY}/lost?create=1"), None),
        201
    );
    let upsert = serde_json::json!({"slug": "lost", "unique": ["slug"], "grace": 60}).to_string();
    let statuses = racing(
        &service,
        (
            "POST",
            format!("{}/checks/", service.api_url()),
            Some(upsert),
        ),
        ("POST", format!("{base}/{PING_KEY}/lost/fail"), None),
    );
    assert_eq!(statuses, (200, 200));
    assert_eq!(service.checks_with_slug("lost")[0].status, CheckStatus::Up);
}

#[test]
fn fifty_overlapping_runs_of_a_new_slug_make_one_check() {
    let service = HealthchecksService::start().unwrap();
    let monitor = monitor(&service, false);
    let check = Check::new("fifty").unwrap();
    support::fifty_overlapping_runs(&monitor, &check);
    flushed(&monitor);
    let checks = service.checks_with_slug("fifty");
    assert_eq!(checks.len(), 1, "one check: {checks:?}");
    let mut starts = std::collections::HashMap::<String, usize>::new();
    let mut finishes = std::collections::HashMap::<String, usize>::new();
    for ping in &checks[0].pings {
        let rid = ping.rid.clone().expect("every run ping has a rid");
        let map = if ping.kind == "start" {
            &mut starts
        } else {
            &mut finishes
        };
        *map.entry(rid).or_default() += 1;
    }
    assert_eq!(starts, finishes, "every run that was sent is paired");
    let stats = monitor.stats();
    assert_eq!(stats.failed, 0, "no 409 or other rejection: {stats:?}");
    assert_eq!(starts.len() as u64 + stats.folded / 2, 50, "{stats:?}");
}

#[test]
fn ten_sequential_runs_whose_last_fails_end_down_every_time() {
    let service = HealthchecksService::start().unwrap();
    let check = Check::new("sequential").unwrap();
    for process in 0..10 {
        // A fresh monitor: a cron process that runs the job ten times.
        let monitor = monitor(&service, false);
        support::ten_runs_the_last_failing(&monitor, &check);
        flushed(&monitor);
        let checks = service.checks_with_slug("sequential");
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].status, CheckStatus::Down, "process {process}");
        assert!(!checks[0].started, "process {process}: left started");
    }
}

#[test]
fn scheduled_checks_are_created_once_with_their_schedule_then_pinged() {
    let service = HealthchecksService::start().unwrap();
    let check = Check::builder("nightly-backup")
        .schedule("0 3 * * *")
        .timezone("Europe/Paris")
        .grace(Duration::from_secs(600))
        .build()
        .unwrap();
    for process in 0..5 {
        let monitor = monitor(&service, true);
        let run = monitor.start(&check);
        if process == 4 {
            run.fail_message("disk full");
        } else {
            run.success();
        }
        flushed(&monitor);
    }
    let checks = service.checks_with_slug("nightly-backup");
    assert_eq!(checks.len(), 1, "{checks:?}");
    let check = &checks[0];
    assert_eq!(check.schedule.as_deref(), Some("0 3 * * *"));
    assert_eq!(check.tz.as_deref(), Some("Europe/Paris"));
    assert_eq!(check.grace, Some(600));
    assert_eq!(check.status, CheckStatus::Down);
    assert_eq!(check.pings.len(), 10, "no ping undone by an upsert");
}
