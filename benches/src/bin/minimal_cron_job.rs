//! The README's minimal cron job, verbatim: the program whose release
//! binary size benches/README.md records.

use std::time::Duration;

use heartbeat_core::{Check, Monitor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let monitor = Monitor::from_env()?; // the variables below
    let _flush = monitor.flush_on_drop(Duration::from_secs(5)); // deliver before exit

    let check = Check::new("nightly-backup")?; // validated: a-z 0-9 - _
    let run = monitor.start(&check); // logs "run started", queues a start ping
    match std::fs::copy("db.sqlite", "backup.sqlite") {
        Ok(_) => run.success(),
        Err(e) => run.fail(&e), // the error chain becomes the ping body
    }
    Ok(())
}
