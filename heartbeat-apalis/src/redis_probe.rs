//! [`RedisProbe`]: a Redis queue's figures, read from apalis-redis's keys.

use std::time::Duration;

use apalis_redis::{Config, ConnectionLike, RedisStorage};
use heartbeat_core::BoxFuture;
use heartbeat_core::health::{ProbeError, QueueProbe, QueueStats};

/// One round trip: waiting (ready and scheduled, retries included),
/// running (every live worker's in-flight set), dead, done, live workers.
const FIGURES: &str = r"
local queued = redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2])
local done = redis.call('SCARD', KEYS[3])
local dead = redis.call('SCARD', KEYS[4])
local now = tonumber(redis.call('TIME')[1])
local workers = redis.call('ZRANGEBYSCORE', KEYS[5], now - tonumber(ARGV[1]), '+inf')
local active = 0
for _, worker in ipairs(workers) do
  active = active + redis.call('SCARD', KEYS[6] .. ':' .. worker)
end
return {queued, active, dead, done, #workers}";

/// The [`QueueProbe`] for apalis-redis queues. apalis-redis 1.0's own
/// statistics (`Metrics::fetch_by_queue`) fail on every call (its script
/// reads a timestamp it is not given, and counts sets as sorted sets), so
/// [`BackendProbe`](crate::BackendProbe) cannot read a Redis queue; this
/// probe reads the queue's keys directly, in one script:
///
/// | `QueueStats` | apalis-redis keys |
/// |---|---|
/// | `queued` | `<queue>:active` + `<queue>:scheduled` (delayed and retrying) |
/// | `active` | the in-flight sets of the workers seen within the orphan timeout |
/// | `failed` | `<queue>:dead` (failed for good, aborted) |
/// | `processed` | `<queue>:done` |
/// | `workers` | workers seen within the orphan timeout |
#[derive(Clone)]
pub struct RedisProbe<C> {
    conn: C,
    keys: [String; 6],
    orphaned_secs: u64,
    script: redis::Script,
}

impl<C> std::fmt::Debug for RedisProbe<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProbe")
            .field("active_list", &self.keys[0])
            .finish_non_exhaustive()
    }
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> RedisProbe<C> {
    /// A probe of `storage`'s queue, on its connection.
    pub fn new<Args>(storage: &mut RedisStorage<Args, C>) -> Self {
        let config = storage.get_config().clone();
        Self::with_config(storage.get_connection().clone(), &config)
    }

    /// A probe of the queue `config` names, on `conn`.
    pub fn with_config(conn: C, config: &Config) -> Self {
        Self {
            conn,
            keys: [
                config.active_jobs_list(),
                config.scheduled_jobs_set(),
                config.done_jobs_set(),
                config.dead_jobs_set(),
                config.workers_set(),
                config.inflight_jobs_set(),
            ],
            orphaned_secs: config
                .orphaned_duration()
                .max(Duration::from_secs(1))
                .as_secs(),
            script: redis::Script::new(FIGURES),
        }
    }
}

impl<C: ConnectionLike + Clone + Send + Sync + 'static> QueueProbe for RedisProbe<C> {
    fn stats(&self) -> BoxFuture<'_, Result<QueueStats, ProbeError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut invocation = self.script.prepare_invoke();
            for key in &self.keys {
                invocation.key(key);
            }
            let [queued, active, failed, processed, workers]: [u64; 5] = invocation
                .arg(self.orphaned_secs)
                .invoke_async(&mut conn)
                .await?;
            Ok(QueueStats::new(queued, failed, processed)
                .active(active)
                .workers(workers))
        })
    }
}
