use heartbeat_core::job;

#[job]
fn count_rows() -> u32 {
    42
}

fn main() {}
