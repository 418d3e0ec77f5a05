//! A monitoring target of your own, in a few lines: every event becomes a
//! JSON line appended to a file. Any service (a chat webhook, an internal
//! API, a metrics pipe) plugs in the same way, and gets heartbeat's queue,
//! ordering, retries and flush for free.
//!
//! `cargo run --example custom_target -- /tmp/events.jsonl`

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use heartbeat_core::{BoxFuture, Check, Event, Monitor, Target, Verdict};

#[derive(Debug)]
struct JsonLines(Mutex<std::fs::File>);

impl Target for JsonLines {
    fn name(&self) -> &str {
        "jsonl"
    }

    fn send<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Verdict> {
        let line = serde_json::json!({
            "check": event.check().slug(),
            "event": event.kind().name(),
            "run_id": event.run_id().to_string(),
            "attempt": event.attempt(),
            "duration_s": event.duration().map(|d| d.as_secs_f64()),
            "message": event.message(),
        });
        // Runs on heartbeat's delivery thread, never on the job's.
        let written = writeln!(self.0.lock().unwrap(), "{line}");
        Box::pin(async move {
            match written {
                Ok(()) => Verdict::Delivered,
                // Retried with backoff, like a service that is down.
                Err(e) => Verdict::retry(format!("could not write: {e}")),
            }
        })
    }

    fn flush(&self, _deadline: Instant) -> BoxFuture<'_, bool> {
        let synced = self.0.lock().unwrap().sync_data().is_ok();
        Box::pin(async move { synced })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("heartbeat-events.jsonl"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let monitor = Monitor::builder()
        .target(JsonLines(Mutex::new(file)))
        .build()?;
    let _flush = monitor.flush_on_drop(Duration::from_secs(5));

    let check = Check::new("custom-target-demo")?;
    monitor.run_blocking(&check, || Ok::<(), std::io::Error>(()))?;
    let failed = monitor.run_blocking(&check, || Err::<(), _>(std::io::Error::other("disk full")));
    eprintln!(
        "second run: {failed:?}; events appended to {}",
        path.display()
    );
    Ok(())
}
