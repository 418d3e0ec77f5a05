//! Check slugs: what every monitoring service accepts as a monitor's key.

/// The longest slug accepted. Sentry Crons limits monitor slugs to 50
/// characters, so a longer one could not be used with every service.
pub const MAX_SLUG_LEN: usize = 50;

/// The characters every service accepts in a slug (Healthchecks' rule).
const fn is_slug_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
}

/// Checks a slug: `Err` says what is wrong (see also [`suggest_slug`]).
pub fn slug(slug: &str) -> Result<(), String> {
    if slug.is_empty() {
        return Err("the slug is empty".into());
    }
    if let Some((pos, c)) = slug.char_indices().find(|&(_, c)| !is_slug_char(c)) {
        return Err(format!(
            "character {c:?} at byte {pos} is not allowed; use lowercase a-z, 0-9, '-' and '_'"
        ));
    }
    if slug.len() > MAX_SLUG_LEN {
        return Err(format!(
            "{} characters is too long; at most {MAX_SLUG_LEN} (Sentry Crons' limit)",
            slug.len()
        ));
    }
    Ok(())
}

/// A valid slug derived from an invalid one ("Nightly Backup!" →
/// "nightly-backup"), or `None` when nothing usable is left.
pub fn suggest_slug(slug: &str) -> Option<String> {
    let mut out = String::new();
    for c in slug.chars().flat_map(char::to_lowercase) {
        if c != '-' && is_slug_char(c) {
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
    fn rules_and_suggestions() {
        assert_eq!(slug("nightly-backup_2"), Ok(()));
        assert!(slug("").unwrap_err().contains("empty"));
        assert!(slug("Nightly").unwrap_err().contains("'N' at byte 0"));
        assert!(slug(&"a".repeat(51)).unwrap_err().contains("too long"));
        assert_eq!(
            suggest_slug("Nightly Backup!").as_deref(),
            Some("nightly-backup")
        );
        assert_eq!(suggest_slug("!!!"), None);
    }
}
