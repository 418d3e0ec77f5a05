//! The HTTP plumbing every HTTP target shares: sending, reading a bounded
//! part of the reply, and classifying status codes.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};

use crate::target::Verdict;

/// How much of a reply body is read: enough for any status text a service
/// sends, small enough that a misbehaving server cannot make us buffer much.
const MAX_REPLY_BODY: usize = 4096;

/// The longest `Retry-After` honoured. A service asking for more gets this
/// much, so that one reply cannot park an event for hours.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// The HTTP clients the built-in targets of one monitor share, with pooled
/// keep-alive connections. Each is built on first use, on the delivery
/// thread: the one for https URLs loads the system's certificates, which
/// neither `MonitorBuilder::build` nor the job should wait for, and which a
/// monitor whose targets are all plain http never needs.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient(Arc<LazyClients>);

#[derive(Debug)]
struct LazyClients {
    timeout: Duration,
    plain: OnceLock<Result<reqwest::Client, String>>,
    https: OnceLock<Result<reqwest::Client, String>>,
}

impl HttpClient {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self(Arc::new(LazyClients {
            timeout,
            plain: OnceLock::new(),
            https: OnceLock::new(),
        }))
    }

    /// The client for `url`'s scheme. When it cannot be built (no usable
    /// TLS), every ping to such a URL is refused with the reason, which the
    /// engine reports once per check and counts as failed.
    fn client(&self, url: &Url) -> Result<&reqwest::Client, Verdict> {
        let https = url.scheme() == "https";
        type Config = fn() -> Result<rustls::ClientConfig, String>;
        let (cell, tls): (_, Config) = if https {
            (&self.0.https, super::tls::https_config)
        } else {
            (&self.0.plain, super::tls::plain_config)
        };
        let built = cell.get_or_init(|| {
            let tls = tls()?;
            reqwest::Client::builder()
                .user_agent(concat!("heartbeat/", env!("CARGO_PKG_VERSION")))
                .timeout(self.0.timeout)
                .connect_timeout(self.0.timeout)
                .pool_idle_timeout(Duration::from_secs(60))
                // A redirect would carry keys to another origin, and turn a
                // POST into a GET without its body: treat it as a mistake.
                .redirect(reqwest::redirect::Policy::none())
                .tls_backend_preconfigured(tls)
                .build()
                .map_err(|e| crate::error::chain(&e.without_url()))
        });
        built.as_ref().map_err(|e| Verdict::Reject {
            reason: if https {
                format!("HTTPS delivery is disabled: the TLS client could not start ({e})")
            } else {
                format!("the HTTP client could not start: {e}")
            },
        })
    }
}

/// A request to make. The URL may hold secrets: never log it.
#[derive(Debug)]
pub(crate) struct Ping {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<Vec<u8>>,
    /// Extra headers (management API keys); values are never logged.
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Sent as HTTP Basic auth, the key as user name and no password.
    pub(crate) basic_auth: Option<crate::secret::Secret>,
    /// The body's content type, when there is a body.
    pub(crate) content_type: &'static str,
}

impl Ping {
    /// A ping with no extra headers and a text body, if any.
    pub(crate) fn new(method: Method, url: Url, body: Option<Vec<u8>>) -> Self {
        Self {
            method,
            url,
            body,
            headers: Vec::new(),
            basic_auth: None,
            content_type: "text/plain; charset=utf-8",
        }
    }

    /// A JSON request to a management API.
    pub(crate) fn json(method: Method, url: Url, body: &serde_json::Value) -> Self {
        Self {
            content_type: "application/json",
            ..Self::new(method, url, Some(body.to_string().into_bytes()))
        }
    }
}

/// What came back.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl HttpClient {
    /// Makes the request and reads at most [`MAX_REPLY_BODY`] bytes of the
    /// reply. A transport failure (refused, reset, timeout, garbage) is a
    /// [`Verdict::Retry`].
    pub(crate) async fn send(&self, ping: Ping) -> Result<Reply, Verdict> {
        let mut req = self.client(&ping.url)?.request(ping.method, ping.url);
        for (name, value) in ping.headers {
            req = req.header(name, value);
        }
        if let Some(key) = ping.basic_auth {
            req = req.basic_auth(key.expose(), Some(""));
        }
        if let Some(body) = ping.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, ping.content_type)
                .body(body);
        }
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        let mut body = Vec::new();
        while body.len() < MAX_REPLY_BODY {
            match resp.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                // A reply whose status arrived is judged on the status, even
                // if the body was cut off.
                Err(_) => break,
            }
        }
        body.truncate(MAX_REPLY_BODY);
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

impl HttpClient {
    /// Sends `ping` and judges the reply with `judge`; a transport failure
    /// is already a [`Verdict::Retry`].
    pub(crate) async fn exchange(
        &self,
        ping: Ping,
        judge: impl FnOnce(&Reply) -> Verdict,
    ) -> Verdict {
        match self.send(ping).await {
            Ok(reply) => judge(&reply),
            Err(verdict) => verdict,
        }
    }
}

