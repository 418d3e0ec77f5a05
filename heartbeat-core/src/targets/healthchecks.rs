//! Healthchecks.io (hosted or self-hosted) ping API.
//!
//! `<base>/<uuid>[/start|/fail|/log|/<0-255>]?rid=<run id>`, or
//! `<base>/<ping-key>/<slug>[…]?rid=<run id>&create=1`; POST with the failure
//! message and log tail as the body, cut to the server's `Ping-Body-Limit`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use reqwest::{Method, StatusCode, Url};

use super::body;
use super::context::{IntoTarget, TargetContext};
use super::http::{self, HttpClient, Ping, Reply, whole_seconds};
use crate::check::Check;
use crate::error::ConfigError;
use crate::event::{Event, EventKind};
use crate::schedule::Schedule;
use crate::secret::Secret;
use crate::target::{BoxFuture, Plan, Target, Verdict};

/// Body limit assumed until the server states its own (hosted Healthchecks).
const DEFAULT_BODY_LIMIT: usize = 100_000;

/// The Healthchecks.io target.
///
/// | setting | default | environment |
/// |---|---|---|
/// | [`ping_url`](Self::ping_url) | `https://hc-ping.com` | `HEALTHCHECKS_PING_URL` |
/// | [`ping_key`](Self::ping_key) | none: only checks with a UUID are pinged | `HEALTHCHECKS_PING_KEY` |
/// | [`create_missing`](Self::create_missing) | `true`: slug URLs carry `create=1` | — |
/// | [`api_key`](Self::api_key) | none: monitors are not upserted | `HEALTHCHECKS_API_KEY` |
/// | [`api_url`](Self::api_url) | `https://healthchecks.io/api/v3` | `HEALTHCHECKS_API_URL` |
///
/// With an API key, each check that has a schedule is created or updated
/// once per process through the Management API v3 (`schedule`, `tz`,
/// `grace`, or `timeout` for intervals; whole seconds, at least 60), in the
/// background.
///
/// A self-hosted instance's ping base is `<SITE_ROOT>/ping`.
#[derive(Clone)]
#[must_use]
pub struct Healthchecks {
    pub(crate) name: String,
    pub(crate) ping_url: String,
    pub(crate) ping_key: Option<Secret>,
    pub(crate) create_missing: bool,
    pub(crate) api_key: Option<Secret>,
    pub(crate) api_url: String,
}

impl std::fmt::Debug for Healthchecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Healthchecks")
            .field("name", &self.name)
            .field("ping_url", &http::redacted(&self.ping_url))
            .field("ping_key", &self.ping_key)
            .field("create_missing", &self.create_missing)
            .field("api_key", &self.api_key)
            .field("api_url", &http::redacted(&self.api_url))
            .finish()
    }
}

impl Default for Healthchecks {
    fn default() -> Self {
        Self::new()
    }
}

impl Healthchecks {
    /// The hosted service's ping base.
    pub const DEFAULT_PING_URL: &'static str = "https://hc-ping.com";

    /// The hosted Management API base.
    pub const DEFAULT_API_URL: &'static str = "https://healthchecks.io/api/v3";

    /// A target for the hosted service, pinging checks by UUID.
    pub fn new() -> Self {
        Self {
            name: "healthchecks".to_owned(),
            ping_url: Self::DEFAULT_PING_URL.to_owned(),
            ping_key: None,
            create_missing: true,
            api_key: None,
            api_url: Self::DEFAULT_API_URL.to_owned(),
        }
    }

