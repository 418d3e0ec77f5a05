use heartbeat_core::job;

#[job(every = "90s")]
fn nightly_backup() {}

fn main() {}
