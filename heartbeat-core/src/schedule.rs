//! [`Schedule`] and [`Priority`], and the cron validator (from
//! heartbeat-validate, which the `#[job]` macro calls too).

use std::fmt;
use std::time::Duration;

/// When a job is expected to run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Schedule {
    /// A standard 5-field cron expression: `minute hour day-of-month month
    /// day-of-week`, evaluated in the check's time zone.
    Cron(String),
    /// Every this often (whole minutes, at least one).
    Every(Duration),
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cron(expr) => f.write_str(expr),
            Self::Every(d) => write!(f, "every {} minutes", d.as_secs() / 60),
        }
    }
}

/// How urgent a check's alerts are, after the failure table in the design:
/// a missed cron job or a dead worker is P1, a growing queue or a failure
/// spike P2, a slow job P3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Page someone now.
    P1,
    /// Look at it today (the default).
    #[default]
    P2,
    /// Look at it this week.
    P3,
}

impl Priority {
    /// `"P1"`, `"P2"` or `"P3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a standard 5-field cron expression; `Err` is a message naming the
/// problem and how to fix it. Names (`JAN`, `mon`) are accepted in the month
/// and weekday fields, 7 means Sunday; `L`, `W`, `#`, `?` and nicknames are
/// rejected because not every service understands them.
pub fn validate_cron(expr: &str) -> Result<(), &'static str> {
    heartbeat_validate::cron(expr)
}
