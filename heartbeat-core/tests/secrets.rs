//! Keys and tokens never appear in logs, `Debug` output or errors, even
//! while deliveries fail, retry and get rejected.

mod support;

use heartbeat_core::test::{Fault, Receiver};
use heartbeat_core::{Check, Cronitor, Healthchecks, Monitor, UrlTemplate};
use support::{LogCapture, PATIENCE, fast};

const HC_KEY: &str = "hcKEYzz91";
const CR_KEY: &str = "crKEYqq47";
const BS_TOKEN: &str = "bsTOKENxx12";
const HC_UUID: &str = "0b9c8c8e-6f0a-4b8e-9d6e-3c1f2a7d4e55";

#[test]
fn secrets_stay_out_of_logs_debug_and_errors() {
    let logs = LogCapture::default();
    logs.install_global();

    let rx = Receiver::start().unwrap();
    let monitor = fast()
        .target(Healthchecks::new().ping_url(rx.url()).ping_key(HC_KEY))
        .target(Cronitor::new(CR_KEY).ping_url(rx.url()))
        .target(UrlTemplate::better_stack().base_url(rx.url()))
        .environment("test")
        .build()
        .unwrap();
    let by_slug = Check::builder("secret-job")
        .target_id("betterstack", BS_TOKEN)
        .build()
        .unwrap();
    let by_uuid = Check::builder("uuid-job")
        .healthchecks_uuid(HC_UUID)
        .build()
        .unwrap();

    // Every path that logs: retries after resets and refusals, rejections,
    // "OK (not found)", a give-up, a failing job, drops at shutdown.
    rx.push_faults([
        Fault::Reset,
        Fault::Malformed,
        Fault::Status(503),
        Fault::Status(404),
    ]);
    monitor.start(&by_slug).fail_message("boom");
    monitor.start(&by_uuid).success();
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    rx.set_reply(200, "OK (not found)");
    monitor.start(&by_uuid).exit_code(2);
    assert!(monitor.flush_blocking(PATIENCE).is_complete());
    rx.set_fault(Fault::Refuse);
    monitor.start(&by_slug).success();
    let report = monitor.flush_blocking(std::time::Duration::from_millis(200));

    let mut seen = logs.text();
    seen.push_str(&format!(
        "{monitor:?} {by_slug:?} {by_uuid:?} {report:?} {report}"
    ));
    seen.push_str(&format!(
        "{:?}",
        Monitor::builder().target(Healthchecks::new().ping_key(HC_KEY))
    ));
    // Credentials in a URL, in the settings' own Debug output.
    let in_url = format!("https://user:{HC_KEY}@hc.example.com/ping");
    seen.push_str(&format!(
        "{:?} {:?} {:?}",
        Healthchecks::new().ping_url(&in_url).api_url(&in_url),
        Cronitor::new(CR_KEY).ping_url(&in_url),
        UrlTemplate::better_stack().base_url(&in_url)
    ));
    for bad in [
        Monitor::builder()
            .target(Healthchecks::new().ping_key(format!("{HC_KEY}/x")))
            .build(),
        Monitor::builder()
            .target(Cronitor::new(format!("{CR_KEY} x")))
            .build(),
        Monitor::builder()
            .target(Healthchecks::new().ping_url(format!("ftp://{HC_KEY}.example")))
            .build(),
    ] {
        seen.push_str(&bad.unwrap_err().to_string());
    }
    let bad_check = Check::builder("x")
        .target_id("betterstack", format!("https://x/{BS_TOKEN}"))
        .build();
    seen.push_str(&bad_check.unwrap_err().to_string());

    assert!(seen.contains("run started"), "the capture works: {seen}");
    assert!(seen.contains("heartbeat service failing"), "{seen}");
    assert!(seen.contains("OK (not found)"), "{seen}");
    for secret in [HC_KEY, CR_KEY, BS_TOKEN, HC_UUID] {
        assert!(!seen.contains(secret), "{secret} leaked:\n{seen}");
    }
}
