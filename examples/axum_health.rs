//! Worker health, queue rules and metrics behind one axum server.
//!
//! ```text
//! cargo run --example axum_health                  # until Ctrl-C
//! cargo run --example axum_health -- --seconds 30  # stops by itself
//! curl -i http://127.0.0.1:3000/health/workers     # 200, or 503 while the mailer is down
//! curl http://127.0.0.1:3000/metrics               # Prometheus text
//! ```
//!
//! A simulated queue fills and drains, and its critical worker ("mailer")
//! stops beating for a few seconds every 12 s, so the endpoint flips
//! between 200 and 503 and the queue rule between breached and healthy.
//! `GET /orders/{id}` is monitored per route (id 13 answers 500).
//! `HEALTH_ADDR` sets the address (default 127.0.0.1:3000); the service
//! is configured from the environment as in every example.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use axum::extract::{MatchedPath, Path};
use axum::routing::get;
use heartbeat_core::health::{ProbeError, QueueStats, QueueWatch, Rule, WorkerRegistry};
use heartbeat_core::{Check, Monitor, Priority};
use heartbeat_tower::{HealthService, HeartbeatLayer, HttpStatus};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();
    let seconds: Option<u64> = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .map(|s| s.parse())
        .transpose()?;
    let addr = std::env::var("HEALTH_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    let monitor = Monitor::from_env()?;

    // The simulated queue: its depth swings between 0 and 90 over 20 s.
    let tick = Arc::new(AtomicU64::new(0));
    let depth = {
        let tick = tick.clone();
        move || {
            let t = tick.load(Relaxed);
            let queued = if t % 20 < 10 {
                t % 20 * 9
            } else {
                (20 - t % 20) * 9
            };
            async move { Ok::<_, ProbeError>(QueueStats::new(queued, t / 7, t * 3).workers(1)) }
        }
    };
    let queue = QueueWatch::builder("emails", depth, &monitor)
        .every(Duration::from_secs(1))
        .rule(Rule::depth_above(
            50,
            Check::builder("emails-depth")
                .priority(Priority::P2)
                .build()?,
        ))
        .build();
    let _polling = queue.spawn();

    // The workers: the mailer misses its 2 s TTL for 5 s out of every 12.
    let workers = WorkerRegistry::new();
    let mailer = workers.register("mailer", Duration::from_secs(2));
    let _thumbnails = workers.register_optional("thumbnails", Duration::from_secs(2));
    {
        let tick = tick.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let t = tick.fetch_add(1, Relaxed) + 1;
                if t % 12 < 7 {
                    mailer.beat();
                }
            }
        });
    }

    // One check per route template, never per raw URI; 5xx fail.
    let routes = HeartbeatLayer::per_request(&monitor, |req: &http::Request<axum::body::Body>| {
        let route = req.extensions().get::<MatchedPath>()?.as_str();
        Check::new(format!("route{}", route.replace(['/', '{', '}'], "-"))).ok()
    })
    .classify(HttpStatus)
    .max_checks(20);
    let app = axum::Router::new()
        .route(
            "/orders/{id}",
            get(|Path(id): Path<u32>| async move {
                match id {
                    13 => (http::StatusCode::INTERNAL_SERVER_ERROR, "unlucky order"),
                    _ => (http::StatusCode::OK, "order found"),
                }
            }),
        )
        .route_layer(routes)
        .route_service(
            "/health/workers",
            HealthService::new()
                .workers(&workers)
                .queue(&queue)
                .checks(&monitor),
        )
        .route("/metrics", get(move || async move { prometheus.render() }));

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let serve = axum::serve(listener, app);
    match seconds {
        Some(s) => {
            let _ = tokio::time::timeout(Duration::from_secs(s), serve).await;
        }
        None => serve.await?,
    }
    monitor.flush(Duration::from_secs(5)).await;
    Ok(())
}
