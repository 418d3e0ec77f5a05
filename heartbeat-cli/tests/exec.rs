//! The real `heartbeat` binary against a real loopback receiver, as a
//! crontab line runs it.

use heartbeat_core::test::{Fault, Receiver, Request};
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

/// `heartbeat ARGS…` configured for `rx` and nothing else.
fn heartbeat(rx: &Receiver, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_heartbeat"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HEALTHCHECKS_PING_URL", rx.url())
        .env("HEALTHCHECKS_PING_KEY", "key")
        .args(args);
    cmd
}

fn exec(rx: &Receiver, check: &str, command: &[&str]) -> Output {
    let mut args = vec!["exec", "--check", check, "--"];
    args.extend_from_slice(command);
    heartbeat(rx, &args).output().unwrap()
}

fn paths(requests: &[Request]) -> Vec<&str> {
    requests.iter().map(|r| r.path.as_str()).collect()
}

#[test]
fn a_succeeding_command_reports_success_and_passes_its_output_through() {
    let rx = Receiver::start().unwrap();
    let out = exec(&rx, "backup", &["sh", "-c", "echo saved; echo note >&2"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, b"saved\n");
    assert_eq!(out.stderr, b"note\n");
    assert_eq!(
        paths(&rx.requests()),
        ["/key/backup/start", "/key/backup/0"]
    );
}

#[test]
fn a_failing_command_sends_its_status_and_output_tail_and_keeps_its_status() {
    let rx = Receiver::start().unwrap();
    let script = "echo copying; echo 'disk full' >&2; exit 3";
    let out = exec(&rx, "backup", &["sh", "-c", script]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let requests = rx.requests();
    assert_eq!(paths(&requests), ["/key/backup/start", "/key/backup/3"]);
    let body = &requests[1].body;
    assert!(
        body.contains("copying\n") && body.contains("disk full\n"),
        "{body:?}"
    );
}

#[test]
fn a_command_that_is_not_found_is_a_failure_with_status_127() {
    let rx = Receiver::start().unwrap();
    let out = exec(&rx, "backup", &["/nonexistent/backup.sh"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let requests = rx.requests();
    assert_eq!(paths(&requests), ["/key/backup/start", "/key/backup/fail"]);
    assert!(
        requests[1]
            .body
            .starts_with("command not found: /nonexistent/backup.sh"),
        "{:?}",
        requests[1].body
    );
}

#[test]
fn a_file_that_cannot_be_run_is_status_126() {
    let rx = Receiver::start().unwrap();
    // A directory exists but cannot be executed.
    let dir = std::env::temp_dir();
    let out = exec(&rx, "backup", &[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    assert_eq!(paths(&rx.requests())[1], "/key/backup/fail");
}

#[test]
fn a_command_over_its_timeout_is_killed_reported_and_exits_124() {
    let rx = Receiver::start().unwrap();
    let out = heartbeat(
        &rx,
        &[
            "exec",
            "--check",
            "slow",
            "--timeout",
            "1s",
            "--",
            "sleep",
            "30",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    let requests = rx.requests();
    assert_eq!(paths(&requests), ["/key/slow/start", "/key/slow/fail"]);
    assert!(
        requests[1].body.starts_with("sleep timed out after 1s"),
        "{:?}",
        requests[1].body
    );
}

#[test]
fn sigterm_reaches_the_command_and_the_status_is_what_a_shell_reports() {
    let rx = Receiver::start().unwrap();
    let mut child = heartbeat(
        &rx,
        &[
            "exec",
            "--check",
            "worker",
            "--",
            "sh",
            "-c",
            "echo ready; exec sleep 30",
        ],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    // The command is running once it has said so.
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    // `sleep` died of the forwarded SIGTERM: 128 + 15, as a shell reports.
    assert_eq!(status.code(), Some(143), "{status:?}");
    let requests = rx.requests();
    assert_eq!(paths(&requests), ["/key/worker/start", "/key/worker/fail"]);
    assert!(
        requests[1]
            .body
            .starts_with("sh was killed by signal 15 (SIGTERM)"),
        "{:?}",
        requests[1].body
    );
}

#[test]
fn a_service_that_is_down_changes_nothing_about_the_command() {
    let rx = Receiver::start().unwrap();
    rx.set_fault(Fault::Refuse);
    let out = heartbeat(
        &rx,
        &[
            "exec",
            "--check",
            "backup",
            "--flush-timeout",
            "2s",
            "--",
            "sh",
            "-c",
            "echo done; exit 5",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(out.stdout, b"done\n");
    // What was lost is said once, at the end, on stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last: Vec<&str> = stderr
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(last.get(1), Some(&"WARN"), "{stderr}");
    assert!(last.contains(&"abandoned=1"), "{stderr}");
}

#[test]
fn binary_output_passes_through_untouched() {
    let rx = Receiver::start().unwrap();
    let out = exec(&rx, "blob", &["printf", "\\377\\000\\376raw\\n"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, b"\xff\x00\xferaw\n");
}

#[test]
fn bad_flags_and_values_exit_2_and_say_what_is_wrong() {
    let rx = Receiver::start().unwrap();
    let out = exec(&rx, "Nightly Backup!", &["true"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nightly-backup"),
        "suggests a slug: {stderr}"
    );
    let out = heartbeat(
        &rx,
        &["exec", "--check", "x", "--timeout", "soon", "--", "true"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid duration"));
    let out = heartbeat(
        &rx,
        &[
            "exec",
            "--check",
            "x",
            "--schedule",
            "every day",
            "--",
            "true",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        rx.requests().is_empty(),
        "nothing is sent for a bad command line"
    );
}

#[test]
fn ping_sends_one_ping_paired_by_run_id() {
    let rx = Receiver::start().unwrap();
    let run = "8c3e7c52-3f5e-4c38-9a4e-0c3f7e0b9a11";
    let start = heartbeat(
        &rx,
        &["ping", "--check", "script", "--start", "--run-id", run],
    )
    .output()
    .unwrap();
    assert!(start.status.success(), "{start:?}");
    let end = heartbeat(
        &rx,
        &[
            "ping",
            "--check",
            "script",
            "--exit-code",
            "4",
            "--message",
            "partial copy",
            "--run-id",
            run,
        ],
    )
    .output()
    .unwrap();
    assert!(end.status.success(), "{end:?}");
    let requests = rx.requests();
    assert_eq!(paths(&requests), ["/key/script/start", "/key/script/4"]);
    assert!(requests.iter().all(|r| r.query("rid") == Some(run)));
    assert_eq!(requests[1].body, "partial copy");
}

#[test]
fn version_and_help() {
    let rx = Receiver::start().unwrap();
    let out = heartbeat(&rx, &["--version"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("heartbeat {}", env!("CARGO_PKG_VERSION"))
    );
    let out = heartbeat(&rx, &["exec", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--check", "--schedule", "--timeout", "--flush-timeout"] {
        assert!(help.contains(flag), "{help}");
    }
}
