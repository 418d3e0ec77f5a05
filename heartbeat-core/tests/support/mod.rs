//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heartbeat_core::{MonitorBuilder, RetryPolicy};

/// Long enough for anything on a loaded 2-core machine; tests wait on
/// conditions, never on this passing.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A builder with fast retries and short request timeouts, so fault tests
/// exercise several retries in well under a second each.
pub fn fast() -> MonitorBuilder {
    MonitorBuilder::new()
        .retry(RetryPolicy::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
            Duration::from_secs(15),
        ))
        .request_timeout(Duration::from_millis(500))
}

/// The capture installed for the whole test binary, on first use.
pub fn global_logs() -> &'static LogCapture {
    static LOGS: std::sync::OnceLock<LogCapture> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogCapture::default();
        logs.install_global();
        logs
    })
}

/// Captures everything `tracing` emits (all levels) as text.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Installs the capture for every thread (the delivery thread included).
    /// Only one test binary may do this, once.
    pub fn install_global(&self) {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("one global subscriber per test binary");
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// 50 overlapping runs of `check` from 5 threads, each holding 10 runs open
/// and finishing them in order, one in four failing: the scenario that made
/// a real Healthchecks create duplicate checks.
pub fn fifty_overlapping_runs(monitor: &heartbeat_core::Monitor, check: &heartbeat_core::Check) {
    std::thread::scope(|s| {
        for t in 0..5 {
            s.spawn(move || {
                let runs: Vec<_> = (0..10).map(|_| monitor.start(check)).collect();
                for (i, run) in runs.into_iter().enumerate() {
                    if (t + i) % 4 == 0 {
                        run.fail_message("odd")
                    } else {
                        run.success()
                    }
                }
            });
        }
    });
}

/// Ten runs of `check` in sequence, the last one failing: a real server
/// ended "up" after it when later runs overtook earlier ones.
pub fn ten_runs_the_last_failing(monitor: &heartbeat_core::Monitor, check: &heartbeat_core::Check) {
    for run in 0..10 {
        let guard = monitor.start(check);
        if run == 9 {
            guard.fail_message("the last run failed");
        } else {
            guard.success();
        }
    }
}

/// A plain reqwest client for tests that talk to a server themselves.
/// heartbeat builds reqwest without a crypto provider (it hands rustls its
/// own configuration), so a bare `reqwest::Client::new()` needs a
/// process-wide one; a test binary may install it, a library may not.
#[allow(dead_code)]
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
