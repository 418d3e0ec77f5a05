//! Cronitor telemetry API.
//!
//! `GET <base>/p/<api-key>/<monitor-key>?state=run|complete|fail&series=<run id>
//! &host=…&env=…&message=…&metric=duration:<s>&status_code=<n>`.
//! Cronitor answers 200 to everything, even a bad key, so a wrong key cannot
//! be detected from here.

use reqwest::{Method, Url};

use std::sync::Arc;

use super::body;
use super::context::{IntoTarget, TargetContext};
use super::http::{self, HttpClient, Ping, whole_seconds};
use crate::check::Check;
use crate::error::ConfigError;
use crate::event::{Event, EventKind};
use crate::schedule::Schedule;
use crate::secret::Secret;
use crate::target::{BoxFuture, Target, Verdict};

/// Cronitor's CLI cuts messages to this many characters; so do we.
const MAX_MESSAGE_CHARS: usize = 1000;

/// The Cronitor telemetry target. Monitors are keyed by the check's
/// [`cronitor_key`](crate::CheckBuilder::cronitor_key), else its slug; an
/// unknown key makes Cronitor create the monitor.
///
/// | setting | default | environment |
/// |---|---|---|
/// | API key | required | `CRONITOR_API_KEY` |
/// | [`ping_url`](Self::ping_url) | `https://cronitor.link` | `CRONITOR_PING_URL` |
/// | [`host`](Self::host) | this machine's hostname | — |
/// | [`api_url`](Self::api_url) | `https://cronitor.io/api` | `CRONITOR_API_URL` |
/// | [`sync_monitors`](Self::sync_monitors) | `true` | — |
///
/// With `sync_monitors`, each check that has a schedule is upserted once per
/// process with `PUT <api>/monitors` (`type: job`, `schedule`, `timezone`,
/// `grace_seconds`, a duration assertion for the max runtime), in the
/// background. The key then needs the monitor write permission.
#[derive(Clone)]
#[must_use]
pub struct Cronitor {
    pub(crate) name: String,
    pub(crate) api_key: Secret,
    pub(crate) ping_url: String,
    pub(crate) host: Option<String>,
    pub(crate) api_url: String,
    pub(crate) sync_monitors: bool,
}

impl std::fmt::Debug for Cronitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cronitor")
            .field("name", &self.name)
            .field("api_key", &self.api_key)
            .field("ping_url", &http::redacted(&self.ping_url))
            .field("host", &self.host)
            .field("api_url", &http::redacted(&self.api_url))
            .field("sync_monitors", &self.sync_monitors)
            .finish()
    }
}

impl Cronitor {
    /// The hosted telemetry base.
    pub const DEFAULT_PING_URL: &'static str = "https://cronitor.link";

    /// The hosted monitors API base.
    pub const DEFAULT_API_URL: &'static str = "https://cronitor.io/api";

    /// A target using this API key (it needs the `monitor:telemetry` permission).
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            name: "cronitor".to_owned(),
            api_key: Secret::new(api_key),
            ping_url: Self::DEFAULT_PING_URL.to_owned(),
            host: None,
            api_url: Self::DEFAULT_API_URL.to_owned(),
            sync_monitors: true,
        }
    }

    /// The target's name in logs and [`Stats`](crate::Stats) (default
    /// `cronitor`); give each of several Cronitor targets its own.
    pub fn name(self, name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..self
        }
    }

    /// The monitors API base.
    pub fn api_url(self, url: impl Into<String>) -> Self {
        Self {
            api_url: url.into(),
            ..self
        }
    }

    /// Whether scheduled checks get their monitor upserted (default on).
    pub fn sync_monitors(self, sync: bool) -> Self {
        Self {
            sync_monitors: sync,
            ..self
        }
    }

    /// The telemetry base URL.
    pub fn ping_url(self, url: impl Into<String>) -> Self {
        Self {
            ping_url: url.into(),
            ..self
        }
    }

    /// The `host` reported with each ping, instead of the machine's hostname.
    pub fn host(self, host: impl Into<String>) -> Self {
        Self {
            host: Some(host.into()),
            ..self
        }
    }

    fn build(self, context: &TargetContext) -> Result<CronitorTarget, ConfigError> {
        let base =
            http::parse_base_url("Cronitor ping URL", &self.ping_url, "https://cronitor.link")?;
        http::check_key("Cronitor API key", self.api_key.expose())?;
        let host = self
            .host
            .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
        let api = if self.sync_monitors {
            Some(http::parse_base_url(
                "Cronitor API URL",
                &self.api_url,
                "https://cronitor.io/api",
            )?)
        } else {
            None
        };
        Ok(CronitorTarget {
            name: self.name,
            http: context.http.clone(),
            base,
            api,
            api_key: self.api_key,
            host,
            env: context.environment.clone(),
        })
    }
}

