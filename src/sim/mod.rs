//! Embedded ZIA (Zscaler Internet Access) API simulator.
//!
//! A real HTTP server (axum) that behaves like a ZIA tenant for the user lifecycle, so the
//! product can be demonstrated and tested without a tenant: session login with the obfuscated
//! API key, `/users`, `/groups`, `/departments`, `/status` — including the trap that writes are
//! **staged** and a session that wrote **activates** them when it ends (logout or idle timeout).
//!
//! The same server also answers SCIM 2.0 in the ZIA and ZPA flavours (module `scim`, mounted at
//! [`ZIA_SCIM_BASE_PATH`] and [`ZPA_SCIM_BASE_PATH`]), for testing SCIM provisioning clients,
//! and the ZIdentity admin API (module `zidentity`, at [`ZIDENTITY_BASE_PATH`] and the gateway's
//! [`ZIDENTITY_GATEWAY_PATH`]) with bearer tokens from its OneAPI token endpoint.
//!
//! It shares no code with the ZIA adapter in `provider::zia`: two independent implementations of
//! each rule are what make it a test. Paths under `/__sim/` are test-only introspection and are
//! not part of the ZIA API.

#![warn(missing_docs)]

mod api;
mod auth;
mod errors;
mod faults;
mod limits;
mod oneapi;
mod persist;
mod rng;
mod scim;
mod seed;
mod state;
mod store;
mod zidentity;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_native;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use errors::SimError;
pub use limits::{RetryStyle, WeightLimits, WindowLimit, ZiaLimits};
pub use oneapi::{ONEAPI_DEMO_CLIENT_ID, ONEAPI_DEMO_CLIENT_SECRET};
pub use scim::{
    ScimOptions, ZIA_SCIM_BASE_PATH, ZIA_SCIM_DEMO_TOKEN, ZPA_SCIM_BASE_PATH, ZPA_SCIM_DEMO_TOKEN,
};
pub use seed::Scenario;

/// The demo's built-in HR export (CSV `email,status,name,department,groups`): the source of
/// record the embedded demo tenant is reconciled and audited against with no config.
pub fn demo_hr_csv() -> String {
    seed::demo_hr::csv()
}
pub use zidentity::{ZIDENTITY_BASE_PATH, ZIDENTITY_GATEWAY_PATH, ZidLimits};

use state::{SimState, ZiaBehaviour};

/// How long [`Sim::shutdown`] waits for open connections before aborting the server task.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How to run the simulator. `Default` gives a random local port, the real tenant's default
/// 5-minute idle timeout, the demo credentials and tenant, no native rate limits, no edit lock
/// and plain `GET /users/{id}` answers.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Where to listen; port 0 picks a free port (read it back with [`Sim::addr`]).
    pub bind: SocketAddr,
    /// A session idle for longer than this expires (and activates its staged writes), as on a
    /// real tenant whose "API Session Timeout Duration" defaults to 5 minutes.
    pub session_idle_timeout: Duration,
    /// The single admin account the tenant accepts.
    pub credentials: SimCredentials,
    /// The SCIM endpoints (ZIA and ZPA flavours): tokens, quirks and rate limit.
    pub scim: ScimOptions,
    /// The data set to start with.
    pub scenario: Scenario,
    /// Seed of the scenario's generated data (ignored by [`Scenario::Demo`]); the same seed
    /// always gives the same tenant.
    pub seed: u64,
    /// Native ZIA rate limits by method weight; `None` (the default) = unlimited, because the
    /// embedded demo and most tests must not be slowed down. [`ZiaLimits::documented`] gives
    /// the published figures.
    pub zia_limits: Option<ZiaLimits>,
    /// While one session has staged (un-activated) writes, a write from another session gets
    /// 409 EDIT_LOCK_NOT_AVAILABLE, as on a real tenant. Off by default: the product's
    /// end-to-end offboarding tests write from more than one session without activating in
    /// between, which a real tenant would refuse; they turn it on when they mean to test it.
    pub edit_lock: bool,
    /// `GET /users/{id}` returns `name` and `email` percent-encoded, like tenants migrated to
    /// ZIdentity do (the list endpoint stays plain). Off by default.
    pub zidentity_encoded_get: bool,
    /// The public key (RSA, PEM) registered with the demo OneAPI client: token requests may
    /// then authenticate with a private-key JWT assertion (RFC 7523) signed by its private
    /// half instead of the client secret. `None` (the default) accepts only the secret.
    pub oneapi_public_key_pem: Option<String>,
    /// The lifetime a OneAPI token answer announces in `expires_in` (ZIdentity: 3600 s). Tests
    /// shorten it to make a client renew its token while it holds staged writes.
    pub oneapi_token_lifetime: Duration,
    /// Save the tenant to this JSON file after every write and load it on start (instead of
    /// seeding the scenario) when it exists. `None` (the default) keeps everything in memory.
    pub state_file: Option<std::path::PathBuf>,
    /// The ZIdentity admin API's rate limit: by default the figures its answers announce
    /// ([`ZidLimits::observed`], 150/s and 10,000/min); `None` = unlimited.
    pub zidentity_limits: Option<ZidLimits>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            session_idle_timeout: Duration::from_secs(5 * 60),
            credentials: SimCredentials::demo(),
            scim: ScimOptions::default(),
            scenario: Scenario::Demo,
            seed: DEFAULT_SEED,
            zia_limits: None,
            edit_lock: false,
            zidentity_encoded_get: false,
            oneapi_public_key_pem: None,
            oneapi_token_lifetime: Duration::from_secs(3600),
            state_file: None,
            zidentity_limits: Some(ZidLimits::observed()),
        }
    }
}

