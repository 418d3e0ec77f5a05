//! `#[job]` at run time: slugs, outcomes of every supported return type,
//! panics, through the global monitor and a real loopback receiver.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use heartbeat_core::test::Receiver;
use heartbeat_core::{Healthchecks, Monitor, job};

fn receiver() -> &'static Receiver {
    static RX: OnceLock<Receiver> = OnceLock::new();
    RX.get_or_init(|| {
        let rx = Receiver::start().unwrap();
        let monitor = Monitor::builder()
            .target(Healthchecks::new().ping_url(rx.url()).ping_key("k"))
            .build()
            .unwrap();
        std::mem::forget(heartbeat_core::init(monitor));
        rx
    })
}

/// The final ping of `slug`: its path suffix and body.
fn final_ping(slug: &str) -> (String, String) {
    let prefix = format!("/k/{slug}");
    heartbeat_core::global().flush_blocking(Duration::from_secs(20));
    let r = receiver()
        .requests()
        .into_iter()
        .rfind(|r| r.path.starts_with(&prefix) && !r.path.ends_with("/start"))
        .unwrap_or_else(|| panic!("no final ping for {slug}"));
    (r.path[prefix.len()..].to_owned(), r.body)
}

#[derive(Debug)]
struct Outer(std::io::Error);
impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("export failed")
    }
}
impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Display-only, like anyhow::Error: `{:#}` gives the chain.
#[derive(Debug)]
struct DisplayOnly;
impl fmt::Display for DisplayOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.write_str("outer: inner cause")
        } else {
            f.write_str("outer")
        }
    }
}

#[job]
fn nightly_backup() -> Result<u32, Outer> {
    Ok(7)
}

#[job(slug = "export-job", schedule = "*/5 * * * *", tz = "Europe/Paris", grace = "5m", max_runtime = "1h", priority = P1)]
fn export(fail: bool) -> Result<(), Outer> {
    if fail {
        return Err(Outer(std::io::Error::other("disk full")));
    }
    Ok(())
}

#[job]
fn display_only() -> Result<(), DisplayOnly> {
    Err(DisplayOnly)
}

#[job]
fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err(Box::new(Outer(std::io::Error::other("no space"))))
}

#[job(runbook = "https://wiki.example.com/script")]
fn script() -> i32 {
    4
}

#[job]
fn unit_job() {}

#[job]
fn panics() {
    if std::hint::black_box(true) {
        panic!("job blew up");
    }
}

#[job]
async fn async_job(n: u32) -> Result<u32, Outer> {
    let doubled = async { Ok::<_, Outer>(n * 2) }.await?;
    Ok(doubled)
}

#[test]
fn outcomes_of_every_return_type() {
    receiver();
    assert_eq!(nightly_backup().unwrap(), 7);
    assert_eq!(final_ping("nightly-backup"), (String::new(), String::new()));

    assert!(export(true).is_err());
    assert_eq!(
        final_ping("export-job"),
        ("/fail".into(), "export failed: disk full".into())
    );

    assert!(display_only().is_err());
    assert_eq!(
        final_ping("display-only"),
        ("/fail".into(), "outer: inner cause".into())
    );

    assert!(boxed().is_err());
    assert_eq!(
        final_ping("boxed"),
        ("/fail".into(), "export failed: no space".into())
    );

    assert_eq!(script(), 4);
    assert_eq!(
        final_ping("script"),
        (
            "/4".into(),
            "exit code 4\nrunbook: https://wiki.example.com/script".into()
        )
    );

    unit_job();
    assert_eq!(final_ping("unit-job").0, "");

    assert!(std::panic::catch_unwind(panics).is_err());
    assert_eq!(
        final_ping("panics"),
        ("/fail".into(), "panicked: job blew up".into())
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(async_job(21)).unwrap(), 42);
    assert_eq!(final_ping("async-job").0, "");
}
