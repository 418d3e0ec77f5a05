//! A long-running async consumer: a keepalive that pings while messages are
//! being handled (and goes silent if the loop gets stuck), and each message
//! handled as a monitored run.
//!
//! ```text
//! cargo run --example consumer
//! ```
//!
//! Configure the service through the environment; with nothing set, runs are
//! logged and nothing is sent. It handles 12 messages and exits.

use std::time::Duration;

use heartbeat_core::{Check, Monitor};

#[derive(Debug)]
struct Rejected(u32);

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "message {} rejected by the downstream API", self.0)
    }
}

impl std::error::Error for Rejected {}

async fn handle(message: u32) -> Result<(), Rejected> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    if message % 5 == 4 {
        Err(Rejected(message))
    } else {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let monitor = Monitor::from_env()?;
    let _flush = monitor.flush_on_drop(Duration::from_secs(5));

    let consumer = Check::new("orders-consumer")?;
    let message_check = Check::builder("order-message")
        .max_runtime(Duration::from_secs(30))
        .build()?;

    // A heartbeat every 200 ms while messages get handled.
    let alive = monitor.keepalive(&consumer, Duration::from_millis(200));
    for message in 0..12 {
        // A failed message is reported (and logged) but does not stop the loop.
        let _ = monitor.run(&message_check, handle(message)).await;
        alive.progress();
    }
    // Let the last tick go out before the keepalive stops.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let stats = monitor.stats();
    println!(
        "queued {} events, delivered {}",
        stats.queued, stats.delivered
    );
    Ok(())
}
