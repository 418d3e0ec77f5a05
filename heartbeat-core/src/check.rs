//! [`Check`]: what is monitored, validated when it is built.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::CheckError;
use crate::secret::Secret;

/// The longest slug accepted. Sentry Crons limits monitor slugs to 50
/// characters, so a longer one could not be used with every target.
pub const MAX_SLUG_LEN: usize = 50;

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
///
/// ```
/// use heartbeat_core::Check;
///
/// let check = Check::builder("nightly-backup")
///     .healthchecks_uuid("5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278")
///     .build()?;
/// assert_eq!(check.slug(), "nightly-backup");
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
    healthchecks_uuid: Option<Secret>,
    cronitor_key: Option<String>,
    target_ids: BTreeMap<String, Secret>,
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
        }
    }

    /// The check's slug.
    pub fn slug(&self) -> &str {
        &self.inner.slug
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

    pub(crate) fn target_id(&self, target: &str) -> Option<&Secret> {
        self.inner.target_ids.get(target)
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
            .finish()
    }
}

impl PartialEq for Check {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.slug == other.inner.slug
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
}

impl CheckBuilder {
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
    pub fn build(self) -> Result<Check, CheckError> {
        validate_slug(&self.slug)?;
        let slug = self.slug;
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
                healthchecks_uuid,
                cronitor_key: self.cronitor_key,
                target_ids,
            }),
        })
    }
}

fn check_id(slug: &str, target: &str, id: &str, secret: bool) -> Result<(), CheckError> {
    let err = |reason: &str| CheckError::InvalidTargetId {
        slug: slug.to_owned(),
        target: target.to_owned(),
        reason: reason.to_owned(),
    };
    if id.trim().is_empty() {
        return Err(err("is empty; copy it from the service's dashboard"));
    }
    // Path segments are percent-encoded, but a '/' may be decoded again by a
    // proxy, and a token never contains whitespace (a pasted newline does).
    if id.contains(['/', '?', '#']) || (secret && id.chars().any(char::is_whitespace)) {
        // Never echo a token back: it is a secret.
        return Err(err(if secret {
            "contains '/', '?', '#' or whitespace; give only the token, not the whole URL"
        } else {
            "contains '/', '?' or '#', which cannot go in a URL path segment"
        }));
    }
    Ok(())
}

/// Checks a slug against the rules every target accepts.
fn validate_slug(slug: &str) -> Result<(), CheckError> {
    let invalid = |reason: String| CheckError::InvalidSlug {
        slug: slug.to_owned(),
        reason,
        suggestion: suggest_slug(slug),
    };
    if slug.is_empty() {
        return Err(invalid("the slug is empty".into()));
    }
    if let Some((pos, c)) = slug
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
    {
        return Err(invalid(format!(
            "character {c:?} at byte {pos} is not allowed; use lowercase a-z, 0-9, '-' and '_'"
        )));
    }
    if slug.len() > MAX_SLUG_LEN {
        return Err(invalid(format!(
            "{} characters is too long; at most {MAX_SLUG_LEN} (Sentry Crons' limit)",
            slug.len()
        )));
    }
    Ok(())
}

/// A valid slug derived from an invalid one ("Nightly Backup!" →
/// "nightly-backup"), or `None` when nothing usable is left.
fn suggest_slug(slug: &str) -> Option<String> {
    let mut out = String::new();
    for c in slug.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_owned();
    out.truncate(MAX_SLUG_LEN);
    let out = out.trim_end_matches('-').to_owned();
    (!out.is_empty() && out != slug).then_some(out)
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
