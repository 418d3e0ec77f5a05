//! The main job, monitored: three runs (one succeeds, one fails with an
//! error chain, one ends with an exit code), then a timeline of what the
//! monitoring service received.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! With none of the heartbeat environment variables set, it starts an
//! embedded Healthchecks-compatible receiver on 127.0.0.1 and prints what it
//! recorded. With `HEALTHCHECKS_PING_URL` + `HEALTHCHECKS_PING_KEY`, or
//! `CRONITOR_API_KEY` (+ `CRONITOR_PING_URL`), it pings that service instead.
//! Either way it exits 0 within the flush deadline, even if the service is down.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use heartbeat_core::test::Receiver;
use heartbeat_core::{Check, Healthchecks, Monitor, MonitorBuilder};

const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct ReportError(std::io::Error);

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not render the daily report")
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn backup() -> Result<u64, std::io::Error> {
    std::thread::sleep(Duration::from_millis(120));
    Ok(42)
}

fn daily_report() -> Result<(), ReportError> {
    std::thread::sleep(Duration::from_millis(40));
    Err(ReportError(std::io::Error::other("disk full")))
}

fn export_script() -> i32 {
    std::thread::sleep(Duration::from_millis(10));
    3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();

    let from_env = MonitorBuilder::from_env()?;
    let (monitor, receiver) = if from_env.has_targets() {
        (from_env.build()?, None)
    } else {
        let receiver = Receiver::start()?;
        let monitor = Monitor::builder()
            .target(
                Healthchecks::new()
                    .ping_url(receiver.url())
                    .ping_key("quickstart"),
            )
            .build()?;
        (monitor, Some(receiver))
    };
    println!("sending to: {}", monitor.targets().join(", "));

    {
        // Flushes when it goes out of scope: a program that exits right after
        // its jobs still delivers its pings (or gives up at the deadline).
        let _flush = monitor.flush_on_drop(FLUSH_DEADLINE);

        let run = monitor.start(&Check::new("quickstart-backup")?);
        match backup() {
            Ok(_) => run.success(),
            Err(e) => run.fail(&e),
        }

        let run = monitor.start(&Check::new("quickstart-report")?);
        match daily_report() {
            Ok(()) => run.success(),
            Err(e) => run.fail(&e),
        }

        let run = monitor.start(&Check::new("quickstart-export")?);
        run.exit_code(export_script());
    }

    let stats = monitor.stats();
    println!(
        "\ndelivered {} pings, {} retried, {} failed, {} dropped, {} pending",
        stats.delivered, stats.retried, stats.failed, stats.dropped, stats.pending
    );
    if let Some(receiver) = receiver {
        print_timeline(&receiver);
    }
    Ok(())
}

/// What the embedded receiver recorded, as a monitoring service would show it.
fn print_timeline(receiver: &Receiver) {
    let requests = receiver.requests();
    println!(
        "\nwhat the monitoring service received ({}):",
        receiver.url()
    );
    let Some(t0) = requests.first().map(|r| r.received_at) else {
        println!("  nothing");
        return;
    };
    let mut starts: HashMap<String, SystemTime> = HashMap::new();
    for r in &requests {
        // Healthchecks slug URLs: /<ping-key>/<slug>[/start|/fail|/<code>]
        let mut parts = r.path.trim_start_matches('/').split('/').skip(1);
        let slug = parts.next().unwrap_or("?");
        let event = match parts.next() {
            None => "success".to_owned(),
            Some(code) if code.parse::<u8>().is_ok() => format!("exit {code}"),
            Some(other) => other.to_owned(),
        };
        let rid = r.query("rid").unwrap_or("");
        let at = r.received_at.duration_since(t0).unwrap_or_default();
        let mut line = format!(
            "  +{:>6.3}s  {:<18} {:<8} run {}",
            at.as_secs_f64(),
            slug,
            event,
            &rid[..rid.len().min(8)]
        );
        if event == "start" {
            starts.insert(rid.to_owned(), r.received_at);
        } else if let Some(start) = starts.get(rid) {
            let took = r.received_at.duration_since(*start).unwrap_or_default();
            line.push_str(&format!("  took {:.3}s", took.as_secs_f64()));
        }
        if !r.body.is_empty() {
            line.push_str(&format!("  body: {:?}", r.body));
        }
        println!("{line}");
    }
}
