use heartbeat_core::job;

#[job(schedule = 5)]
fn nightly_backup() {}

fn main() {}
