//! Shared simulator state: the `live` and `draft` tenants, admin sessions and the request log.
//!
//! The ZIA trap lives here: writes go to `draft`; `live` changes only on activation, which
//! happens on `POST /status/activate` or when a session that wrote ends (logout or idle expiry).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::SimCredentials;
use super::auth::{Session, session_id_from_headers};
use super::errors::ApiError;
use super::limits::{Limiter, ZiaLimits};
use super::persist::{Persister, Snapshot, SnapshotRef};
use super::scim::{ScimData, ScimOptions, ScimRuntime};
use super::seed::World;
use super::store::Tenant;
use super::zidentity::ZidState;

/// The native-API behaviours a test or demo can switch (copied from `SimOptions`).
#[derive(Clone, Debug, Default)]
pub(crate) struct ZiaBehaviour {
    /// Rate limits by method weight; `None` = unlimited.
    pub limits: Option<ZiaLimits>,
    /// 409 EDIT_LOCK_NOT_AVAILABLE for a session writing while another holds staged writes.
    pub edit_lock: bool,
    /// `GET /users/{id}` percent-encodes `name` and `email` (ZIdentity-migrated tenants).
    pub zidentity_encoded_get: bool,
}

/// Everything the HTTP handlers share, behind one mutex (no lock is held across an `.await`).
pub(crate) struct SimState {
    inner: Mutex<Inner>,
    pub credentials: SimCredentials,
    pub idle_timeout: Duration,
    /// SCIM options and rate limiters (immutable, lock-free).
    pub scim: ScimRuntime,
    /// Native-API switches (immutable).
    pub zia: ZiaBehaviour,
    /// Where the tenant is saved after writes, when persistence is on.
    persister: Option<Persister>,
    /// The public key the OneAPI client's private-key assertions must verify against.
    pub oneapi_key: Option<jsonwebtoken::DecodingKey>,
    /// What a OneAPI token answer announces in `expires_in`.
    pub oneapi_token_lifetime: Duration,
    /// The scenario's planted duplicate accounts (pairs of ids), for `/__sim/truth/duplicates`.
    pub duplicates: Vec<(u64, u64)>,
}

/// The mutable part of the state.
pub(crate) struct Inner {
    /// What the tenant enforces: changes reach it only through activation.
    pub live: Tenant,
    /// What admins see and edit through the API.
    pub draft: Tenant,
    /// Next id for a created user; never reused, whichever copy a user was deleted from.
    pub next_user_id: u64,
    pub sessions: HashMap<String, Session>,
    pub log: RequestLog,
    /// Injected failures, consumed in order (test-only, set through `/__sim/faults`).
    pub faults: Vec<Fault>,
    /// SCIM-only state: ZIA extras and the ZPA directory.
    pub scim: ScimData,
    /// The ZIdentity directory, its bearer tokens and rate limit.
    pub zid: ZidState,
    /// Native-API rate-limit windows, when limits are on.
    pub limiter: Option<Limiter>,
    /// Something changed since the last save (only consulted when persistence is on).
    pub unsaved: bool,
    /// Number of the last snapshot taken, so saves land in order.
    save_seq: u64,
}

/// One injected failure: the next `count` requests to `route` (e.g. `GET /api/v1/users`) get
/// this answer instead of being handled, the way a throttled or locked real tenant answers.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct Fault {
    pub route: String,
    /// The status to answer with (`answer` kind). Without one, an `answer` fault only delays
    /// the request by `latency_ms` and then lets it be handled normally.
    #[serde(default)]
    pub status: Option<u16>,
    /// What happens to the request (default: answer).
    #[serde(default)]
    pub kind: FaultKind,
    /// Delay before acting, in milliseconds; for `timeout`, how long the request is held
    /// before the connection is closed (default 60 s).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub code: Option<String>,
    /// The error body's `message` (default: "injected by the simulator").
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default = "one")]
    pub count: u32,
    /// Sent as the `Retry-After` header, verbatim (`"0 seconds"`, `"1"`, …).
    #[serde(default)]
    pub retry_after_header: Option<String>,
    /// Sent as a `Retry-After` field in the JSON body, like the legacy API does.
    #[serde(default)]
    pub retry_after_body: Option<String>,
    /// Extra response headers, e.g. `x-ratelimit-remaining` / `x-ratelimit-reset`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// When set, the answer is this raw text as `text/plain` instead of a JSON error body, for
    /// testing clients against malformed responses.
    #[serde(default)]
    pub body_text: Option<String>,
}

