//! [`Check`]: what is monitored, validated when it is built.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use std::time::Duration;

use crate::error::CheckError;
use crate::schedule::{Priority, Schedule};
use crate::secret::Secret;

/// The longest slug accepted. Sentry Crons limits monitor slugs to 50
/// characters, so a longer one could not be used with every target.
pub const MAX_SLUG_LEN: usize = heartbeat_validate::MAX_SLUG_LEN;

/// A monitored job: a slug plus the ids each monitoring service knows it by.
///
/// Cheap to clone (an `Arc` inside). Built with [`Check::builder`], which
/// validates everything up front so that a bad slug or id is an error at
/// start-up, never a silent failure at run time.
///
/// | setting | default | used by |
/// |---|---|---|
/// | slug | required | every target: Healthchecks slug URLs, Cronitor monitor key, logs |
/// | [`healthchecks_uuid`](CheckBuilder::healthchecks_uuid) | none (slug URL with the ping key) | Healthchecks |
/// | [`cronitor_key`](CheckBuilder::cronitor_key) | the slug | Cronitor |
/// | [`target_id`](CheckBuilder::target_id) | none (target skips the check) | URL-template targets |
/// | [`schedule`](CheckBuilder::schedule) / [`every`](CheckBuilder::every) | none | monitor upserts (Healthchecks, Cronitor) |
/// | [`timezone`](CheckBuilder::timezone) | `UTC`, always sent explicitly | the schedule |
/// | [`grace`](CheckBuilder::grace) | none (the service's default) | monitor upserts |
/// | [`max_runtime`](CheckBuilder::max_runtime) | none | a "taking too long" signal while a run is still running |
/// | [`runbook`](CheckBuilder::runbook) | none | appended to failure messages and logs |
/// | [`priority`](CheckBuilder::priority) | [`Priority::P2`] | logs, Sentry tags |
/// | [`failure_tolerance`](CheckBuilder::failure_tolerance) | none (the service's: alert on the first failure) | Sentry `failure_issue_threshold`, Cronitor `failure_tolerance` |
/// | [`recovery_threshold`](CheckBuilder::recovery_threshold) | none (the service's) | Sentry `recovery_threshold` |
///
/// ```
/// use std::time::Duration;
/// use heartbeat_core::{Check, Priority};
///
/// let check = Check::builder("nightly-backup")
///     .healthchecks_uuid("5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278")
///     .schedule("0 3 * * *")
///     .timezone("Europe/Paris")
///     .grace(Duration::from_secs(15 * 60))
///     .max_runtime(Duration::from_secs(3600))
///     .runbook("https://wiki.example.com/runbooks/backup")
///     .priority(Priority::P1)
///     .build()?;
/// assert_eq!(check.slug(), "nightly-backup");
///
/// let err = Check::builder("x").schedule("0 25 * * *").build().unwrap_err();
/// assert!(err.to_string().contains("hour (2nd) field has a value outside 0-23"));
///
/// let err = Check::new("Nightly Backup").unwrap_err();
/// assert!(err.to_string().contains("nightly-backup"));
/// # Ok::<(), heartbeat_core::CheckError>(())
/// ```
#[derive(Clone)]
pub struct Check {
    inner: Arc<CheckInner>,
}

struct CheckInner {
    slug: String,
    /// The id of the monitor that last handled this check's first start.
    first_seen_by: AtomicUsize,
    healthchecks_uuid: Option<Secret>,
    cronitor_key: Option<String>,
    target_ids: BTreeMap<String, Secret>,
    schedule: Option<Schedule>,
    timezone: String,
    grace: Option<Duration>,
    max_runtime: Option<Duration>,
    runbook: Option<String>,
    failure_tolerance: Option<u32>,
    recovery_threshold: Option<u32>,
    priority: Priority,
    /// Whether the priority was set, not defaulted: only then is it sent
    /// to the services as a tag.
    priority_set: bool,
}

