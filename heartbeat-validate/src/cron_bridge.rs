//! From the `cron` crate's expressions (apalis-cron's schedules: a seconds
//! field, an optional year field, weekdays 1–7 counted from Sunday) to the
//! 5-field crontab the services take (weekdays 0–6 from Sunday, 7 also
//! Sunday).

/// The 5-field crontab for a `cron`-crate expression, when one says the
/// same: the seconds field must be a single value (services take at most
/// one run a minute) and the year field, if any, `*`. Weekday numbers are
/// mapped (the `cron` crate's 1 = Sunday becomes 0), names kept; `?` is
/// `*`. `Err` says why there is no crontab.
///
/// ```
/// use heartbeat_validate::crontab_from_seconds_cron as bridge;
/// assert_eq!(bridge("0 30 9 * * 2-6").as_deref(), Ok("30 9 * * 1-5"));
/// assert_eq!(bridge("0 0 3 * * MON *").as_deref(), Ok("0 3 * * MON"));
/// assert!(bridge("*/10 * * * * *").is_err());
/// ```
pub fn crontab_from_seconds_cron(expr: &str) -> Result<String, String> {
    let expr = expr.trim();
    if let Some(crontab) = nickname(expr) {
        return Ok(crontab.to_owned());
    }
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if !(6..=7).contains(&fields.len()) {
        return Err(format!(
            "{expr:?} has {} fields; a `cron` crate expression has 6 or 7 (seconds first)",
            fields.len()
        ));
    }
    let seconds = fields[0];
    if seconds.parse::<u8>().map_or(true, |s| s > 59) {
        return Err(format!(
            "{expr:?} runs more than once a minute (seconds field {seconds:?}); a crontab, and \
             the services, take at most one run a minute"
        ));
    }
    if let Some(year) = fields.get(6).filter(|y| **y != "*" && **y != "?") {
        return Err(format!(
            "{expr:?} is limited to years ({year}), which a crontab cannot say"
        ));
    }
    let any = |f: &str| {
        if f == "?" {
            "*".to_owned()
        } else {
            f.to_owned()
        }
    };
    let crontab = format!(
        "{} {} {} {} {}",
        any(fields[1]),
        any(fields[2]),
        any(fields[3]),
        any(fields[4]),
        weekdays(fields[5]).map_err(|why| format!("{expr:?}: {why}"))?
    );
    crate::cron(&crontab)
        .map_err(|why| format!("{expr:?} becomes {crontab:?}, which is not usable: {why}"))?;
    Ok(crontab)
}

fn nickname(expr: &str) -> Option<&'static str> {
    Some(match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

/// The weekday field with the `cron` crate's numbers (1 = Sunday … 7 =
/// Saturday) turned into crontab's (0 = Sunday … 6 = Saturday).
fn weekdays(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok("*".to_owned());
    }
    let day = |d: &str| -> Result<String, String> {
        if d.chars().all(|c| c.is_ascii_alphabetic()) {
            return Ok(d.to_owned());
        }
        match d.parse::<u8>() {
            Ok(n @ 1..=7) => Ok((n - 1).to_string()),
            _ => Err(format!(
                "weekday {d:?} is not 1–7 (Sunday–Saturday) or a name like MON"
            )),
        }
    };
    let items: Result<Vec<String>, String> = field
        .split(',')
        .map(|item| {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (item, None),
            };
            let range = match range.split_once('-') {
                _ if range == "*" => "*".to_owned(),
                Some((from, to)) => format!("{}-{}", day(from)?, day(to)?),
                None => day(range)?,
            };
            Ok(match step {
                Some(step) => format!("{range}/{step}"),
                None => range,
            })
        })
        .collect();
    Ok(items?.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_seconds_become_a_crontab_with_weekdays_shifted() {
        for (cron, crontab) in [
            ("0 0 3 * * *", "0 3 * * *"),
            ("0 */5 * * * *", "*/5 * * * *"),
            ("30 15 10 1 * ?", "15 10 1 * *"),
            ("0 0 9 * * 2-6", "0 9 * * 1-5"),
            ("0 0 9 * * 1,7", "0 9 * * 0,6"),
            ("0 0 9 * * 1-7/2", "0 9 * * 0-6/2"),
            ("0 0 9 * * */2", "0 9 * * */2"),
            ("0 0 9 * * MON-FRI", "0 9 * * MON-FRI"),
            ("0 0 0 1 JAN * *", "0 0 1 JAN *"),
            ("@daily", "0 0 * * *"),
            ("@weekly", "0 0 * * 0"),
        ] {
            assert_eq!(
                crontab_from_seconds_cron(cron).as_deref(),
                Ok(crontab),
                "{cron}"
            );
        }
    }

    #[test]
    fn what_a_crontab_cannot_say_is_an_error_saying_why() {
        for (cron, why) in [
            ("*/10 * * * * *", "more than once a minute"),
            ("0,30 * * * * *", "more than once a minute"),
            ("0 0 3 * * * 2027", "years"),
            ("0 3 * * *", "6 or 7"),
            ("0 0 3 * * 0", "weekday \"0\""),
            ("0 0 3 * * 1#2", "weekday"),
            ("0 0 3 31 2 *", "not usable"),
        ] {
            let err = crontab_from_seconds_cron(cron).unwrap_err();
            assert!(err.contains(why), "{cron}: {err}");
        }
    }
}
