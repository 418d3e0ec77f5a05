use heartbeat_core::job;

#[job(runbook = "https://exa mple.com/runbook")]
fn nightly_backup() {}

fn main() {}
