//! Connections to the shared Redis.
//!
//! Two kinds, because callers are of two kinds:
//! - The plan store and the ledger have synchronous APIs (their call sites in ops/ and cli/ must
//!   not change), so they use blocking connections from a small pool. Every such connection has
//!   connect, read and write timeouts, so a dead Redis costs a caller at most one timeout, and
//!   on a multi-threaded Tokio runtime the call runs under `block_in_place` so it does not stall
//!   other tasks on the worker.
//! - The rate budget and the write lock run inside async request paths and use one
//!   `ConnectionManager` (multiplexed, reconnects by itself) with connect and response timeouts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::StateError;
use crate::secret::Secret;

/// Idle blocking connections kept for reuse; plan operations are rare, a few suffice.
const MAX_IDLE: usize = 4;

/// A handle on the shared Redis; cheap to clone.
#[derive(Clone)]
pub struct RedisState {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    /// `host:port` (never the password), for error messages and logs.
    at: String,
    prefix: String,
    timeout: Duration,
    idle: Mutex<Vec<redis::Connection>>,
    manager: tokio::sync::OnceCell<ConnectionManager>,
}

impl std::fmt::Debug for RedisState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: show only where Redis is.
        f.debug_struct("RedisState")
            .field("at", &self.inner.at)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// Where a Redis URL points, without its credentials.
fn location(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    match u.scheme() {
        "redis" => Some(format!("{}:{}", u.host_str()?, u.port().unwrap_or(6379))),
        "unix" | "redis+unix" => Some(u.path().to_string()),
        _ => None,
    }
}

impl RedisState {
    /// No network here: connections are made on first use, so a server starts (and reads its
    /// tenants) while Redis is down; only the state operations fail.
    pub fn new(url: &Secret, prefix: &str, timeout: Duration) -> Result<Self, StateError> {
        let at = location(url.expose()).ok_or_else(|| StateError::Config {
            message: "url must be redis://[:password@]host[:port][/db] or redis+unix:///path (TLS is not built in: reach a remote Redis through a TLS tunnel or sidecar)".into(),
        })?;
        // Deliberately not echoing the URL or the client's parse error, which may quote it.
        let client = redis::Client::open(url.expose()).map_err(|_| StateError::Config {
            message: format!("url for {at} is not a valid Redis URL"),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                at,
                prefix: prefix.to_string(),
                timeout,
                idle: Mutex::new(Vec::new()),
                manager: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// `host:port` of the server, for messages.
    pub fn at(&self) -> &str {
        &self.inner.at
    }

    /// A key under the configured prefix.
    pub fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.inner.prefix)
    }

    /// Classifies a Redis error into the message operators and agents see.
    pub fn error(&self, e: &redis::RedisError) -> StateError {
        let message = e.to_string();
        if e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
        {
            StateError::Unreachable {
                at: self.inner.at.clone(),
                message,
            }
        } else {
            StateError::Failed {
                at: self.inner.at.clone(),
                message,
            }
        }
    }

    fn connect(&self) -> Result<redis::Connection, StateError> {
        let t = Some(self.inner.timeout);
        let conn = self
            .inner
            .client
            .get_connection_with_timeout(self.inner.timeout)
            .map_err(|e| self.error(&e))?;
        conn.set_read_timeout(t).map_err(|e| self.error(&e))?;
        conn.set_write_timeout(t).map_err(|e| self.error(&e))?;
        Ok(conn)
    }

    /// Runs blocking commands on a pooled connection (see the module docs).
    pub fn run<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StateError> {
        let go = || {
            let pooled = self
                .inner
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop();
            let mut conn = match pooled {
                Some(c) => c,
                None => self.connect()?,
            };
            match f(&mut conn) {
                Ok(v) => {
                    let mut idle = self.inner.idle.lock().unwrap_or_else(|p| p.into_inner());
                    if idle.len() < MAX_IDLE {
                        idle.push(conn);
                    }
                    Ok(v)
                }
                // The connection may be half-read or dead: never reuse it.
                Err(e) => Err(self.error(&e)),
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(go)
            }
            _ => go(),
        }
    }

    /// The shared async connection, made on first use (and retried on the next call if that
    /// first connect fails).
    pub async fn conn(&self) -> Result<ConnectionManager, StateError> {
        let inner = &self.inner;
        let made = inner
            .manager
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(inner.timeout))
                    .set_response_timeout(Some(inner.timeout))
                    .set_number_of_retries(2);
                match tokio::time::timeout(
                    inner.timeout * 2,
                    inner.client.get_connection_manager_with_config(config),
                )
                .await
                {
                    Ok(Ok(m)) => Ok(m),
                    Ok(Err(e)) => Err(self.error(&e)),
                    Err(_) => Err(StateError::Unreachable {
                        at: inner.at.clone(),
                        message: "connect timed out".into(),
                    }),
                }
            })
            .await?;
        Ok(made.clone())
    }

    /// Checks that Redis answers (for `check` and start-up logs).
    pub fn ping(&self) -> Result<(), StateError> {
        self.run(|c| redis::cmd("PING").query::<String>(c).map(|_| ()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_hides_credentials() {
        assert_eq!(
            location("redis://:hunter2@10.0.0.5:6390/2").as_deref(),
            Some("10.0.0.5:6390")
        );
        assert_eq!(location("redis://r").as_deref(), Some("r:6379"));
        assert_eq!(location("http://x"), None);
        let s = RedisState::new(
            &Secret::new("redis://:hunter2@127.0.0.1:1"),
            "p:",
            Duration::from_millis(50),
        )
        .expect("valid");
        assert!(!format!("{s:?}").contains("hunter2"));
        let e = s.ping().expect_err("nothing listens on port 1");
        let msg = e.to_string();
        assert!(
            msg.contains("state backend redis at 127.0.0.1:1 unreachable")
                && !msg.contains("hunter2"),
            "{msg}"
        );
    }
}
