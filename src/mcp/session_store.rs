//! Streamable HTTP sessions that any replica can serve: with `--stateless` and a shared Redis, a
//! session is a record there (the client's `initialize` parameters, and the caller that opened
//! it), and a replica that gets a request for a session it does not hold restores it from that
//! record (rmcp's `SessionStore`). The caller binding travels with it: a session opened with one
//! token is not restored for another.

use std::time::Duration;

use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};

use crate::state::RedisState;

/// Session records in Redis, kept `ttl` after their last write.
pub struct RedisSessionStore {
    redis: RedisState,
    ttl: Duration,
}

impl RedisSessionStore {
    pub fn new(redis: RedisState, ttl: Duration) -> Self {
        Self { redis, ttl }
    }

    fn key(&self, id: &str) -> String {
        self.redis.key(&format!("session:{id}"))
    }

    fn owner_key(&self, id: &str) -> String {
        self.redis.key(&format!("session:{id}:owner"))
    }

    async fn conn(&self) -> Result<redis::aio::ConnectionManager, SessionStoreError> {
        self.redis
            .conn()
            .await
            .map_err(|e| Box::new(e) as SessionStoreError)
    }

    /// The caller (token name) that opened session `id`, if recorded.
    pub async fn owner(&self, id: &str) -> Result<Option<String>, SessionStoreError> {
        let mut conn = self.conn().await?;
        redis::cmd("GET")
            .arg(self.owner_key(id))
            .query_async(&mut conn)
            .await
            .map_err(|e| Box::new(self.redis.error(&e)) as SessionStoreError)
    }

    /// Records the caller that opened session `id`.
    pub async fn set_owner(&self, id: &str, owner: &str) -> Result<(), SessionStoreError> {
        let mut conn = self.conn().await?;
        redis::cmd("SET")
            .arg(self.owner_key(id))
            .arg(owner)
            .arg("PX")
            .arg(self.ttl.as_millis() as u64)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| Box::new(self.redis.error(&e)) as SessionStoreError)
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisSessionStore {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let mut conn = self.conn().await?;
        let text: Option<String> = redis::cmd("GET")
            .arg(self.key(session_id))
            .query_async(&mut conn)
            .await
            .map_err(|e| Box::new(self.redis.error(&e)) as SessionStoreError)?;
        match text {
            Some(t) => Ok(Some(serde_json::from_str(&t)?)),
            None => Ok(None),
        }
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let text = serde_json::to_string(state)?;
        let mut conn = self.conn().await?;
        redis::cmd("SET")
            .arg(self.key(session_id))
            .arg(text)
            .arg("PX")
            .arg(self.ttl.as_millis() as u64)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| Box::new(self.redis.error(&e)) as SessionStoreError)
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        let mut conn = self.conn().await?;
        redis::cmd("DEL")
            .arg(self.key(session_id))
            .arg(self.owner_key(session_id))
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| Box::new(self.redis.error(&e)) as SessionStoreError)
    }
}
