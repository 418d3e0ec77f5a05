//! Sentry Crons: check-ins as envelopes, sent by heartbeat's own engine
//! (ordered per monitor, retried, paced, counted, flushed), not by the
//! Sentry client's transport.
//!
//! `POST <dsn's envelope URL>` with `X-Sentry-Auth` and the body
//!
//! ```text
//! {"sent_at":"…"}
//! {"type":"check_in","length":N}
//! {"check_in_id":"<run id>","monitor_slug":"<slug>","status":"in_progress|ok|error",
//!  "duration":<s>,"environment":"…","monitor_config":{…}}
//! ```

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::Method;
use sentry::types::Dsn;

use super::context::{IntoTarget, TargetContext};
use super::http::{self, HttpClient, Ping};
use crate::check::Check;
use crate::error::ConfigError;
use crate::event::{Event, EventKind};
use crate::schedule::Schedule;
use crate::target::{BoxFuture, Plan, Target, Verdict};

/// Sentry accepts about 6 check-ins a minute per monitor environment.
const CHECK_INS_PER_MINUTE: u32 = 6;

/// The Sentry Crons target. Each check is a Sentry monitor (its slug is
/// the monitor slug); a run sends `in_progress` at its start and `ok` or
/// `error` at its end with the same `check_in_id` (the run id) and its
/// duration. A scheduled check's check-ins carry its `monitor_config`
/// (crontab or interval, time zone, margin and max runtime in minutes), so
/// Sentry creates or updates the monitor. A retried attempt keeps the run
/// `in_progress` (nothing is sent); an interrupted run sends nothing final.
/// A run over its [max runtime](crate::CheckBuilder::max_runtime) is also
/// one warning event ("job taking too long") through the application's
/// Sentry client.
///
/// | setting | default |
/// |---|---|
/// | [`dsn`](Self::dsn) | the DSN of the Sentry client bound to the main hub (`sentry::init`), else `SENTRY_DSN`; looked up at the first check-in, so a monitor built before `sentry::init` finds it |
/// | environment | the monitor's ([`MonitorBuilder::environment`](crate::MonitorBuilder::environment), `HEARTBEAT_ENV`), else the Sentry client's |
///
/// heartbeat never calls `sentry::init` and never sends through the Sentry
/// client: check-ins travel on heartbeat's engine, so an unreachable or
/// rate-limiting Sentry (`429`, `X-Sentry-Rate-Limits` for `monitor`)
/// delays them without losing them, and pacing keeps each monitor under
/// Sentry's limit of about 6 check-ins a minute.
#[derive(Clone)]
#[must_use]
pub struct SentryCrons {
    name: String,
    dsn: Option<String>,
}

impl std::fmt::Debug for SentryCrons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentryCrons")
            .field("name", &self.name)
            .field("dsn", &self.dsn.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Default for SentryCrons {
    fn default() -> Self {
        Self::new()
    }
}

impl SentryCrons {
    /// A target using the application's Sentry DSN (see the table above).
    pub fn new() -> Self {
        Self {
            name: "sentry".to_owned(),
            dsn: None,
        }
    }

    /// Sends to this DSN instead of the application's.
    pub fn dsn(self, dsn: impl Into<String>) -> Self {
        Self {
            dsn: Some(dsn.into()),
            ..self
        }
    }

    /// The target's name in logs and [`Stats`](crate::Stats) (default `sentry`).
    pub fn name(self, name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..self
        }
    }
}

impl IntoTarget for SentryCrons {
    fn into_target(self, context: &TargetContext) -> Result<Arc<dyn Target>, ConfigError> {
        let dsn = OnceLock::new();
        if let Some(raw) = &self.dsn {
            let parsed = raw.trim().parse::<Dsn>().map_err(|e| ConfigError::InvalidKey {
                setting: "Sentry DSN".to_owned(),
                reason: format!(
                    "{e}; a DSN looks like https://<public key>@o<org>.ingest.sentry.io/<project id>"
                ),
            })?;
            let _ = dsn.set(parsed);
        }
        Ok(Arc::new(SentryTarget {
            name: self.name,
            http: context.http.clone(),
            dsn,
            environment: context.environment.clone(),
        }))
    }
}

