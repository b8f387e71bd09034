//! Stateful HTTP sessions, bounded: at most `max` at once (Streamable HTTP and legacy SSE
//! together), each closed once it has been idle — no request or stream in flight — for the
//! configured time, and each owned by the caller (token name) that opened it.
//!
//! A session costs memory (~60 KB idle) and, while its event stream is open, a socket; without
//! a bound, a client that opens sessions and never closes them grows the server until it fails.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::common::server_side_http::{ServerSseMessage, SessionId};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{RestoreOutcome, SessionManager};
use tokio_util::sync::CancellationToken;

/// Memory one idle session holds, rounded up from measurement (3,000 sessions ≈ 170 MB).
const SESSION_BYTES: u64 = 64 * 1024;
/// Bounds of the default cap, whatever the machine.
const DEFAULT_MIN: usize = 16;
const DEFAULT_MAX: usize = 10_000;

/// How many sessions this machine can hold by default: sessions may take at most a sixteenth
/// of physical memory, and at most half the open-file limit (an open event stream holds a
/// socket).
pub fn default_max_sessions() -> usize {
    let by_memory = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        let kb: u64 = t
            .lines()
            .find(|l| l.starts_with("MemTotal:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some((kb * 1024 / 16 / SESSION_BYTES) as usize)
    });
    let by_files = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            let soft = t
                .lines()
                .find(|l| l.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?;
            soft.parse::<usize>().ok().map(|n| n / 2)
        });
    [by_memory, by_files]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(1_000)
        .clamp(DEFAULT_MIN, DEFAULT_MAX)
}

/// The bounds.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Open sessions at most (Streamable HTTP and legacy SSE together).
    pub max: usize,
    /// A session with nothing in flight for this long is closed.
    pub idle: Duration,
}

/// What closing a session takes.
enum Closer {
    /// A Streamable HTTP session: closed through the session manager.
    Streamable,
    /// A legacy SSE session: cancelling ends its event stream, which ends the session.
    Legacy(CancellationToken),
}

struct Entry {
    owner: Option<String>,
    in_flight: usize,
    last: Instant,
    closer: Closer,
}

/// The sessions this process holds.
pub struct Sessions {
    limits: SessionLimits,
    entries: Mutex<HashMap<String, Entry>>,
}

/// No room for another session.
#[derive(Debug, thiserror::Error)]
#[error(
    "this server already holds {0} sessions (--max-sessions); close unused sessions (HTTP DELETE) or retry later"
)]
pub struct Full(pub usize);

impl Sessions {
    pub fn new(limits: SessionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn limits(&self) -> SessionLimits {
        self.limits
    }

    /// Open sessions.
    pub fn count(&self) -> usize {
        self.entries().len()
    }

    /// Whether another session would exceed the cap.
    pub fn full(&self) -> bool {
        self.count() >= self.limits.max
    }

    fn register(&self, id: &str, closer: Closer, owner: Option<String>) -> Result<(), Full> {
        let mut entries = self.entries();
        if entries.len() >= self.limits.max {
            return Err(Full(self.limits.max));
        }
        entries.insert(
            id.to_string(),
            Entry {
                owner,
                in_flight: 0,
                last: Instant::now(),
                closer,
            },
        );
        Ok(())
    }

    /// Registers a legacy SSE session; `close` ends its stream when it expires.
    pub fn register_legacy(
        &self,
        id: &str,
        owner: Option<String>,
        close: CancellationToken,
    ) -> Result<(), Full> {
        self.register(id, Closer::Legacy(close), owner)
    }

    /// Forgets a session (closed by its client or by expiry).
    pub fn remove(&self, id: &str) {
        self.entries().remove(id);
    }

    /// Marks activity on a session.
    pub fn touch(&self, id: &str) {
        if let Some(e) = self.entries().get_mut(id) {
            e.last = Instant::now();
        }
    }

    /// The caller that opened a session (`None` when unknown or opened without tokens).
    pub fn owner(&self, id: &str) -> Option<String> {
        self.entries().get(id).and_then(|e| e.owner.clone())
    }

    /// Records the caller that opened a session.
    pub fn set_owner(&self, id: &str, owner: &str) {
        if let Some(e) = self.entries().get_mut(id) {
            e.owner = Some(owner.to_string());
        }
    }

    fn begin(self: &Arc<Self>, id: &str) -> InFlight {
        if let Some(e) = self.entries().get_mut(id) {
            e.in_flight += 1;
            e.last = Instant::now();
        }
        InFlight {
            sessions: self.clone(),
            id: id.to_string(),
        }
    }

    /// Sessions idle past the limit, removed from the book; the caller closes them.
    fn take_expired(&self) -> Vec<(String, Closer)> {
        let idle = self.limits.idle;
        let mut entries = self.entries();
        let expired: Vec<String> = entries
            .iter()
            .filter(|(_, e)| e.in_flight == 0 && e.last.elapsed() >= idle)
            .map(|(id, _)| id.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|id| entries.remove(&id).map(|e| (id, e.closer)))
            .collect()
    }
}

/// A request or event stream in flight on a session; the session is not idle while it lives.
struct InFlight {
    sessions: Arc<Sessions>,
    id: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(e) = self.sessions.entries().get_mut(&self.id) {
            e.in_flight = e.in_flight.saturating_sub(1);
            e.last = Instant::now();
        }
    }
}