    /// The target's name in logs and [`Stats`](crate::Stats) (default
    /// `healthchecks`); give each of several Healthchecks targets (two
    /// projects, hosted and self-hosted) its own.
    pub fn name(self, name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..self
        }
    }

    /// The project's read-write API key: scheduled checks get their monitor
    /// created or updated through the Management API.
    pub fn api_key(self, key: impl Into<String>) -> Self {
        Self {
            api_key: Some(Secret::new(key)),
            ..self
        }
    }

    /// The Management API base (self-hosted: `<SITE_ROOT>/api/v3`).
    pub fn api_url(self, url: impl Into<String>) -> Self {
        Self {
            api_url: url.into(),
            ..self
        }
    }

    /// The ping base URL (self-hosted: `<SITE_ROOT>/ping`).
    pub fn ping_url(self, url: impl Into<String>) -> Self {
        Self {
            ping_url: url.into(),
            ..self
        }
    }

    /// The project's ping key: checks without a UUID are pinged at
    /// `<base>/<key>/<slug>`.
    pub fn ping_key(self, key: impl Into<String>) -> Self {
        Self {
            ping_key: Some(Secret::new(key)),
            ..self
        }
    }

    /// Whether slug pings create a missing check (`create=1`; default on).
    pub fn create_missing(self, create: bool) -> Self {
        Self {
            create_missing: create,
            ..self
        }
    }

    fn build(self, context: &TargetContext) -> Result<HealthchecksTarget, ConfigError> {
        let base = http::parse_base_url(
            "Healthchecks ping URL",
            &self.ping_url,
            "https://hc-ping.com",
        )?;
        if let Some(key) = &self.ping_key {
            http::check_key("Healthchecks ping key", key.expose())?;
        }
        let api = match &self.api_key {
            Some(key) => {
                http::check_key("Healthchecks API key", key.expose())?;
                let url = http::parse_base_url(
                    "Healthchecks API URL",
                    &self.api_url,
                    "https://healthchecks.io/api/v3",
                )?;
                Some((url, key.clone()))
            }
            None => None,
        };
        Ok(HealthchecksTarget {
            name: self.name,
            http: context.http.clone(),
            base,
            api,
            ping_key: self.ping_key,
            create_missing: self.create_missing,
            body_limit: AtomicUsize::new(DEFAULT_BODY_LIMIT),
        })
    }
}

struct HealthchecksTarget {
    name: String,
    http: HttpClient,
    base: Url,
    /// Management API base and key, when upserting.
    api: Option<(Url, Secret)>,
    ping_key: Option<Secret>,
    create_missing: bool,
    /// Learned from the `Ping-Body-Limit` response header.
    body_limit: AtomicUsize,
}

