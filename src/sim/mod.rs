//! An embedded simulator of the ZIA API on 127.0.0.1: the demo tenant, the test bed and the
//! benchmark target.
//!
//! It shares no code with the ZIA adapter it tests (two independent implementations of each
//! rule are what make the tests mean something) and behaves like a real tenant where it hurts:
//! obfuscated-key login with a JSESSIONID cookie, flat-array paging, full-replace PUT,
//! bulkDelete truncating at 500, and writes staged until activation — or until the session that
//! made them ends, which activates them.
//!
//! Endpoints under `/__sim/` are test-only introspection, not part of the ZIA API.

mod api;
mod auth;
mod seed;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use seed::Scenario;

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Listen address; port 0 picks a free one.
    pub bind: SocketAddr,
    /// An admin session idle longer than this ends (and activates what it staged).
    pub session_idle_timeout: Duration,
    pub credentials: SimCredentials,
    pub scenario: Scenario,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            session_idle_timeout: Duration::from_secs(300),
            credentials: SimCredentials::demo(),
            scenario: Scenario::Demo,
        }
    }
}

/// The admin credentials the simulator accepts.
#[derive(Clone)]
pub struct SimCredentials {
    pub username: String,
    pub password: String,
    pub api_key: String,
}

impl std::fmt::Debug for SimCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl SimCredentials {
    /// Fixed demo credentials: they only ever open the simulator.
    pub fn demo() -> Self {
        Self {
            username: "admin@acme.example".into(),
            password: "demo-password".into(),
            api_key: "DemoKey12345".into(),
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

struct Session {
    last_seen: Instant,
    wrote: bool,
}

/// Everything behind the HTTP API.
pub(crate) struct State {
    draft: store::Tenant,
    live: store::Tenant,
    next_user_id: i64,
    sessions: HashMap<String, Session>,
    idle_timeout: Duration,
    credentials: SimCredentials,
    requests_by_route: BTreeMap<String, u64>,
    requests_by_status: BTreeMap<String, u64>,
}

impl State {
    fn new(opts: &SimOptions) -> Self {
        let tenant = opts.scenario.build();
        Self {
            next_user_id: tenant
                .users
                .keys()
                .next_back()
                .map(|k| k + 1)
                .unwrap_or(70001),
            live: tenant.clone(),
            draft: tenant,
            sessions: HashMap::new(),
            idle_timeout: opts.session_idle_timeout,
            credentials: opts.credentials.clone(),
            requests_by_route: BTreeMap::new(),
            requests_by_status: BTreeMap::new(),
        }
    }

    /// Ends a session; like the real tenant, ending a session that wrote activates the changes.
    fn end_session(&mut self, id: &str) {
        if let Some(s) = self.sessions.remove(id)
            && s.wrote
        {
            self.live = self.draft.clone();
        }
    }

    fn expire_idle(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| now.duration_since(s.last_seen) > self.idle_timeout)
            .map(|(k, _)| k.clone())
            .collect();
        for id in expired {
            self.end_session(&id);
        }
    }
}

pub(crate) type Shared = Arc<Mutex<State>>;

pub(crate) fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running simulator.
pub struct Sim {
    addr: SocketAddr,
    credentials: SimCredentials,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Sim {
    /// Binds, starts serving on the current runtime, and returns once listening.
    pub async fn start(opts: SimOptions) -> Result<Sim, SimError> {
        let listener = tokio::net::TcpListener::bind(opts.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: opts.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: opts.bind,
            source,
        })?;
        let state: Shared = Arc::new(Mutex::new(State::new(&opts)));
        let sweep_every = (opts.session_idle_timeout / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        let sweep_state = state.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(sweep_every);
            loop {
                tick.tick().await;
                lock(&sweep_state).expire_idle(Instant::now());
            }
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = api::router(state);
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
        tracing::debug!(%addr, "ZIA simulator listening");
        Ok(Sim {
            addr,
            credentials: opts.credentials,
            shutdown: tx,
            server,
            sweeper,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`; the ZIA API lives under `/api/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn credentials(&self) -> &SimCredentials {
        &self.credentials
    }

    /// Stops serving after in-flight requests finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.server.await;
        self.sweeper.abort();
    }
}
