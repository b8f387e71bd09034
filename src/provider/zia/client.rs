//! One HTTP exchange with the ZIA API: session handling, error mapping, outcome honesty.
//!
//! Policy, in order: pace the request to the tenant's published limits; on an invalid session
//! log in again once (surfacing it when staged changes were open); on 429 wait what the tenant
//! asks (every Retry-After form; jitter only lengthens it), failing fast past the ceiling; on the tenant-wide
//! edit lock back off and retry; retry 5xx and connection failures only for reads. A write whose
//! outcome is unknown is reported as unknown, never retried.
//!
//! With shared state (several replicas), each write request is also sent under the tenant's
//! write lock in Redis, so only one replica writes to a tenant at a time, matching ZIA's own
//! tenant-wide edit lock; if Redis is unreachable the write is not sent.

use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Mutex;

use super::auth::{jsessionid, obfuscate_api_key};
use super::pacing::{Pacer, RateBudget};
use super::wire::WireError;
use crate::provider::ProviderError;
use crate::provider::oneapi::{OneApiCredentials, fetch_token};
use crate::provider::outcome::{ErrorShape, check_written, decoded_after_write};
use crate::provider::retry::{
    backoff, honour_retry_after, is_write, parse_retry_after, without_url,
};
use crate::secret::Secret;
use crate::state::RedisState;
use crate::state::lock::{LockError, TenantLock};
use crate::state::rate::SharedBudget;

/// Strings a 401 body carries when the session, not the credentials, is the problem.
const SESSION_INVALID: [&str; 3] = [
    "SESSION_NOT_VALID",
    "Session already invalidated",
    "Resource Access Blocked",
];

/// How this client proves who it is.
pub enum ZiaAuth {
    /// Legacy API-key session login (`/authenticatedSession`, `JSESSIONID` cookie).
    Session {
        username: String,
        password: Secret,
        api_key: Secret,
    },
    /// OneAPI: a ZIdentity OAuth2 bearer token.
    OneApi(OneApiCredentials),
}

/// The tenant's default "API Session Timeout Duration" (settable from 5 to 20 minutes).
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The open session: the cookie or bearer token, and when a token must be renewed.
struct OpenSession {
    secret: Secret,
    renew_at: Option<Instant>,
}

/// The tenant's own rate counters from the last answer that carried them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedRate {
    pub limit: Option<u64>,
    pub remaining: u64,
    pub reset_secs: Option<u64>,
}

pub struct ZiaClient {
    http: reqwest::Client,
    api: String,
    auth: ZiaAuth,
    session: Mutex<Option<OpenSession>>,
    /// When the last request was sent with the open session: the tenant ends a session idle
    /// for its timeout, which ACTIVATES what it staged.
    last_used: StdMutex<Option<Instant>>,
    /// The tenant's session idle timeout.
    session_timeout: Duration,
    /// Writes this connection staged since the last activation: a session ending now would
    /// activate them.
    staged: AtomicUsize,
    /// Staged writes that a session end activated, not yet taken by the ledger.
    activated_by_end: AtomicUsize,
    notices: StdMutex<Vec<String>>,
    pacer: Option<Pacer>,
    /// The budget the pacer keeps to, when pacing is on (for `check`).
    budget: Option<RateBudget>,
    /// The tenant's last reported `x-ratelimit-*` counters (for `check`).
    reported: StdMutex<Option<ReportedRate>>,
    retry: RetryPolicy,
    /// Set when the tenant says its window is used up (`x-ratelimit-remaining: 0`): no request
    /// is sent before this instant.
    not_before: StdMutex<Option<std::time::Instant>>,
    /// The tenant's write lock shared by replicas, when state is shared.
    write_lock: Option<TenantLock>,
    /// Request timeout, which bounds how long one write holds the lock.
    timeout: Duration,
}

/// Why a session holding staged writes stops being used.
#[derive(Clone, Copy)]
enum SessionEnd {
    /// The tenant ended it (idle timeout or refused as no longer valid).
    Ended,
    /// This client replaced it (token renewal) while it may still be alive.
    Replaced,
}

