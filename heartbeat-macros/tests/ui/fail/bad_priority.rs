use heartbeat_core::job;

#[job(priority = P4)]
fn nightly_backup() {}

fn main() {}
