use heartbeat_core::job;

#[job]
struct Backup;

fn main() {}