/// The kinds of injected failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FaultKind {
    /// Answer with `status` (after `latency_ms`), or only add latency when no status is given.
    #[default]
    Answer,
    /// Close the connection without answering (after `latency_ms`).
    Reset,
    /// Hold the request for `latency_ms` (default 60 s), then close without answering.
    Timeout,
    /// Handle the request as if it had no `page` (native) or `startIndex` (SCIM) parameter,
    /// like a tenant or proxy that ignores paging and sends the first page every time.
    IgnorePaging,
    /// The rest apply the write (handle the request normally), then lose or spoil its answer:
    /// what a caller must report as "outcome unknown" and settle by reading back.
    /// Close the connection instead of answering.
    ApplyThenReset,
    /// Hold the answer for `latency_ms` (default 60 s), then close without it.
    ApplyThenTimeout,
    /// Send the status line and half the body, then close the connection.
    ApplyThenCut,
    /// Answer an HTML page (a proxy's or a login page) with the write's status (or `status`).
    ApplyThenHtml,
    /// Answer an empty body with the write's status (or `status`).
    ApplyThenEmpty,
    /// Answer the first half of the real JSON body, complete at the HTTP level.
    ApplyThenTruncated,
    /// Answer the flavour's error object (ZIA `{code, message}`, SCIM Error) with the write's
    /// success status (or `status`).
    ApplyThenErrorBody,
}

impl FaultKind {
    /// Whether the request is handled (applied) before the fault spoils its answer.
    pub fn applies_first(self) -> bool {
        !matches!(
            self,
            Self::Answer | Self::Reset | Self::Timeout | Self::IgnorePaging
        )
    }

    /// Whether a fault that applies first then breaks the connection (logged as dropped).
    pub fn drops_after_applying(self) -> bool {
        matches!(
            self,
            Self::ApplyThenReset | Self::ApplyThenTimeout | Self::ApplyThenCut
        )
    }
}

fn one() -> u32 {
    1
}

impl Inner {
    /// Takes one use of the first fault for `route`, if any.
    pub fn take_fault(&mut self, route: &str) -> Option<Fault> {
        let i = self
            .faults
            .iter()
            .position(|f| f.route == route && f.count > 0)?;
        self.faults[i].count -= 1;
        let fault = self.faults[i].clone();
        if self.faults[i].count == 0 {
            self.faults.remove(i);
        }
        Some(fault)
    }
}

/// Counters of handled requests, keyed by route template (`GET /api/v1/users/{id}`).
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    total: u64,
    by_route: BTreeMap<String, u64>,
    by_status: BTreeMap<String, u64>,
}

impl RequestLog {
    pub fn record(&mut self, route: String, status: u16) {
        self.total += 1;
        *self.by_route.entry(route).or_default() += 1;
        *self.by_status.entry(status.to_string()).or_default() += 1;
    }

    /// Records a request whose connection a fault closed without an answer, under the
    /// status key `dropped`.
    pub fn record_dropped(&mut self, route: String) {
        self.total += 1;
        *self.by_route.entry(route).or_default() += 1;
        *self.by_status.entry("dropped".to_string()).or_default() += 1;
    }

    pub fn to_json(&self) -> Value {
        json!({ "total": self.total, "by_route": self.by_route, "by_status": self.by_status })
    }
}

