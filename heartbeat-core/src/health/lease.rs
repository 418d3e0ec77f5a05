//! [`Lease`]: which process of a fleet speaks for a shared queue.

use super::ProbeError;
use crate::target::BoxFuture;

/// A lease on a shared queue, held by at most one process at a time: the
/// one whose [`QueueWatch`](super::QueueWatch) sends the queue's alerts,
/// so a fleet of workers on one Redis or Postgres queue alerts once, not
/// once per process. The others keep polling and evaluating (their health
/// endpoints show the queue, and a process that takes the lease over knows
/// which rules are already in breach), but send nothing.
///
/// An implementation takes the lease when it is free and renews it when
/// held; it must expire or be released when its process dies, so another
/// process takes over (heartbeat-apalis has a Redis `SET NX PX` lease and a
/// Postgres advisory-lock lease).
pub trait Lease: Send + Sync + 'static {
    /// Takes or renews the lease: `Ok(true)` while this process holds it.
    /// Called before each poll's alerts; an error sends them anyway (two
    /// alerts are better than none while the lease store is down).
    fn hold(&self) -> BoxFuture<'_, Result<bool, ProbeError>>;
}
