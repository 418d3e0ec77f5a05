//! Fleets: three worker processes share one Redis (then Postgres) queue.
//! Each monitors its own tasks; the queue probe reads the shared backend;
//! one process, the lease holder, alerts for the queue, and another takes
//! over when it dies; stopped mid-task, the workers finish their tasks.
//!
//! A custom harness: the test binary is also the worker process (it runs
//! as one when `HEARTBEAT_FLEET_CHILD` is set). The Redis and Postgres
//! runs need `HEARTBEAT_TEST_REDIS_URL` and `HEARTBEAT_TEST_POSTGRES_URL`
//! (`.ci/run` sets both) and say loudly when they are skipped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use heartbeat_apalis::{BackendProbe, PostgresLease, RedisLease, RedisProbe, TaskMonitorLayer};
use heartbeat_core::health::{QueueProbe, QueueWatch, Rule};
use heartbeat_core::test::{HealthchecksService, PING_KEY};
use heartbeat_core::{Check, EventKind, Healthchecks, Monitor};

const CHILD: &str = "HEARTBEAT_FLEET_CHILD";
const PATIENCE: Duration = Duration::from_secs(30);
const WORKERS: usize = 3;
/// The queue rule's limit: the fleet starts with more tasks than this.
const DEPTH_LIMIT: u64 = 10;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Ok(kind) = std::env::var(CHILD) {
        return runtime.block_on(child(&kind));
    }
    let mut ran = 0;
    for (kind, variable) in [
        ("redis", "HEARTBEAT_TEST_REDIS_URL"),
        ("postgres", "HEARTBEAT_TEST_POSTGRES_URL"),
    ] {
        match std::env::var(variable) {
            Ok(url) if !url.is_empty() => {
                println!("fleet on {kind} ({url}) ...");
                runtime.block_on(fleet(kind, &url));
                println!("fleet on {kind}: ok");
                ran += 1;
            }
            _ => eprintln!(
                "\n!!! SKIPPED: the {kind} fleet test; set {variable} (as .ci/run does) to run it !!!\n"
            ),
        }
    }
    println!("fleet: {ran} of 2 backends tested");
}

// ---- the worker process ------------------------------------------------

async fn job(job: String, attempt: Attempt) -> Result<(), BoxDynError> {
    match job.as_str() {
        "ok" => {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(())
        }
        "flaky" if attempt.current() <= 1 => Err("flaky: first attempt fails".into()),
        "flaky" => Ok(()),
        "broken" => Err("broken: fails every time".into()),
        "panics" => panic!("panics: a bug in the job"),
        "slow" => {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok(())
        }
        other => panic!("unknown job {other}"),
    }
}

/// One worker process: a monitored worker and a leased queue watch on the
/// shared queue, until its stdin closes.
async fn child(kind: &str) {
    let url = std::env::var("FLEET_URL").unwrap();
    let queue = std::env::var("FLEET_QUEUE").unwrap();
    let monitor = Monitor::from_env().unwrap();
    let rule = Rule::depth_above(DEPTH_LIMIT, Check::new("fleet-queue").unwrap());
    macro_rules! run {
        ($backend:expr, $probe:expr, $lease:expr) => {{
            let backend = $backend;
            let watch = QueueWatch::builder(&queue, $probe, &monitor)
                .every(Duration::from_millis(100))
                .rule(rule)
                .lease($lease)
                .build();
            watch.poll_at(Instant::now()).await;
            let polling = watch.spawn();
            let name = format!("fleet-worker@{}", std::process::id());
            let worker = WorkerBuilder::new(name)
                .backend(backend)
                .layer(TaskMonitorLayer::new(&monitor))
                .catch_panic()
                .build(job);
            println!("ready");
            worker
                .run_with_ctx(|ctx| async move {
                    // The parent closes stdin to stop us.
                    let _ = tokio::task::spawn_blocking(|| {
                        std::io::stdin().read_to_end(&mut Vec::new())
                    })
                    .await;
                    ctx.stop()
                })
                .await
                .unwrap();
            polling.abort();
        }};
    }
    match kind {
        "redis" => {
            let conn = apalis_redis::connect(url).await.unwrap();
            let config = apalis_redis::Config::default().queue(&queue);
            let mut backend =
                apalis_redis::RedisStorage::<String>::new(conn.clone()).with_config(config);
            let probe = RedisProbe::new(&mut backend);
            run!(
                backend,
                probe,
                RedisLease::new(conn, &queue).ttl(Duration::from_millis(1500))
            )
        }
        "postgres" => {
            let pool = apalis_postgres::PgPool::connect(&url).await.unwrap();
            let config = apalis_postgres::Config::default().queue(&queue);
            let backend =
                apalis_postgres::PostgresStorage::<String>::new(&pool).with_config(config);
            run!(
                backend.clone(),
                BackendProbe::new(backend),
                PostgresLease::new(pool.clone(), &queue)
            )
        }
        other => panic!("unknown backend {other}"),
    }
    assert!(monitor.flush(Duration::from_secs(20)).await.is_complete());
    println!("done");
}

