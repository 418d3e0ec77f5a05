//! The health model, driven poll by poll with explicit times: rules alert
//! once per breach and recover once, probes that fail or hang are
//! breaches, workers die by TTL or by stopping, and the report sums it up.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use heartbeat_core::health::{
    HealthReport, HealthStatus, ProbeError, QueueStats, QueueWatch, Rule, WorkerRegistry,
};
use heartbeat_core::test::Recorder;
use heartbeat_core::{Check, EventKind, Monitor, Priority};
use support::{PATIENCE, fast};

/// A queue whose figures the test sets before each poll.
#[derive(Clone)]
struct Figures(Arc<Mutex<Result<QueueStats, String>>>);

impl Default for Figures {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Ok(QueueStats::default()))))
    }
}

impl Figures {
    fn set(&self, stats: QueueStats) {
        *self.0.lock().unwrap() = Ok(stats);
    }
    fn fail(&self, why: &str) {
        *self.0.lock().unwrap() = Err(why.to_owned());
    }
    fn probe(&self) -> impl heartbeat_core::health::QueueProbe {
        let figures = self.clone();
        move || {
            let now = figures.0.lock().unwrap().clone();
            async move { now.map_err(ProbeError::from) }
        }
    }
}

struct Harness {
    monitor: Monitor,
    recorder: Recorder,
    figures: Figures,
    watch: QueueWatch,
    t0: Instant,
}

fn check(slug: &str, priority: Priority) -> Check {
    Check::builder(slug).priority(priority).build().unwrap()
}

impl Harness {
    fn new(rules: Vec<Rule>) -> Self {
        let recorder = Recorder::new();
        let monitor = fast().target(recorder.clone()).build().unwrap();
        let figures = Figures::default();
        figures.set(QueueStats::default());
        let mut builder = QueueWatch::builder("emails", figures.probe(), &monitor)
            .probe_timeout(Duration::from_millis(200));
        for rule in rules {
            builder = builder.rule(rule);
        }
        let watch = builder.build();
        Self {
            monitor,
            recorder,
            figures,
            watch,
            t0: Instant::now(),
        }
    }

    /// Polls at `t0 + secs` and returns what was sent: (check, event, message).
    async fn poll(&self, secs: u64) -> Vec<(String, EventKind, Option<String>)> {
        self.recorder.clear();
        self.watch
            .poll_at(self.t0 + Duration::from_secs(secs))
            .await;
        assert!(self.monitor.flush(PATIENCE).await.is_complete());
        self.recorder.sent()
    }
}

fn kinds(sent: &[(String, EventKind, Option<String>)]) -> Vec<EventKind> {
    sent.iter().map(|(_, k, _)| k.clone()).collect()
}

#[tokio::test]
async fn depth_above_alerts_once_and_recovers_once() {
    let h = Harness::new(vec![Rule::depth_above(
        500,
        check("emails-depth", Priority::P2),
    )]);
    h.figures.set(QueueStats::new(40, 0, 100));
    // Healthy: a success every poll, so the service notices a dead watcher.
    assert_eq!(kinds(&h.poll(0).await), [EventKind::Success]);
    h.figures.set(QueueStats::new(800, 0, 100));
    let sent = h.poll(30).await;
    assert_eq!(kinds(&sent), [EventKind::Fail]);
    let message = sent[0].2.as_deref().unwrap();
    assert!(
        message.contains("800 jobs queued, over the limit of 500"),
        "{message}"
    );
    assert_eq!(h.watch.breaches().len(), 1);
    // Still breached: no storm.
    h.figures.set(QueueStats::new(900, 0, 100));
    assert!(h.poll(60).await.is_empty());
    h.figures.set(QueueStats::new(30, 0, 100));
    assert_eq!(kinds(&h.poll(90).await), [EventKind::Success]);
    assert!(h.watch.breaches().is_empty());
}

