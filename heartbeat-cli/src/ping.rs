//! `heartbeat ping`: one ping, for scripts that report a run themselves.

use std::io::Read;
use std::process::ExitCode;

use heartbeat_core::EventKind;

use crate::args::PingArgs;

pub(crate) fn run(args: PingArgs) -> Result<ExitCode, String> {
    let check = args.check.check()?;
    let message = match (&args.message, &args.message_file) {
        (Some(text), _) => Some(text.clone()),
        (None, Some(path)) => Some(read_tail(path, args.tail_bytes)?),
        (None, None) => None,
    };
    let kind = if args.start {
        EventKind::Start
    } else if args.fail {
        EventKind::Fail
    } else if args.log {
        EventKind::Log
    } else if let Some(code) = args.exit_code {
        EventKind::ExitCode(code)
    } else {
        EventKind::Success
    };
    let monitor = args.check.monitor()?;
    let flush = monitor.flush_on_drop(args.check.flush_timeout);
    monitor.ping(&check, kind, message, args.run_id);
    drop(flush);
    Ok(ExitCode::SUCCESS)
}

/// The last `bytes` bytes of a file (`-`: stdin), as text.
fn read_tail(path: &std::path::Path, bytes: usize) -> Result<String, String> {
    let mut data = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut data)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut data))
    };
    read.map_err(|e| format!("--message-file {}: {e}", path.display()))?;
    let start = data.len().saturating_sub(bytes);
    Ok(String::from_utf8_lossy(&data[start..]).into_owned())
}
