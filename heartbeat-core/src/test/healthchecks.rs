//! [`HealthchecksService`]: a loopback server that keeps state as a real
//! Healthchecks does, races included.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::receiver::{Receiver, Reply, Request};
use crate::sync::lock;

/// The project ping key the service accepts.
pub const PING_KEY: &str = "service-ping-key";
/// The Management API key the service accepts.
pub const API_KEY: &str = "service-api-key";

/// A check's status, taken from the last success or failure it received
/// (`/start` and `/log` do not change it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckStatus {
    /// No success or failure yet.
    New,
    /// The last finish was a success.
    Up,
    /// The last finish was a failure.
    Down,
}

/// A ping a check recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServicePing {
    /// `start`, `success`, `fail`, `log`, or an exit status.
    pub kind: String,
    /// The `rid` query parameter.
    pub rid: Option<String>,
}

/// A check as the service holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceCheck {
    /// Its slug.
    pub slug: String,
    /// Its UUID.
    pub uuid: String,
    /// Up or down, from the last finish received.
    pub status: CheckStatus,
    /// Whether a start was received after the last finish.
    pub started: bool,
    /// The cron schedule set through the API.
    pub schedule: Option<String>,
    /// The time zone set through the API.
    pub tz: Option<String>,
    /// The period in seconds set through the API.
    pub timeout: Option<u64>,
    /// The grace time in seconds set through the API.
    pub grace: Option<u64>,
    /// The tags set through the API (space-separated, as the API has them).
    pub tags: Option<String>,
    /// Every ping recorded, in arrival order.
    pub pings: Vec<ServicePing>,
}

/// A loopback Healthchecks (ping API and Management API v3) that keeps its
/// checks' state and reproduces the real server's semantics that matter to
/// a client:
///
/// - checks created by `create=1` pings and by the API (`unique: ["slug"]`)
///   are created **non-atomically**: a lookup, a pause, an insert; two
///   creates at once make two checks, and every later slug ping answers
///   409;
/// - an API update **writes back the whole check** as it was read before
///   the pause, undoing pings recorded in between;
/// - the status is the last success or failure received;
/// - unknown UUIDs answer 200 `OK (not found)`, as the hosted service does.
///
/// Its ping base is [`ping_url`](Self::ping_url), the project ping key
/// [`PING_KEY`], the API base [`api_url`](Self::api_url) with key
/// [`API_KEY`]. Faults and recorded requests are the [`Receiver`]'s.
#[derive(Debug)]
pub struct HealthchecksService {
    receiver: Receiver,
    checks: Arc<Mutex<Vec<ServiceCheck>>>,
    in_window: Arc<AtomicUsize>,
}

impl HealthchecksService {
    /// Starts the service with a 20 ms pause inside each create and update.
    ///
    /// # Errors
    /// When the receiver cannot start.
    pub fn start() -> std::io::Result<Self> {
        Self::with_race_window(Duration::from_millis(20))
    }

    /// Starts the service with this pause inside each create and update:
    /// the window in which two requests race.
    ///
    /// # Errors
    /// When the receiver cannot start.
    pub fn with_race_window(window: Duration) -> std::io::Result<Self> {
        let receiver = Receiver::start()?;
        let checks: Arc<Mutex<Vec<ServiceCheck>>> = Arc::default();
        let in_window: Arc<AtomicUsize> = Arc::default();
        let model = Model {
            checks: checks.clone(),
            window,
            in_window: in_window.clone(),
        };
        receiver.set_responder(move |request| model.respond(request));
        Ok(Self {
            receiver,
            checks,
            in_window,
        })
    }

    /// The ping base URL.
    pub fn ping_url(&self) -> String {
        self.receiver.url()
    }