// ---- the fleet, seen from outside ---------------------------------------

struct Fleet {
    children: Vec<Option<Child>>,
}

impl Fleet {
    fn start(kind: &str, url: &str, queue: &str, service: &HealthchecksService) -> Self {
        let children = (0..WORKERS)
            .map(|i| {
                let mut child = Command::new(std::env::current_exe().unwrap())
                    .env(CHILD, kind)
                    .env("FLEET_URL", url)
                    .env("FLEET_QUEUE", queue)
                    .env("PGAPPNAME", format!("heartbeat-fleet-{i}"))
                    .env("HEALTHCHECKS_PING_URL", service.ping_url())
                    .env("HEALTHCHECKS_PING_KEY", PING_KEY)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
                assert_eq!(lines.next().unwrap().unwrap(), "ready", "worker {i}");
                std::thread::spawn(move || lines.for_each(drop));
                Some(child)
            })
            .collect();
        Self { children }
    }

    fn kill(&mut self, index: usize) {
        let mut child = self.children[index].take().expect("alive");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Closes every live worker's stdin and waits for a clean exit.
    fn stop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            drop(child.stdin.take());
        }
        for (i, child) in self.children.iter_mut().enumerate() {
            if let Some(child) = child.take() {
                let status = wait_with_timeout(child, PATIENCE);
                assert!(status.success(), "worker {i} exited with {status}");
            }
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_with_timeout(mut child: Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "a worker did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn wait_for(what: &str, done: impl AsyncFnMut() -> bool) {
    assert!(wait_until(done).await, "timed out waiting for {what}");
}

/// Whether `done` came true within the patience.
async fn wait_until(mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// The kinds of pings each run of `slug` received, by run id; only runs
/// (pings that began with a start).
fn runs_of(service: &HealthchecksService, slug: &str) -> BTreeMap<String, Vec<String>> {
    let mut runs = BTreeMap::<String, Vec<String>>::new();
    for check in service.checks_with_slug(slug) {
        for ping in check.pings {
            runs.entry(ping.rid.clone().unwrap_or_default())
                .or_default()
                .push(ping.kind);
        }
    }
    runs.retain(|_, kinds| kinds.first().is_some_and(|k| k == "start"));
    runs
}

fn queue_pings(service: &HealthchecksService) -> Vec<String> {
    service
        .checks_with_slug("fleet-queue")
        .into_iter()
        .flat_map(|c| c.pings)
        .map(|p| p.kind)
        .collect()
}

/// Which worker (its index) holds the queue lease, as the backend says.
async fn lease_holder(kind: &str, url: &str, queue: &str, fleet: &Fleet) -> Option<usize> {
    match kind {
        "redis" => {
            let mut conn = apalis_redis::connect(url).await.unwrap();
            let holder: Option<String> = redis::cmd("GET")
                .arg(format!("heartbeat:lease:{queue}"))
                .query_async(&mut conn)
                .await
                .unwrap();
            // host:pid:random
            let pid: u32 = holder?.split(':').nth(1)?.parse().ok()?;
            fleet
                .children
                .iter()
                .position(|c| c.as_ref().is_some_and(|c| c.id() == pid))
        }
        _ => {
            let pool = apalis_postgres::PgPool::connect(url).await.unwrap();
            let key = PostgresLease::new(pool.clone(), queue).lock_key() as u64;
            let name: Option<String> = sqlx::query_scalar(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted \
                 AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1",
            )
            .bind((key >> 32) as i64)
            .bind((key & 0xffff_ffff) as i64)
            .fetch_optional(&pool)
            .await
            .unwrap();
            pool.close().await;
            name?.strip_prefix("heartbeat-fleet-")?.parse().ok()
        }
    }
}

async fn probe_of(kind: &str, url: &str, queue: &str) -> Box<dyn QueueProbe> {
    match kind {
        "redis" => {
            let conn = apalis_redis::connect(url).await.unwrap();
            let config = apalis_redis::Config::default().queue(queue);
            Box::new(RedisProbe::with_config(conn, &config))
        }
        _ => {
            let pool = apalis_postgres::PgPool::connect(url).await.unwrap();
            let config = apalis_postgres::Config::default().queue(queue);
            let backend =
                apalis_postgres::PostgresStorage::<String>::new(&pool).with_config(config);
            Box::new(BackendProbe::new(backend))
        }
    }
}

async fn push_tasks(kind: &str, url: &str, queue: &str, tasks: Vec<Task<String>>) {
    match kind {
        "redis" => {
            let conn = apalis_redis::connect(url).await.unwrap();
            let config = apalis_redis::Config::default().queue(queue);
            let mut backend = apalis_redis::RedisStorage::<String>::new(conn).with_config(config);
            for task in tasks {
                backend.push_task(task).await.unwrap();
            }
        }
        _ => {
            let pool = apalis_postgres::PgPool::connect(url).await.unwrap();
            apalis_postgres::PostgresStorage::setup(&pool)
                .await
                .unwrap();
            let config = apalis_postgres::Config::default().queue(queue);
            let mut backend =
                apalis_postgres::PostgresStorage::<String>::new(&pool).with_config(config);
            for task in tasks {
                backend.push_task(task).await.unwrap();
            }
        }
    }
}

async fn fleet(kind: &str, url: &str) {
    let service = HealthchecksService::start().unwrap();
    let queue = format!(
        "heartbeat-fleet-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    // Healthchecks creates checks non-atomically, and an API update writes
    // back a whole check, undoing pings that arrive meanwhile: a fleet that
    // starts on brand-new slugs, each process upserting, races itself. So
    // (as a deploy step would) the checks are created first, and the
    // workers only ping.
    let setup = Monitor::builder()
        .target(
            Healthchecks::new()
                .ping_url(service.ping_url())
                .ping_key(PING_KEY),
        )
        .build()
        .unwrap();
    for slug in ["fleet-worker", "fleet-queue"] {
        setup.ping(
            &Check::new(slug).unwrap(),
            EventKind::Log,
            Some("created".into()),
            None,
        );
    }
    assert!(setup.flush(PATIENCE).await.is_complete());

    let mut tasks = Vec::new();
    for _ in 0..40 {
        tasks.push(TaskBuilder::new("ok".to_owned()).build());
    }
    for _ in 0..3 {
        tasks.push(TaskBuilder::new("flaky".to_owned()).max_attempts(3).build());
    }
    for _ in 0..2 {
        tasks.push(
            TaskBuilder::new("broken".to_owned())
                .max_attempts(2)
                .build(),
        );
    }
    tasks.push(
        TaskBuilder::new("panics".to_owned())
            .max_attempts(3)
            .build(),
    );
    push_tasks(kind, url, &queue, tasks).await;

    let mut fleet = Fleet::start(kind, url, &queue, &service);

    // Every task reaches its end, as the shared queue says.
    let probe = probe_of(kind, url, &queue).await;
    let mut stats = None;
    let settled = wait_until(async || {
        stats = probe.stats().await.ok();
        // (Redis keeps retrying the broken tasks past their max_attempts.)
        stats.is_some_and(|s| s.processed == 43)
    })
    .await;
    assert!(settled, "the queue did not settle: {stats:?}");
    // Each process monitored the tasks it ran. A busy check's plain
    // successful runs (or what is left of them to send) are coalesced, only
    // the newest of a backlog sent; runs with a message (a retried attempt)
    // and lone failures never are.
    let is_retry = |k: &Vec<String>| k.iter().any(|k| k == "log");
    let ended = wait_until(async || {
        let runs = runs_of(&service, "fleet-worker");
        let failed = runs
            .values()
            .filter(|k| k.iter().any(|k| k == "fail"))
            .count();
        let retried = runs.values().filter(|k| is_retry(k)).count();
        failed == 3 && retried == 5
    })
    .await;
    let runs = runs_of(&service, "fleet-worker");
    assert!(ended, "not every failure and retry was reported: {runs:#?}");
    let mut shapes: Vec<Vec<&str>> = runs
        .values()
        .filter(|k| is_retry(k) || k.iter().any(|k| k == "fail"))
        .map(|k| k.iter().map(String::as_str).collect())
        .collect();
    for shape in &mut shapes {
        match shape.iter().position(|k| *k == "fail") {
            // Redis retries past a task's max_attempts: after its one
            // failure, a broken run's later attempts are messages.
            Some(fail) => {
                assert!(
                    shape[fail + 1..]
                        .iter()
                        .all(|k| *k == "start" || *k == "log"),
                    "{shape:?}"
                );
                shape.truncate(fail + 1);
            }
            // A flaky run: its failed attempt's message, then (unless
            // coalesced into a newer run's success) its success.
            None => {
                assert!(
                    ["start", "log", "start", "success"].starts_with(shape),
                    "{shape:?}"
                );
                shape.truncate(2);
            }
        }
    }
    shapes.sort();
    assert_eq!(
        shapes,
        [
            vec!["start", "fail"], // panics
            vec!["start", "log"],  // flaky ×3
            vec!["start", "log"],
            vec!["start", "log"],
            vec!["start", "log", "start", "fail"], // broken ×2: 2 attempts, 1 failure
            vec!["start", "log", "start", "fail"],
        ],
        "{runs:#?}"
    );
    assert!(
        runs.values().any(|k| k == &["start", "success"]),
        "the newest plain success is sent: {runs:#?}"
    );

    // The queue began deeper than its limit: one alert for the fleet, then
    // one recovery, then the holder's healthy pings.
    wait_for("the queue's recovery", async || {
        let pings = queue_pings(&service);
        pings
            .iter()
            .skip_while(|k| *k != "fail")
            .any(|k| k == "success")
    })
    .await;
    let pings = queue_pings(&service);
    assert_eq!(
        pings.iter().filter(|k| *k == "fail").count(),
        1,
        "{pings:?}"
    );

    // The holder dies: another process takes the lease and keeps the
    // queue's check fed.
    let mut holder = None;
    wait_for("a lease holder", async || {
        holder = lease_holder(kind, url, &queue, &fleet).await;
        holder.is_some()
    })
    .await;
    let holder = holder.unwrap();
    fleet.kill(holder);
    let seen = queue_pings(&service).len();
    let mut next = None;
    wait_for("another lease holder", async || {
        next = lease_holder(kind, url, &queue, &fleet)
            .await
            .filter(|&h| h != holder);
        next.is_some() && queue_pings(&service).len() > seen + 2
    })
    .await;
    println!(
        "{kind}: the lease went from worker {holder} to worker {}",
        next.unwrap()
    );
    let pings = queue_pings(&service);
    assert_eq!(
        pings.iter().filter(|k| *k == "fail").count(),
        1,
        "{pings:?}"
    );

    // The fleet is stopped while two slow tasks run: each worker finishes
    // its task before it exits, and neither run is a failure.
    let before: Vec<String> = runs_of(&service, "fleet-worker").into_keys().collect();
    let slow = (0..2)
        .map(|_| TaskBuilder::new("slow".to_owned()).build())
        .collect();
    push_tasks(kind, url, &queue, slow).await;
    let new_runs = || {
        let mut runs = runs_of(&service, "fleet-worker");
        runs.retain(|rid, _| !before.contains(rid));
        runs
    };
    wait_for("the slow tasks to start", async || new_runs().len() == 2).await;
    fleet.stop();
    let slow_runs: Vec<Vec<String>> = new_runs().into_values().collect();
    assert_eq!(slow_runs, [["start", "success"], ["start", "success"]]);
}
