//! A job killed in the middle of its run: its start ping is delivered, its
//! finish never is, and the service's dead man's switch alerts. Used by the
//! tests; run it against a service configured in the environment.

use std::time::Duration;

use heartbeat_core::{Check, Monitor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let monitor = Monitor::from_env()?;
    let run = monitor.start(&Check::new("crash-mid-run")?);
    let report = monitor.flush_blocking(Duration::from_secs(5));
    eprintln!("start flushed ({report}), run {} now dies", run.run_id());
    // SIGABRT: no destructor runs, as with an OOM kill or a power cut.
    std::process::abort();
}
