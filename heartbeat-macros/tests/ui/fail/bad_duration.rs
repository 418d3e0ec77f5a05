use heartbeat_core::job;

#[job(grace = "5 minutes")]
fn nightly_backup() {}

fn main() {}
