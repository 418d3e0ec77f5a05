//! IANA time zone names.

/// An unknown time zone, with a close valid name when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneError {
    /// The name as given.
    pub tz: String,
    /// A valid name close to the one given ("paris" → "Europe/Paris").
    pub suggestion: Option<String>,
}

impl std::fmt::Display for TimeZoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown time zone {:?}", self.tz)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean {s:?}?)")?;
        }
        f.write_str("; use an IANA name such as \"Europe/Paris\" or \"UTC\"")
    }
}

/// The canonical IANA name of `tz`, or an error with a suggestion: the
/// same name in another case ("europe/paris"), or the zone whose city
/// matches ("Paris").
pub fn timezone(tz: &str) -> Result<String, TimeZoneError> {
    if let Ok(zone) = tz.trim().parse::<chrono_tz::Tz>() {
        return Ok(zone.name().to_owned());
    }
    let wanted = tz.trim().replace(' ', "_");
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
    let suggestion = names()
        .find(|name| name.eq_ignore_ascii_case(&wanted))
        .or_else(|| {
            names().find(|name| {
                name.rsplit('/')
                    .next()
                    .is_some_and(|city| city.eq_ignore_ascii_case(&wanted))
            })
        })
        .map(str::to_owned);
    Err(TimeZoneError {
        tz: tz.to_owned(),
        suggestion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_suggestions() {
        assert_eq!(timezone("Europe/Paris").as_deref(), Ok("Europe/Paris"));
        let err = timezone("paris").unwrap_err();
        assert_eq!(err.suggestion.as_deref(), Some("Europe/Paris"));
        assert!(err.to_string().contains("did you mean \"Europe/Paris\""));
        assert_eq!(timezone("Mars/Olympus").unwrap_err().suggestion, None);
    }
}
