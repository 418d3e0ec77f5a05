//! Fleet leases: one process of many on a shared Redis or Postgres queue
//! sends the queue's alerts ([`Lease`]).

#[cfg(feature = "redis")]
pub use self::redis_lease::RedisLease;

#[cfg(feature = "postgres")]
pub use self::postgres_lease::PostgresLease;

/// Who holds a lease: host, process and a random part (a restarted process
/// with a reused pid is someone else).
#[cfg(feature = "redis")]
fn holder_id() -> String {
    let host = gethostname::gethostname();
    format!(
        "{}:{}:{:08x}",
        host.to_string_lossy(),
        std::process::id(),
        fastrand::u32(..)
    )
}

#[cfg(feature = "redis")]
mod redis_lease {
    use std::time::Duration;

    use heartbeat_core::BoxFuture;
    use heartbeat_core::health::{Lease, ProbeError};
    use redis::aio::ConnectionLike;

    /// Takes the key if free (`SET NX PX`), renews it if ours, else not held.
    const HOLD: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0";

    /// A [`Lease`] on a Redis key, taken with `SET key holder NX PX ttl`
    /// and renewed by its holder at each poll; when the holder dies the key
    /// expires after the TTL and another process takes it. Use the
    /// connection your `RedisStorage` uses (`apalis_redis::connect`).
    #[derive(Clone)]
    pub struct RedisLease<C> {
        conn: C,
        key: String,
        holder: String,
        ttl: Duration,
        script: redis::Script,
    }

    impl<C> std::fmt::Debug for RedisLease<C> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("RedisLease")
                .field("key", &self.key)
                .field("holder", &self.holder)
                .field("ttl", &self.ttl)
                .finish_non_exhaustive()
        }
    }

    impl<C> RedisLease<C> {
        /// The lease of queue `queue`, on the key `heartbeat:lease:<queue>`,
        /// with a TTL of 90 s (three of `QueueWatch`'s default 30 s polls).
        pub fn new(conn: C, queue: &str) -> Self {
            Self {
                conn,
                key: format!("heartbeat:lease:{queue}"),
                holder: super::holder_id(),
                ttl: Duration::from_secs(90),
                script: redis::Script::new(HOLD),
            }
        }

        /// How long the lease outlives its holder's last poll: longer than
        /// the watch's poll period, or the lease lapses between polls.
        pub fn ttl(self, ttl: Duration) -> Self {
            Self {
                ttl: ttl.max(Duration::from_millis(1)),
                ..self
            }
        }

        /// The Redis key.
        pub fn key(&self) -> &str {
            &self.key
        }

        /// This process's value in the key while it holds the lease
        /// (`host:pid:random`).
        pub fn holder(&self) -> &str {
            &self.holder
        }
    }

    impl<C> Lease for RedisLease<C>
    where
        C: ConnectionLike + Clone + Send + Sync + 'static,
    {
        fn hold(&self) -> BoxFuture<'_, Result<bool, ProbeError>> {
            Box::pin(async move {
                let mut conn = self.conn.clone();
                let held: i64 = self
                    .script
                    .key(&self.key)
                    .arg(&self.holder)
                    .arg(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX))
                    .invoke_async(&mut conn)
                    .await?;
                Ok(held == 1)
            })
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres_lease {
    use heartbeat_core::BoxFuture;
    use heartbeat_core::health::{Lease, ProbeError};
    use sqlx::{Connection, PgConnection, PgPool};
    use tokio::sync::Mutex;

    /// A [`Lease`] held as a Postgres session advisory lock
    /// (`pg_try_advisory_lock`) on a connection of its own: the lock lives
    /// as long as that session, so when the holding process dies, its
    /// connection closes, the server releases the lock, and another process
    /// takes it at its next poll. Use the pool your `PostgresStorage` uses.
    #[derive(Debug)]
    pub struct PostgresLease {
        pool: PgPool,
        key: i64,
        queue: String,
        /// The session holding the lock; taken out of the pool so that it
        /// closes, and releases the lock, when the lease is dropped.
        held: Mutex<Option<PgConnection>>,
    }

    impl PostgresLease {
        /// The lease of queue `queue`: an advisory lock whose 64-bit key
        /// is a hash of `heartbeat:lease:<queue>`.
        pub fn new(pool: PgPool, queue: &str) -> Self {
            let name = format!("heartbeat:lease:{queue}");
            Self {
                pool,
                key: lock_key(&name),
                queue: queue.to_owned(),
                held: Mutex::new(None),
            }
        }

        /// The advisory lock's key (`pg_locks.classid << 32 | objid`).
        pub fn lock_key(&self) -> i64 {
            self.key
        }

        async fn try_take(&self) -> Result<Option<PgConnection>, ProbeError> {
            let mut conn = self.pool.acquire().await?;
            let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(self.key)
                .fetch_one(&mut *conn)
                .await?;
            // Not taken: the connection goes back to the pool holding
            // nothing. Taken: it leaves the pool with the lock.
            Ok(taken.then(|| conn.detach()))
        }
    }

    impl Lease for PostgresLease {
        fn hold(&self) -> BoxFuture<'_, Result<bool, ProbeError>> {
            Box::pin(async move {
                let mut held = self.held.lock().await;
                if let Some(conn) = held.as_mut() {
                    // The session still holds the lock if it still answers.
                    if conn.ping().await.is_ok() {
                        return Ok(true);
                    }
                    tracing::warn!(target: "heartbeat", queue = self.queue, "the connection holding the queue lease broke; taking it again");
                    *held = None;
                }
                *held = self.try_take().await?;
                Ok(held.is_some())
            })
        }
    }

    /// FNV-1a of the name (stable across processes), as a signed 64-bit
    /// lock key.
    fn lock_key(name: &str) -> i64 {
        i64::from_ne_bytes(crate::naming::fnv1a(name.as_bytes()).to_ne_bytes())
    }
}
