//! `HeartbeatLayer` on tower services (tower-test's mock and plain
//! functions), and the layer and `HealthService` in a real axum server
//! over real HTTP.

use std::convert::Infallible;
use std::time::Duration;

use heartbeat_core::health::WorkerRegistry;
use heartbeat_core::test::Recorder;
use heartbeat_core::{Check, EventKind, Monitor, RetryPolicy};
use heartbeat_tower::{HealthService, Heartbeat, HeartbeatLayer, HttpStatus};
use tower::{Layer, Service, ServiceExt, service_fn};

const PATIENCE: Duration = Duration::from_secs(20);

fn recorded() -> (Monitor, Recorder) {
    let recorder = Recorder::new();
    let monitor = Monitor::builder()
        .retry(RetryPolicy::none())
        .target(recorder.clone())
        .build()
        .unwrap();
    (monitor, recorder)
}

/// (check, event, message) of everything recorded, once delivered.
async fn sent(monitor: &Monitor, recorder: &Recorder) -> Vec<(String, EventKind, Option<String>)> {
    assert!(monitor.flush(PATIENCE).await.is_complete());
    recorder.sent()
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("downstream refused the order")
    }
}

#[tokio::test]
async fn every_call_is_a_run_ok_succeeds_err_fails() {
    let (monitor, recorder) = recorded();
    let layer = HeartbeatLayer::new(&monitor, Check::new("orders").unwrap());
    let service = layer.layer(service_fn(|n: u32| async move {
        if n.is_multiple_of(2) {
            Ok(n)
        } else {
            Err(Refused)
        }
    }));
    assert_eq!(service.clone().oneshot(2).await.unwrap(), 2);
    assert!(service.oneshot(3).await.is_err());
    let sent = sent(&monitor, &recorder).await;
    let kinds: Vec<EventKind> = sent.iter().map(|(_, k, _)| k.clone()).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Start,
            EventKind::Success,
            EventKind::Start,
            EventKind::Fail
        ]
    );
    assert_eq!(sent[3].2.as_deref(), Some("downstream refused the order"));
}

#[tokio::test]
async fn checks_are_picked_per_request_up_to_the_cap() {
    let (monitor, recorder) = recorded();
    let layer = HeartbeatLayer::per_request(&monitor, |kind: &&str| {
        Check::new(format!("job-{kind}")).ok()
    })
    .max_checks(2);
    let service = layer.layer(service_fn(|_: &str| async { Ok::<_, Infallible>(()) }));
    for kind in ["email", "resize", "email", "billing"] {
        service.clone().oneshot(kind).await.unwrap();
    }
    let mut checks: Vec<String> = sent(&monitor, &recorder)
        .await
        .into_iter()
        .filter(|(_, k, _)| *k == EventKind::Success)
        .map(|(c, _, _)| c)
        .collect();
    // Checks deliver concurrently: compare as a set of runs. "billing"
    // would be a third check: not monitored.
    checks.sort();
    assert_eq!(checks, ["job-email", "job-email", "job-resize"]);
}

#[tokio::test]
async fn http_5xx_is_a_failure_and_4xx_is_not() {
    let (monitor, recorder) = recorded();
    let layer = HeartbeatLayer::new(&monitor, Check::new("api").unwrap()).classify(HttpStatus);
    let service = layer.layer(service_fn(|status: u16| async move {
        let mut response = http::Response::new(());
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
        Ok::<_, Infallible>(response)
    }));
    for status in [200, 404, 503] {
        service.clone().oneshot(status).await.unwrap();
    }
    let finals: Vec<(EventKind, Option<String>)> = sent(&monitor, &recorder)
        .await
        .into_iter()
        .filter(|(_, k, _)| *k != EventKind::Start)
        .map(|(_, k, m)| (k, m))
        .collect();
    assert_eq!(
        finals,
        [
            (EventKind::Success, None),
            (EventKind::Success, None),
            (EventKind::Fail, Some("HTTP 503 Service Unavailable".into())),
        ]
    );
}

#[tokio::test]
async fn a_call_dropped_before_it_completes_is_cancelled() {
    let (monitor, recorder) = recorded();
    let layer = HeartbeatLayer::new(&monitor, Check::new("slow-call").unwrap());
    let (mock, mut handle) = tower_test::mock::pair::<u32, u32>();
    let mut service = layer.layer(mock);
    handle.allow(1);
    let call = service.ready().await.unwrap().call(7);
    // The request reached the inner service; the caller gives up.
    let (request, _respond) = handle.next_request().await.unwrap();
    assert_eq!(request, 7);
    drop(call);
    let sent = sent(&monitor, &recorder).await;
    let kinds: Vec<EventKind> = sent.iter().map(|(_, k, _)| k.clone()).collect();
    assert_eq!(kinds, [EventKind::Start, EventKind::Fail]);
    assert_eq!(sent[1].2.as_deref(), Some("cancelled"));
}

