//! The built-in targets, one file per monitoring service, plus the HTTP
//! plumbing they share. Each public type here is a service's settings; it
//! becomes a [`Target`](crate::Target) when the monitor is built
//! ([`IntoTarget`](crate::IntoTarget)), sharing the monitor's HTTP client.

mod body;
mod context;
mod cronitor;
mod healthchecks;
mod http;
#[cfg(feature = "sentry")]
mod sentry;
mod tls;
mod url_template;

pub use context::{IntoTarget, TargetContext};
pub use cronitor::Cronitor;
pub use healthchecks::Healthchecks;
#[cfg(feature = "sentry")]
pub use sentry::SentryCrons;
pub use url_template::UrlTemplate;

pub(crate) use http::{HttpClient, check_key, parse_base_url};
