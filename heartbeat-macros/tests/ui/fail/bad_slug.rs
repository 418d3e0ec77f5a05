use heartbeat_core::job;

#[job(slug = "Nightly Backup")]
fn nightly_backup() {}

fn main() {}