impl Check {
    /// A check with only a slug. Same as `Check::builder(slug).build()`.
    ///
    /// # Errors
    /// [`CheckError::InvalidSlug`] when the slug is empty, longer than
    /// [`MAX_SLUG_LEN`] or has characters other than `a-z`, `0-9`, `-`, `_`.
    pub fn new(slug: impl Into<String>) -> Result<Self, CheckError> {
        Self::builder(slug).build()
    }

    /// Starts building a check with the given slug.
    pub fn builder(slug: impl Into<String>) -> CheckBuilder {
        CheckBuilder {
            slug: slug.into(),
            healthchecks_uuid: None,
            cronitor_key: None,
            target_ids: Vec::new(),
            schedule: None,
            timezone: None,
            grace: None,
            max_runtime: None,
            runbook: None,
            priority: None,
            failure_tolerance: None,
            recovery_threshold: None,
        }
    }

    /// The check's slug.
    pub fn slug(&self) -> &str {
        &self.inner.slug
    }

    /// When the job is expected to run.
    pub fn schedule(&self) -> Option<&Schedule> {
        self.inner.schedule.as_ref()
    }

    /// The IANA time zone the schedule is evaluated in (`UTC` unless set).
    pub fn timezone(&self) -> &str {
        &self.inner.timezone
    }

    /// How late a run may be before the service alerts.
    pub fn grace(&self) -> Option<Duration> {
        self.inner.grace
    }

    /// How long a run may take before it counts as "taking too long".
    pub fn max_runtime(&self) -> Option<Duration> {
        self.inner.max_runtime
    }

    /// Consecutive failures the service tolerates before alerting, if set.
    pub fn failure_tolerance(&self) -> Option<u32> {
        self.inner.failure_tolerance
    }

    /// Consecutive successes that resolve an alert, if set.
    pub fn recovery_threshold(&self) -> Option<u32> {
        self.inner.recovery_threshold
    }

    /// The runbook linked from this check's failures.
    pub fn runbook(&self) -> Option<&str> {
        self.inner.runbook.as_deref()
    }

    /// How urgent this check's alerts are.
    pub fn priority(&self) -> Priority {
        self.inner.priority
    }

    /// Whether the priority was set explicitly (then the services get it as
    /// a tag, and the check's monitor is upserted even without a schedule).
    pub(crate) fn has_priority(&self) -> bool {
        self.inner.priority_set
    }

    pub(crate) fn healthchecks_uuid(&self) -> Option<&Secret> {
        self.inner.healthchecks_uuid.as_ref()
    }

    /// The Cronitor monitor key: the one set, or else the slug.
    pub(crate) fn cronitor_key(&self) -> &str {
        self.inner
            .cronitor_key
            .as_deref()
            .unwrap_or(&self.inner.slug)
    }

    /// The id this check has on the target named `target`
    /// ([`CheckBuilder::target_id`]), for a [`Target`](crate::Target) to
    /// address it. Ids are secrets: never log one.
    pub fn target_id(&self, target: &str) -> Option<&str> {
        self.inner.target_ids.get(target).map(Secret::expose)
    }

    pub(crate) fn first_seen_by(&self) -> &AtomicUsize {
        &self.inner.first_seen_by
    }

    /// The names of the targets this check has an id for.
    pub(crate) fn target_id_names(&self) -> impl Iterator<Item = &str> {
        self.inner.target_ids.keys().map(String::as_str)
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids are secrets (anyone holding one can ping the check), so only
        // say which ones are set.
        f.debug_struct("Check")
            .field("slug", &self.inner.slug)
            .field("healthchecks_uuid", &self.inner.healthchecks_uuid)
            .field("cronitor_key", &self.inner.cronitor_key)
            .field("target_ids", &self.inner.target_ids)
            .field("schedule", &self.inner.schedule)
            .field("timezone", &self.inner.timezone)
            .field("grace", &self.inner.grace)
            .field("max_runtime", &self.inner.max_runtime)
            .field("runbook", &self.inner.runbook)
            .field("priority", &self.inner.priority)
            .field("failure_tolerance", &self.inner.failure_tolerance)
            .field("recovery_threshold", &self.inner.recovery_threshold)
            .finish()
    }
}