struct SentryTarget {
    name: String,
    http: HttpClient,
    /// Found at the first check-in that finds one.
    dsn: OnceLock<Dsn>,
    environment: Option<String>,
}

impl std::fmt::Debug for SentryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentryTarget")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SentryTarget {
    /// The DSN: given, else the main hub's client's, else `SENTRY_DSN`.
    fn dsn(&self) -> Option<&Dsn> {
        if let Some(dsn) = self.dsn.get() {
            return Some(dsn);
        }
        let found = sentry::Hub::main()
            .client()
            .and_then(|c| c.dsn().cloned())
            .or_else(|| std::env::var("SENTRY_DSN").ok()?.trim().parse().ok())?;
        Some(self.dsn.get_or_init(|| found))
    }

    /// The monitor's environment when it has one (it is the more
    /// specific setting), else the Sentry client's.
    fn environment(&self) -> Option<String> {
        self.environment.clone().or_else(|| {
            sentry::Hub::main()
                .client()
                .and_then(|c| c.options().environment.as_deref().map(str::to_owned))
        })
    }

    fn request(&self, dsn: &Dsn, event: &Event) -> Ping {
        let status = match event.kind {
            EventKind::Start => "in_progress",
            EventKind::Success | EventKind::Heartbeat | EventKind::ExitCode(0) => "ok",
            _ => "error",
        };
        // A keepalive tick is a whole check-in of its own.
        let id = if event.kind == EventKind::Heartbeat {
            uuid::Uuid::new_v4()
        } else {
            event.run_id
        };
        let mut check_in = serde_json::json!({
            "check_in_id": id.simple().to_string(),
            "monitor_slug": event.check.slug(),
            "status": status,
        });
        if let Some(d) = event.duration.filter(|_| status != "in_progress") {
            check_in["duration"] = d.as_secs_f64().into();
        }
        if let Some(env) = self.environment() {
            check_in["environment"] = env.into();
        }
        if let Some(config) = monitor_config(&event.check) {
            check_in["monitor_config"] = config;
        }
        let payload = check_in.to_string();
        let header = serde_json::json!({ "sent_at": crate::run::Utc(std::time::SystemTime::now()).to_string() });
        let item = serde_json::json!({ "type": "check_in", "length": payload.len() });
        let body = format!("{header}\n{item}\n{payload}\n");
        let mut ping = Ping::new(
            Method::POST,
            dsn.envelope_api_url(),
            Some(body.into_bytes()),
        );
        ping.content_type = "application/x-sentry-envelope";
        let agent = concat!("heartbeat/", env!("CARGO_PKG_VERSION"));
        ping.headers
            .push(("X-Sentry-Auth", dsn.to_auth(Some(agent)).to_string()));
        ping
    }
}

/// A warning event for a run over its max runtime, through the Sentry
/// client bound to the main hub (none: nothing).
fn warn_too_long(event: &Event) {
    let hub = sentry::Hub::main();
    if hub.client().is_none() {
        return;
    }
    let slug = event.check.slug();
    let mut warning = sentry::protocol::Event {
        message: Some(format!(
            "{slug}: job taking too long ({})",
            event.message().unwrap_or("over its max runtime")
        )),
        level: sentry::Level::Warning,
        ..Default::default()
    };
    let tags = [
        ("job", slug.to_owned()),
        ("run_id", event.run_id.to_string()),
        ("priority", event.check.priority().as_str().to_owned()),
    ];
    crate::sentry_events::describe_run(&mut warning, &event.check, "too-long", &tags);
    hub.capture_event(warning);
}

