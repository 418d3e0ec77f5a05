//! Real apalis workers on a real SQLite backend (in memory), monitored by
//! the layer, against the loopback Healthchecks service.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod support;

use apalis::prelude::*;
use apalis_sqlite::{SqlitePool, SqliteStorage};
use heartbeat_apalis::{BackendProbe, TaskMonitorLayer, WorkerLiveness};
use heartbeat_core::Monitor;
use heartbeat_core::health::{QueueWatch, WorkerRegistry};
use heartbeat_core::test::HealthchecksService;
use support::monitor_for;
use tokio::sync::Notify;

const PATIENCE: Duration = Duration::from_secs(60);

/// The kinds of pings each run (`rid`) of `slug` received, in order.
fn runs_of(service: &HealthchecksService, slug: &str) -> BTreeMap<String, Vec<String>> {
    let mut runs = BTreeMap::<String, Vec<String>>::new();
    for check in service.checks_with_slug(slug) {
        for ping in check.pings {
            let rid = ping.rid.clone().unwrap_or_default();
            runs.entry(rid).or_default().push(ping.kind.clone());
        }
    }
    runs
}

/// The body of the `kind` ping of run `rid`.
fn body_of(service: &HealthchecksService, rid: &str, kind: &str) -> String {
    service
        .receiver()
        .requests()
        .into_iter()
        .find(|r| r.query("rid") == Some(rid) && r.path.ends_with(&format!("/{kind}")))
        .map(|r| r.body)
        .unwrap_or_else(|| panic!("no /{kind} for run {rid}"))
}

async fn sqlite() -> SqlitePool {
    let pool = SqlitePool::connect(":memory:").await.unwrap();
    SqliteStorage::setup(&pool).await.unwrap();
    pool
}

/// For `run_with_ctx`: stops the worker when `stop` is notified.
fn stop_on(
    stop: &Arc<Notify>,
) -> impl FnMut(WorkerContext) -> std::pin::Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send>>
+ use<> {
    let stop = stop.clone();
    move |ctx| {
        let stop = stop.clone();
        Box::pin(async move {
            stop.notified().await;
            ctx.stop()
        })
    }
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
struct Broken(&'static str);

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} job broke", self.0)
    }
}

impl std::error::Error for Broken {}

async fn outcomes(job: String) -> Result<(), BoxDynError> {
    match job.as_str() {
        "ok" => Ok(()),
        "flaky" if FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) == 0 => Err(Broken("flaky").into()),
        "flaky" => Ok(()),
        "broken" => {
            // The task runs inside its run: this line goes into its failure ping.
            let run = heartbeat_core::current_run().expect("a task runs inside its run");
            run.log("connecting to the broken service");
            Err(Broken("broken").into())
        }
        "aborted" => Err(AbortError::new(Broken("aborted")).into()),
        "panics" => panic!("the panics job hit a bug"),
        other => panic!("unknown job {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_retry_final_failure_abort_and_panic() {
    let service = HealthchecksService::start().unwrap();
    let monitor = monitor_for(&service);
    let pool = sqlite().await;
    let mut backend = SqliteStorage::<String>::new(&pool);
    for (job, max) in [
        ("ok", 3),
        ("flaky", 3),
        ("broken", 2),
        ("aborted", 3),
        ("panics", 3),
    ] {
        let task = TaskBuilder::new(job.to_owned()).max_attempts(max).build();
        backend.push_task(task).await.unwrap();
    }
    let watch =
        QueueWatch::builder("outcomes", BackendProbe::new(backend.clone()), &monitor).build();
    let worker = WorkerBuilder::new("Outcome Jobs")
        .backend(backend)
        .layer(TaskMonitorLayer::new(&monitor))
        .catch_panic()
        .build(outcomes);
    let stop = Arc::new(Notify::new());
    let running = tokio::spawn(worker.run_with_ctx(stop_on(&stop)));

    // Every task reaches its final outcome: ok and flaky done, broken failed
    // after its 2 attempts, aborted and panics at once.
    wait_for("every run to finish", async || {
        let runs = runs_of(&service, "outcome-jobs");
        runs.len() == 5
            && runs
                .values()
                .all(|kinds| kinds.last().is_some_and(|k| k == "success" || k == "fail"))
    })
    .await;
    stop.notify_one();
    running.await.unwrap().unwrap();
    assert!(monitor.flush(PATIENCE).await.is_complete());

    let runs = runs_of(&service, "outcome-jobs");
    let mut shapes: Vec<Vec<&str>> = runs
        .values()
        .map(|kinds| kinds.iter().map(String::as_str).collect())
        .collect();
    shapes.sort();
    assert_eq!(
        shapes,
        [
            vec!["start", "fail"],                    // aborted
            vec!["start", "fail"],                    // panics
            vec!["start", "log", "start", "fail"],    // broken: 2 attempts, one failure
            vec!["start", "log", "start", "success"], // flaky: retried, no failure
            vec!["start", "success"],                 // ok
        ],
        "runs: {runs:#?}"
    );
    let fails: Vec<String> = runs
        .iter()
        .filter(|(_, kinds)| kinds.last().is_some_and(|k| k == "fail"))
        .map(|(rid, _)| body_of(&service, rid, "fail"))
        .collect();
    assert!(
        fails.iter().any(|b| b.contains("the panics job hit a bug")),
        "{fails:#?}"
    );
    assert!(
        fails.iter().any(|b| b.contains("the aborted job broke")),
        "{fails:#?}"
    );
    assert!(
        fails.iter().any(|b| b.contains("the broken job broke")
            && b.contains("connecting to the broken service")),
        "{fails:#?}"
    );
    let retried: Vec<String> = runs
        .iter()
        .filter(|(_, kinds)| kinds.contains(&"log".to_owned()))
        .map(|(rid, _)| body_of(&service, rid, "log"))
        .collect();
    assert!(
        retried.iter().all(|b| b.contains("will be retried")),
        "{retried:#?}"
    );

    // The queue's figures reach the health report: 2 done, broken failed
    // and aborted killed. (apalis 1.0 leaves the row of a panic caught by
    // catch_panic in `Running`, so it is not counted.)
    wait_for("the queue's figures", async || {
        watch.poll_at(Instant::now()).await;
        watch
            .stats()
            .is_some_and(|s| s.processed == 2 && s.failed == 2 && s.queued == 0)
    })
    .await;
    let report = heartbeat_core::health::HealthReport::gather(None, std::slice::from_ref(&watch));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["queues"]["outcomes"]["processed"], 2, "{json:#}");
    assert_eq!(json["queues"]["outcomes"]["failed"], 2, "{json:#}");
}

