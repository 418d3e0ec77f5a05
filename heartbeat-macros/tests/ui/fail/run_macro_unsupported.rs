fn main() {
    let monitor = heartbeat_core::Monitor::log_only();
    let check = heartbeat_core::Check::new("count").unwrap();
    let _rows: Option<u32> = heartbeat_core::run_blocking!(monitor, &check, || Some(3u32));
}
