//! Monitor upserts against loopback servers speaking the Healthchecks
//! Management API v3 and Cronitor monitors API shapes: once per check per
//! process, in the background, errors reported clearly, runs unaffected.

mod support;

use std::time::Duration;

use heartbeat_core::test::{Fault, Receiver, Request};
use heartbeat_core::{Check, Cronitor, Healthchecks, Monitor};
use serde_json::{Value, json};
use support::{LogCapture, PATIENCE, fast};

fn logs() -> &'static LogCapture {
    support::global_logs()
}

fn hc(pings: &Receiver, api: &Receiver) -> Monitor {
    fast()
        .target(
            Healthchecks::new()
                .ping_url(pings.url())
                .ping_key("pk")
                .api_key("hc-api-key")
                .api_url(format!("{}/api/v3", api.url())),
        )
        .build()
        .unwrap()
}

fn json_body(r: &Request) -> Value {
    serde_json::from_str(&r.body).unwrap()
}

fn scheduled(slug: &str) -> Check {
    Check::builder(slug)
        .schedule("0 3 * * *")
        .timezone("Europe/Paris")
        .grace(Duration::from_millis(90_400))
        .max_runtime(Duration::from_secs(3600))
        .runbook("https://wiki.example.com/backup")
        .build()
        .unwrap()
}

#[test]
fn healthchecks_upserts_by_slug_once_per_check() {
    logs();
    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    api.set_reply(201, r#"{"name":"nightly-backup"}"#);
    let monitor = hc(&pings, &api);
    let check = scheduled("nightly-backup");
    monitor.start(&check).success();
    monitor.start(&check).success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());

    let calls = api.requests();
    assert_eq!(calls.len(), 1, "once per check per process");
    let call = &calls[0];
    assert_eq!(
        (call.method.as_str(), call.path.as_str()),
        ("POST", "/api/v3/checks/")
    );
    assert_eq!(call.header("x-api-key"), Some("hc-api-key"));
    assert_eq!(call.header("content-type"), Some("application/json"));
    assert_eq!(
        json_body(call),
        json!({
            "name": "nightly-backup",
            "slug": "nightly-backup",
            "schedule": "0 3 * * *",
            "tz": "Europe/Paris",
            "grace": 90,
            "desc": "runbook: https://wiki.example.com/backup",
            "unique": ["slug"],
        })
    );
    assert_eq!(pings.requests().len(), 4, "the runs were pinged as usual");
    assert_eq!(
        monitor.stats().delivered,
        4,
        "upserts are not counted as pings"
    );
}

#[test]
fn healthchecks_interval_uuid_and_clamping() {
    logs();
    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    let monitor = hc(&pings, &api);
    let uuid = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278";
    let check = Check::builder("every-five")
        .healthchecks_uuid(uuid)
        .every(Duration::from_secs(300))
        .grace(Duration::from_secs(10))
        .build()
        .unwrap();
    monitor.start(&check).success();
    // A check without a schedule is not upserted.
    monitor.start(&Check::new("unscheduled").unwrap()).success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let calls = api.requests();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, format!("/api/v3/checks/{uuid}"));
    assert_eq!(json_body(&calls[0]), json!({ "timeout": 300, "grace": 60 }));
}

/// The ERROR line reporting a failed upsert of `slug`, found by its
/// structured fields (level, `check`, `operation`), never by a status code
/// alone, which run ids and durations can contain too.
fn is_upsert_error(line: &str, slug: &str) -> bool {
    line.contains(" ERROR ")
        && line.contains(&format!("check=\"{slug}\""))
        && line.contains("operation=\"monitor upsert failed\"")
}

#[test]
fn healthchecks_errors_are_reported_clearly_and_runs_go_on() {
    let logs = logs();
    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    api.set_reply(401, r#"{"error": "wrong api key"}"#);
    let monitor = hc(&pings, &api);
    monitor.start(&scheduled("bad-key-job")).fail_message("x");
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    assert_eq!(api.requests().len(), 1, "a 401 is not retried");
    let stats = monitor.stats();
    assert_eq!((stats.upserted, stats.upserts_failed), (0, 1), "{stats:?}");
    assert_eq!(pings.requests().len(), 2);
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| is_upsert_error(l, "bad-key-job"))
        .unwrap_or_else(|| panic!("no upsert error for bad-key-job:\n{text}"));
    assert!(line.contains("(401"), "{line}");
    assert!(
        line.contains("use the project's read-write API key"),
        "{line}"
    );
    assert!(
        !text.contains("hc-api-key"),
        "the key never reaches the log"
    );

    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    api.set_reply(400, r#"{"error": "invalid cron expression"}"#);
    let monitor = hc(&pings, &api);
    monitor.start(&scheduled("bad-def-job")).success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| is_upsert_error(l, "bad-def-job"))
        .unwrap_or_else(|| panic!("no upsert error for bad-def-job:\n{text}"));
    assert!(line.contains("(400"), "{line}");
    assert!(line.contains("invalid cron expression"), "{line}");
}

