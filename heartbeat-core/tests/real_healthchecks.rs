//! The same scenarios as `healthchecks_service.rs`, against a real,
//! unmodified Healthchecks server. Runs when `HEARTBEAT_TEST_HC_SITE` (the
//! server's SITE_ROOT), `HEARTBEAT_TEST_HC_PING_KEY` and
//! `HEARTBEAT_TEST_HC_API_KEY` (a read-write key of the same project) are
//! set, and says loudly that it was skipped otherwise: CI has no
//! Healthchecks server (it installs only from its source). The README's
//! testing section says how it was run.

mod support;

use std::time::Duration;

use heartbeat_core::{Check, Healthchecks, Monitor, Priority};
use serde_json::Value;
use support::{PATIENCE, fast};

struct Server {
    site: String,
    ping_key: String,
    api_key: String,
}

fn server() -> Option<Server> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("HEARTBEAT_TEST_HC_SITE"),
        var("HEARTBEAT_TEST_HC_PING_KEY"),
        var("HEARTBEAT_TEST_HC_API_KEY"),
    ) {
        (Some(site), Some(ping_key), Some(api_key)) => Some(Server {
            site: site.trim_end_matches('/').to_owned(),
            ping_key,
            api_key,
        }),
        _ => {
            eprintln!(
                "SKIPPED: no real Healthchecks server (set HEARTBEAT_TEST_HC_SITE, \
                 HEARTBEAT_TEST_HC_PING_KEY and HEARTBEAT_TEST_HC_API_KEY)"
            );
            None
        }
    }
}

impl Server {
    fn monitor(&self, api: bool) -> Monitor {
        let mut hc = Healthchecks::new()
            .ping_url(format!("{}/ping", self.site))
            .ping_key(&self.ping_key);
        if api {
            hc = hc
                .api_key(&self.api_key)
                .api_url(format!("{}/api/v3", self.site));
        }
        fast().target(hc).build().unwrap()
    }

    /// The checks with this slug, as the Management API lists them.
    fn checks(&self, slug: &str) -> Vec<Value> {
        let url = format!("{}/api/v3/checks/?slug={slug}", self.site);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let body: Value = rt.block_on(async {
            let reply = support::http_client()
                .get(url)
                .header("X-Api-Key", &self.api_key)
                .send()
                .await
                .unwrap();
            serde_json::from_str(&reply.text().await.unwrap()).unwrap()
        });
        body["checks"].as_array().cloned().unwrap_or_default()
    }
}

/// A slug no earlier run of this test used.
fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid_like()[..8])
}

fn uuid_like() -> String {
    heartbeat_core::RunId::new().to_string()
}

fn flushed(monitor: &Monitor) {
    let report = monitor.flush_blocking(PATIENCE);
    assert!(report.is_complete(), "{report}");
}

#[test]
fn real_server_fifty_overlapping_runs_of_a_new_slug_make_one_check() {
    let Some(server) = server() else { return };
    let slug = fresh("fifty");
    let monitor = server.monitor(false);
    let check = Check::new(&slug).unwrap();
    support::fifty_overlapping_runs(&monitor, &check);
    flushed(&monitor);
    let checks = server.checks(&slug);
    assert_eq!(checks.len(), 1, "{checks:?}");
    let stats = monitor.stats();
    assert_eq!(stats.failed, 0, "no 409 or other rejection: {stats:?}");
    // Every run sent was paired: the server counts both pings of each.
    let pings = checks[0]["n_pings"].as_u64().unwrap();
    assert_eq!(pings, stats.delivered, "{checks:?}");
    assert_eq!(stats.delivered % 2, 0);
    assert_eq!(stats.delivered / 2 + stats.folded / 2, 50, "{stats:?}");
}

#[test]
fn real_server_ten_sequential_runs_whose_last_fails_end_down_every_time() {
    let Some(server) = server() else { return };
    let slug = fresh("sequential");
    let check = Check::new(&slug).unwrap();
    for process in 0..10 {
        let monitor = server.monitor(false);
        support::ten_runs_the_last_failing(&monitor, &check);
        flushed(&monitor);
        let checks = server.checks(&slug);
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert_eq!(checks[0]["status"], "down", "process {process}: {checks:?}");
        assert_eq!(checks[0]["started"], false, "process {process}");
    }
}

#[test]
fn real_server_scheduled_check_is_created_once_then_pinged() {
    let Some(server) = server() else { return };
    let slug = fresh("nightly");
    let check = Check::builder(&slug)
        .schedule("0 3 * * *")
        .timezone("Europe/Paris")
        .grace(Duration::from_secs(600))
        .priority(Priority::P1)
        .build()
        .unwrap();
    for process in 0..5 {
        let monitor = server.monitor(true);
        let run = monitor.start(&check);
        if process == 4 {
            run.fail_message("disk full");
        } else {
            run.success();
        }
        flushed(&monitor);
        assert_eq!(monitor.stats().failed, 0, "{:?}", monitor.stats());
    }
    let checks = server.checks(&slug);
    assert_eq!(checks.len(), 1, "{checks:?}");
    let c = &checks[0];
    assert_eq!(c["schedule"], "0 3 * * *");
    assert_eq!(c["tz"], "Europe/Paris");
    assert_eq!(c["grace"], 600);
    assert_eq!(c["tags"], "p1");
    assert_eq!(c["status"], "down");
    assert_eq!(c["n_pings"], 10, "no ping undone by an upsert: {c:?}");
}
