//! Real child processes against a real loopback receiver: a short-lived
//! program that exits right after its job still delivers; a killed one
//! leaves its start without a finish.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use heartbeat_core::test::{Fault, Receiver};

/// An example binary built by `cargo test` next to this test's executable.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(name);
    assert!(path.exists(), "{} not built", path.display());
    path
}

fn command(name: &str, rx: &Receiver) -> Command {
    let mut cmd = Command::new(example(name));
    for var in [
        "CRONITOR_API_KEY",
        "CRONITOR_PING_URL",
        "HEARTBEAT_ENV",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HEALTHCHECKS_PING_URL", rx.url())
        .env("HEALTHCHECKS_PING_KEY", "child-key");
    cmd
}

#[test]
fn quickstart_delivers_before_it_exits() {
    let rx = Receiver::start().unwrap();
    let out = command("quickstart", &rx).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let requests = rx.requests();
    let mut paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/child-key/quickstart-backup",
            "/child-key/quickstart-backup/start",
            "/child-key/quickstart-export/3",
            "/child-key/quickstart-export/start",
            "/child-key/quickstart-report/fail",
            "/child-key/quickstart-report/start",
        ]
    );
    let fail = requests.iter().find(|r| r.path.ends_with("/fail")).unwrap();
    assert_eq!(fail.body, "could not render the daily report: disk full");
}

#[test]
fn quickstart_exits_zero_when_the_service_is_down() {
    let rx = Receiver::start().unwrap();
    rx.set_fault(Fault::Refuse);
    let out = command("quickstart", &rx).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("delivered 0 pings"), "{stdout}");
}

#[test]
fn a_killed_run_leaves_a_start_without_a_finish() {
    let rx = Receiver::start().unwrap();
    let out = command("crash_mid_run", &rx).output().unwrap();
    assert!(!out.status.success(), "it aborts");
    // Nothing more can arrive from a dead process; give stragglers a moment.
    let requests = rx.wait_for_requests(2, Duration::from_millis(500));
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/child-key/crash-mid-run/start"]);
}

#[test]
fn cron_job_reports_success_and_exits_zero() {
    let rx = Receiver::start().unwrap();
    let out = command("cron_job", &rx).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let paths: Vec<_> = rx.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/child-key/nightly-backup/start",
            "/child-key/nightly-backup"
        ]
    );
}

#[test]
fn cron_job_logs_to_stderr_only() {
    let rx = Receiver::start().unwrap();
    let out = command("cron_job", &rx).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // cron mails whatever a job prints to stdout: only the job's own output.
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout, "backed up 1204224 bytes\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("run started"), "{stderr}");
}

#[test]
fn a_non_utf8_setting_is_an_error_that_names_the_variable() {
    use std::os::unix::ffi::OsStrExt;
    let rx = Receiver::start().unwrap();
    let out = command("cron_job", &rx)
        .env(
            "HEALTHCHECKS_PING_KEY",
            std::ffi::OsStr::from_bytes(b"key-\xff"),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("HEALTHCHECKS_PING_KEY: is not valid UTF-8"),
        "{stderr}"
    );
    assert!(rx.requests().is_empty());
}

#[test]
fn cron_job_failure_is_flushed_then_exits_non_zero() {
    let rx = Receiver::start().unwrap();
    let out = command("cron_job", &rx).arg("--fail").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let requests = rx.requests();
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/child-key/nightly-backup/start",
            "/child-key/nightly-backup/fail"
        ]
    );
    assert_eq!(
        requests[1].body,
        "nightly backup failed: destination volume is read-only\n\
         runbook: https://wiki.example.com/runbooks/nightly-backup"
    );
}

#[test]
fn consumer_sends_heartbeats_and_one_run_per_message() {
    let rx = Receiver::start().unwrap();
    let out = command("consumer", &rx).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let requests = rx.requests();
    let count = |path: &str| requests.iter().filter(|r| r.path == path).count();
    assert_eq!(count("/child-key/order-message/start"), 12);
    assert_eq!(count("/child-key/order-message"), 10);
    assert_eq!(count("/child-key/order-message/fail"), 2);
    // 12 × 50 ms of progress with a 200 ms interval: at least two ticks.
    assert!(count("/child-key/orders-consumer") >= 2, "{requests:?}");
    let fail = requests.iter().find(|r| r.path.ends_with("/fail")).unwrap();
    assert_eq!(fail.body, "message 4 rejected by the downstream API");
}