/// Builds a [`Check`]; see its docs for the defaults.
#[derive(Debug, Clone)]
#[must_use]
pub struct CheckBuilder {
    slug: String,
    healthchecks_uuid: Option<String>,
    cronitor_key: Option<String>,
    target_ids: Vec<(String, String)>,
    schedule: Option<Schedule>,
    timezone: Option<String>,
    grace: Option<Duration>,
    max_runtime: Option<Duration>,
    runbook: Option<String>,
    priority: Option<Priority>,
    failure_tolerance: Option<u32>,
    recovery_threshold: Option<u32>,
}

impl CheckBuilder {
    /// A 5-field cron schedule (`minute hour day-of-month month day-of-week`),
    /// evaluated in [`timezone`](Self::timezone).
    pub fn schedule(self, cron: impl Into<String>) -> Self {
        Self {
            schedule: Some(Schedule::Cron(cron.into())),
            ..self
        }
    }

    /// An interval schedule: the job runs every `period` (whole minutes, at
    /// least one).
    pub fn every(self, period: Duration) -> Self {
        Self {
            schedule: Some(Schedule::Every(period)),
            ..self
        }
    }

    /// The IANA time zone of the schedule, e.g. `Europe/Paris` (default `UTC`).
    pub fn timezone(self, tz: impl Into<String>) -> Self {
        Self {
            timezone: Some(tz.into()),
            ..self
        }
    }

    /// How late a run may be before the service alerts.
    pub fn grace(self, grace: Duration) -> Self {
        Self {
            grace: Some(grace),
            ..self
        }
    }

    /// How long a run may take: past it, a still-running run logs a warning
    /// and signals the services that can take a message (once per run).
    pub fn max_runtime(self, max: Duration) -> Self {
        Self {
            max_runtime: Some(max),
            ..self
        }
    }

    /// A runbook URL, appended to failure messages.
    pub fn runbook(self, url: impl Into<String>) -> Self {
        Self {
            runbook: Some(url.into()),
            ..self
        }
    }

    /// How urgent this check's alerts are.
    pub fn priority(self, priority: Priority) -> Self {
        Self {
            priority: Some(priority),
            ..self
        }
    }

    /// How many consecutive failed runs the service tolerates before it
    /// alerts (0: alert on the first). Upserted monitors get it: Sentry as
    /// `failure_issue_threshold` (tolerance + 1), Cronitor as
    /// `failure_tolerance`.
    pub fn failure_tolerance(self, failures: u32) -> Self {
        Self {
            failure_tolerance: Some(failures),
            ..self
        }
    }

    /// How many consecutive successful runs resolve an alert (at least 1):
    /// Sentry's `recovery_threshold`.
    pub fn recovery_threshold(self, successes: u32) -> Self {
        Self {
            recovery_threshold: Some(successes.max(1)),
            ..self
        }
    }

    /// The check's UUID on Healthchecks (from its ping URL). With it, pings go
    /// to `<base>/<uuid>`; without it, to `<base>/<ping-key>/<slug>`.
    pub fn healthchecks_uuid(self, uuid: impl Into<String>) -> Self {
        Self {
            healthchecks_uuid: Some(uuid.into()),
            ..self
        }
    }

    /// The Cronitor monitor key, when it differs from the slug.
    pub fn cronitor_key(self, key: impl Into<String>) -> Self {
        Self {
            cronitor_key: Some(key.into()),
            ..self
        }
    }