/// A duration in whole minutes, rounded up (Sentry's margins are minutes).
fn minutes_up(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

/// The check's `monitor_config`, when it has a schedule.
fn monitor_config(check: &Check) -> Option<serde_json::Value> {
    let schedule = match check.schedule()? {
        Schedule::Cron(expr) => serde_json::json!({ "type": "crontab", "value": expr }),
        Schedule::Every(period) => {
            serde_json::json!({ "type": "interval", "value": minutes_up(*period), "unit": "minute" })
        }
    };
    let mut config = serde_json::json!({ "schedule": schedule, "timezone": check.timezone() });
    if let Some(grace) = check.grace() {
        config["checkin_margin"] = minutes_up(grace).into();
    }
    if let Some(max) = check.max_runtime() {
        config["max_runtime"] = minutes_up(max).into();
    }
    if let Some(tolerated) = check.failure_tolerance() {
        // Sentry counts the failure that opens the issue; tolerance does not.
        config["failure_issue_threshold"] = (tolerated + 1).into();
    }
    if let Some(successes) = check.recovery_threshold() {
        config["recovery_threshold"] = successes.into();
    }
    Some(config)
}

/// Whether `X-Sentry-Rate-Limits` limits check-ins, and for how long:
/// entries `retry_after:categories:scope:…`, categories `;`-separated, none
/// meaning all.
fn monitor_rate_limit(reply: &http::Reply) -> Option<Duration> {
    let header = reply.headers.get("x-sentry-rate-limits")?.to_str().ok()?;
    header
        .split(',')
        .filter_map(|entry| {
            let mut fields = entry.trim().split(':');
            let secs: f64 = fields.next()?.trim().parse().ok()?;
            let categories = fields.next().unwrap_or("");
            let limited =
                categories.is_empty() || categories.split(';').any(|c| c.trim() == "monitor");
            limited.then(|| Duration::from_secs_f64(secs.clamp(0.0, 600.0)))
        })
        .max()
}

fn judge(reply: &http::Reply) -> Verdict {
    if let Some(after) = monitor_rate_limit(reply) {
        return Verdict::Retry {
            reason: format!("Sentry rate-limits check-ins for {}s", after.as_secs()),
            after: Some(after),
        };
    }
    match reply.status.as_u16() {
        401 | 403 => Verdict::reject(format!(
            "Sentry refused the DSN's key ({}): check the DSN",
            reply.status
        )),
        _ => http::judge_status(reply),
    }
}

impl Target for SentryTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn plan(&self, event: &Event) -> Plan {
        match event.kind {
            // A retried attempt keeps the run in progress.
            EventKind::Retry => Plan::Skip,
            _ => Plan::Send,
        }
    }

    fn send<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Verdict> {
        Box::pin(async move {
            if event.kind == EventKind::Log {
                // "Job taking too long" (the max-runtime watch, once per
                // run): a warning event through the application's client;
                // the check-in stays in progress, and Sentry's own
                // `max_runtime` times it out.
                warn_too_long(event);
                return Verdict::Delivered;
            }
            let Some(dsn) = self.dsn() else {
                return Verdict::reject(
                    "no Sentry DSN: initialise the Sentry client (sentry::init) before the first \
                     run ends, set SENTRY_DSN, or give SentryCrons::dsn",
                );
            };
            let request = self.request(dsn, event);
            self.http.exchange(request, judge).await
        })
    }

    fn per_check_limit(&self) -> Option<(u32, Duration)> {
        Some((CHECK_INS_PER_MINUTE, Duration::from_secs(60)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(header: &str) -> http::Reply {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-sentry-rate-limits", header.parse().unwrap());
        http::Reply {
            status: reqwest::StatusCode::OK,
            headers,
            body: String::new(),
        }
    }

    #[test]
    fn rate_limit_headers_that_cover_check_ins() {
        let secs = |h: &str| monitor_rate_limit(&reply(h)).map(|d| d.as_secs());
        assert_eq!(secs("60:monitor:organization"), Some(60));
        assert_eq!(secs("30::organization"), Some(30), "no category: all");
        assert_eq!(
            secs("60:error;transaction:key, 120:monitor;error:project"),
            Some(120)
        );
        assert_eq!(secs("60:error:key"), None, "errors only");
    }

    #[test]
    fn margins_round_up_to_whole_minutes() {
        assert_eq!(minutes_up(Duration::from_secs(1)), 1);
        assert_eq!(minutes_up(Duration::from_secs(60)), 1);
        assert_eq!(minutes_up(Duration::from_secs(61)), 2);
        assert_eq!(minutes_up(Duration::from_secs(15 * 60)), 15);
    }
}
