//! What the apalis tests share.

use heartbeat_core::test::{API_KEY, HealthchecksService, PING_KEY};
use heartbeat_core::{Healthchecks, Monitor};

/// A monitor whose Healthchecks target is `service` (pings and API).
pub(crate) fn monitor_for(service: &HealthchecksService) -> Monitor {
    Monitor::builder()
        .target(
            Healthchecks::new()
                .ping_url(service.ping_url())
                .ping_key(PING_KEY)
                .api_url(service.api_url())
                .api_key(API_KEY),
        )
        .build()
        .unwrap()
}
