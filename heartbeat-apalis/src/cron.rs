//! The cron bridge: an apalis-cron worker's check carries the schedule and
//! time zone its ticks follow, so the service knows when a tick is late.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use apalis_core::backend::BackendConfig;
use apalis_cron::{Config, CronScheduler, Schedule};
use heartbeat_core::Check;

use crate::naming::{check_for_worker, slug_for_worker};

/// The check of the cron worker named `worker_name` (its slug as
/// [`slug_for_worker`]), with `scheduler`'s schedule and time zone, for
/// [`TaskMonitorLayer::check`](crate::TaskMonitorLayer::check):
///
/// - A `cron`-crate expression (seconds first, weekdays 1–7 from Sunday)
///   whose seconds field is one value and year field `*` becomes the same
///   5-field crontab (weekdays 0–6, names kept).
/// - Otherwise, ticks a whole number of minutes apart become an interval;
///   anything else (more than one tick a minute, irregular ticks) gets no
///   schedule. Both say so in one WARN line.
/// - The time zone is the scheduler's IANA name ([`ZoneName`]); `Local`
///   is named from `TZ` or `/etc/localtime`, else the check gets no
///   schedule and one WARN line says why (a schedule read in the wrong
///   zone would alert at the wrong hours).
///
/// Call it with the scheduler before handing the scheduler to the worker.
///
/// ```
/// use std::str::FromStr;
/// use apalis_cron::CronScheduler;
/// let scheduler = CronScheduler::new(cron::Schedule::from_str("0 30 9 * * 2-6").unwrap())
///     .with_timezone(chrono_tz::Europe::Paris);
/// let check = heartbeat_apalis::cron_check("Morning Report", &scheduler);
/// assert_eq!(check.slug(), "morning-report");
/// assert_eq!(check.schedule().unwrap().to_string(), "30 9 * * 1-5");
/// assert_eq!(check.timezone(), "Europe/Paris");
/// ```
pub fn cron_check<S, Tz>(worker_name: &str, scheduler: &CronScheduler<S, Tz>) -> Check
where
    S: Schedule<Tz> + Display,
    Tz: ZoneName,
    CronScheduler<S, Tz>: BackendConfig<Config = Config<S, Tz>>,
{
    let config = scheduler.config();
    let slug = slug_for_worker(worker_name);
    let expression = config.schedule().to_string();
    let Some(zone) = config.timezone().zone_name() else {
        tracing::warn!(
            target: "heartbeat",
            check = slug,
            schedule = expression,
            "the cron worker's time zone has no IANA name (set TZ, e.g. TZ=Europe/Paris, or schedule in a named zone): its check gets no schedule"
        );
        return check_for_worker(worker_name);
    };
    let builder = Check::builder(&slug).timezone(&zone);
    let built = match heartbeat_validate::crontab_from_seconds_cron(&expression) {
        Ok(crontab) => builder.schedule(crontab).build(),
        Err(why) => match regular_period(&expression) {
            Some(period) => {
                tracing::warn!(
                    target: "heartbeat",
                    check = slug,
                    schedule = expression,
                    period_secs = period.as_secs(),
                    "the cron schedule has no crontab form ({why}): its check is scheduled as an interval"
                );
                builder.every(period).build()
            }
            None => {
                tracing::warn!(
                    target: "heartbeat",
                    check = slug,
                    schedule = expression,
                    "the cron schedule has no crontab form ({why}) and its ticks are not whole minutes apart: its check gets no schedule"
                );
                return check_for_worker(worker_name);
            }
        },
    };
    built.unwrap_or_else(|e| {
        tracing::warn!(target: "heartbeat", check = slug, schedule = expression, "the cron schedule cannot be sent ({e}): its check gets no schedule");
        check_for_worker(worker_name)
    })
}

