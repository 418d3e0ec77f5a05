use heartbeat_core::job;

#[job(tz = "paris")]
fn nightly_backup() {}

fn main() {}