/// The seed used when none is given.
pub const DEFAULT_SEED: u64 = 1;

/// The admin credentials the simulated tenant accepts. The API key is the raw 12-character key;
/// clients must send it obfuscated with the login timestamp, as with a real tenant.
#[derive(Clone, Debug)]
pub struct SimCredentials {
    /// Admin login name (compared case-insensitively, like an email address).
    pub username: String,
    /// Admin password.
    pub password: String,
    /// Raw API key, at least 12 characters (only the first 12 are used by the obfuscation).
    pub api_key: String,
}

impl SimCredentials {
    /// The well-known demo credentials, so a client can log in to the demo tenant without any
    /// configuration: `admin@acme.example` / `demo-password` / `DemoKey12345`.
    pub fn demo() -> Self {
        Self {
            username: "admin@acme.example".to_string(),
            password: "demo-password".to_string(),
            api_key: "DemoKey12345".to_string(),
        }
    }
}

/// A running simulator. Dropping it stops the server too; [`Sim::shutdown`] does so gracefully
/// and waits for it.
pub struct Sim {
    addr: SocketAddr,
    credentials: SimCredentials,
    scim: ScimOptions,
    hr_export: Option<String>,
    shutdown_tx: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    sweeper: Option<JoinHandle<()>>,
}

impl Sim {
    /// Seeds the scenario's tenant, binds `opts.bind` and spawns the server and the idle-session
    /// sweeper on the current tokio runtime. Returns once the socket is listening, so requests
    /// can be sent immediately.
    pub async fn start(opts: SimOptions) -> Result<Sim, SimError> {
        if opts.credentials.api_key.chars().count() < 12 {
            return Err(SimError::InvalidOptions(
                "api_key must be at least 12 characters (ZIA key obfuscation reads 12)".into(),
            ));
        }
        if opts.session_idle_timeout.is_zero() {
            return Err(SimError::InvalidOptions(
                "session_idle_timeout must be greater than zero".into(),
            ));
        }
        let listener = tokio::net::TcpListener::bind(opts.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: opts.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(SimError::LocalAddr)?;

        let mut world = seed::world(opts.scenario, opts.seed);
        let hr_export = world.hr_export.take();
        let duplicates = std::mem::take(&mut world.duplicates);
        let mut state = SimState::new(
            world,
            opts.credentials.clone(),
            opts.session_idle_timeout,
            opts.scim.clone(),
            ZiaBehaviour {
                limits: opts.zia_limits.clone(),
                edit_lock: opts.edit_lock,
                zidentity_encoded_get: opts.zidentity_encoded_get,
            },
        );
        if let Some(pem) = &opts.oneapi_public_key_pem {
            let key = jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
                SimError::InvalidOptions(format!(
                    "oneapi_public_key_pem is not an RSA public key in PEM: {e}"
                ))
            })?;
            state.oneapi_key = Some(key);
        }
        state.oneapi_token_lifetime = opts.oneapi_token_lifetime;
        state.duplicates = duplicates;
        state.lock().zid.set_limits(opts.zidentity_limits);
        if let Some(path) = &opts.state_file {
            let snapshot = persist::load(path).map_err(SimError::State)?;
            state
                .persist_to(path.clone(), snapshot)
                .map_err(|e| SimError::State(format!("cannot write {}: {e}", path.display())))?;
        }
        let state = Arc::new(state);
        // The OneAPI gateway path is rewritten to the native route before the inner routing.
        let app = axum::Router::new()
            .fallback_service(api::router(state.clone()))
            .layer(axum::middleware::map_request(
                |req: axum::extract::Request| async move { oneapi::rewrite(req) },
            ));
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = shutdown_rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(target: "sim", error = %e, "simulator server stopped with an error");
            }
        });

        // The eager half of idle expiry: without it, a session nobody touches again would never
        // end and so never activate its writes. Checks at least every second.
        let tick = (opts.session_idle_timeout / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let sweeper = tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                drop(state.lock());
                // An expiry above may have activated; saved only if something changed.
                state.persist();
            }
        });

        tracing::info!(target: "sim", %addr, "ZIA simulator listening");
        Ok(Sim {
            addr,
            credentials: opts.credentials,
            scim: opts.scim,
            hr_export,
            shutdown_tx: Some(shutdown_tx),
            server: Some(server),
            sweeper: Some(sweeper),
        })
    }

    /// The address the server listens on (useful when `bind` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`; the ZIA API lives under `/api/v1` of this URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The credentials the tenant accepts, so a client can be configured to log in.
    pub fn credentials(&self) -> &SimCredentials {
        &self.credentials
    }

    /// The SCIM options in force (tokens a client needs to be configured with).
    pub fn scim_options(&self) -> &ScimOptions {
        &self.scim
    }

    /// The scenario's HR export as CSV (`work_email,status,end_date`), as seeded; only
    /// [`Scenario::Orphans`] has one.
    pub fn hr_export_csv(&self) -> Option<&str> {
        self.hr_export.as_deref()
    }

    /// Base URL of the ZIA SCIM API (`{base_url}/24326813/61233/scim`).
    pub fn zia_scim_url(&self) -> String {
        format!("{}{ZIA_SCIM_BASE_PATH}", self.base_url())
    }

    /// Base URL of the ZPA SCIM API (`{base_url}/scim/1/144118148382065427/v2`).
    pub fn zpa_scim_url(&self) -> String {
        format!("{}{ZPA_SCIM_BASE_PATH}", self.base_url())
    }

    /// Base URL of the ZIdentity admin API (`{base_url}/admin/api/v1`); the same API answers
    /// under the gateway prefix `/ziam/admin/api/v1`. Tokens come from `{base_url}/oauth2/v1/token`.
    pub fn zidentity_url(&self) -> String {
        format!("{}{ZIDENTITY_BASE_PATH}", self.base_url())
    }

    /// Stops accepting connections, lets in-flight requests finish (up to a few seconds) and
    /// stops the sweeper. Sessions are dropped without activation, as in a process exit.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(sweeper) = self.sweeper.take() {
            sweeper.abort();
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
                .await
                .is_err()
        {
            tracing::warn!(target: "sim", "simulator did not stop in time; aborting");
            server.abort();
        }
        tracing::info!(target: "sim", "ZIA simulator stopped");
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(sweeper) = self.sweeper.take() {
            sweeper.abort();
        }
    }
}
