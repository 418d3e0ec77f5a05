//! One generic target for services pinged at a per-check URL, with presets
//! for Better Stack, Dead Man's Snitch, Uptime Kuma (push) and Cronhub.

use std::sync::Arc;

use reqwest::{Method, Url};

use super::body;
use super::context::{IntoTarget, TargetContext};
use super::http::{self, HttpClient, Ping};
use crate::error::ConfigError;
use crate::event::{Event, EventKind};
use crate::target::{BoxFuture, Plan, Target, Verdict};

/// A target whose ping URLs are templates, one per event kind.
///
/// Placeholders, each percent-encoded where it is inserted:
///
/// | placeholder | value |
/// |---|---|
/// | `{base}` | the base URL ([`base_url`](Self::base_url)), inserted as is |
/// | `{id}` | the check's id for this target ([`CheckBuilder::target_id`](crate::CheckBuilder::target_id)) |
/// | `{slug}` | the check's slug |
/// | `{run_id}` | the run id |
/// | `{exit_code}` | the exit status (0 on success, 1 on failure) |
/// | `{message}` | the failure message, cut to [`max_message_chars`](Self::max_message_chars) |
/// | `{duration_ms}` | run time in milliseconds, capped at 24 h (Uptime Kuma's limit); empty when unknown |
/// | `{duration_s}` | run time in seconds, with milliseconds; empty when unknown |
///
/// An event kind without a template is not sent; an exit status without an
/// [`exit_code`](Self::exit_code) template uses the success or fail template.
/// A check without an id is skipped (logged once) when the templates use `{id}`.
///
/// ```
/// use heartbeat_core::UrlTemplate;
///
/// let better_stack = UrlTemplate::better_stack();
/// let custom = UrlTemplate::new("my-service")
///     .success("https://ping.example.com/{id}/ok?ms={duration_ms}")
///     .fail("https://ping.example.com/{id}/fail?why={message}");
/// # let _ = (better_stack, custom);
/// ```
#[derive(Clone)]
#[must_use]
pub struct UrlTemplate {
    name: String,
    base: String,
    start: Option<String>,
    success: Option<String>,
    fail: Option<String>,
    exit_code: Option<String>,
    post_body: bool,
    max_message_chars: usize,
    reject_body: Option<String>,
}

impl std::fmt::Debug for UrlTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Templates are shown as written (ids come from `{id}`); the base
        // URL may hold credentials.
        f.debug_struct("UrlTemplate")
            .field("name", &self.name)
            .field("base", &http::redacted(&self.base))
            .field("start", &self.start)
            .field("success", &self.success)
            .field("fail", &self.fail)
            .field("exit_code", &self.exit_code)
            .field("post_body", &self.post_body)
            .field("max_message_chars", &self.max_message_chars)
            .finish_non_exhaustive()
    }
}