struct CronitorTarget {
    name: String,
    http: HttpClient,
    base: Url,
    /// The monitors API base, when upserting.
    api: Option<Url>,
    api_key: Secret,
    host: String,
    env: Option<String>,
}

impl CronitorTarget {
    fn ping(&self, event: &Event) -> Ping {
        let (state, status_code) = match event.kind {
            EventKind::Start => (Some("run"), None),
            EventKind::Success => (Some("complete"), None),
            EventKind::Fail => (Some("fail"), None),
            EventKind::ExitCode(0) => (Some("complete"), Some(0)),
            EventKind::ExitCode(c) => (Some("fail"), Some(c)),
            // A message on a running run: same state and series, so Cronitor
            // attaches it to that run instead of counting a new one.
            EventKind::Log | EventKind::Retry => (Some("run"), None),
            // No state: Cronitor records a heartbeat tick.
            EventKind::Heartbeat => (None, None),
        };
        let mut url = http::join(
            &self.base,
            &["p", self.api_key.expose(), event.check.cronitor_key()],
        );
        {
            let mut q = url.query_pairs_mut();
            if let Some(state) = state {
                q.append_pair("state", state);
                q.append_pair("series", &event.run_id.hyphenated().to_string());
            }
            if !self.host.is_empty() {
                q.append_pair("host", &self.host);
            }
            if let Some(env) = &self.env {
                q.append_pair("env", env);
            }
            if let Some(m) = event.message_with_folds().filter(|m| !m.is_empty()) {
                q.append_pair("message", body::chars(&m, MAX_MESSAGE_CHARS));
            }
            if let Some(d) = event.duration {
                q.append_pair("metric", &format!("duration:{:.3}", d.as_secs_f64()));
            }
            if let Some(c) = status_code {
                q.append_pair("status_code", &c.to_string());
            }
        }
        Ping::new(Method::GET, url, None)
    }
}

/// A duration as Cronitor's interval strings: "5 minutes", "90 seconds".
fn interval(d: std::time::Duration) -> String {
    let secs = whole_seconds(d, 1, u64::MAX);
    if secs.is_multiple_of(60) {
        format!("{} minutes", secs / 60)
    } else {
        format!("{secs} seconds")
    }
}

impl CronitorTarget {
    /// `PUT <api>/monitors` with one monitor, Basic auth with the key.
    fn upsert_request(&self, api: &Url, check: &Check, tags: Option<Vec<String>>) -> Ping {
        let mut monitor = serde_json::Map::new();
        monitor.insert("type".into(), "job".into());
        if let Some(tags) = tags {
            monitor.insert("tags".into(), tags.into());
        }
        monitor.insert("key".into(), check.cronitor_key().into());
        match check.schedule() {
            Some(Schedule::Cron(expr)) => {
                monitor.insert("schedule".into(), expr.clone().into());
            }
            Some(Schedule::Every(period)) => {
                monitor.insert(
                    "schedule".into(),
                    format!("every {}", interval(*period)).into(),
                );
            }
            _ => {}
        }
        monitor.insert("timezone".into(), check.timezone().into());
        if let Some(grace) = check.grace() {
            monitor.insert(
                "grace_seconds".into(),
                whole_seconds(grace, 0, u64::MAX).into(),
            );
        }
        if let Some(max) = check.max_runtime() {
            monitor.insert(
                "assertions".into(),
                serde_json::json!([format!("metric.duration < {}", interval(max))]),
            );
        }
        if let Some(runbook) = check.runbook() {
            monitor.insert("note".into(), format!("runbook: {runbook}").into());
        }
        if let Some(tolerated) = check.failure_tolerance() {
            monitor.insert("failure_tolerance".into(), tolerated.into());
        }
        let body = serde_json::json!({ "monitors": [monitor] });
        let mut ping = Ping::json(Method::PUT, http::join(api, &["monitors"]), &body);
        ping.basic_auth = Some(self.api_key.clone());
        ping
    }