    /// The id (token) this check has on a URL-template target, keyed by the
    /// target's name, e.g. `target_id("betterstack", "<heartbeat token>")`.
    pub fn target_id(mut self, target: impl Into<String>, id: impl Into<String>) -> Self {
        self.target_ids.push((target.into(), id.into()));
        self
    }

    /// Validates everything and builds the check.
    ///
    /// # Errors
    /// - [`CheckError::InvalidSlug`]: empty, too long, or characters outside `a-z0-9-_`.
    /// - [`CheckError::InvalidHealthchecksUuid`]: the UUID does not parse.
    /// - [`CheckError::InvalidTargetId`]: an empty id, or one with characters
    ///   that cannot go in a URL path segment.
    /// - [`CheckError::InvalidCron`]: not a standard 5-field cron expression.
    /// - [`CheckError::InvalidInterval`]: an interval under a minute or not in whole minutes.
    /// - [`CheckError::UnknownTimeZone`]: not an IANA time zone name.
    /// - [`CheckError::InvalidRunbook`]: not an absolute http(s) URL.
    /// - [`CheckError::InvalidDuration`]: a zero max runtime.
    pub fn build(self) -> Result<Check, CheckError> {
        let slug = self.slug;
        if let Err(reason) = heartbeat_validate::slug(&slug) {
            return Err(CheckError::InvalidSlug {
                suggestion: heartbeat_validate::suggest_slug(&slug),
                slug,
                reason,
            });
        }
        match &self.schedule {
            Some(Schedule::Cron(expr)) => {
                if let Err(reason) = heartbeat_validate::cron(expr) {
                    return Err(CheckError::InvalidCron {
                        slug,
                        expr: expr.clone(),
                        reason,
                    });
                }
            }
            Some(Schedule::Every(d)) => {
                if let Err(reason) = heartbeat_validate::interval(*d) {
                    return Err(CheckError::InvalidInterval {
                        slug,
                        interval: *d,
                        reason,
                    });
                }
            }
            None => {}
        }
        let timezone = match self.timezone {
            None => "UTC".to_owned(),
            Some(tz) => {
                heartbeat_validate::timezone(&tz).map_err(|e| CheckError::UnknownTimeZone {
                    slug: slug.clone(),
                    suggestion: e.suggestion,
                    tz,
                })?
            }
        };
        if let Some(url) = &self.runbook
            && let Err(reason) = heartbeat_validate::absolute_http_url(url)
        {
            return Err(CheckError::InvalidRunbook { slug, reason });
        }
        if self.max_runtime.is_some_and(|d| d.is_zero()) {
            return Err(CheckError::InvalidDuration {
                slug,
                setting: "max_runtime",
            });
        }
        let healthchecks_uuid = match self.healthchecks_uuid {
            Some(raw) => match uuid::Uuid::try_parse(raw.trim()) {
                Ok(u) => Some(Secret::new(u.hyphenated().to_string())),
                Err(_) => return Err(CheckError::InvalidHealthchecksUuid { slug }),
            },
            None => None,
        };
        if let Some(key) = &self.cronitor_key {
            check_id(&slug, "cronitor", key, false)?;
        }
        let mut target_ids = BTreeMap::new();
        for (target, id) in self.target_ids {
            check_id(&slug, &target, &id, true)?;
            target_ids.insert(target, Secret::new(id));
        }
        Ok(Check {
            inner: Arc::new(CheckInner {
                slug,
                first_seen_by: AtomicUsize::new(0),
                healthchecks_uuid,
                cronitor_key: self.cronitor_key,
                target_ids,
                schedule: self.schedule,
                timezone,
                grace: self.grace,
                max_runtime: self.max_runtime,
                runbook: self.runbook,
                failure_tolerance: self.failure_tolerance,
                recovery_threshold: self.recovery_threshold,
                priority: self.priority.unwrap_or_default(),
                priority_set: self.priority.is_some(),
            }),
        })
    }
}