impl HealthchecksTarget {
    /// The ping for an event; `None` for a check this target cannot address
    /// (no UUID and no ping key), which `plan()` already filters out.
    fn ping(&self, event: &Event) -> Option<Ping> {
        let suffix = match &event.kind {
            EventKind::Start => Some("start".to_owned()),
            EventKind::Success | EventKind::Heartbeat => None,
            EventKind::Fail => Some("fail".to_owned()),
            EventKind::ExitCode(c @ 0..=255) => Some(c.to_string()),
            // Out of range is a 400 there; it is still a failure.
            EventKind::ExitCode(_) => Some("fail".to_owned()),
            EventKind::Log | EventKind::Retry => Some("log".to_owned()),
        };
        let check = &event.check;
        let suffix = suffix.as_deref();
        let (url, by_slug) = match (check.healthchecks_uuid(), &self.ping_key) {
            (Some(uuid), _) => (join_some(&self.base, &[Some(uuid.expose()), suffix]), false),
            (None, Some(key)) => (
                join_some(
                    &self.base,
                    &[Some(key.expose()), Some(check.slug()), suffix],
                ),
                true,
            ),
            (None, None) => return None,
        };
        let mut url = url;
        {
            let mut q = url.query_pairs_mut();
            if event.kind != EventKind::Heartbeat {
                q.append_pair("rid", &event.run_id.hyphenated().to_string());
            }
            if by_slug && self.create_missing {
                q.append_pair("create", "1");
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let message = match &event.kind {
            EventKind::ExitCode(c) if !(0..=255).contains(c) => Some(format!("exit code {c}")),
            _ => event.message_with_folds().map(Into::into),
        };
        let limit = self.body_limit.load(Relaxed);
        let body = body::compose(message.as_deref(), event.log.as_deref(), limit);
        Some(Ping::new(
            Method::POST,
            url,
            (!body.is_empty()).then_some(body),
        ))
    }

    fn judge(&self, event: &Event, reply: &Reply) -> Verdict {
        if let Some(limit) = reply
            .headers
            .get("ping-body-limit")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            self.body_limit.store(limit, Relaxed);
        }
        let text = reply.body.trim();
        // Hosted UUID URLs answer 200 even when the ping was not recorded.
        if reply.status.is_success() {
            if text.starts_with("OK (not found)") {
                let reason = if event.check.healthchecks_uuid().is_some() {
                    "Healthchecks answered \"OK (not found)\": no check has this UUID; copy the \
                     UUID from the check's ping URL"
                } else {
                    "Healthchecks answered \"OK (not found)\": no check has this slug for this \
                     ping key; check HEALTHCHECKS_PING_KEY, or allow create_missing"
                };
                return Verdict::reject(reason);
            }
            if text.starts_with("OK (rate limited)") {
                return Verdict::Retry {
                    reason: "Healthchecks answered \"OK (rate limited)\": the ping was dropped \
                             (more than 5 pings a minute to one check?)"
                        .into(),
                    after: http::retry_after(&reply.headers),
                };
            }
            return Verdict::Delivered;
        }
        let slug = event.check.slug();
        match reply.status {
            StatusCode::NOT_FOUND => Verdict::Reject {
                reason: if event.check.healthchecks_uuid().is_some() {
                    "Healthchecks answered 404: no check has this UUID".into()
                } else if self.create_missing {
                    "Healthchecks answered 404: the ping key is not valid for any project".into()
                } else {
                    format!(
                        "Healthchecks answered 404: no check {slug:?} for this ping key \
                         (create it, or allow create_missing)"
                    )
                },
            },
            StatusCode::CONFLICT => Verdict::Reject {
                reason: format!(
                    "Healthchecks answered 409: several checks in the project have slug {slug:?}; \
                     make it unique or use the check's UUID"
                ),
            },
            StatusCode::BAD_REQUEST => Verdict::Reject {
                reason: format!(
                    "Healthchecks answered 400 ({}): a malformed ping URL",
                    body::chars(text, 200)
                ),
            },
            _ => http::judge_status(reply),
        }
    }
}

/// Space-separated `tags` with the priority's tag (`p1`, `p2`, `p3`) in
/// place of any other priority tag, the user's own tags kept in order.
fn with_priority(tags: Option<&str>, priority: crate::Priority) -> String {
    let tag = priority.as_str().to_ascii_lowercase();
    let mut out: Vec<&str> = tags
        .unwrap_or("")
        .split_whitespace()
        .filter(|t| !matches!(*t, "p1" | "p2" | "p3"))
        .collect();
    out.push(&tag);
    out.join(" ")
}

/// `base` with the present segments appended (one clone of the URL).
fn join_some(base: &Url, segments: &[Option<&str>]) -> Url {
    let segments: Vec<&str> = segments.iter().flatten().copied().collect();
    http::join(base, &segments)
}

/// The Management API's bounds for `timeout` and `grace`, in seconds.
const API_MIN_SECS: u64 = 60;
const API_MAX_SECS: u64 = 31_536_000;

impl HealthchecksTarget {
    /// `POST <api>/checks/<uuid>` (update) or `POST <api>/checks/` with
    /// `unique: ["slug"]` (create, or update the check with this slug).
    fn upsert_request(&self, api: &Url, key: &Secret, check: &Check, tags: Option<String>) -> Ping {
        let mut body = serde_json::Map::new();
        if let Some(tags) = tags {
            body.insert("tags".into(), tags.into());
        }
        match check.schedule() {
            Some(Schedule::Cron(expr)) => {
                body.insert("schedule".into(), expr.clone().into());
                body.insert("tz".into(), check.timezone().into());
            }
            Some(Schedule::Every(period)) => {
                body.insert(
                    "timeout".into(),
                    whole_seconds(*period, API_MIN_SECS, API_MAX_SECS).into(),
                );
            }
            _ => {}
        }
        if let Some(grace) = check.grace() {
            body.insert(
                "grace".into(),
                whole_seconds(grace, API_MIN_SECS, API_MAX_SECS).into(),
            );
        }
        if let Some(runbook) = check.runbook() {
            body.insert("desc".into(), format!("runbook: {runbook}").into());
        }
        let url = match check.healthchecks_uuid() {
            Some(uuid) => http::join(api, &["checks", uuid.expose()]),
            None => {
                body.insert("name".into(), check.slug().into());
                body.insert("slug".into(), check.slug().into());
                body.insert("unique".into(), serde_json::json!(["slug"]));
                // The trailing slash is part of the route.
                http::join(api, &["checks", ""])
            }
        };
        let mut ping = Ping::json(Method::POST, url, &serde_json::Value::Object(body));
        ping.headers.push(("X-Api-Key", key.expose().to_owned()));
        ping
    }

