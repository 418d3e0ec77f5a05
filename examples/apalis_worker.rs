//! apalis workers monitored with one layer each: a mailer on SQLite and a
//! cron report, with worker liveness, a queue rule and a health endpoint.
//!
//! ```text
//! cargo run --example apalis_worker                  # until Ctrl-C
//! cargo run --example apalis_worker -- --seconds 20  # stops by itself, pings flushed
//! curl -i http://127.0.0.1:3001/health               # 200, or 503 once a worker stopped
//! ```
//!
//! The mailer's queue (SQLite in memory) gets three emails: one is sent,
//! one fails its first attempt and is sent on the retry (a message, not a
//! failure), one bounces on both of its 2 attempts (one failure). The
//! report runs every minute on apalis-cron; its check carries that
//! schedule. With no service configured the monitor only logs; set
//! `HEALTHCHECKS_PING_KEY` (or another service's variables) to send.
//! `HEALTH_ADDR` sets the address (default 127.0.0.1:3001).

use std::str::FromStr;
use std::time::Duration;

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use apalis_sqlite::{SqlitePool, SqliteStorage};
use heartbeat_apalis::{BackendProbe, TaskMonitorLayer, WorkerLiveness, cron_check};
use heartbeat_core::health::{QueueWatch, Rule, WorkerRegistry};
use heartbeat_core::{Check, Monitor};
use heartbeat_tower::HealthService;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Email {
    to: String,
}

#[derive(Debug)]
struct Bounced(String);

impl std::fmt::Display for Bounced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the mail server bounced the email to {}", self.0)
    }
}

impl std::error::Error for Bounced {}

/// Sends an email: the "flaky" address fails its first attempt, the
/// "bounce" address every attempt.
async fn send_email(email: Email, attempt: Attempt) -> Result<(), BoxDynError> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    match email.to.as_str() {
        "flaky@example.com" if attempt.current() <= 1 => Err(Bounced(email.to).into()),
        "bounce@example.com" => Err(Bounced(email.to).into()),
        _ => Ok(()),
    }
}

async fn minute_report(_tick: Tick) -> Result<(), BoxDynError> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let seconds: Option<u64> = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .map(|s| s.parse())
        .transpose()?;
    let addr = std::env::var("HEALTH_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let monitor = Monitor::from_env()?;

    // The mailer's queue, and its emails.
    let pool = SqlitePool::connect(":memory:").await?;
    SqliteStorage::setup(&pool).await?;
    let mut emails = SqliteStorage::<Email>::new(&pool);
    for (to, attempts) in [
        ("ada@example.com", 3),
        ("flaky@example.com", 3),
        ("bounce@example.com", 2),
    ] {
        let email = Email { to: to.into() };
        emails
            .push_task(TaskBuilder::new(email).max_attempts(attempts).build())
            .await?;
    }

    // The queue rule: more than 100 emails waiting is an alert.
    let queue = QueueWatch::builder("emails", BackendProbe::new(emails.clone()), &monitor)
        .every(Duration::from_secs(5))
        .rule(Rule::depth_above(100, Check::new("emails-depth")?))
        .build();
    let _polling = queue.spawn();

    // Workers register with the registry as they start; a stopped one
    // makes the health endpoint answer 503. The cron backend sends no
    // heartbeats, so its worker's TTL outlasts its schedule.
    let workers = WorkerRegistry::new();
    let mailer = WorkerBuilder::new("mailer")
        .backend(emails)
        .layer(TaskMonitorLayer::new(&monitor))
        .catch_panic()
        .on_event(WorkerLiveness::new(&workers).listener())
        .build(send_email);
    let scheduler = CronScheduler::new(cron::Schedule::from_str("0 * * * * *")?);
    let report_check = cron_check("minute-report", &scheduler);
    let reports = WorkerBuilder::new("minute-report")
        .backend(scheduler)
        .layer(TaskMonitorLayer::new(&monitor).check(report_check))
        .on_event(
            WorkerLiveness::new(&workers)
                .ttl(Duration::from_secs(90))
                .listener(),
        )
        .build(minute_report);

    let (stop, stopping) = watch::channel(false);
    let mailer = tokio::spawn(mailer.run_with_ctx(stop_on(&stopping)));
    let reports = tokio::spawn(reports.run_with_ctx(stop_on(&stopping)));

    let health = HealthService::new()
        .workers(&workers)
        .queue(&queue)
        .checks(&monitor);
    let app = axum::Router::new().route_service("/health", health);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let serve = axum::serve(listener, app);
    match seconds {
        Some(s) => {
            let _ = tokio::time::timeout(Duration::from_secs(s), serve).await;
        }
        None => {
            tokio::select! {
                served = serve => served?,
                _ = tokio::signal::ctrl_c() => {}
            }
        }
    }

    // Stop the workers (each finishes its task first), then flush.
    stop.send_replace(true);
    mailer.await??;
    reports.await??;
    let report = monitor.flush(Duration::from_secs(5)).await;
    println!("stopped: {report}");
    Ok(())
}

/// For `run_with_ctx`: stops the worker once `stopping` turns true.
fn stop_on(
    stopping: &watch::Receiver<bool>,
) -> impl FnMut(WorkerContext) -> std::pin::Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send>>
+ use<> {
    let stopping = stopping.clone();
    move |ctx| {
        let mut stopping = stopping.clone();
        Box::pin(async move {
            let _ = stopping.wait_for(|&stop| stop).await;
            ctx.stop()
        })
    }
}
