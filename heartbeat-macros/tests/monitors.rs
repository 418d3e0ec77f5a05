//! `#[job]` with a monitor of its own: `monitor = …`, and scoped defaults,
//! so that tests running side by side each see only their own runs.

use std::sync::LazyLock;
use std::time::Duration;

use heartbeat_core::test::Receiver;
use heartbeat_core::{Healthchecks, Monitor, job};

const PATIENCE: Duration = Duration::from_secs(20);

fn monitor_for(rx: &Receiver) -> Monitor {
    Monitor::builder()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key("k"))
        .build()
        .unwrap()
}

fn paths(rx: &Receiver) -> Vec<String> {
    rx.requests().into_iter().map(|r| r.path).collect()
}

static RX_A: LazyLock<Receiver> = LazyLock::new(|| Receiver::start().unwrap());
static MONITOR_A: LazyLock<Monitor> = LazyLock::new(|| monitor_for(&RX_A));

#[job(monitor = MONITOR_A)]
async fn job_a() -> Result<(), std::io::Error> {
    heartbeat_core::current_run()
        .expect("a #[job] is a current run")
        .log("from job a");
    Err(std::io::Error::other("a failed"))
}

#[job]
async fn job_b() {}

#[job]
fn job_c() {}

#[tokio::test]
async fn a_job_with_its_own_monitor() {
    let _ = job_a().await;
    assert!(MONITOR_A.flush(PATIENCE).await.is_complete());
    assert_eq!(paths(&RX_A), ["/k/job-a/start", "/k/job-a/fail"]);
    let body = &RX_A.requests()[1].body;
    assert!(body.ends_with("from job a\n"), "{body}");
}

#[tokio::test]
async fn a_scoped_default_monitor() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor_for(&rx);
    heartbeat_core::scoped(&monitor, job_b()).await;
    assert!(monitor.flush(PATIENCE).await.is_complete());
    assert_eq!(paths(&rx), ["/k/job-b/start", "/k/job-b"]);
}

#[tokio::test]
async fn another_scoped_default_monitor() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor_for(&rx);
    heartbeat_core::scoped(&monitor, async {
        job_b().await;
        job_b().await;
    })
    .await;
    assert!(monitor.flush(PATIENCE).await.is_complete());
    assert_eq!(
        paths(&rx),
        ["/k/job-b/start", "/k/job-b", "/k/job-b/start", "/k/job-b"]
    );
}

#[test]
fn a_default_monitor_for_sync_code() {
    let rx = Receiver::start().unwrap();
    let monitor = monitor_for(&rx);
    heartbeat_core::with_default(&monitor, job_c);
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    assert_eq!(paths(&rx), ["/k/job-c/start", "/k/job-c"]);
}
