//! The cron bridge: an apalis-cron worker's ticks are runs on a check
//! upserted with the schedule and time zone they follow.

mod support;

use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use heartbeat_apalis::{TaskMonitorLayer, cron_check};
use heartbeat_core::Schedule;
use heartbeat_core::test::HealthchecksService;

/// A minutely schedule ticks within 60 s.
const PATIENCE: Duration = Duration::from_secs(90);

static TICK_IDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

async fn report(_tick: Tick<chrono_tz::Tz>, id: TaskId) -> Result<(), BoxDynError> {
    TICK_IDS.lock().unwrap().push(id.to_string());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_ticks_are_runs_on_a_check_with_the_real_schedule() {
    let service = HealthchecksService::start().unwrap();
    let monitor = support::monitor_for(&service);
    // Every minute at second 0, Paris time: crontab "* * * * *".
    let schedule = cron::Schedule::from_str("0 * * * * *").unwrap();
    let scheduler = CronScheduler::new(schedule).with_timezone(chrono_tz::Europe::Paris);
    let check = cron_check("Minutely Report", &scheduler);
    let worker = WorkerBuilder::new("Minutely Report")
        .backend(scheduler)
        .layer(TaskMonitorLayer::new(&monitor).check(check))
        .build(report);
    let running = tokio::spawn(worker.run());

    let deadline = Instant::now() + PATIENCE;
    let finished = || {
        service
            .checks_with_slug("minutely-report")
            .iter()
            .any(|c| c.pings.iter().any(|p| p.kind == "success"))
    };
    while !finished() {
        assert!(
            Instant::now() < deadline,
            "no tick finished: {:#?}",
            service.checks()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.abort();

    let checks = service.checks_with_slug("minutely-report");
    assert_eq!(checks.len(), 1, "{checks:#?}");
    let check = &checks[0];
    assert_eq!(check.schedule.as_deref(), Some("* * * * *"));
    assert_eq!(check.tz.as_deref(), Some("Europe/Paris"));
    let kinds: Vec<&str> = check
        .pings
        .iter()
        .map(|p| p.kind.as_str())
        .take(2)
        .collect();
    assert_eq!(kinds, ["start", "success"]);
    // The run id is the tick's ULID, read as a UUID.
    let tick_id = TICK_IDS.lock().unwrap()[0].clone();
    let rid = check.pings[0].rid.clone().unwrap().replace('-', "");
    assert_eq!(
        u128::from_str_radix(&rid, 16).unwrap(),
        ulid_bits(&tick_id),
        "{tick_id}"
    );
}

#[test]
fn schedules_without_a_crontab_fall_back_to_an_interval_or_none() {
    let scheduler = |expr: &str| CronScheduler::new(cron::Schedule::from_str(expr).unwrap());
    // A year range: no crontab, but ticks every 5 minutes.
    let check = cron_check("five", &scheduler("0 */5 * * * * 2020-2099"));
    assert_eq!(
        check.schedule(),
        Some(&Schedule::Every(Duration::from_secs(300)))
    );
    assert_eq!(check.timezone(), "UTC");
    // Every 10 seconds: more than services can watch.
    let check = cron_check("ten-seconds", &scheduler("*/10 * * * * *"));
    assert_eq!(check.schedule(), None);
    // Weekdays are mapped, not copied: the cron crate's 2-6 is Monday-Friday.
    let check = cron_check("weekdays", &scheduler("0 30 9 * * 2-6"));
    assert_eq!(
        check.schedule(),
        Some(&Schedule::Cron("30 9 * * 1-5".into()))
    );
}

fn ulid_bits(text: &str) -> u128 {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    text.chars()
        .fold(0, |bits, c| (bits << 5) | ALPHABET.find(c).unwrap() as u128)
}
