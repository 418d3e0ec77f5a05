//! Locking shared state.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning. Every lock in this crate guards state that
/// is updated in single steps (a push, a pop, a swap), so a panic elsewhere
/// while holding it cannot leave it torn; refusing to lock would only turn
/// one failure into many, on the job's path.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
