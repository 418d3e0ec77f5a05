use heartbeat_core::job;

#[job(schedule = "0 25 * * *")]
fn nightly_backup() {}

fn main() {}