/// The period of a `cron`-crate expression whose next ticks are evenly
/// spaced whole minutes apart (read in UTC: a period is the same in every
/// zone, daylight saving aside).
fn regular_period(expression: &str) -> Option<Duration> {
    let schedule = cron::Schedule::from_str(expression).ok()?;
    let ticks: Vec<i64> = schedule
        .upcoming(chrono::Utc)
        .take(4)
        .map(|t| t.timestamp())
        .collect();
    let gaps: Vec<i64> = ticks.windows(2).map(|w| w[1] - w[0]).collect();
    let period = u64::try_from(*gaps.first()?).ok()?;
    let even = gaps.len() == 3 && gaps.iter().all(|&g| g == gaps[0]);
    let period = Duration::from_secs(period);
    (even && heartbeat_validate::interval(period).is_ok()).then_some(period)
}

/// A time zone that can say its IANA name, which the services take.
pub trait ZoneName {
    /// The IANA name (`"Europe/Paris"`, `"UTC"`), if there is one.
    fn zone_name(&self) -> Option<String>;
}

impl ZoneName for chrono::Utc {
    fn zone_name(&self) -> Option<String> {
        Some("UTC".to_owned())
    }
}

impl ZoneName for chrono_tz::Tz {
    fn zone_name(&self) -> Option<String> {
        Some(self.name().to_owned())
    }
}

/// A whole-hour offset is an `Etc/GMT` zone (whose sign is inverted, as
/// POSIX has it); other offsets have no name.
impl ZoneName for chrono::FixedOffset {
    fn zone_name(&self) -> Option<String> {
        let secs = self.local_minus_utc();
        match secs {
            0 => Some("UTC".to_owned()),
            s if s % 3600 == 0 => Some(format!("Etc/GMT{:+}", -s / 3600)),
            _ => None,
        }
    }
}

/// The system zone: the `TZ` variable (`Europe/Paris` or `:Europe/Paris`),
/// else where `/etc/localtime` points, else the name in `/etc/timezone`.
impl ZoneName for chrono::Local {
    fn zone_name(&self) -> Option<String> {
        local_zone_name(
            std::env::var("TZ").ok(),
            std::fs::read_link("/etc/localtime").ok(),
            std::fs::read_to_string("/etc/timezone").ok(),
        )
    }
}

fn local_zone_name(
    tz: Option<String>,
    localtime: Option<std::path::PathBuf>,
    timezone_file: Option<String>,
) -> Option<String> {
    let valid = |name: &str| heartbeat_validate::timezone(name.trim()).ok();
    if let Some(tz) = tz.filter(|t| !t.trim().is_empty()) {
        // A TZ that is set but not a name (a POSIX rule such as
        // "CET-1CEST") is not guessed past: the system zone may differ.
        return valid(tz.trim_start_matches(':'));
    }
    let from_link = localtime.and_then(|target| {
        let target = target.to_string_lossy().into_owned();
        let (_, name) = target.split_once("zoneinfo/")?;
        valid(name)
    });
    from_link.or_else(|| timezone_file.as_deref().and_then(valid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn local_zone_names() {
        let name = |tz: Option<&str>, link: Option<&str>, file: Option<&str>| {
            local_zone_name(
                tz.map(str::to_owned),
                link.map(PathBuf::from),
                file.map(str::to_owned),
            )
        };
        assert_eq!(
            name(Some(":Europe/Paris"), None, None).as_deref(),
            Some("Europe/Paris")
        );
        assert_eq!(
            name(Some("CET-1CEST"), Some("/usr/share/zoneinfo/UTC"), None),
            None
        );
        assert_eq!(
            name(None, Some("/usr/share/zoneinfo/America/New_York"), None).as_deref(),
            Some("America/New_York")
        );
        assert_eq!(
            name(None, None, Some("Asia/Tokyo\n")).as_deref(),
            Some("Asia/Tokyo")
        );
        assert_eq!(name(None, None, None), None);
        assert_eq!(
            chrono::FixedOffset::east_opt(7200)
                .unwrap()
                .zone_name()
                .as_deref(),
            Some("Etc/GMT-2")
        );
        assert_eq!(
            chrono::FixedOffset::east_opt(1800).unwrap().zone_name(),
            None
        );
    }
}
