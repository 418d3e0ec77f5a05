//! Feature `metrics`: what a recorder installed by the application sees
//! (metrics-util's `DebuggingRecorder`, installed for this test binary).
#![cfg(feature = "metrics")]

mod support;

use std::time::Duration;

use heartbeat_core::health::{ProbeError, QueueStats, QueueWatch, Rule, WorkerRegistry};
use heartbeat_core::test::Recorder;
use heartbeat_core::{Check, Priority};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use support::{PATIENCE, fast};

/// A metric as recorded: its name, its labels, its value.
type Recorded = (String, Vec<(String, String)>, DebugValue);

/// The value of the metric `name` whose labels include all of `labels`.
fn value<'a>(
    snapshot: &'a [Recorded],
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a DebugValue> {
    snapshot
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| v)
}

#[tokio::test]
async fn runs_queues_workers_and_deliveries_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let target = Recorder::new();
    let monitor = fast().target(target.clone()).build().unwrap();
    let check = Check::new("metered").unwrap();
    monitor.start(&check).success();
    monitor.start(&check).fail_message("broken");
    assert!(monitor.flush(PATIENCE).await.is_complete());

    let probe = || async { Ok::<_, ProbeError>(QueueStats::new(42, 7, 100)) };
    let watch = QueueWatch::builder("emails", probe, &monitor)
        .rule(Rule::depth_above(
            500,
            Check::builder("emails-depth")
                .priority(Priority::P2)
                .build()
                .unwrap(),
        ))
        .build();
    watch.poll_at(std::time::Instant::now()).await;
    let workers = WorkerRegistry::new();
    let _alive = workers.register("mailer", Duration::from_secs(60));
    workers.report();

    let snapshot: Vec<Recorded> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, v)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            (key.name().to_owned(), labels, v)
        })
        .collect();
    let runs = |outcome| {
        value(
            &snapshot,
            "heartbeat_runs_total",
            &[("check", "metered"), ("outcome", outcome)],
        )
    };
    assert_eq!(runs("success"), Some(&DebugValue::Counter(1)));
    assert_eq!(runs("failure"), Some(&DebugValue::Counter(1)));
    match value(
        &snapshot,
        "heartbeat_run_duration_seconds",
        &[("check", "metered")],
    ) {
        Some(DebugValue::Histogram(samples)) => assert_eq!(samples.len(), 2),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        value(&snapshot, "heartbeat_queue_depth", &[("queue", "emails")]),
        Some(DebugValue::Gauge(g)) if g.into_inner() == 42.0
    ));
    assert_eq!(
        value(
            &snapshot,
            "heartbeat_queue_failed_total",
            &[("queue", "emails")]
        ),
        Some(&DebugValue::Counter(7))
    );
    assert!(matches!(
        value(&snapshot, "heartbeat_worker_alive", &[("worker", "mailer")]),
        Some(DebugValue::Gauge(g)) if g.into_inner() == 1.0
    ));
    // Two runs of two events each, and the rule's success ping.
    let delivered = value(
        &snapshot,
        "heartbeat_delivery_events_total",
        &[("target", "recorder"), ("result", "delivered")],
    );
    assert!(
        matches!(delivered, Some(DebugValue::Counter(n)) if *n >= 4),
        "{delivered:?}"
    );
}