impl SimState {
    pub fn new(
        world: World,
        credentials: SimCredentials,
        idle_timeout: Duration,
        scim: ScimOptions,
        zia: ZiaBehaviour,
    ) -> Self {
        let World {
            tenant, zpa, zid, ..
        } = world;
        let next_user_id = tenant
            .users
            .keys()
            .next_back()
            .map_or(super::seed::FIRST_USER_ID, |id| id + 1);
        Self {
            inner: Mutex::new(Inner {
                live: tenant.clone(),
                draft: tenant,
                next_user_id,
                sessions: HashMap::new(),
                log: RequestLog::default(),
                faults: Vec::new(),
                scim: ScimData::seeded(zpa),
                zid: ZidState::new(zid),
                limiter: zia.limits.clone().map(Limiter::new),
                unsaved: false,
                save_seq: 0,
            }),
            credentials,
            idle_timeout,
            scim: ScimRuntime::new(scim),
            zia,
            persister: None,
            oneapi_key: None,
            oneapi_token_lifetime: Duration::from_secs(3600),
            duplicates: Vec::new(),
        }
    }

    /// Turns persistence on: restores `snapshot` if there is one, then saves at once so the
    /// file exists (and an unwritable path is reported at start rather than on a write).
    pub fn persist_to(
        &mut self,
        path: std::path::PathBuf,
        snapshot: Option<Snapshot>,
    ) -> std::io::Result<()> {
        self.persister = Some(Persister::new(path));
        {
            let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = snapshot {
                inner.live = s.live;
                inner.draft = s.draft;
                inner.next_user_id = s.next_user_id;
                inner.scim = s.scim;
                inner.zid.dir = s.zid;
            }
            inner.unsaved = true;
        }
        self.save_now()
    }

    /// After a request: a successful non-GET may have changed something, so it is saved.
    pub fn after_request(&self, method: &axum::http::Method, status: u16) {
        if self.persister.is_none() {
            return;
        }
        let read_only = matches!(
            *method,
            axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
        );
        if !read_only && (200..300).contains(&status) {
            self.lock().unsaved = true;
        }
        self.persist();
    }

    /// Saves if something changed since the last save; failures are logged, not fatal (the
    /// tenant keeps working in memory).
    pub fn persist(&self) {
        if let Err(e) = self.save_now() {
            tracing::warn!(target: "sim", error = %e, "cannot save the simulator state");
        }
    }

    fn save_now(&self) -> std::io::Result<()> {
        let Some(p) = &self.persister else {
            return Ok(());
        };
        let (seq, bytes) = {
            let mut inner = self.lock();
            if !inner.unsaved {
                return Ok(());
            }
            inner.unsaved = false;
            inner.save_seq += 1;
            let snap = SnapshotRef {
                version: SnapshotRef::VERSION,
                live: &inner.live,
                draft: &inner.draft,
                next_user_id: inner.next_user_id,
                scim: &inner.scim,
                zid: &inner.zid.dir,
            };
            (inner.save_seq, serde_json::to_vec(&snap)?)
        };
        p.save(seq, &bytes)
    }

    /// Locks the state after expiring idle sessions (the lazy half of idle expiry; the sweeper
    /// task is the other half). A poisoned lock is recovered rather than propagated: every
    /// mutation below leaves the state consistent, so a panic elsewhere cannot corrupt it.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.expire_idle(Instant::now(), self.idle_timeout);
        guard
    }

    /// Locks the state and resolves the caller's live session, refreshing its idle timer.
    /// Returns the guard and the session id, or 401 SESSION_NOT_VALID.
    pub fn authed(&self, headers: &HeaderMap) -> Result<(MutexGuard<'_, Inner>, String), ApiError> {
        let mut guard = self.lock();
        let id = session_id_from_headers(headers).ok_or_else(ApiError::session_not_valid)?;
        let session = guard
            .sessions
            .get_mut(&id)
            .ok_or_else(ApiError::session_not_valid)?;
        session.last_seen = Instant::now();
        Ok((guard, id))
    }
}