/// How hard to try before giving up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request for 429s and retryable failures.
    pub max_attempts: u32,
    /// The longest single wait accepted (a longer Retry-After fails fast).
    pub ceiling: Duration,
    /// Total time to keep retrying while another admin holds the edit lock.
    pub edit_lock_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            ceiling: Duration::from_secs(60),
            edit_lock_budget: Duration::from_secs(60),
        }
    }
}

/// Maps a non-success answer to a classified error, keeping the tenant's own code and message.
/// `retry_hint` is the `Retry-After` header, or else the `x-ratelimit-reset` seconds.
pub fn map_error(status: StatusCode, retry_hint: Option<&str>, body: &[u8]) -> ProviderError {
    let parsed: Option<WireError> = serde_json::from_slice(body).ok();
    let text = || {
        let t = String::from_utf8_lossy(body);
        let t: String = t.chars().filter(|c| !c.is_control()).take(200).collect();
        if t.is_empty() {
            status.canonical_reason().unwrap_or("error").to_string()
        } else {
            t
        }
    };
    let (code, message) = match &parsed {
        Some(e) => (e.code.clone(), e.message.clone().unwrap_or_else(text)),
        None => (None, text()),
    };
    let code_is = |c: &str| code.as_deref() == Some(c);
    let from_body = || {
        parsed
            .as_ref()
            .and_then(|e| e.retry_after.as_ref())
            .and_then(|v| match v {
                Value::String(s) => parse_retry_after(s),
                Value::Number(n) => n.as_u64().map(Duration::from_secs),
                _ => None,
            })
    };
    let retry_after = || retry_hint.and_then(parse_retry_after).or_else(from_body);
    // Scheduled upgrades put the tenant in maintenance mode, refusing writes [docs: 403].
    let maintenance = code
        .as_deref()
        .is_some_and(|c| c.to_ascii_uppercase().contains("MAINTENANCE"))
        || message.to_ascii_lowercase().contains("maintenance");
    match status.as_u16() {
        _ if code_is("DUPLICATE_ITEM") => ProviderError::Duplicate { message },
        404 => ProviderError::NotFound { what: message },
        _ if code_is("RESOURCE_NOT_FOUND") => ProviderError::NotFound { what: message },
        400 if code_is("INVALID_INPUT_ARGUMENT") || code.is_none() => {
            ProviderError::Invalid { message }
        }
        409 | 412
            if code_is("EDIT_LOCK_NOT_AVAILABLE")
                || message.contains("Failed during enter Org barrier") =>
        {
            ProviderError::EditLocked { message }
        }
        403 if code_is("LIMIT_EXCEEDED") => {
            let retry_after = retry_after();
            let when = match retry_after {
                Some(d) => format!("retry after {} s", d.as_secs().max(1)),
                None => "retry after the tenant's hourly window resets (up to 60 minutes)".into(),
            };
            ProviderError::QuotaExhausted {
                message: format!("{when} (tenant said: {message})"),
                retry_after,
            }
        }
        403 | 503 if maintenance => ProviderError::Maintenance { message },
        429 => ProviderError::RateLimited {
            message,
            retry_after: retry_after(),
        },
        s => ProviderError::Api {
            status: s,
            code,
            message,
        },
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl ZiaClient {
    /// `api` is the ZIA API root: `{base}/api/v1` (session) or `{gateway}/zia/api/v1` (OneAPI).
    /// `pacing` is the budget to pace to (`None`: no client-side pacing); `session_timeout` is
    /// the tenant's "API Session Timeout Duration".
    pub fn new(
        api: &str,
        auth: ZiaAuth,
        timeout: Duration,
        pacing: Option<RateBudget>,
        session_timeout: Duration,
    ) -> Result<Self, ProviderError> {
        let retry = RetryPolicy::default();
        let http = crate::provider::http::client(timeout)?;
        Ok(Self {
            http,
            api: api.trim_end_matches('/').to_string(),
            auth,
            session: Mutex::new(None),
            last_used: StdMutex::new(None),
            session_timeout: session_timeout.max(Duration::from_millis(100)),
            staged: AtomicUsize::new(0),
            activated_by_end: AtomicUsize::new(0),
            notices: StdMutex::new(Vec::new()),
            pacer: pacing.map(|b| Pacer::new(&b, retry.ceiling)),
            budget: pacing,
            reported: StdMutex::new(None),
            retry,
            not_before: StdMutex::new(None),
            write_lock: None,
            timeout,
        })
    }

    /// Shares the rate budget and a write lock with every replica using the same Redis; the
    /// tenant is identified by its API base URL.
    pub fn share_state(&mut self, state: RedisState, base_url: &str) {
        let tenant = base_url.trim_end_matches('/');
        if let Some(p) = self.pacer.take() {
            self.pacer = Some(p.with_shared(SharedBudget::new(state.clone(), tenant)));
        }
        // One request at a time holds it: its timeout plus a margin for the answer.
        let ttl = self.timeout + Duration::from_secs(5);
        self.write_lock = Some(TenantLock::new(state, tenant, ttl));
    }

    /// How many replicas split the rate budget while the shared one (Redis) is unreachable.
    pub fn set_replicas(&mut self, replicas: u32) {
        if let Some(p) = self.pacer.take() {
            self.pacer = Some(p.with_replicas(replicas));
        }
    }

    /// Trusts the tenant's own counters over any hard-coded limit.
    fn note_rate_headers(&self, headers: &reqwest::header::HeaderMap) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let Some(remaining) = num("x-ratelimit-remaining") {
            *self.reported.lock().unwrap_or_else(|p| p.into_inner()) = Some(ReportedRate {
                limit: num("x-ratelimit-limit"),
                remaining,
                reset_secs: num("x-ratelimit-reset"),
            });
        }
        if let (Some(0), Some(reset)) = (num("x-ratelimit-remaining"), num("x-ratelimit-reset")) {
            let until = Instant::now() + Duration::from_secs(reset);
            *self.not_before.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
        }
    }

    /// The budget this client paces to, if any.
    pub fn budget(&self) -> Option<RateBudget> {
        self.budget
    }

    /// The tenant's last reported rate counters, if it sends them.
    pub fn reported_rate(&self) -> Option<ReportedRate> {
        *self.reported.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits out a window the tenant reported as used up, or fails fast past the ceiling.
    async fn respect_reported_window(&self) -> Result<(), ProviderError> {
        let until = *self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until {
            let wait = until.saturating_duration_since(std::time::Instant::now());
            if wait > self.retry.ceiling {
                return Err(ProviderError::RateLimited {
                    message: format!(
                        "the tenant reports its rate window used up for {} s; retry later",
                        wait.as_secs()
                    ),
                    retry_after: Some(wait),
                });
            }
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Counts one write the tenant staged (it waits for activation or the session's end).
    pub fn staged_write(&self) {
        self.staged.fetch_add(1, Ordering::SeqCst);
    }

    /// Everything staged is live now (activation or logout).
    pub fn activated(&self) {
        self.staged.store(0, Ordering::SeqCst);
    }

    /// Writes staged since the last activation.
    pub fn staged_count(&self) -> usize {
        self.staged.load(Ordering::SeqCst)
    }

    pub fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn take_activated_by_session_end(&self) -> usize {
        self.activated_by_end.swap(0, Ordering::SeqCst)
    }

    /// Records that the session holding `n` staged writes ended or is being replaced, which
    /// activates them on the tenant; surfaced in the next tool result and the ledger.
    fn session_ended_with_staged(&self, why: SessionEnd) {
        let n = self.staged.swap(0, Ordering::SeqCst);
        if n == 0 {
            return;
        }
        self.activated_by_end.fetch_add(n, Ordering::SeqCst);
        let text = match why {
            SessionEnd::Ended => format!(
                "session ended while {n} staged change(s) were pending; Zscaler activates pending changes when a session ends, so they are now active (check pending_changes)"
            ),
            SessionEnd::Replaced => format!(
                "session replaced while {n} staged change(s) were pending; Zscaler activates pending changes when a session ends, so they become active when the old session times out (within {} s) — treat them as live",
                self.session_timeout.as_secs().max(1)
            ),
        };
        tracing::warn!(staged = n, "{text}");
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(text);
    }

    /// How long before the tenant's idle timeout a session is refreshed (30 s for the default
    /// 5 minutes, as the Python SDK does; a tenth of shorter timeouts).
    fn refresh_margin(&self) -> Duration {
        (self.session_timeout / 10).min(Duration::from_secs(30))
    }

    fn idle(&self) -> Option<Duration> {
        self.last_used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|t| t.elapsed())
    }

    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    /// Opens a session or fetches a token; returns it and, for a token, when to renew it.
    async fn login(&self) -> Result<(Secret, Option<Instant>), ProviderError> {
        let (username, password, api_key) = match &self.auth {
            ZiaAuth::Session {
                username,
                password,
                api_key,
            } => (username, password, api_key),
            ZiaAuth::OneApi(creds) => {
                let (token, lifetime) = fetch_token(&self.http, creds).await?;
                return Ok((token, Some(Instant::now() + lifetime)));
            }
        };
        let ts = now_ms();
        let body = serde_json::json!({
            "apiKey": obfuscate_api_key(api_key.expose(), ts)?,
            "username": username,
            "password": password.expose(),
            "timestamp": ts,
        });
        let resp = self
            .http
            .post(format!("{}/authenticatedSession", self.api))
            .header(header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| ProviderError::Transport {
                message: format!("login request failed: {}", without_url(&e)),
            })?;
        let status = resp.status();
        tracing::debug!(status = status.as_u16(), "POST /authenticatedSession");
        if !status.is_success() {
            let bytes = resp.bytes().await.unwrap_or_default();
            let detail = map_error(status, None, &bytes);
            return Err(ProviderError::Auth {
                message: format!("login refused (HTTP {}): {detail}", status.as_u16()),
            });
        }
        let cookie = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(jsessionid)
            .map(Secret::new)
            .ok_or_else(|| ProviderError::Auth {
                message: "login answered without a JSESSIONID cookie".into(),
            })?;
        Ok((cookie, None))
    }

    /// The session to send with, logging in when there is none, when the tenant refused it
    /// (`force_new`), when a token is due for renewal, or when it idled out or nearly did.
    ///
    /// A session nearly idle with nothing staged is replaced before it expires (nothing to
    /// lose). One that holds staged writes is kept while it may still be alive, because using
    /// it resets the tenant's idle timer, and replacing it would leave it to time out and
    /// activate them anyway; if the tenant has already ended it, the 401 brings the re-login.
    async fn session(&self, force_new: bool) -> Result<Secret, ProviderError> {
        let mut guard = self.session.lock().await;
        if let Some(open) = guard.as_ref() {
            let idle = self.idle().unwrap_or_default();
            let expired = idle >= self.session_timeout;
            let refresh_due = idle >= self.session_timeout.saturating_sub(self.refresh_margin());
            let token_due = open.renew_at.is_some_and(|at| Instant::now() >= at);
            let staged = self.staged_count() > 0;
            let keep = !refresh_due || staged;
            if !force_new && !expired && !token_due && keep {
                return Ok(open.secret.clone());
            }
            if force_new || expired {
                self.session_ended_with_staged(SessionEnd::Ended);
            } else {
                self.session_ended_with_staged(SessionEnd::Replaced);
            }
            tracing::debug!(
                idle_ms = idle.as_millis() as u64,
                force_new,
                expired,
                token_due,
                "opening a new ZIA session"
            );
        }
        *guard = None;
        let (secret, renew_at) = self.login().await?;
        *guard = Some(OpenSession {
            secret: secret.clone(),
            renew_at,
        });
        self.touch();
        Ok(secret)
    }

    /// Sends one request with the current session (no retry).
    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        session: &Secret,
    ) -> Result<(StatusCode, Option<String>, bytes::Bytes), ProviderError> {
        self.touch();
        let mut req = self
            .http
            .request(method.clone(), format!("{}{}", self.api, path))
            .header(header::ACCEPT, "application/json")
            .query(query);
        req = match &self.auth {
            ZiaAuth::Session { .. } => {
                req.header(header::COOKIE, format!("JSESSIONID={}", session.expose()))
            }
            ZiaAuth::OneApi(_) => req.bearer_auth(session.expose()),
        };
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            // The request could not even be built (the URL): nothing was sent.
            Err(e) if e.is_builder() => {
                return Err(ProviderError::Config {
                    message: format!("{method} {path}: {}", without_url(&e)),
                });
            }
            Err(e) if is_write(method) && !e.is_connect() => {
                return Err(ProviderError::OutcomeUnknown {
                    message: format!(
                        "{method} {path} was sent but no answer came back ({})",
                        without_url(&e)
                    ),
                });
            }
            Err(e) => {
                return Err(ProviderError::Transport {
                    message: format!("{method} {path}: {}", without_url(&e)),
                });
            }
        };
        let status = resp.status();
        tracing::debug!(%method, path, status = status.as_u16(), "ZIA API");
        let header_str = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        // When to come back: `Retry-After`, else the seconds left in the tenant's window.
        let retry_after =
            header_str(header::RETRY_AFTER.as_str()).or_else(|| header_str("x-ratelimit-reset"));
        self.note_rate_headers(resp.headers());
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            // A write answered 2xx or 5xx whose body broke off: applied or not, nobody knows.
            Err(e) if is_write(method) && (status.is_success() || status.is_server_error()) => {
                return Err(ProviderError::OutcomeUnknown {
                    message: format!(
                        "{method} {path} answered HTTP {} but its body broke off ({})",
                        status.as_u16(),
                        without_url(&e)
                    ),
                });
            }
            Err(e) => {
                return Err(ProviderError::Transport {
                    message: format!("{method} {path}: {}", without_url(&e)),
                });
            }
        };
        Ok((status, retry_after, bytes))
    }

    /// Sends a request under the retry policy (see the module docs).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<bytes::Bytes, ProviderError> {
        let mut session = self.session(false).await?;
        let mut relogged = false;
        let mut attempt = 0u32;
        let started = std::time::Instant::now();
        loop {
            if let Some(p) = &self.pacer {
                p.acquire(&method, path).await?;
            }
            self.respect_reported_window().await?;
            let guard = match &self.write_lock {
                Some(lock) if is_write(&method) => Some(
                    lock.acquire(self.retry.edit_lock_budget)
                        .await
                        .map_err(|e| match e {
                            LockError::Busy { .. } => ProviderError::EditLocked {
                                message: e.to_string(),
                            },
                            // Nothing was sent; safe to call again once Redis is back.
                            LockError::State(s) => ProviderError::StateStore {
                                message: s.to_string(),
                            },
                        })?,
                ),
                _ => None,
            };
            let sent = self.send_once(&method, path, query, body, &session).await;
            if let Some(g) = guard {
                g.release().await;
            }
            let (status, retry_after, bytes) = match sent {
                Ok(answer) => answer,
                // Nothing reached the tenant, or a read failed: safe to try again.
                Err(ProviderError::Transport { message })
                    if attempt + 1 < self.retry.max_attempts =>
                {
                    tracing::debug!(%message, attempt, "retrying after a connection failure");
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if status.is_success() {
                if is_write(&method) {
                    check_written(&method, path, status, &bytes, ErrorShape::Zia)?;
                }
                return Ok(bytes);
            }
            let text = String::from_utf8_lossy(&bytes);
            // A OneAPI token may be revoked or expire early: any 401 earns one fresh token.
            let oneapi = matches!(self.auth, ZiaAuth::OneApi(_));
            if status == StatusCode::UNAUTHORIZED
                && !relogged
                && (oneapi || SESSION_INVALID.iter().any(|s| text.contains(s)))
            {
                relogged = true;
                session = self.session(true).await?;
                continue;
            }
            let error = map_error(status, retry_after.as_deref(), &bytes);
            attempt += 1;
            let wait = match &error {
                ProviderError::RateLimited { retry_after, .. } => {
                    // "0 seconds" means "now", but a burst right back gets another 429.
                    let asked = retry_after.unwrap_or_else(|| backoff(attempt));
                    let wait = honour_retry_after(asked, Duration::from_millis(500));
                    if asked > self.retry.ceiling {
                        return Err(ProviderError::RateLimited {
                            message: format!(
                                "the tenant asks to wait {} s (hourly limit reached?); retry later",
                                asked.as_secs()
                            ),
                            retry_after: Some(asked),
                        });
                    }
                    Some(wait)
                }
                ProviderError::EditLocked { .. }
                    if started.elapsed() < self.retry.edit_lock_budget =>
                {
                    Some(backoff(attempt))
                }
                // A failed read can be repeated; a failed write may have happened.
                ProviderError::Api {
                    status: 500 | 502 | 503 | 504,
                    ..
                } if !is_write(&method) => Some(backoff(attempt)),
                ProviderError::Api {
                    status: 500 | 502 | 504,
                    message,
                    ..
                } if is_write(&method) => {
                    return Err(ProviderError::OutcomeUnknown {
                        message: format!(
                            "{method} {path} answered HTTP {}: {message}",
                            status.as_u16()
                        ),
                    });
                }
                _ => None,
            };
            match wait {
                Some(w) if attempt < self.retry.max_attempts => {
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        // A person should know the tenant is throttling (MCP clients see it too).
                        tracing::warn!(%method, wait_ms = w.as_millis() as u64, "the tenant is rate limiting (HTTP 429); waiting before retrying");
                    } else {
                        tracing::debug!(%method, path, status = status.as_u16(), wait_ms = w.as_millis() as u64, "retrying");
                    }
                    tokio::time::sleep(w).await;
                }
                _ => return Err(error),
            }
        }
    }

    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, ProviderError> {
        let bytes = self.call(method.clone(), path, query, body).await?;
        let decoded = serde_json::from_slice(&bytes).map_err(|e| ProviderError::Decode {
            message: format!("{method} {path}: {e}"),
        });
        if is_write(&method) {
            return decoded_after_write(decoded, &format!("{method} {path}"));
        }
        decoded
    }

    /// Ends the session. ZIA activates pending changes when a session ends.
    pub async fn logout(&self) -> Result<(), ProviderError> {
        let mut guard = self.session.lock().await;
        let Some(open) = guard.take() else {
            return Ok(());
        };
        let (status, retry_after, bytes) = self
            .send_once(
                &Method::DELETE,
                "/authenticatedSession",
                &[],
                None,
                &open.secret,
            )
            .await?;
        self.activated();
        if status.is_success() {
            Ok(())
        } else {
            Err(map_error(status, retry_after.as_deref(), &bytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_error_answer_is_classified_without_panic(
            status in 400u16..600,
            hint in proptest::option::of(proptest::prelude::any::<String>()),
            v in crate::provider::arbitrary::json(),
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128),
        ) {
            let status = StatusCode::from_u16(status).expect("in range");
            let _ = map_error(status, hint.as_deref(), &serde_json::to_vec(&v).expect("json"));
            let _ = map_error(status, hint.as_deref(), &bytes);
        }
    }

    #[test]
    fn error_mapping() {
        let e = |s: u16, b: &str| {
            map_error(StatusCode::from_u16(s).expect("status"), None, b.as_bytes())
        };
        assert!(matches!(
            e(409, r#"{"code":"DUPLICATE_ITEM","message":"x"}"#),
            ProviderError::Duplicate { .. }
        ));
        assert!(matches!(
            e(404, r#"{"code":"RESOURCE_NOT_FOUND","message":"x"}"#),
            ProviderError::NotFound { .. }
        ));
        assert!(matches!(
            e(400, r#"{"code":"INVALID_INPUT_ARGUMENT","message":"x"}"#),
            ProviderError::Invalid { .. }
        ));
        assert!(matches!(
            e(409, r#"{"code":"EDIT_LOCK_NOT_AVAILABLE","message":"x"}"#),
            ProviderError::EditLocked { .. }
        ));
        match e(
            429,
            r#"{"code":"TOO_MANY_REQUESTS","Retry-After":"0 seconds"}"#,
        ) {
            ProviderError::RateLimited { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::ZERO))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            e(403, r#"{"code":"LIMIT_EXCEEDED"}"#),
            ProviderError::QuotaExhausted {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(
            e(403, r#"{"code":"MAINTENANCE_MODE","message":"x"}"#),
            ProviderError::Maintenance { .. }
        ));
        assert!(matches!(
            e(503, r#"{"message":"Scheduled maintenance in progress"}"#),
            ProviderError::Maintenance { .. }
        ));
        // A 403 for a missing role stays a plain API error with the tenant's code.
        assert!(matches!(
            e(403, r#"{"code":"ACCESS_DENIED","message":"no role"}"#),
            ProviderError::Api { status: 403, .. }
        ));
        assert!(matches!(
            e(500, "<html>\u{0}garbage"),
            ProviderError::Api { status: 500, .. }
        ));
    }
}
