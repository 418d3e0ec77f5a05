//! The delivery thread runs at a lower priority than the job.
//!
//! A job's push wakes the sleeping delivery thread. At equal priority the
//! scheduler often runs the woken thread at once on the job's own CPU, and
//! the job waits (0.16–0.46 ms measured on a 2-core machine after a 10 ms
//! idle gap) while the worker dispatches and sends. At a lower priority
//! (a higher nice value) the woken thread does not preempt the job: it runs
//! on an idle CPU, or when the job's thread blocks or its slice ends.
//!
//! Not `SCHED_IDLE`: that starves delivery entirely while the job keeps
//! every core busy. A nice value still gets its share of a busy CPU.

/// How much nicer than the process the delivery thread is (Linux allows
/// any thread to lower its own priority; 19 is the floor). Measured with
/// `benches/benches/cron_case.rs` (see benches/README.md): with one core
/// busy, +10 cut the job's runs that were switched out from 62 % to 17 %;
/// +19 to 0 %, but with both cores busy it left pings waiting 0.1–0.5 s,
/// where +10 kept them under 5 ms.
const NICER_BY: i32 = 10;

/// Lowers the calling thread's priority. On Linux `setpriority` with a
/// thread id affects that thread only; elsewhere it would change the whole
/// process, so nothing is done there.
pub(crate) fn lower_current_thread() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let tid = Some(rustix::thread::gettid());
        let lowered = getpriority_process(tid)
            .and_then(|now| setpriority_process(tid, (now + NICER_BY).min(19)));
        if let Err(e) = lowered {
            tracing::debug!(target: "heartbeat", "heartbeat delivery thread keeps its priority: {e}");
        }
    }
}