impl Inner {
    /// Publishes the draft: `live` becomes a copy of `draft`. Every session's "made writes" flag
    /// is cleared, because nothing it staged is pending any more.
    pub fn activate(&mut self) {
        if self.live != self.draft {
            tracing::info!(target: "sim", "activating pending changes");
        }
        self.live = self.draft.clone();
        self.unsaved = true;
        for s in self.sessions.values_mut() {
            s.made_writes = false;
        }
    }

    /// Whether the draft holds changes not yet activated.
    pub fn pending(&self) -> bool {
        self.live != self.draft
    }

    /// The tenant-wide edit lock: a write by `session_id` is refused with 409
    /// EDIT_LOCK_NOT_AVAILABLE while a *different* session has staged writes. The holder
    /// releases it by activating or by ending (which activates).
    pub fn check_edit_lock(&self, session_id: &str, enabled: bool) -> Result<(), ApiError> {
        let held_by_other = self
            .sessions
            .iter()
            .any(|(id, s)| s.made_writes && id != session_id);
        if enabled && held_by_other {
            return Err(ApiError::edit_lock_not_available());
        }
        Ok(())
    }

    /// Records that the session staged a write, so its end activates.
    pub fn mark_write(&mut self, session_id: &str) {
        if let Some(s) = self.sessions.get_mut(session_id) {
            s.made_writes = true;
        }
    }

    /// Ends one session (logout or expiry); a session that wrote activates pending changes.
    /// Returns whether the session existed.
    pub fn end_session(&mut self, session_id: &str) -> bool {
        match self.sessions.remove(session_id) {
            Some(s) => {
                if s.made_writes {
                    tracing::info!(target: "sim", "session with writes ended; activating");
                    self.activate();
                }
                true
            }
            None => false,
        }
    }

    /// Ends every session idle for longer than `timeout`.
    pub fn expire_idle(&mut self, now: Instant, timeout: Duration) {
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.is_expired(now, timeout))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::debug!(target: "sim", "session expired after idle timeout");
            self.end_session(&id);
        }
    }

    /// Ends every session now, exactly as if each had reached its idle timeout.
    pub fn expire_all(&mut self) {
        let ids: Vec<String> = self.sessions.keys().cloned().collect();
        for id in ids {
            self.end_session(&id);
        }
    }

    /// The tenant copy a `view=draft|live` parameter names.
    pub fn view(&self, live: bool) -> &Tenant {
        if live { &self.live } else { &self.draft }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::seed::{Scenario, world};
    use axum::http::HeaderValue;
    use axum::http::header::COOKIE;

    /// The lazy half of idle expiry: the next request notices the idle session, ends it (which
    /// activates its writes) and is refused, without any sweeper running.
    #[test]
    fn lazy_expiry_on_next_request_activates_writes() {
        let state = SimState::new(
            world(Scenario::Demo, 0),
            SimCredentials::demo(),
            Duration::from_millis(50),
            ScimOptions::default(),
            ZiaBehaviour::default(),
        );
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        {
            let mut inner = state.lock();
            inner.sessions.insert(
                "S1".into(),
                Session {
                    last_seen: long_ago,
                    made_writes: true,
                },
            );
            inner.draft.users.remove(&70003);
            assert!(inner.pending());
        }
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("JSESSIONID=S1"));
        let err = state.authed(&headers).err().map(|e| e.code);
        assert_eq!(err, Some(crate::sim::errors::Code::SessionNotValid));
        let inner = state.lock();
        assert!(!inner.pending());
        assert!(!inner.live.users.contains_key(&70003));
        assert!(inner.sessions.is_empty());
    }

    #[test]
    fn ending_a_read_only_session_does_not_activate() {
        let state = SimState::new(
            world(Scenario::Demo, 0),
            SimCredentials::demo(),
            Duration::from_secs(60),
            ScimOptions::default(),
            ZiaBehaviour::default(),
        );
        let mut inner = state.lock();
        inner
            .sessions
            .insert("R".into(), Session::new(Instant::now()));
        inner.draft.users.remove(&70003);
        assert!(inner.end_session("R"));
        assert!(inner.pending());
        assert!(!inner.end_session("R"));
    }
}