    /// The monitor's tags on Cronitor now (`None` when it has no such
    /// monitor yet), so that the priority tag joins them instead of
    /// replacing them.
    async fn current_tags(&self, api: &Url, check: &Check) -> Result<Option<Vec<String>>, Verdict> {
        let url = http::join(api, &["monitors", check.cronitor_key()]);
        let mut ping = Ping::new(Method::GET, url, None);
        ping.basic_auth = Some(self.api_key.clone());
        let reply = self.http.send(ping).await?;
        if reply.status.as_u16() == 404 {
            return Ok(None);
        }
        match judge_upsert(&reply) {
            Verdict::Delivered => {}
            other => return Err(other),
        }
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
        Ok(json["tags"].as_array().map(|tags| {
            tags.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        }))
    }
}

/// `tags` with the priority's tag (`p1`, `p2`, `p3`) in place of any other
/// priority tag, the user's own tags kept in order.
fn with_priority(tags: Option<Vec<String>>, priority: crate::Priority) -> Vec<String> {
    let mut out: Vec<String> = tags
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !matches!(t.as_str(), "p1" | "p2" | "p3"))
        .collect();
    out.push(priority.as_str().to_ascii_lowercase());
    out
}

fn judge_upsert(reply: &http::Reply) -> Verdict {
    let text = body::chars(reply.body.trim(), 300);
    let reason = match reply.status.as_u16() {
        200 | 201 => return Verdict::Delivered,
        401 | 403 => format!(
            "Cronitor rejected the API key for the monitors API ({}): it needs the monitor write \
             permission, or turn upserts off with Cronitor::sync_monitors(false)",
            reply.status
        ),
        400 => format!("Cronitor rejected the monitor definition (400): {text}"),
        _ => return http::judge_status(reply),
    };
    Verdict::Reject { reason }
}

impl std::fmt::Debug for CronitorTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URLs hold the API key; the name says which target it is.
        f.debug_struct("CronitorTarget")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl IntoTarget for Cronitor {
    fn into_target(self, context: &TargetContext) -> Result<Arc<dyn Target>, ConfigError> {
        Ok(Arc::new(self.build(context)?))
    }
}

impl Target for CronitorTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Verdict> {
        Box::pin(async move {
            self.http
                .exchange(self.ping(event), |reply| match reply.status.as_u16() {
                    // Cronitor documents 200 for everything; a 404 means the
                    // base URL is not the telemetry API.
                    404 => Verdict::reject(
                        "Cronitor answered 404: CRONITOR_PING_URL is not the telemetry API \
                         (https://cronitor.link, without the /p/<key> part)",
                    ),
                    _ => http::judge_status(reply),
                })
                .await
        })
    }

    fn upserts(&self) -> bool {
        self.api.is_some()
    }

    fn upsert<'a>(&'a self, check: &'a Check) -> BoxFuture<'a, Verdict> {
        Box::pin(async move {
            let Some(api) = &self.api else {
                return Verdict::Delivered;
            };
            let tags = if check.has_priority() {
                match self.current_tags(api, check).await {
                    Ok(tags) => Some(with_priority(tags, check.priority())),
                    Err(verdict) => return verdict,
                }
            } else {
                None
            };
            self.http
                .exchange(self.upsert_request(api, check, tags), judge_upsert)
                .await
        })
    }
}