    /// The Management API base URL.
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.receiver.url())
    }

    /// The checks, in creation order.
    pub fn checks(&self) -> Vec<ServiceCheck> {
        lock(&self.checks).clone()
    }

    /// The checks with this slug.
    pub fn checks_with_slug(&self, slug: &str) -> Vec<ServiceCheck> {
        self.checks()
            .into_iter()
            .filter(|c| c.slug == slug)
            .collect()
    }

    /// How many creates and API writes are inside their race window now
    /// (read, not yet written back): a test can wait for one to be there
    /// before sending the request that races it.
    pub fn writes_in_window(&self) -> usize {
        self.in_window.load(Ordering::SeqCst)
    }

    /// The underlying receiver: its requests, and faults to inject.
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }
}

/// What the responder holds.
struct Model {
    checks: Arc<Mutex<Vec<ServiceCheck>>>,
    window: Duration,
    in_window: Arc<AtomicUsize>,
}

impl Model {
    fn respond(&self, request: &Request) -> Reply {
        respond(&self.checks, &|| self.pause(), request)
    }

    /// The pause between reading and writing, counted while it lasts.
    fn pause(&self) {
        self.in_window.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.window);
        self.in_window.fetch_sub(1, Ordering::SeqCst);
    }
}

fn respond(checks: &Mutex<Vec<ServiceCheck>>, pause: &dyn Fn(), request: &Request) -> Reply {
    let path = request.path.trim_start_matches('/');
    if let Some(rest) = path.strip_prefix("api/v3/checks/") {
        return api(checks, pause, request, rest);
    }
    let parts: Vec<&str> = path.split('/').collect();
    let rid = request.query("rid").map(str::to_owned);
    if rid
        .as_deref()
        .is_some_and(|r| uuid::Uuid::try_parse(r).is_err())
    {
        return Reply::new(400, "invalid uuid format");
    }
    let (by_uuid, suffix) = match parts.as_slice() {
        [uuid] if uuid::Uuid::try_parse(uuid).is_ok() => (Some(*uuid), None),
        [uuid, suffix] if uuid::Uuid::try_parse(uuid).is_ok() => (Some(*uuid), Some(*suffix)),
        [key, _slug] | [key, _slug, _] if *key == PING_KEY => (None, parts.get(2).copied()),
        _ => return Reply::new(404, "not found"),
    };
    let kind = match suffix {
        None => "success".to_owned(),
        Some(s @ ("start" | "fail" | "log")) => s.to_owned(),
        Some(code) => match code.parse::<u16>() {
            Ok(c) if c <= 255 => code.to_owned(),
            _ => return Reply::new(400, "invalid url format"),
        },
    };
    let ping = ServicePing { kind, rid };
    if let Some(uuid) = by_uuid {
        let mut all = lock(checks);
        return match all.iter_mut().find(|c| c.uuid == uuid) {
            Some(check) => {
                record(check, ping);
                Reply::new(200, "OK")
            }
            None => Reply::new(200, "OK (not found)"),
        };
    }
    let slug = parts[1];
    let found = lock(checks).iter().filter(|c| c.slug == slug).count();
    match found {
        0 if request.query("create") == Some("1") => {
            // Not atomic, as the real server's get-or-create is not.
            pause();
            let mut check = new_check(slug);
            record(&mut check, ping);
            lock(checks).push(check);
            Reply::new(201, "Created")
        }
        0 => Reply::new(404, "not found"),
        1 => {
            let mut all = lock(checks);
            match all.iter_mut().find(|c| c.slug == slug) {
                Some(check) => record(check, ping),
                None => return Reply::new(404, "not found"),
            }
            Reply::new(200, "OK")
        }
        _ => Reply::new(409, "ambiguous slug"),
    }
}

fn new_check(slug: &str) -> ServiceCheck {
    ServiceCheck {
        slug: slug.to_owned(),
        uuid: uuid::Uuid::new_v4().to_string(),
        status: CheckStatus::New,
        started: false,
        schedule: None,
        tz: None,
        timeout: None,
        grace: None,
        tags: None,
        pings: Vec::new(),
    }
}

