//! The input rules of [heartbeat-core](https://docs.rs/heartbeat-core):
//! plain functions that say whether a slug, cron expression, time zone,
//! URL, id or duration is usable, and if not, what is wrong and how to fix
//! it.
//!
//! `Check::build` calls them at run time and the `#[job]` macro at
//! expansion time, so the two give the same answer for every input. Use
//! them through heartbeat-core; this crate is an implementation detail.
//!
//! ```
//! assert_eq!(heartbeat_validate::cron("0 3 * * *"), Ok(()));
//! assert!(heartbeat_validate::slug("Nightly Backup").is_err());
//! assert_eq!(heartbeat_validate::suggest_slug("Nightly Backup").as_deref(), Some("nightly-backup"));
//! ```

mod cron;
mod cron_bridge;
mod duration;
mod slug;
mod timezone;
mod url;

pub use cron::cron;
pub use cron_bridge::crontab_from_seconds_cron;
pub use duration::{duration, interval};
pub use slug::{MAX_SLUG_LEN, slug, suggest_slug};
pub use timezone::{TimeZoneError, timezone};
pub use url::{absolute_http_url, path_segment};