impl UrlTemplate {
    /// An empty template set for the target `name` (the key of
    /// [`CheckBuilder::target_id`](crate::CheckBuilder::target_id)).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            base: String::new(),
            start: None,
            success: None,
            fail: None,
            exit_code: None,
            post_body: false,
            max_message_chars: 1000,
            reject_body: None,
        }
    }

    /// Better Stack heartbeats (name `betterstack`): `…/heartbeat/<token>`,
    /// `/fail`, `/<exit code>`; POST with the message and log as body.
    pub fn better_stack() -> Self {
        Self::new("betterstack")
            .base_url("https://uptime.betterstack.com")
            .success("{base}/api/v1/heartbeat/{id}")
            .fail("{base}/api/v1/heartbeat/{id}/fail")
            .exit_code("{base}/api/v1/heartbeat/{id}/{exit_code}")
            .post_body(true)
            .max_message_chars(10_000)
    }

    /// Dead Man's Snitch (name `deadmanssnitch`): `https://nosnch.in/<token>?s=<status>&m=<message>`.
    pub fn dead_mans_snitch() -> Self {
        Self::new("deadmanssnitch")
            .base_url("https://nosnch.in")
            .success("{base}/{id}?s=0")
            .fail("{base}/{id}?s=1&m={message}")
            .exit_code("{base}/{id}?s={exit_code}&m={message}")
            .max_message_chars(256)
    }

    /// Uptime Kuma push monitors (name `uptimekuma`) on your own instance:
    /// `<base>/api/push/<token>?status=up|down&msg=…&ping=<ms>`.
    pub fn uptime_kuma(base: impl Into<String>) -> Self {
        Self::new("uptimekuma")
            .base_url(base)
            .success("{base}/api/push/{id}?status=up&msg=OK&ping={duration_ms}")
            .fail("{base}/api/push/{id}?status=down&msg={message}&ping={duration_ms}")
            // Kuma answers 500 {"ok":false,…} for an unknown token: not worth retrying.
            .reject_when_body_contains("\"ok\":false")
    }

    /// Cronhub (name `cronhub`): `/start/<uuid>`, `/finish/<uuid>`,
    /// `/fail/<uuid>`, with the message as a POST body of up to 1000 characters.
    pub fn cronhub() -> Self {
        Self::new("cronhub")
            .base_url("https://cronhub.io")
            .start("{base}/start/{id}")
            .success("{base}/finish/{id}")
            .fail("{base}/fail/{id}")
            .post_body(true)
    }

    /// The value of `{base}` (for a self-hosted instance, or a test receiver).
    pub fn base_url(self, base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            ..self
        }
    }

    /// The URL pinged when a run starts.
    pub fn start(self, template: impl Into<String>) -> Self {
        Self {
            start: Some(template.into()),
            ..self
        }
    }

    /// The URL pinged when a run succeeds.
    pub fn success(self, template: impl Into<String>) -> Self {
        Self {
            success: Some(template.into()),
            ..self
        }
    }

    /// The URL pinged when a run fails.
    pub fn fail(self, template: impl Into<String>) -> Self {
        Self {
            fail: Some(template.into()),
            ..self
        }
    }

    /// The URL pinged when a run ends with an exit status.
    pub fn exit_code(self, template: impl Into<String>) -> Self {
        Self {
            exit_code: Some(template.into()),
            ..self
        }
    }

    /// POST the message and log tail as a text body (default: GET, no body).
    pub fn post_body(self, post: bool) -> Self {
        Self {
            post_body: post,
            ..self
        }
    }

    /// The longest `{message}` and body, in characters (default 1000).
    pub fn max_message_chars(self, max: usize) -> Self {
        Self {
            max_message_chars: max,
            ..self
        }
    }

    /// Treat a reply whose body contains `text` as a permanent rejection,
    /// whatever its status.
    pub fn reject_when_body_contains(self, text: impl Into<String>) -> Self {
        Self {
            reject_body: Some(text.into()),
            ..self
        }
    }

    fn build(self, context: &TargetContext) -> Result<UrlTemplateTarget, ConfigError> {
        let invalid = |reason: String| ConfigError::InvalidTemplate {
            target: self.name.clone(),
            reason,
        };
        if self.name.is_empty() {
            return Err(invalid("the target name is empty".into()));
        }
        let base = self.base.trim_end_matches('/').to_owned();
        let parse = |t: Option<String>| -> Result<Option<Template>, ConfigError> {
            t.map(|t| Template::parse(&t, &base).map_err(&invalid))
                .transpose()
        };
        let target = UrlTemplateTarget {
            name: self.name.clone(),
            http: context.http.clone(),
            start: parse(self.start.clone())?,
            success: parse(self.success.clone())?,
            fail: parse(self.fail.clone())?,
            exit_code: parse(self.exit_code.clone())?,
            post_body: self.post_body,
            max_message_chars: self.max_message_chars,
            reject_body: self.reject_body.clone(),
        };
        if target.success.is_none() {
            return Err(invalid("a success template is required".into()));
        }
        Ok(target)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Id,
    Slug,
    RunId,
    ExitCode,
    Message,
    DurationMs,
    DurationS,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Var(Var),
}

