use heartbeat_core::job;

#[job(grace = "5m", grace = "10m")]
fn nightly_backup() {}

fn main() {}