#[tokio::test]
async fn depth_growing_needs_consecutive_growth() {
    let h = Harness::new(vec![Rule::depth_growing(
        3,
        check("emails-growth", Priority::P2),
    )]);
    let mut t = 0;
    for (depth, expected) in [
        (10, EventKind::Success),
        (11, EventKind::Success),
        (12, EventKind::Success),
        (11, EventKind::Success), // growth broken: the count starts again
        (12, EventKind::Success),
        (13, EventKind::Success),
        (14, EventKind::Fail), // third consecutive growth
    ] {
        h.figures.set(QueueStats::new(depth, 0, 0));
        assert_eq!(kinds(&h.poll(t).await), [expected], "depth {depth}");
        t += 30;
    }
    h.figures.set(QueueStats::new(15, 0, 0));
    assert!(h.poll(t).await.is_empty(), "still growing: no second alert");
    h.figures.set(QueueStats::new(15, 0, 0));
    assert_eq!(kinds(&h.poll(t + 30).await), [EventKind::Success]);
}

#[tokio::test]
async fn a_failure_spike_is_judged_against_the_learned_baseline_and_the_floor() {
    let h = Harness::new(vec![Rule::failure_spike(
        Duration::from_secs(60),
        5,
        check("emails-failures", Priority::P2),
    )]);
    // Two minutes of a steady 1 failure per 10 s: 6 a minute is normal here.
    let mut failed = 0;
    for t in (0..=120).step_by(10) {
        h.figures.set(QueueStats::new(0, failed, 0));
        assert_eq!(kinds(&h.poll(t).await), [EventKind::Success], "t={t}");
        failed += 1;
    }
    // 30 failures in the next 10 s: a spike.
    failed += 30;
    h.figures.set(QueueStats::new(0, failed, 0));
    let sent = h.poll(130).await;
    assert_eq!(kinds(&sent), [EventKind::Fail]);
    assert!(
        sent[0]
            .2
            .as_deref()
            .unwrap()
            .contains("failures in the last 60s")
    );
    // Failures stop; once the spike leaves the window, one recovery.
    let mut recovered_at = None;
    for t in (140..=260).step_by(10) {
        h.figures.set(QueueStats::new(0, failed, 0));
        let sent = kinds(&h.poll(t).await);
        if sent == [EventKind::Success] && recovered_at.is_none() {
            recovered_at = Some(t);
        } else if recovered_at.is_none() {
            assert!(sent.is_empty(), "t={t}: {sent:?}");
        }
    }
    assert!(recovered_at.is_some_and(|t| t <= 200), "{recovered_at:?}");
}

#[tokio::test]
async fn one_failure_on_a_quiet_queue_is_under_the_floor() {
    let h = Harness::new(vec![Rule::failure_spike(
        Duration::from_secs(60),
        5,
        check("quiet-failures", Priority::P2),
    )]);
    for t in (0..=60).step_by(30) {
        h.figures.set(QueueStats::new(0, 0, 10));
        h.poll(t).await;
    }
    h.figures.set(QueueStats::new(0, 1, 10));
    assert_eq!(kinds(&h.poll(90).await), [EventKind::Success]);
}

#[tokio::test]
async fn a_probe_that_fails_or_hangs_is_a_breach_of_every_rule() {
    let h = Harness::new(vec![
        Rule::depth_above(500, check("probe-depth", Priority::P1)),
        Rule::depth_growing(3, check("probe-growth", Priority::P3)),
    ]);
    h.figures.fail("connection refused");
    let sent = h.poll(0).await;
    assert_eq!(kinds(&sent), [EventKind::Fail, EventKind::Fail]);
    assert!(sent.iter().all(|(_, _, m)| {
        m.as_deref()
            .unwrap()
            .contains("probe failed: connection refused")
    }));
    assert!(h.poll(30).await.is_empty(), "one alert per breach");
    h.figures.set(QueueStats::new(1, 0, 0));
    assert_eq!(
        kinds(&h.poll(60).await),
        [EventKind::Success, EventKind::Success]
    );

    // A probe that never answers: a breach after the probe timeout.
    let recorder = Recorder::new();
    let monitor = fast().target(recorder.clone()).build().unwrap();
    let hanging = || std::future::pending::<Result<QueueStats, ProbeError>>();
    let watch = QueueWatch::builder("stuck", hanging, &monitor)
        .probe_timeout(Duration::from_millis(50))
        .rule(Rule::depth_above(10, check("stuck-depth", Priority::P1)))
        .build();
    watch.poll_at(Instant::now()).await;
    assert!(monitor.flush(PATIENCE).await.is_complete());
    let events = recorder.events();
    assert_eq!(events.len(), 1);
    assert_eq!(*events[0].kind(), EventKind::Fail);
    assert!(
        events[0]
            .message()
            .unwrap()
            .contains("did not answer within")
    );
}

