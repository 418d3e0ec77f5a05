use heartbeat_core::job;

#[job(slugg = "x")]
fn nightly_backup() {}

fn main() {}
