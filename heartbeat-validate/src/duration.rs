//! Durations written as text, and schedule intervals.

use std::time::Duration;

/// The longest interval schedule: Healthchecks' `timeout` is at most one
/// year, and a longer period could not be monitored there.
const MAX_INTERVAL: Duration = Duration::from_secs(31_536_000);

/// Parses `"90s"`, `"15m"`, `"1h30m"` or `"2d"`: numbers with a unit, `s`,
/// `m`, `h` or `d`, which may be combined.
pub fn duration(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "invalid duration {text:?}: use numbers with a unit, s, m, h or d \
             (e.g. \"90s\", \"15m\", \"1h30m\")"
        )
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(invalid()),
        };
        let n: u64 = digits.parse().map_err(|_| invalid())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(invalid)?;
        digits.clear();
    }
    if !digits.is_empty() || text.is_empty() {
        return Err(invalid());
    }
    Ok(Duration::from_secs(total))
}

/// Checks an interval schedule: whole minutes, at least one, at most a year.
pub fn interval(period: Duration) -> Result<(), &'static str> {
    if period.as_secs() < 60 || period.subsec_nanos() != 0 || !period.as_secs().is_multiple_of(60) {
        Err("use whole minutes, at least one (Healthchecks and Sentry Crons count in minutes)")
    } else if period > MAX_INTERVAL {
        Err("is longer than a year, the longest period Healthchecks can monitor")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["", "5", "1x", "m", "99999999999999999999d"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert_eq!(interval(Duration::from_secs(300)), Ok(()));
        assert!(interval(Duration::from_secs(90)).is_err());
        assert!(interval(Duration::from_secs(366 * 86_400)).is_err());
    }
}