    /// The check's tags on the service now (`None` when it has no such
    /// check yet), so that the priority tag joins them instead of replacing
    /// them: the API's update replaces the whole tag string.
    async fn current_tags(
        &self,
        api: &Url,
        key: &Secret,
        check: &Check,
    ) -> Result<Option<String>, Verdict> {
        let url = match check.healthchecks_uuid() {
            Some(uuid) => http::join(api, &["checks", uuid.expose()]),
            None => {
                let mut url = http::join(api, &["checks", ""]);
                url.query_pairs_mut().append_pair("slug", check.slug());
                url
            }
        };
        let mut ping = Ping::new(Method::GET, url, None);
        ping.headers.push(("X-Api-Key", key.expose().to_owned()));
        let reply = self.http.send(ping).await?;
        if reply.status == StatusCode::NOT_FOUND && check.healthchecks_uuid().is_some() {
            return Ok(None);
        }
        match Self::judge_upsert(&reply) {
            Verdict::Delivered => {}
            other => return Err(other),
        }
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
        let found = match check.healthchecks_uuid() {
            Some(_) => &json,
            None => &json["checks"][0],
        };
        Ok(found["tags"].as_str().map(str::to_owned))
    }

    fn judge_upsert(reply: &Reply) -> Verdict {
        let text = body::chars(reply.body.trim(), 300);
        let reason = match reply.status.as_u16() {
            200 | 201 => return Verdict::Delivered,
            401 => "Healthchecks rejected the API key (401): use the project's read-write API key \
                    (HEALTHCHECKS_API_KEY), not the read-only one"
                .to_owned(),
            403 => format!(
                "Healthchecks refused to create the check (403: {text}): the account's check limit?"
            ),
            400 => format!("Healthchecks rejected the check definition (400): {text}"),
            404 => "Healthchecks answered 404: no check has this UUID (or the API URL is wrong)"
                .to_owned(),
            _ => return http::judge_status(reply),
        };
        Verdict::Reject { reason }
    }
}

impl std::fmt::Debug for HealthchecksTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URLs may hold credentials; the name says which target it is.
        f.debug_struct("HealthchecksTarget")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl IntoTarget for Healthchecks {
    fn into_target(self, context: &TargetContext) -> Result<Arc<dyn Target>, ConfigError> {
        Ok(Arc::new(self.build(context)?))
    }
}

impl Target for HealthchecksTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn plan(&self, event: &Event) -> Plan {
        if event.check.healthchecks_uuid().is_some() || self.ping_key.is_some() {
            Plan::Send
        } else {
            Plan::Misconfigured(
                "the check has no Healthchecks UUID and the target has no ping key; \
                 set HEALTHCHECKS_PING_KEY or give the check a healthchecks_uuid"
                    .into(),
            )
        }
    }

    fn send<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Verdict> {
        Box::pin(async move {
            let Some(ping) = self.ping(event) else {
                return Verdict::Reject {
                    reason: "the check has no Healthchecks UUID and the target has no ping key"
                        .into(),
                };
            };
            self.http
                .exchange(ping, |reply| self.judge(event, reply))
                .await
        })
    }

    fn upserts(&self) -> bool {
        self.api.is_some()
    }

    /// The hosted service drops more than about 5 pings a minute per check
    /// (its nginx, not the open-source server, which has no such limit).
    fn per_check_limit(&self) -> Option<(u32, std::time::Duration)> {
        (self.base.host_str() == Some("hc-ping.com"))
            .then_some((5, std::time::Duration::from_secs(60)))
    }

    fn upsert<'a>(&'a self, check: &'a Check) -> BoxFuture<'a, Verdict> {
        Box::pin(async move {
            let Some((api, key)) = &self.api else {
                return Verdict::Delivered;
            };
            let tags = if check.has_priority() {
                match self.current_tags(api, key, check).await {
                    Ok(tags) => Some(with_priority(tags.as_deref(), check.priority())),
                    Err(verdict) => return verdict,
                }
            } else {
                None
            };
            self.http
                .exchange(
                    self.upsert_request(api, key, check, tags),
                    Self::judge_upsert,
                )
                .await
        })
    }
}
