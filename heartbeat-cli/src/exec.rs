//! `heartbeat exec`: run a command as a monitored run.
//!
//! The command's stdout and stderr are copied through unchanged, byte for
//! byte and in order within each stream, while the run keeps their last
//! bytes for the failure ping. Its exit status is heartbeat's own; a
//! service that is down changes nothing about it.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use heartbeat_core::{RunGuard, RunHandle, RunOptions};
use rustix::process::{Pid, Signal, kill_process};
use signal_hook::consts::{SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::args::ExecArgs;

/// `timeout(1)`'s status for a command it had to stop.
const TIMED_OUT: u8 = 124;
/// The shells' statuses for a command that cannot be run, or is not found.
const CANNOT_RUN: u8 = 126;
const NOT_FOUND: u8 = 127;

/// How long the output is still read after the command exits: a background
/// process it left behind may hold the pipes open for good.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);

pub(crate) fn run(args: ExecArgs) -> Result<ExitCode, String> {
    let check = args.check.check()?;
    let monitor = args.check.monitor()?;
    let flush = monitor.flush_on_drop(args.check.flush_timeout);
    let run = monitor.start_with(&check, RunOptions::new().log_tail(args.tail_bytes));
    let code = supervise(&args, run);
    // Deliver (or give up on) the pings before exiting: `exit` skips drops.
    drop(flush);
    Ok(ExitCode::from(code))
}

/// Runs the command to its end, reports it on `run`, and returns the
/// status to exit with.
fn supervise(args: &ExecArgs, run: RunGuard) -> u8 {
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let name = program.to_string_lossy().into_owned();
    let spawned = std::process::Command::new(program)
        .args(rest)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let (code, what) = match e.kind() {
                std::io::ErrorKind::NotFound => (NOT_FOUND, "command not found"),
                _ => (CANNOT_RUN, "command cannot be run"),
            };
            let message = format!("{what}: {name}: {e}");
            eprintln!("heartbeat: {message}");
            run.fail_message(message);
            return code;
        }
    };
    let pid = Pid::from_child(&child);
    let forwarding = forward_signals(pid);
    let pumps = [
        pump(child.stdout.take(), std::io::stdout(), run.handle()),
        pump(child.stderr.take(), std::io::stderr(), run.handle()),
    ];
    let exited = wait_in_background(child);
    let (status, timed_out) = match args.timeout {
        None => (exited.recv().ok(), None),
        Some(limit) => match exited.recv_timeout(limit) {
            Ok(status) => (Some(status), None),
            Err(_) => {
                let _ = kill_process(pid, Signal::TERM);
                let killed = match exited.recv_timeout(args.kill_after) {
                    Ok(status) => status,
                    Err(_) => {
                        let _ = kill_process(pid, Signal::KILL);
                        exited.recv().unwrap_or_default()
                    }
                };
                (Some(killed), Some(limit))
            }
        },
    };
    if let Ok(handle) = forwarding {
        handle.close();
    }
    for pump in pumps.into_iter().flatten() {
        drain(pump);
    }
    let Some(status) = status else {
        run.fail_message(format!(
            "lost track of {name}: its exit status could not be read"
        ));
        return CANNOT_RUN;
    };
    if let Some(limit) = timed_out {
        run.fail_message(format!(
            "{name} timed out after {}s and was killed ({})",
            limit.as_secs(),
            describe(status)
        ));
        return TIMED_OUT;
    }
    report(run, &name, status)
}

/// Reports a finished command and returns the status a shell would show.
fn report(run: RunGuard, name: &str, status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        // The exit status's low byte, as a shell sees it.
        run.exit_code(code);
        return (code & 0xff) as u8;
    }
    let signal = status.signal().unwrap_or(0);
    run.fail_message(format!("{name} was {}", describe(status)));
    (128 + signal).clamp(0, 255) as u8
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}{}", signal_name(signal)),
        (None, None) => "ended without a status".to_owned(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGHUP => " (SIGHUP)",
        SIGINT => " (SIGINT)",
        SIGQUIT => " (SIGQUIT)",
        SIGTERM => " (SIGTERM)",
        SIGKILL => " (SIGKILL)",
        _ => "",
    }
}

/// While the command runs: SIGTERM and SIGHUP sent to heartbeat go on to
/// the command; SIGINT and SIGQUIT are caught and dropped, since the
/// terminal sends them to the command's process group already (caught, not
/// ignored: an ignored signal would stay ignored in the command).
fn forward_signals(child: Pid) -> std::io::Result<signal_hook::iterator::Handle> {
    let mut signals = Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("heartbeat-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let forward = match signal {
                    SIGTERM => Signal::TERM,
                    SIGHUP => Signal::HUP,
                    _ => continue,
                };
                let _ = kill_process(child, forward);
            }
        })?;
    Ok(handle)
}

/// Copies one of the command's streams to ours as it comes, and into the
/// run's output tail.
fn pump(
    from: Option<impl Read + Send + 'static>,
    mut to: impl Write + Send + 'static,
    run: RunHandle,
) -> Option<mpsc::Receiver<()>> {
    let mut from = from?;
    let (done, finished) = mpsc::channel();
    let _: JoinHandle<()> = std::thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    // Our own stdout closing (a pipe to `head`) must not
                    // stop the command's: keep reading, keep the tail.
                    let _ = to.write_all(&buf[..n]).and_then(|()| to.flush());
                    run.log_bytes(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = done.send(());
    });
    Some(finished)
}

/// Waits for a pump to reach the end of its stream, for a short while.
fn drain(pump: mpsc::Receiver<()>) {
    let _ = pump.recv_timeout(DRAIN_AFTER_EXIT);
}

/// The command's exit status, when it comes.
fn wait_in_background(mut child: Child) -> mpsc::Receiver<ExitStatus> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok(status) = child.wait() {
            let _ = tx.send(status);
        }
    });
    rx
}
