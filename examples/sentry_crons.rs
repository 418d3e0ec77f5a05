//! Sentry Crons and Sentry errors for scheduled jobs: check-ins travel on
//! heartbeat's engine, failures go through the application's Sentry client.
//!
//! ```text
//! cargo run --example sentry_crons                          # embedded receiver, printed
//! SENTRY_DSN=https://key@o1.ingest.sentry.io/1 cargo run --example sentry_crons
//! ```
//!
//! It initialises Sentry (reqwest + rustls with ring, no native-tls), runs
//! a succeeding and a failing scheduled job, flushes both heartbeat and
//! Sentry, and exits. Without `SENTRY_DSN` it points Sentry at an embedded
//! receiver on 127.0.0.1 and prints what Sentry would have received.

use std::time::Duration;

use heartbeat_core::test::Receiver;
use heartbeat_core::{Check, Monitor, Priority, SentryCrons};

#[derive(Debug)]
struct InvoiceError(std::io::Error);

impl std::fmt::Display for InvoiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not send the invoices")
    }
}

impl std::error::Error for InvoiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    // The application's choice of rustls provider (a library never makes it).
    let _ = rustls::crypto::ring::default_provider().install_default();

    let receiver = match std::env::var("SENTRY_DSN") {
        Ok(_) => None,
        Err(_) => Some(Receiver::start()?),
    };
    let dsn = match &receiver {
        Some(rx) => format!("http://examplekey@{}/1", rx.addr()),
        None => std::env::var("SENTRY_DSN")?,
    };
    let _sentry = sentry::init((
        dsn.as_str(),
        sentry::ClientOptions::new().environment("example"),
    ));

    let monitor = Monitor::builder()
        .target(SentryCrons::new())
        .sentry_events()
        .build()?;
    let nightly = Check::builder("nightly-cleanup")
        .schedule("30 2 * * *")
        .timezone("Europe/Berlin")
        .grace(Duration::from_secs(10 * 60))
        .build()?;
    let invoices = Check::builder("send-invoices")
        .schedule("0 9 * * 1")
        .priority(Priority::P1)
        .runbook("https://wiki.example.com/runbooks/invoices")
        .build()?;

    monitor.start(&nightly).success();
    let run = monitor.start(&invoices);
    run.log("rendered 12 invoices; SMTP connection refused");
    run.fail(&InvoiceError(std::io::Error::other("connection refused")));

    let report = monitor.flush_blocking(Duration::from_secs(5));
    println!("heartbeat: {report}");
    if let Some(client) = sentry::Hub::current().client() {
        client.flush(Some(Duration::from_secs(5)));
    }

    if let Some(rx) = receiver {
        println!("what Sentry received:");
        for request in rx.requests() {
            for line in request.body.lines().filter(|l| l.starts_with('{')) {
                let Ok(json) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if let Some(status) = json
                    .get("status")
                    .filter(|_| json.get("monitor_slug").is_some())
                {
                    println!(
                        "  check-in {:<16} {:<12} {}",
                        json["monitor_slug"].as_str().unwrap_or_default(),
                        status.as_str().unwrap_or_default(),
                        json.get("monitor_config")
                            .map(|c| c["schedule"]["value"].to_string())
                            .unwrap_or_default()
                    );
                } else if let Some(exceptions) = json["exception"]["values"].as_array() {
                    let chain: Vec<String> = exceptions
                        .iter()
                        .map(|e| {
                            format!(
                                "{}: {}",
                                e["type"].as_str().unwrap_or("?"),
                                e["value"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    println!(
                        "  event    level={} tags={} exception={}",
                        json["level"],
                        json["tags"],
                        chain.join(" <- ")
                    );
                } else if json.get("filename").is_some() {
                    println!("  attachment {}", json["filename"]);
                }
            }
        }
    }
    Ok(())
}
