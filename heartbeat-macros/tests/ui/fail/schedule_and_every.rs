use heartbeat_core::job;

#[job(schedule = "0 3 * * *", every = "5m")]
fn nightly_backup() {}

fn main() {}