#[derive(Debug, Clone)]
struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Splits a template into literals and placeholders, with `{base}`
    /// already substituted, and checks that it yields a valid URL.
    fn parse(template: &str, base: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                return Err(format!("unclosed '{{' in {template:?}"));
            };
            let name = &rest[open + 1..open + close];
            let lit = &rest[..open];
            if !lit.is_empty() {
                pieces.push(Piece::Lit(lit.to_owned()));
            }
            let var = match name {
                "base" => {
                    if base.is_empty() {
                        return Err("{base} is used but no base_url is set".into());
                    }
                    pieces.push(Piece::Lit(base.to_owned()));
                    rest = &rest[open + close + 1..];
                    continue;
                }
                "id" => Var::Id,
                "slug" => Var::Slug,
                "run_id" => Var::RunId,
                "exit_code" => Var::ExitCode,
                "message" => Var::Message,
                "duration_ms" => Var::DurationMs,
                "duration_s" => Var::DurationS,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}}; use {{base}}, {{id}}, {{slug}}, {{run_id}}, \
                         {{exit_code}}, {{message}}, {{duration_ms}} or {{duration_s}}"
                    ));
                }
            };
            pieces.push(Piece::Var(var));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Lit(rest.to_owned()));
        }
        let t = Self { pieces };
        let sample = t.render(|_| "x".to_owned());
        if heartbeat_validate::absolute_http_url(&sample).is_err() {
            return Err(
                "the template does not give an absolute http(s) URL (is base_url set?)".to_owned(),
            );
        }
        Ok(t)
    }

    fn uses(&self, var: Var) -> bool {
        self.pieces.contains(&Piece::Var(var))
    }

    fn render(&self, mut value: impl FnMut(Var) -> String) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Var(v) => encode_into(&value(*v), &mut out),
            }
        }
        out
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, which is
/// safe in a path segment and in a query value alike.
fn encode_into(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

struct UrlTemplateTarget {
    name: String,
    http: HttpClient,
    start: Option<Template>,
    success: Option<Template>,
    fail: Option<Template>,
    exit_code: Option<Template>,
    post_body: bool,
    max_message_chars: usize,
    reject_body: Option<String>,
}

impl UrlTemplateTarget {
    fn template(&self, kind: &EventKind) -> Option<&Template> {
        match kind {
            EventKind::Start => self.start.as_ref(),
            EventKind::Success | EventKind::Heartbeat => self.success.as_ref(),
            EventKind::Fail => self.fail.as_ref(),
            EventKind::ExitCode(c) => self.exit_code.as_ref().or(if *c == 0 {
                self.success.as_ref()
            } else {
                self.fail.as_ref()
            }),
            // No state for messages on these services.
            EventKind::Log | EventKind::Retry => None,
        }
    }

    fn message(&self, event: &Event) -> String {
        match (event.message_with_folds(), &event.kind) {
            (Some(m), _) => body::chars(&m, self.max_message_chars).to_owned(),
            (None, EventKind::ExitCode(c)) if *c != 0 => format!("exit code {c}"),
            (None, EventKind::Fail) => "failed".to_owned(),
            _ => String::new(),
        }
    }

    fn ping(&self, template: &Template, event: &Event) -> Option<Ping> {
        let message = self.message(event);
        let url = template.render(|var| match var {
            Var::Id => event
                .check
                .target_id(&self.name)
                .map(str::to_owned)
                .unwrap_or_default(),
            Var::Slug => event.check.slug().to_owned(),
            Var::RunId => event.run_id.hyphenated().to_string(),
            Var::ExitCode => match event.kind {
                EventKind::ExitCode(c) => c.to_string(),
                _ => u8::from(event.kind.is_failure()).to_string(),
            },
            Var::Message => message.clone(),
            Var::DurationMs => event
                .duration
                .map(|d| d.as_millis().min(86_400_000).to_string())
                .unwrap_or_default(),
            Var::DurationS => event
                .duration
                .map(|d| format!("{:.3}", d.as_secs_f64()))
                .unwrap_or_default(),
        });
        let url = Url::parse(&url).ok()?;
        // A byte limit equal to the character limit: never over it, and the
        // cut falls on the log's oldest lines, as everywhere else.
        let body = self
            .post_body
            .then(|| body::compose(Some(&message), event.log.as_deref(), self.max_message_chars))
            .filter(|b| !b.is_empty());
        let method = if self.post_body {
            Method::POST
        } else {
            Method::GET
        };
        Some(Ping::new(method, url, body))
    }
}

impl std::fmt::Debug for UrlTemplateTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlTemplateTarget")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl IntoTarget for UrlTemplate {
    fn into_target(self, context: &TargetContext) -> Result<Arc<dyn Target>, ConfigError> {
        Ok(Arc::new(self.build(context)?))
    }
}

impl Target for UrlTemplateTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn plan(&self, event: &Event) -> Plan {
        let Some(template) = self.template(&event.kind) else {
            return Plan::Skip;
        };
        if template.uses(Var::Id) && event.check.target_id(&self.name).is_none() {
            return Plan::Misconfigured(format!(
                "the check has no id for target {:?}; add .target_id({:?}, \"<token>\") to it",
                self.name, self.name
            ));
        }
        Plan::Send
    }

    fn send<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Verdict> {
        Box::pin(async move {
            let Some(ping) = self.template(&event.kind).and_then(|t| self.ping(t, event)) else {
                return Verdict::Reject {
                    reason: "the template gave an invalid URL for this check".into(),
                };
            };
            self.http
                .exchange(ping, |reply| match &self.reject_body {
                    Some(text) if reply.body.contains(text.as_str()) => Verdict::Reject {
                        reason: format!(
                            "HTTP {}: {}",
                            reply.status,
                            body::chars(reply.body.trim(), 200)
                        ),
                    },
                    _ => http::judge_status(reply),
                })
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> TargetContext {
        TargetContext {
            environment: None,
            http: HttpClient::new(std::time::Duration::from_secs(1)),
        }
    }

    #[test]
    fn unknown_placeholder_is_named() {
        let err = UrlTemplate::new("x")
            .success("https://e.com/{token}")
            .build(&ctx())
            .unwrap_err();
        assert!(err.to_string().contains("{token}"), "{err}");
    }

    #[test]
    fn base_is_required_when_used() {
        let err = UrlTemplate::new("x")
            .success("{base}/{id}")
            .build(&ctx())
            .unwrap_err();
        assert!(err.to_string().contains("base_url"), "{err}");
        assert!(
            UrlTemplate::new("x")
                .success("ftp://e.com/{id}")
                .build(&ctx())
                .is_err()
        );
        assert!(
            UrlTemplate::new("x")
                .fail("https://e.com/{id}")
                .build(&ctx())
                .is_err()
        );
    }

    #[test]
    fn presets_build() {
        UrlTemplate::better_stack().build(&ctx()).unwrap();
        UrlTemplate::dead_mans_snitch().build(&ctx()).unwrap();
        UrlTemplate::uptime_kuma("https://kuma.example.com/")
            .build(&ctx())
            .unwrap();
        UrlTemplate::cronhub().build(&ctx()).unwrap();
    }

    #[test]
    fn values_are_encoded() {
        let mut out = String::new();
        encode_into("a b/c?d&é", &mut out);
        assert_eq!(out, "a%20b%2Fc%3Fd%26%C3%A9");
    }
}