fn check_id(slug: &str, target: &str, id: &str, secret: bool) -> Result<(), CheckError> {
    heartbeat_validate::path_segment(id, secret).map_err(|reason| CheckError::InvalidTargetId {
        slug: slug.to_owned(),
        target: target.to_owned(),
        reason: reason.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_slugs() {
        for s in ["a", "nightly-backup", "job_1", &"x".repeat(MAX_SLUG_LEN)] {
            assert_eq!(Check::new(s).unwrap().slug(), s);
        }
    }

    #[test]
    fn invalid_slug_names_the_character_and_suggests() {
        let err = Check::new("Nightly Backup!").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("'N'"), "{msg}");
        assert!(msg.contains("\"nightly-backup\""), "{msg}");
        assert!(matches!(err, CheckError::InvalidSlug { .. }));
    }

    #[test]
    fn empty_and_long_slugs_are_rejected() {
        assert!(Check::new("").unwrap_err().to_string().contains("empty"));
        let long = "a".repeat(MAX_SLUG_LEN + 1);
        let err = Check::new(long).unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
    }

    #[test]
    fn bad_uuid_is_typed_and_not_echoed() {
        let err = Check::builder("job")
            .healthchecks_uuid("not-a-uuid-secret")
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            CheckError::InvalidHealthchecksUuid { slug: "job".into() }
        );
        assert!(!err.to_string().contains("not-a-uuid-secret"));
    }

    #[test]
    fn schedules_time_zones_and_runbooks_are_validated() {
        let check = Check::builder("job")
            .schedule("*/5 * * * *")
            .timezone("europe/paris")
            .build();
        let err = check.unwrap_err();
        assert!(err.to_string().contains("\"Europe/Paris\""), "{err}");
        let err = Check::builder("job").timezone("Paris").build().unwrap_err();
        assert!(err.to_string().contains("Europe/Paris"), "{err}");
        let err = Check::builder("job")
            .timezone("Mars/Olympus")
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                CheckError::UnknownTimeZone {
                    suggestion: None,
                    ..
                }
            ),
            "{err}"
        );
        let err = Check::builder("job")
            .schedule("0 0 * * * *")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("\"0 0 * * * *\""), "{err}");
        let err = Check::builder("job")
            .every(Duration::from_secs(90))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("whole minutes"), "{err}");
        let err = Check::builder("job")
            .runbook("wiki/backup")
            .build()
            .unwrap_err();
        assert!(matches!(err, CheckError::InvalidRunbook { .. }), "{err}");
        let err = Check::builder("job")
            .max_runtime(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(matches!(err, CheckError::InvalidDuration { .. }), "{err}");

        let check = Check::builder("job")
            .every(Duration::from_secs(300))
            .timezone("America/New_York")
            .build()
            .unwrap();
        assert_eq!(
            check.schedule(),
            Some(&Schedule::Every(Duration::from_secs(300)))
        );
        assert_eq!(check.timezone(), "America/New_York");
        assert_eq!(Check::new("job").unwrap().timezone(), "UTC");
    }

    #[test]
    fn target_ids_are_checked_and_hidden() {
        let err = Check::builder("job")
            .target_id(
                "betterstack",
                "https://uptime.betterstack.com/api/v1/heartbeat/zq9secret",
            )
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("not the whole URL"), "{err}");
        assert!(!err.to_string().contains("zq9secret"));
        let check = Check::builder("job")
            .target_id("betterstack", "s3cr3t-token")
            .healthchecks_uuid("5BF66975-D4C7-4BF5-BCC8-B8D8A82EA278")
            .build()
            .unwrap();
        let dbg = format!("{check:?}");
        assert!(
            !dbg.contains("s3cr3t") && !dbg.contains("5bf66975"),
            "{dbg}"
        );
        assert_eq!(
            check.healthchecks_uuid().unwrap().expose(),
            "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278"
        );
    }
}