#[test]
fn a_hanging_api_does_not_hold_up_runs() {
    logs();
    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    api.set_fault(Fault::Hang);
    let monitor = hc(&pings, &api);
    monitor.start(&scheduled("hang-api-job")).success();
    assert!(api.wait_for_held(1, PATIENCE));
    assert_eq!(
        pings.wait_for_requests(2, PATIENCE).len(),
        2,
        "pings still flow"
    );
    let report = monitor.flush_blocking(Duration::from_millis(300));
    assert!(report.stats.delivered >= 2, "{report}");
}

fn cronitor(pings: &Receiver, api: &Receiver) -> Monitor {
    fast()
        .target(
            Cronitor::new("ck")
                .ping_url(pings.url())
                .api_url(format!("{}/api", api.url())),
        )
        .build()
        .unwrap()
}

#[test]
fn cronitor_upserts_with_put_and_basic_auth() {
    logs();
    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    let monitor = cronitor(&pings, &api);
    let check = scheduled("nightly-backup");
    monitor.start(&check).success();
    monitor.start(&check).success();
    let every = Check::builder("every-two-hours")
        .every(Duration::from_secs(7200))
        .failure_tolerance(2)
        .build()
        .unwrap();
    monitor.start(&every).success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());

    let mut calls = api.requests();
    calls.sort_by_key(|r| {
        json_body(r)["monitors"][0]["key"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    assert_eq!(calls.len(), 2, "once per scheduled check");
    for call in &calls {
        assert_eq!(
            (call.method.as_str(), call.path.as_str()),
            ("PUT", "/api/monitors")
        );
        // base64("ck:"): the key as user name, no password.
        assert_eq!(call.header("authorization"), Some("Basic Y2s6"));
    }
    assert_eq!(
        json_body(&calls[0]),
        json!({ "monitors": [{
            "type": "job",
            "key": "every-two-hours",
            "schedule": "every 120 minutes",
            "timezone": "UTC",
            "failure_tolerance": 2,
        }]})
    );
    assert_eq!(
        json_body(&calls[1]),
        json!({ "monitors": [{
            "type": "job",
            "key": "nightly-backup",
            "schedule": "0 3 * * *",
            "timezone": "Europe/Paris",
            "grace_seconds": 90,
            "assertions": ["metric.duration < 60 minutes"],
            "note": "runbook: https://wiki.example.com/backup",
        }]})
    );
}

#[test]
fn cronitor_rejected_key_is_reported_clearly() {
    let logs = logs();
    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    api.set_reply(403, "forbidden");
    let monitor = cronitor(&pings, &api);
    monitor.start(&scheduled("cronitor-no-write")).success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| is_upsert_error(l, "cronitor-no-write"))
        .unwrap_or_else(|| panic!("no upsert error for cronitor-no-write:\n{text}"));
    assert!(line.contains("(403"), "{line}");
    assert!(line.contains("monitor write"), "{line}");
    assert!(line.contains("sync_monitors(false)"), "{line}");
    assert_eq!(pings.requests().len(), 2);
}

#[test]
fn a_checks_upsert_goes_before_its_first_ping() {
    logs();
    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    let slow = Duration::from_millis(300);
    api.set_fault(Fault::Slow(slow));
    let monitor = hc(&pings, &api);
    let check = scheduled("first-contact");
    monitor.start(&check).success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let upsert = &api.requests()[0];
    let pings = pings.requests();
    assert_eq!(pings.len(), 2);
    // The first ping left only once the upsert was answered, `slow` after
    // it arrived: the service never sees the two at once.
    let answered = upsert.received_at + slow;
    assert!(pings[0].received_at >= answered, "{pings:?} {upsert:?}");
}

#[test]
fn a_failing_upsert_is_retried_without_holding_the_pings() {
    logs();
    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    api.push_faults([Fault::Status(503)]);
    api.set_reply(201, "{}");
    let monitor = hc(&pings, &api);
    monitor.start(&scheduled("flaky-api")).success();
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{report}");
    assert_eq!(pings.requests().len(), 2);
    let calls = api.requests();
    assert_eq!(calls.len(), 2, "one 503, then the retry");
    assert_eq!(report.stats.upserted, 1, "{:?}", report.stats);
    // The retry came after the pings: they did not wait for it.
    assert!(calls[1].received_at >= pings.requests()[1].received_at);
}

#[test]
fn priority_becomes_a_tag_beside_the_users_own() {
    use heartbeat_core::Priority;
    use heartbeat_core::test::{API_KEY, HealthchecksService, PING_KEY};
    logs();
    let service = HealthchecksService::start().unwrap();
    // The user tagged the check on the service, and once set it to p3.
    let setup = serde_json::json!({"slug": "paging", "unique": ["slug"], "tags": "team-a p3 db"});
    let client = support::http_client();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("{}/checks/", service.api_url());
        let request = client
            .post(url)
            .header("X-Api-Key", API_KEY)
            .body(setup.to_string());
        assert_eq!(request.send().await.unwrap().status().as_u16(), 201);
    });
    let with_api = || {
        fast()
            .target(
                Healthchecks::new()
                    .ping_url(service.ping_url())
                    .ping_key(PING_KEY)
                    .api_key(API_KEY)
                    .api_url(service.api_url()),
            )
            .build()
            .unwrap()
    };
    let monitor = with_api();
    // No schedule: a priority alone is reason enough to upsert.
    let check = Check::builder("paging")
        .priority(Priority::P1)
        .build()
        .unwrap();
    monitor.start(&check).success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let checks = service.checks_with_slug("paging");
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].tags.as_deref(), Some("team-a db p1"));

    // A check whose priority was not set is not tagged (nor upserted).
    let monitor_plain = with_api();
    monitor_plain.start(&Check::new("plain").unwrap()).success();
    assert!(monitor_plain.flush_blocking(PATIENCE).is_complete());
    assert_eq!(service.checks_with_slug("plain")[0].tags, None);
}

