use heartbeat_core::job;

#[job(schedule = "0 0 3 * * *")]
fn nightly_backup() {}

fn main() {}
