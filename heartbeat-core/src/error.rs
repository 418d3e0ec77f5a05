//! Error types. Each one names what is wrong and how to fix it, and none of
//! them ever contains a secret.

/// A [`Check`](crate::Check) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The slug is empty, too long or has characters the services reject.
    #[error("invalid check slug {slug:?}: {reason}{}", suggestion.as_ref().map(|s| format!(" (try {s:?})")).unwrap_or_default())]
    InvalidSlug {
        /// The slug as given.
        slug: String,
        /// What is wrong with it.
        reason: String,
        /// A valid slug close to the one given, when one can be derived.
        suggestion: Option<String>,
    },
    /// The Healthchecks UUID is not a UUID.
    #[error(
        "check {slug:?}: the Healthchecks UUID is not a UUID; copy the 36-character id (8-4-4-4-12 hex digits) from the check's ping URL"
    )]
    InvalidHealthchecksUuid {
        /// The check's slug.
        slug: String,
    },
    /// The cron expression is not a standard 5-field expression.
    #[error("check {slug:?}: invalid cron expression {expr:?}: {reason}")]
    InvalidCron {
        /// The check's slug.
        slug: String,
        /// The expression as given.
        expr: String,
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
    /// The interval is under a minute, not whole minutes, or over a year.
    #[error("check {slug:?}: interval {interval:?} is not supported: {reason}")]
    InvalidInterval {
        /// The check's slug.
        slug: String,
        /// The interval as given.
        interval: std::time::Duration,
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
    /// The time zone is not an IANA name.
    #[error("check {slug:?}: {}", heartbeat_validate::TimeZoneError { tz: tz.clone(), suggestion: suggestion.clone() })]
    UnknownTimeZone {
        /// The check's slug.
        slug: String,
        /// The time zone as given.
        tz: String,
        /// A valid name close to it, when there is one.
        suggestion: Option<String>,
    },
    /// The runbook is not an absolute http(s) URL.
    #[error("check {slug:?}: the runbook {reason}; write an absolute http:// or https:// URL")]
    InvalidRunbook {
        /// The check's slug.
        slug: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A duration setting is zero.
    #[error("check {slug:?}: {setting} must be more than zero")]
    InvalidDuration {
        /// The check's slug.
        slug: String,
        /// The setting.
        setting: &'static str,
    },
    /// A per-target id (Cronitor key, Better Stack token, …) is unusable.
    #[error("check {slug:?}: the id for target {target:?} {reason}")]
    InvalidTargetId {
        /// The check's slug.
        slug: String,
        /// The target the id is for.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A [`Monitor`](crate::Monitor) could not be built from code or from the
/// environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A base URL does not parse, or is not http(s).
    #[error("{setting}: {reason}; expected an absolute http:// or https:// URL such as {example}")]
    InvalidUrl {
        /// The setting or environment variable that holds the URL.
        setting: String,
        /// What is wrong with it (never the URL itself, which may hold a key).
        reason: String,
        /// What a valid value looks like.
        example: &'static str,
    },
    /// A key or token is empty or has characters that cannot go in a URL.
    #[error("{setting}: {reason}")]
    InvalidKey {
        /// The setting or environment variable that holds the key.
        setting: String,
        /// What is wrong with it (never the key itself).
        reason: String,
    },
    /// A URL template uses a placeholder that does not exist.
    #[error("URL template for target {target:?}: {reason}")]
    InvalidTemplate {
        /// The template's target name.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting has a value outside its range.
    #[error("{setting}: {reason}")]
    InvalidSetting {
        /// The setting.
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The delivery thread could not be started. No longer returned: such a
    /// monitor degrades to logging runs, with one ERROR line.
    #[error("could not start the heartbeat delivery thread: {0}")]
    Worker(String),
}

/// An error and its sources, joined with ": " ("sync failed: connection
/// refused"), so that the root cause reaches the log and the service.
pub(crate) fn chain<E: std::error::Error + ?Sized>(err: &E) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        // Some errors repeat their source in their own message; skip repeats.
        if !out.ends_with(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}
