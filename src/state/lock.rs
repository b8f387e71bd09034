//! A per-tenant write lock shared by every replica.
//!
//! ZIA lets one admin session edit a tenant at a time and answers others with
//! `EDIT_LOCK_NOT_AVAILABLE`; replicas taking turns through this lock avoid that churn and keep
//! their writes from interleaving. The lock has an owner token and a TTL: it is released by
//! compare-and-delete (a replica never frees a lock that expired and was taken by another), and
//! a replica that dies while holding it blocks the others for at most the TTL.

use std::time::{Duration, Instant};

use rand::RngCore;

use super::{RedisState, StateError};

/// Deletes the key only while it still holds our token.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another replica held the tenant's write lock for {} s; try again shortly", waited.as_secs())]
    Busy { waited: Duration },
    #[error(transparent)]
    State(#[from] StateError),
}

/// The write lock of one tenant.
#[derive(Debug, Clone)]
pub struct TenantLock {
    state: RedisState,
    key: String,
    ttl: Duration,
}

/// A held lock; give it back with [`LockGuard::release`]. If it is dropped instead (a cancelled
/// call), the TTL frees it.
#[derive(Debug)]
pub struct LockGuard {
    state: RedisState,
    key: String,
    token: String,
}

impl TenantLock {
    /// `ttl` must cover one request (its timeout plus a margin).
    pub fn new(state: RedisState, tenant: &str, ttl: Duration) -> Self {
        let tenant = tenant.trim_end_matches('/').to_ascii_lowercase();
        Self {
            key: state.key(&format!("zia:{tenant}:write-lock")),
            state,
            ttl,
        }
    }

    /// Takes the lock, waiting up to `budget` while another holder has it.
    pub async fn acquire(&self, budget: Duration) -> Result<LockGuard, LockError> {
        let mut b = [0u8; 16];
        rand::rng().fill_bytes(&mut b);
        let token = hex::encode(b);
        let started = Instant::now();
        let mut pause = Duration::from_millis(25);
        loop {
            let mut conn = self.state.conn().await?;
            let taken: Option<String> = redis::cmd("SET")
                .arg(&self.key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(self.ttl.as_millis() as u64)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.state.error(&e))?;
            if taken.is_some() {
                return Ok(LockGuard {
                    state: self.state.clone(),
                    key: self.key.clone(),
                    token,
                });
            }
            let waited = started.elapsed();
            if waited >= budget {
                return Err(LockError::Busy { waited });
            }
            tokio::time::sleep(pause.min(budget - waited)).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

impl LockGuard {
    /// Frees the lock if it is still ours. A failure is only logged: the TTL frees it anyway.
    pub async fn release(self) {
        let result = async {
            let mut conn = self.state.conn().await?;
            redis::Script::new(RELEASE)
                .key(&self.key)
                .arg(&self.token)
                .invoke_async::<i64>(&mut conn)
                .await
                .map_err(|e| self.state.error(&e))
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not release the tenant write lock; it expires by itself");
        }
    }
}