#[test]
fn the_service_is_clone_and_sync_even_when_the_request_is_not() {
    fn clone_and_sync<T: Clone + Sync>() {}
    type Request = std::cell::Cell<u32>;
    type Pick = fn(&Request) -> Option<Check>;
    #[derive(Clone)]
    struct Inner;
    clone_and_sync::<HeartbeatLayer<Pick>>();
    clone_and_sync::<Heartbeat<Inner, Pick>>();
}

/// GET `url`: status and body.
async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn in_a_real_axum_server_routes_are_runs_and_health_is_served() {
    use axum::extract::{MatchedPath, Path};
    use axum::routing::get as route_get;

    let (monitor, recorder) = recorded();
    let workers = WorkerRegistry::new();
    let mailer = workers.register("mailer", Duration::from_secs(60));
    // The check is the matched route template, never the raw URI.
    let layer = HeartbeatLayer::per_request(&monitor, |req: &http::Request<axum::body::Body>| {
        let route = req.extensions().get::<MatchedPath>()?.as_str();
        Check::new(format!("route{}", route.replace(['/', '{', '}'], "-"))).ok()
    })
    .classify(HttpStatus);
    let app = axum::Router::new()
        .route(
            "/orders/{id}",
            route_get(|Path(id): Path<u32>| async move {
                if id == 13 {
                    (http::StatusCode::INTERNAL_SERVER_ERROR, "unlucky")
                } else {
                    (http::StatusCode::OK, "ok")
                }
            }),
        )
        .route_layer(layer)
        .route_service(
            "/health/workers",
            HealthService::new().workers(&workers).checks(&monitor),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    assert_eq!(get(&client, &format!("{base}/orders/1")).await.0, 200);
    assert_eq!(get(&client, &format!("{base}/orders/13")).await.0, 500);
    let finals: Vec<(String, EventKind)> = sent(&monitor, &recorder)
        .await
        .into_iter()
        .filter(|(_, k, _)| *k != EventKind::Start)
        .map(|(c, k, _)| (c, k))
        .collect();
    assert_eq!(
        finals,
        [
            ("route-orders--id-".to_owned(), EventKind::Success),
            ("route-orders--id-".to_owned(), EventKind::Fail),
        ]
    );

    let (status, body) = get(&client, &format!("{base}/health/workers")).await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["workers"][0]["name"], "mailer");
    assert_eq!(json["workers"][0]["alive"], true);
    // The route's last run (order 13) failed, moments ago.
    assert_eq!(json["checks"][0]["check"], "route-orders--id-");
    assert_eq!(json["checks"][0]["last_outcome"], "failure");
    assert!(json["checks"][0]["age_secs"].as_f64().unwrap() < 60.0);
    // The critical worker stops: 503, and the report says why.
    drop(mailer);
    let (status, body) = get(&client, &format!("{base}/health/workers")).await;
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "down");
    assert_eq!(json["workers"][0]["stopped"], true);
    let head = client
        .head(format!("{base}/health/workers"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 503);
    let post = client
        .post(format!("{base}/health/workers"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);
}

/// Picks a check and takes each delivery's run id and attempt from it.
#[derive(Clone)]
struct Deliveries;

struct Delivery {
    id: u128,
    attempt: u32,
}

impl heartbeat_tower::PickCheck<Delivery> for Deliveries {
    fn pick(&self, _: &Delivery) -> Option<Check> {
        Check::new("webhook").ok()
    }

    fn options(&self, delivery: &Delivery) -> heartbeat_core::RunOptions {
        heartbeat_core::RunOptions::new()
            .run_id(heartbeat_core::RunId::from_u128(delivery.id))
            .attempt(delivery.attempt)
    }
}

#[tokio::test]
async fn run_options_come_from_each_request() {
    let (monitor, recorder) = recorded();
    let service = HeartbeatLayer::per_request(&monitor, Deliveries)
        .layer(service_fn(|_: Delivery| async { Ok::<_, Infallible>(()) }));
    service
        .oneshot(Delivery { id: 42, attempt: 3 })
        .await
        .unwrap();
    assert!(monitor.flush(PATIENCE).await.is_complete());
    let events = recorder.events();
    assert_eq!(events.len(), 2);
    for event in &events {
        assert_eq!(event.run_id(), heartbeat_core::RunId::from_u128(42));
        assert_eq!(event.attempt(), 3);
    }
}