#[test]
fn workers_die_by_ttl_or_by_stopping() {
    let registry = WorkerRegistry::new();
    let mailer = registry.register("mailer", Duration::from_secs(10));
    let _reporter = registry.register_optional("reporter", Duration::from_secs(10));
    let now = Instant::now();
    let alive = |at: Instant| -> Vec<(String, bool)> {
        registry
            .report_at(at)
            .into_iter()
            .map(|w| (w.name, w.alive))
            .collect()
    };
    assert_eq!(
        alive(now),
        [("mailer".into(), true), ("reporter".into(), true)]
    );
    // Nobody beat for 11 s: both past their TTL.
    let later = now + Duration::from_secs(11);
    assert_eq!(
        alive(later),
        [("mailer".into(), false), ("reporter".into(), false)]
    );
    let report = HealthReport::gather_at(later, Some(&registry), &[]);
    assert_eq!(report.status, HealthStatus::Down);
    assert!(!report.is_healthy());
    // A worker whose handle is dropped stopped: down even within its TTL.
    drop(mailer);
    let report = HealthReport::gather_at(Instant::now(), Some(&registry), &[]);
    assert_eq!(report.status, HealthStatus::Down);
    assert!(report.workers[0].stopped);
}

#[tokio::test]
async fn the_report_sums_up_workers_and_breaches_as_json() {
    let registry = WorkerRegistry::new();
    let worker = registry.register("mailer", Duration::from_secs(10));
    worker.beat();
    let _optional = registry.register_optional("thumbnails", Duration::from_secs(1));
    let h = Harness::new(vec![Rule::depth_above(
        100,
        check("emails-depth", Priority::P2),
    )]);
    h.figures
        .set(QueueStats::new(5, 1, 70).active(2).workers(3));
    h.poll(0).await;
    let report = HealthReport::gather(Some(&registry), std::slice::from_ref(&h.watch));
    assert_eq!(report.status, HealthStatus::Ok);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(
        json["queues"]["emails"],
        serde_json::json!({"queued": 5, "active": 2, "failed": 1, "processed": 70, "workers": 3})
    );
    assert_eq!(json["workers"][0]["name"], "mailer");
    assert_eq!(json["workers"][0]["alive"], true);

    // A P2 breach degrades; an optional worker past its TTL degrades too.
    h.figures.set(QueueStats::new(500, 1, 70));
    h.poll(30).await;
    let report = HealthReport::gather(Some(&registry), std::slice::from_ref(&h.watch));
    assert_eq!(report.status, HealthStatus::Degraded);
    assert!(report.is_healthy());
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["status"], "degraded");
    assert_eq!(json["breaches"][0]["check"], "emails-depth");
    assert_eq!(json["breaches"][0]["priority"], "P2");
    assert!(
        json["breaches"][0]["since"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
}

#[test]
fn a_keepalive_feeds_its_worker() {
    let monitor = Monitor::log_only();
    let registry = WorkerRegistry::new();
    let check = Check::new("consumer").unwrap();
    let keepalive = monitor
        .keepalive(&check, Duration::from_secs(60))
        .feeding(registry.register("consumer", Duration::from_secs(10)));
    let registered = registry.last_beat("consumer").unwrap();
    // Progress beats the worker (the wall clock moves on, however little).
    while registry.last_beat("consumer").unwrap() == registered {
        keepalive.progress();
    }
    assert!(registry.report()[0].alive);
    // Dropping the keepalive stops the worker: down within its TTL.
    drop(keepalive);
    let report = HealthReport::gather(Some(&registry), &[]);
    assert!(report.workers[0].stopped);
    assert_eq!(report.status, HealthStatus::Down);
}