/// An event stream that keeps its session busy until it ends.
struct Tracked<S> {
    inner: S,
    _in_flight: InFlight,
}

impl<S: Stream + Unpin> Stream for Tracked<S> {
    type Item = S::Item;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// rmcp's in-memory session manager, bounded by [`Sessions`].
pub struct BoundedSessionManager {
    inner: LocalSessionManager,
    sessions: Arc<Sessions>,
}

impl BoundedSessionManager {
    pub fn new(sessions: Arc<Sessions>) -> Arc<Self> {
        let mut inner = LocalSessionManager::default();
        // Expiry is decided here (idle = nothing in flight), not by rmcp's per-event timer,
        // which would end a session whose only activity is a long-running request.
        inner.session_config.keep_alive = None;
        Arc::new(Self { inner, sessions })
    }

    /// Closes expired sessions every few seconds until `shutdown`.
    pub fn spawn_sweeper(self: &Arc<Self>, shutdown: CancellationToken) {
        let me = self.clone();
        let every =
            (me.sessions.limits.idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = shutdown.cancelled() => return,
                }
                for (id, closer) in me.sessions.take_expired() {
                    tracing::debug!("closing an idle session");
                    match closer {
                        Closer::Streamable => {
                            let _ = me.inner.close_session(&SessionId::from(id)).await;
                        }
                        Closer::Legacy(token) => token.cancel(),
                    }
                }
            }
        });
    }
}

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BoundedError {
    #[error(transparent)]
    Full(#[from] Full),
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

impl SessionManager for BoundedSessionManager {
    type Error = BoundedError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        if self.sessions.full() {
            return Err(Full(self.sessions.limits.max).into());
        }
        let (id, transport) = self.inner.create_session().await?;
        if let Err(full) = self.sessions.register(&id, Closer::Streamable, None) {
            let _ = self.inner.close_session(&id).await;
            return Err(full.into());
        }
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        let _busy = self.sessions.begin(id);
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.sessions.remove(id);
        Ok(self.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let busy = self.sessions.begin(id);
        let inner = Box::pin(self.inner.create_stream(id, message).await?);
        Ok(Tracked {
            inner,
            _in_flight: busy,
        })
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.sessions.touch(id);
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let busy = self.sessions.begin(id);
        let inner = Box::pin(self.inner.create_standalone_stream(id).await?);
        Ok(Tracked {
            inner,
            _in_flight: busy,
        })
    }

    /// A session another replica opened, restored from the shared session store (`--stateless`
    /// with Redis); it counts against the cap like any other.
    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        if self.sessions.full() {
            return Err(Full(self.sessions.limits.max).into());
        }
        let outcome = self.inner.restore_session(id.clone()).await?;
        if matches!(outcome, RestoreOutcome::Restored(_))
            && let Err(full) = self.sessions.register(&id, Closer::Streamable, None)
        {
            let _ = self.inner.close_session(&id).await;
            return Err(full.into());
        }
        Ok(outcome)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let busy = self.sessions.begin(id);
        let inner = Box::pin(self.inner.resume(id, last_event_id).await?);
        Ok(Tracked {
            inner,
            _in_flight: busy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_is_sized_and_bounded() {
        let n = default_max_sessions();
        assert!((DEFAULT_MIN..=DEFAULT_MAX).contains(&n), "{n}");
    }

    #[test]
    fn the_cap_holds_and_idle_sessions_expire_unless_busy() {
        let s = Sessions::new(SessionLimits {
            max: 2,
            idle: Duration::from_millis(0),
        });
        s.register("a", Closer::Streamable, None).expect("room");
        s.register("b", Closer::Streamable, Some("bot".into()))
            .expect("room");
        assert!(s.register("c", Closer::Streamable, None).is_err());
        assert_eq!(s.owner("b").as_deref(), Some("bot"));
        let busy = s.begin("a");
        let expired: Vec<String> = s.take_expired().into_iter().map(|(id, _)| id).collect();
        assert_eq!(expired, ["b"], "a request in flight keeps a session");
        drop(busy);
        assert_eq!(s.take_expired().len(), 1);
        assert_eq!(s.count(), 0);
    }
}