fn record(check: &mut ServiceCheck, ping: ServicePing) {
    match ping.kind.as_str() {
        "start" => check.started = true,
        "log" => {}
        "success" | "0" => {
            check.status = CheckStatus::Up;
            check.started = false;
        }
        _ => {
            check.status = CheckStatus::Down;
            check.started = false;
        }
    }
    check.pings.push(ping);
}

/// `POST checks/` (create, or update with `unique`) and `POST checks/<uuid>`.
fn api(
    checks: &Mutex<Vec<ServiceCheck>>,
    pause: &dyn Fn(),
    request: &Request,
    rest: &str,
) -> Reply {
    if request.header("x-api-key") != Some(API_KEY) {
        return Reply::new(401, r#"{"error": "wrong api key"}"#);
    }
    if request.method == "GET" {
        let all = lock(checks);
        let json = |c: &ServiceCheck| serde_json::json!({ "name": c.slug, "slug": c.slug, "uuid": c.uuid, "tags": c.tags.clone().unwrap_or_default() });
        if rest.is_empty() {
            let slug = request.query("slug");
            let list: Vec<_> = all
                .iter()
                .filter(|c| slug.is_none_or(|s| s == c.slug))
                .map(json)
                .collect();
            return Reply::new(200, serde_json::json!({ "checks": list }).to_string());
        }
        return match all.iter().find(|c| c.uuid == rest) {
            Some(c) => Reply::new(200, json(c).to_string()),
            None => Reply::new(404, r#"{"error": "check not found"}"#),
        };
    }
    if request.method != "POST" {
        return Reply::new(405, r#"{"error": "method not allowed"}"#);
    }
    let Ok(body) = serde_json::from_str::<serde_json::Value>(&request.body) else {
        return Reply::new(400, r#"{"error": "could not parse request body"}"#);
    };
    for field in ["timeout", "grace"] {
        if body[field]
            .as_u64()
            .is_some_and(|v| !(60..=31_536_000).contains(&v))
        {
            return Reply::new(
                400,
                format!(r#"{{"error": "{field} is too small or too large"}}"#),
            );
        }
    }
    let slug = body["slug"].as_str().map(str::to_owned);
    // Read the check as it is now…
    let snapshot = {
        let all = lock(checks);
        if rest.is_empty() {
            let unique = body["unique"]
                .as_array()
                .is_some_and(|u| u.iter().any(|f| f == "slug"));
            all.iter()
                .find(|c| unique && Some(&c.slug) == slug.as_ref())
                .cloned()
        } else {
            match all.iter().find(|c| c.uuid == rest) {
                Some(c) => Some(c.clone()),
                None => return Reply::new(404, r#"{"error": "check not found"}"#),
            }
        }
    };
    // …then, after a pause, write it back whole: pings recorded meanwhile
    // are undone, as the real server's model save does.
    pause();
    let created = snapshot.is_none();
    let mut check = snapshot.unwrap_or_else(|| new_check(slug.as_deref().unwrap_or("")));
    if let Some(s) = body["schedule"].as_str() {
        check.schedule = Some(s.to_owned());
        check.tz = Some(body["tz"].as_str().unwrap_or("UTC").to_owned());
    }
    if let Some(t) = body["timeout"].as_u64() {
        check.timeout = Some(t);
    }
    if let Some(g) = body["grace"].as_u64() {
        check.grace = Some(g);
    }
    if let Some(tags) = body["tags"].as_str() {
        check.tags = Some(tags.to_owned());
    }
    let mut all = lock(checks);
    match all.iter_mut().find(|c| c.uuid == check.uuid) {
        Some(existing) => *existing = check.clone(),
        None => all.push(check.clone()),
    }
    let json = serde_json::json!({ "name": check.slug, "slug": check.slug, "uuid": check.uuid });
    Reply::new(if created { 201 } else { 200 }, json.to_string())
}
