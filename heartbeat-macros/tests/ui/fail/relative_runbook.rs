use heartbeat_core::job;

#[job(runbook = "/wiki/backup")]
fn nightly_backup() {}

fn main() {}
