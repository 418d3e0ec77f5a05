//! Configuration problems, reported once rather than once per ping.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::sync::lock;

/// Remembers which problems were logged, so each is reported at ERROR once
/// per (target, check, operation, reason), and at DEBUG after that. The
/// operation is part of the key so that an upsert failure does not hide a
/// rejected ping of the same check, or the other way round.
#[derive(Debug, Default)]
pub(crate) struct Reporter(Mutex<HashSet<(String, String, &'static str, String)>>);

impl Reporter {
    pub(crate) fn report_once(&self, service: &str, slug: &str, what: &'static str, reason: &str) {
        let key = (service.to_owned(), slug.to_owned(), what, reason.to_owned());
        if lock(&self.0).insert(key) {
            tracing::error!(
                target: "heartbeat",
                service,
                check = slug,
                operation = what,
                "heartbeat {what}: {reason} (reported once per check)"
            );
        } else {
            tracing::debug!(target: "heartbeat", service, check = slug, operation = what, "heartbeat {what}: {reason}");
        }
    }
}