async fn slow(job: String, worker: WorkerContext) -> Result<(), BoxDynError> {
    // Long enough to be caught mid-run; ends early once the worker stops.
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if job == "graceful" && worker.is_shutting_down() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_shut_down_mid_task_sends_no_failure() {
    let service = HealthchecksService::start().unwrap();
    let monitor = monitor_for(&service);
    let started = |service: &HealthchecksService, slug: &str| {
        service
            .checks_with_slug(slug)
            .iter()
            .any(|c| c.pings.iter().any(|p| p.kind == "start"))
    };

    // A graceful stop: the worker waits for its task, which finishes.
    let pool = sqlite().await;
    let mut backend = SqliteStorage::<String>::new(&pool);
    backend.push("graceful".to_owned()).await.unwrap();
    let worker = WorkerBuilder::new("graceful")
        .backend(backend)
        .layer(TaskMonitorLayer::new(&monitor))
        .build(slow);
    let stop = Arc::new(Notify::new());
    let running = tokio::spawn(worker.run_with_ctx(stop_on(&stop)));
    wait_for("the graceful task to start", async || {
        started(&service, "graceful")
    })
    .await;
    stop.notify_one();
    running.await.unwrap().unwrap();

    // A worker dropped mid-task (its future aborted): the backend will
    // deliver the task again, so this attempt is not a failure.
    let pool = sqlite().await;
    let mut backend = SqliteStorage::<String>::new(&pool);
    backend.push("dropped".to_owned()).await.unwrap();
    let worker = WorkerBuilder::new("dropped")
        .backend(backend)
        .layer(TaskMonitorLayer::new(&monitor))
        .build(slow);
    let running = tokio::spawn(worker.run());
    wait_for("the dropped task to start", async || {
        started(&service, "dropped")
    })
    .await;
    running.abort();
    let _ = running.await;

    assert!(monitor.flush(PATIENCE).await.is_complete());
    let graceful: Vec<Vec<String>> = runs_of(&service, "graceful").into_values().collect();
    assert_eq!(graceful, [vec!["start", "success"]]);
    let dropped = runs_of(&service, "dropped");
    let kinds: Vec<&Vec<String>> = dropped.values().collect();
    assert_eq!(kinds, [&vec!["start".to_owned(), "log".to_owned()]]);
    let (rid, _) = dropped.iter().next().unwrap();
    assert!(body_of(&service, rid, "log").contains("will deliver it again"));
}

async fn idle(_job: String) -> Result<(), BoxDynError> {
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_makes_the_health_endpoint_answer_503() {
    use tower::ServiceExt;
    let registry = WorkerRegistry::new();
    let health = heartbeat_tower::HealthService::new().workers(&registry);
    let status = async || {
        let request = http::Request::get("/health").body(()).unwrap();
        let response = health.clone().oneshot(request).await.unwrap();
        let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
        (response.status().as_u16(), body)
    };

    let pool = sqlite().await;
    let backend = SqliteStorage::<String>::new(&pool);
    let worker = WorkerBuilder::new("mailer")
        .backend(backend)
        .on_event(WorkerLiveness::new(&registry).listener())
        .build(idle);
    let stop = Arc::new(Notify::new());
    let running = tokio::spawn(worker.run_with_ctx(stop_on(&stop)));
    wait_for("the worker to register", async || {
        !registry.report().is_empty()
    })
    .await;
    let (code, body) = status().await;
    assert_eq!(code, 200, "{body:#}");
    assert_eq!(body["workers"][0]["name"], "mailer");
    assert_eq!(body["workers"][0]["alive"], true);

    stop.notify_one();
    running.await.unwrap().unwrap();
    let (code, body) = status().await;
    assert_eq!(code, 503, "{body:#}");
    assert_eq!(body["status"], "down");
    assert_eq!(body["workers"][0]["stopped"], true);
}

static IN_PROCESS_CALLS: AtomicU32 = AtomicU32::new(0);

async fn fails_twice(_job: String) -> Result<(), BoxDynError> {
    match IN_PROCESS_CALLS.fetch_add(1, Ordering::SeqCst) {
        0 | 1 => Err(Broken("in-process").into()),
        _ => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_retries_inside_the_layer_are_one_run() {
    let service = HealthchecksService::start().unwrap();
    let monitor = monitor_for(&service);
    let pool = sqlite().await;
    let mut backend = SqliteStorage::<String>::new(&pool);
    backend.push("twice".to_owned()).await.unwrap();
    // The layer first, then apalis's retry: the two failed in-process
    // attempts happen inside one run, which the final success ends.
    let worker = WorkerBuilder::new("in-process")
        .backend(backend)
        .layer(TaskMonitorLayer::new(&monitor))
        .retry(RetryPolicy::retries(2))
        .build(fails_twice);
    let stop = Arc::new(Notify::new());
    let running = tokio::spawn(worker.run_with_ctx(stop_on(&stop)));
    wait_for("the run to end", async || {
        runs_of(&service, "in-process")
            .values()
            .any(|k| k.iter().any(|k| k == "success"))
    })
    .await;
    stop.notify_one();
    running.await.unwrap().unwrap();
    assert!(monitor.flush(PATIENCE).await.is_complete());
    assert_eq!(IN_PROCESS_CALLS.load(Ordering::SeqCst), 3);
    let runs: Vec<Vec<String>> = runs_of(&service, "in-process").into_values().collect();
    assert_eq!(runs, [vec!["start", "success"]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_keepalive_beats_while_the_worker_lives() {
    let recorder = heartbeat_core::test::Recorder::new();
    let monitor = Monitor::builder().target(recorder.clone()).build().unwrap();
    let registry = WorkerRegistry::new();
    let pool = sqlite().await;
    let worker = WorkerBuilder::new("beating@host-1")
        .backend(SqliteStorage::<String>::new(&pool))
        .on_event(
            WorkerLiveness::new(&registry)
                .ttl(Duration::from_millis(200))
                .keepalive(&monitor)
                .listener(),
        )
        .build(idle);
    let stop = Arc::new(Notify::new());
    let running = tokio::spawn(worker.run_with_ctx(stop_on(&stop)));
    // The start counts as progress: the first tick sends a heartbeat.
    wait_for("a keepalive heartbeat", async || {
        !recorder.events().is_empty()
    })
    .await;
    stop.notify_one();
    running.await.unwrap().unwrap();
    let beats = recorder.events();
    assert_eq!(beats[0].check().slug(), "beating-alive");
    assert_eq!(beats[0].kind(), &heartbeat_core::EventKind::Heartbeat);
    assert_eq!(
        beats[0].check().schedule(),
        Some(&heartbeat_core::Schedule::Every(Duration::from_secs(60)))
    );
    assert!(registry.report()[0].stopped, "{:?}", registry.report());
}