/// A transport error as a retry, described without its URL (which can hold
/// a key). reqwest keeps the useful part (refused, reset…) in the source
/// chain. A refused certificate is a rejection: retrying does not fix it.
fn transport(err: reqwest::Error) -> Verdict {
    let err = err.without_url();
    if let Some(why) = super::tls::certificate_refused(&err) {
        return Verdict::Reject {
            reason: format!(
                "HTTPS delivery failed: {why}; install the CA certificates the service's \
                 certificate chains to (a ca-certificates package, or SSL_CERT_FILE)"
            ),
        };
    }
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    Verdict::Retry {
        reason: format!("{kind}: {}", crate::error::chain(&err)),
        after: None,
    }
}

/// The default reading of a status: 2xx delivered; 408, 429 and 5xx retried
/// (honouring `Retry-After`); any other status is a configuration error.
pub(crate) fn judge_status(reply: &Reply) -> Verdict {
    let status = reply.status;
    if status.is_success() {
        return Verdict::Delivered;
    }
    let text = reply.body.trim();
    let text = super::body::chars(text, 200);
    let reason = if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {text}")
    };
    if status.is_redirection() {
        // The location may hold a key only when it is on the configured
        // origin; name its host, never its path or query.
        let to = reply
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Url::parse(v).ok())
            .and_then(|u| u.host_str().map(str::to_owned))
            .map(|h| format!(" to host {h}"))
            .unwrap_or_default();
        return Verdict::Reject {
            reason: format!(
                "HTTP {status}: the service redirects{to}, which heartbeat does not follow; \
                 configure the URL it redirects to"
            ),
        };
    }
    if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Verdict::Retry {
            reason,
            after: retry_after(&reply.headers),
        }
    } else {
        Verdict::Reject { reason }
    }
}

/// `Retry-After` as seconds or an HTTP date, capped at [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A URL for `Debug` output: a user name or password in it is replaced by
/// `***`, and a URL that does not parse is not shown at all (whatever it
/// holds could be a key).
pub(crate) fn redacted(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(mut url) => {
            if !url.username().is_empty() {
                let _ = url.set_username("***");
            }
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<not a URL>".to_owned(),
    }
}

/// Parses a base URL setting: absolute, http or https, no query or fragment.
/// The error never repeats the URL, which may embed a key.
pub(crate) fn parse_base_url(
    setting: &str,
    raw: &str,
    example: &'static str,
) -> Result<Url, crate::ConfigError> {
    let invalid = |reason: &str| crate::ConfigError::InvalidUrl {
        setting: setting.to_owned(),
        reason: reason.to_owned(),
        example,
    };
    let url = Url::parse(raw.trim()).map_err(|e| invalid(&format!("does not parse ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme is not http or https"));
    }
    if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "a base URL cannot have a query (?…) or fragment (#…)",
        ));
    }
    Ok(url)
}

/// Checks a key that goes into a URL path segment.
pub(crate) fn check_key(setting: &str, key: &str) -> Result<(), crate::ConfigError> {
    heartbeat_validate::path_segment(key, true).map_err(|reason| crate::ConfigError::InvalidKey {
        setting: setting.to_owned(),
        reason: reason.to_owned(),
    })
}

/// `base` with `segments` appended as path segments (percent-encoded).
pub(crate) fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// A duration in whole seconds within `[min, max]`, rounded to the nearest
/// second (the management APIs take integers and have floors).
pub(crate) fn whole_seconds(d: Duration, min: u64, max: u64) -> u64 {
    (d.as_secs_f64().round() as u64).clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, headers: &[(&'static str, &str)]) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
            body: String::new(),
        }
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redacted("https://user:hunter2@hc.example.com/ping"),
            "https://***:***@hc.example.com/ping"
        );
        assert_eq!(redacted("https://hc-ping.com"), "https://hc-ping.com/");
        assert_eq!(redacted("hunter2"), "<not a URL>");
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(judge_status(&reply(200, &[])), Verdict::Delivered);
        assert_eq!(judge_status(&reply(202, &[])), Verdict::Delivered);
        for s in [408, 429, 500, 502, 503] {
            assert!(
                matches!(judge_status(&reply(s, &[])), Verdict::Retry { .. }),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 409] {
            assert!(
                matches!(judge_status(&reply(s, &[])), Verdict::Reject { .. }),
                "{s}"
            );
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let r = reply(429, &[("retry-after", "7")]);
        assert_eq!(retry_after(&r.headers), Some(Duration::from_secs(7)));
        let r = reply(429, &[("retry-after", "999999")]);
        assert_eq!(retry_after(&r.headers), Some(MAX_RETRY_AFTER));
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        let r = reply(503, &[("retry-after", &later)]);
        let got = retry_after(&r.headers).unwrap();
        assert!(
            got <= Duration::from_secs(30) && got >= Duration::from_secs(28),
            "{got:?}"
        );
        assert_eq!(
            retry_after(&reply(429, &[("retry-after", "soon")]).headers),
            None
        );
    }
}