#[test]
fn cronitor_priority_tag_keeps_the_monitors_tags() {
    use heartbeat_core::Priority;
    use heartbeat_core::test::Reply;
    logs();
    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    api.set_responder(|request| match request.method.as_str() {
        "GET" if request.path == "/api/monitors/tagged-job" => {
            Reply::new(200, r#"{"key": "tagged-job", "tags": ["billing", "p2"]}"#)
        }
        "GET" => Reply::new(404, "not found"),
        _ => Reply::new(200, "{}"),
    });
    let monitor = cronitor(&pings, &api);
    for slug in ["tagged-job", "new-job"] {
        let check = Check::builder(slug).priority(Priority::P1).build().unwrap();
        monitor.start(&check).success();
    }
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let puts: Vec<Value> = api
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(json_body)
        .collect();
    let tags_of = |key: &str| {
        puts.iter()
            .map(|b| &b["monitors"][0])
            .find(|m| m["key"] == key)
            .map(|m| m["tags"].clone())
    };
    assert_eq!(tags_of("tagged-job"), Some(json!(["billing", "p1"])));
    assert_eq!(tags_of("new-job"), Some(json!(["p1"])));
}

#[test]
fn a_keepalive_upserts_its_check_before_its_first_heartbeat() {
    logs();
    let (pings, api) = (Receiver::start().unwrap(), Receiver::start().unwrap());
    api.set_reply(201, r#"{"name":"consumer-alive"}"#);
    let monitor = hc(&pings, &api);
    let check = Check::builder("consumer-alive")
        .every(Duration::from_secs(120))
        .build()
        .unwrap();
    let alive = monitor
        .keepalive(&check, Duration::from_millis(100))
        .regardless_of_progress();
    pings.wait_for_requests(2, PATIENCE);
    drop(alive);
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    let calls = api.requests();
    assert_eq!(calls.len(), 1, "upserted once: {calls:?}");
    assert_eq!(json_body(&calls[0])["slug"], "consumer-alive");
    assert_eq!(json_body(&calls[0])["timeout"], 120);
    assert!(
        calls[0].received_at <= pings.requests()[0].received_at,
        "the upsert went before the first heartbeat"
    );
}