#[test]
fn a_custom_target_gets_every_event_in_order() {
    let dir = std::env::temp_dir().join(format!("heartbeat-custom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events.jsonl");
    let _ = std::fs::remove_file(&path);
    let out = Command::new(example("custom_target"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["start", "success", "start", "fail"]);
    assert!(lines.iter().all(|l| l["check"] == "custom-target-demo"));
    assert_eq!(lines[0]["run_id"], lines[1]["run_id"]);
    assert_eq!(lines[2]["run_id"], lines[3]["run_id"]);
    assert_ne!(lines[0]["run_id"], lines[2]["run_id"]);
    assert_eq!(lines[3]["message"], "disk full");
    assert!(lines[1]["duration_s"].as_f64().is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// GET `path` from `addr` over plain HTTP/1.1: (status, body).
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn axum_health_serves_worker_health_and_metrics() {
    use std::io::BufRead;
    let rx = Receiver::start().unwrap();
    let mut child = command("axum_health", &rx)
        .env("HEALTH_ADDR", "127.0.0.1:0")
        .args(["--seconds", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    let (status, body) = http_get(&addr, "/health/workers");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    // 200 or 503 depending on where the simulation is; the body says which.
    let expected = if json["status"] == "down" { 503 } else { 200 };
    assert_eq!(status, expected, "{body}");
    assert_eq!(json["workers"][0]["name"], "mailer");
    let (status, _) = http_get(&addr, "/orders/13");
    assert_eq!(status, 500);
    let (status, metrics) = http_get(&addr, "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("heartbeat_runs_total{") && l.contains("outcome=\"failure\"")),
        "{metrics}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn sentry_crons_sends_paired_check_ins_and_one_error_event() {
    let rx = Receiver::start().unwrap();
    let out = command("sentry_crons", &rx)
        .env_remove("SENTRY_DSN")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // (slug, status) of each check-in line the example printed.
    let mut check_ins: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            (fields.next()? == "check-in")
                .then(|| Some((fields.next()?.to_owned(), fields.next()?.to_owned())))?
        })
        .collect();
    check_ins.sort();
    assert_eq!(
        check_ins,
        [
            ("nightly-cleanup".to_owned(), "in_progress".to_owned()),
            ("nightly-cleanup".to_owned(), "ok".to_owned()),
            ("send-invoices".to_owned(), "error".to_owned()),
            ("send-invoices".to_owned(), "in_progress".to_owned()),
        ]
    );
    let events: Vec<&str> = stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some("event"))
        .collect();
    assert_eq!(events.len(), 1, "{stdout}");
    assert!(
        events[0].split_whitespace().any(|f| f == "level=\"fatal\""),
        "{stdout}"
    );
}

#[test]
fn apalis_worker_monitors_each_task_and_flushes_when_it_stops() {
    use std::io::BufRead;
    let rx = Receiver::start().unwrap();
    let mut child = command("apalis_worker", &rx)
        .env("HEALTH_ADDR", "127.0.0.1:0")
        .args(["--seconds", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    // Both workers alive once they have started (each registers at its
    // start event); the queue shows once its watch has polled.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = http_get(&addr, "/health");
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let started = json["workers"].as_array().is_some_and(|w| w.len() == 2);
        if started && json["queues"]["emails"].is_object() {
            assert_eq!(json["workers"][0]["name"], "mailer", "{body}");
            assert_eq!(json["workers"][1]["name"], "minute-report", "{body}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());

    // Everything was delivered before the process exited: three emails,
    // one sent, one sent on its retry, one bounced on both attempts.
    let mut paths: Vec<String> = rx
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.starts_with("/child-key/mailer"))
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/child-key/mailer",
            "/child-key/mailer",
            "/child-key/mailer/fail",
            "/child-key/mailer/log",
            "/child-key/mailer/log",
            "/child-key/mailer/start",
            "/child-key/mailer/start",
            "/child-key/mailer/start",
            "/child-key/mailer/start",
            "/child-key/mailer/start",
        ]
    );
}
