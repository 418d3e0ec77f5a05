use heartbeat_core::job;

#[job]
fn NightlyBackup() {}

fn main() {}
