//! One HTTP exchange with the ZIdentity admin API: OneAPI bearer token, pacing, retries, error
//! mapping.
//!
//! Policy, in order: pace every request to the tenant's limit (and wait out a window it reports
//! as used up); send with the current token, renewed a minute before it expires; on a 401 get a
//! new token once and send again (the Python SDK's rule: any 401); on 429 wait what the answer
//! asks (`Retry-After`, else `x-ratelimit-reset`) with jitter, failing fast past the ceiling;
//! retry connection failures and 5xx only for reads (and for writes only when the request never
//! left). A write whose outcome is unknown is reported as unknown, never repeated. Redirects are
//! not followed: one could carry the bearer token to another host.

use std::num::NonZeroU32;
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Mutex;

use super::wire;
use crate::provider::ProviderError;
use crate::provider::oneapi::{OneApiCredentials, fetch_token};
use crate::provider::retry::{
    backoff, honour_retry_after, is_write, parse_retry_after, without_url,
};
use crate::secret::Secret;

/// Attempts per request, counting the first (token renewals are not counted).
const MAX_ATTEMPTS: u32 = 5;
/// Longest single wait for a rate limit before giving up with "retry after".
const CEILING: Duration = Duration::from_secs(60);

/// The rate limit a connection paces to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZidentityLimits {
    /// Requests in any second.
    pub per_second: u32,
    /// Requests in any minute.
    pub per_minute: u32,
}

impl ZidentityLimits {
    /// What the admin API announces in its answers (`x-ratelimit-limit: 150, 150;w=1,
    /// 10000;w=60`); no ZIdentity limit is documented (docs/ZIDENTITY.md).
    pub const fn announced() -> Self {
        Self {
            per_second: 150,
            per_minute: 10_000,
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} requests/s and {} requests/min",
            self.per_second, self.per_minute
        )
    }
}

/// The tenant's own counters from the last answer that carried them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reported {
    remaining: u64,
    reset_secs: Option<u64>,
}

/// The bearer token and when to renew it.
struct Token {
    secret: Secret,
    renew_at: Instant,
}

pub(super) struct ZidClient {
    http: reqwest::Client,
    /// The API root, e.g. `https://acme-admin.zslogin.net/admin/api/v1`.
    api: String,
    creds: OneApiCredentials,
    token: Mutex<Option<Token>>,
    limits: Option<ZidentityLimits>,
    per_second: Option<DefaultDirectRateLimiter>,
    per_minute: Option<DefaultDirectRateLimiter>,
    /// No request is sent before this instant (the tenant reported its window used up).
    not_before: StdMutex<Option<Instant>>,
    reported: StdMutex<Option<Reported>>,
}

/// A successful answer: its JSON body, `None` when empty (204).
pub(super) type Answer = Option<Value>;

impl ZidClient {
    pub fn new(
        api: &str,
        creds: OneApiCredentials,
        timeout: Duration,
        limits: Option<ZidentityLimits>,
    ) -> Result<Self, ProviderError> {
        let http = crate::provider::http::client(timeout)?;
        // Spaced evenly (no burst): the server counts in sliding windows.
        let limiter =
            |q: Option<Quota>| q.map(|q| RateLimiter::direct(q.allow_burst(NonZeroU32::MIN)));
        let per_second = limiter(
            limits
                .and_then(|l| NonZeroU32::new(l.per_second))
                .map(Quota::per_second),
        );
        let per_minute = limiter(
            limits
                .and_then(|l| NonZeroU32::new(l.per_minute))
                .map(Quota::per_minute),
        );
        Ok(Self {
            http,
            api: api.trim().trim_end_matches('/').to_string(),
            creds,
            token: Mutex::new(None),
            limits,
            per_second,
            per_minute,
            not_before: StdMutex::new(None),
            reported: StdMutex::new(None),
        })
    }

    /// The current token, fetched when there is none or it is due for renewal, or when the
    /// tenant refused `refused` (and no other request has renewed it meanwhile).
    async fn token(&self, refused: Option<&Secret>) -> Result<Secret, ProviderError> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref() {
            let stale = refused.is_some_and(|r| r.expose() == t.secret.expose());
            if !stale && Instant::now() < t.renew_at {
                return Ok(t.secret.clone());
            }
        }
        *guard = None;
        let (secret, lifetime) = fetch_token(&self.http, &self.creds).await?;
        tracing::debug!(
            lifetime_s = lifetime.as_secs(),
            "new OneAPI token for ZIdentity"
        );
        *guard = Some(Token {
            secret: secret.clone(),
            renew_at: Instant::now() + lifetime,
        });
        Ok(secret)
    }

    /// What the pacing keeps to, and what the tenant last reported (for `check`).
    pub fn headroom(&self) -> String {
        let reported = *self.reported.lock().unwrap_or_else(|p| p.into_inner());
        match (reported, self.limits) {
            (Some(r), _) => format!(
                "tenant reports {} request(s) left{}",
                r.remaining,
                r.reset_secs
                    .map(|s| format!(", window resets in {s} s"))
                    .unwrap_or_default()
            ),
            (None, Some(l)) => format!("pacing to {}", l.describe()),
            (None, None) => "pacing off (rate_limits = false)".into(),
        }
    }

    fn note_rate_headers(&self, headers: &header::HeaderMap) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let Some(remaining) = num("x-ratelimit-remaining") {
            let reset_secs = num("x-ratelimit-reset");
            *self.reported.lock().unwrap_or_else(|p| p.into_inner()) = Some(Reported {
                remaining,
                reset_secs,
            });
            if let (0, Some(reset)) = (remaining, reset_secs) {
                *self.not_before.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(Instant::now() + Duration::from_secs(reset));
            }
        }
    }

    /// Waits for the pacing and for a window the tenant reported as used up.
    async fn pace(&self) -> Result<(), ProviderError> {
        if let Some(l) = &self.per_minute {
            l.until_ready().await;
        }
        if let Some(l) = &self.per_second {
            l.until_ready().await;
        }
        let until = *self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until {
            let wait = until.saturating_duration_since(Instant::now());
            if wait > CEILING {
                return Err(ProviderError::RateLimited {
                    message: format!(
                        "ZIdentity reports its rate window used up for {} s; retry later",
                        wait.as_secs()
                    ),
                    retry_after: Some(wait),
                });
            }
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Sends one request under the policy in the module docs. `path` is below the API root.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer, ProviderError> {
        let url = format!("{}{}", self.api, path);
        let write = is_write(&method);
        let mut attempt = 0u32;
        let mut renewed = false;
        let mut token = self.token(None).await?;
        loop {
            attempt += 1;
            self.pace().await?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .query(query)
                .bearer_auth(token.expose())
                .header(header::ACCEPT, "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    let never_sent = e.is_connect();
                    if attempt < MAX_ATTEMPTS && (never_sent || !write) {
                        tracing::debug!(error = %without_url(&e), attempt, "ZIdentity request failed; retrying");
                        tokio::time::sleep(backoff(attempt)).await;
                        continue;
                    }
                    if write && !never_sent {
                        return Err(ProviderError::OutcomeUnknown {
                            message: format!(
                                "{method} {path} was sent but no answer came back ({})",
                                without_url(&e)
                            ),
                        });
                    }
                    return Err(ProviderError::Transport {
                        message: format!("{method} {path}: {}", without_url(&e)),
                    });
                }
            };
            let status = resp.status();
            tracing::debug!(%method, path, status = status.as_u16(), "ZIdentity API");
            let header_str = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            // When to come back: `Retry-After`, else the seconds left in the tenant's window.
            let retry_hint = header_str(header::RETRY_AFTER.as_str())
                .or_else(|| header_str("x-ratelimit-reset"));
            self.note_rate_headers(resp.headers());
            let bytes = match resp.bytes().await {
                Ok(b) => b,
                Err(e) if write && status.is_success() => {
                    return Err(ProviderError::OutcomeUnknown {
                        message: format!(
                            "{method} {path} succeeded but its answer was cut off ({})",
                            without_url(&e)
                        ),
                    });
                }
                Err(e) if !write && attempt < MAX_ATTEMPTS => {
                    tracing::debug!(error = %without_url(&e), "ZIdentity read interrupted; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => {
                    return Err(ProviderError::Transport {
                        message: format!("{method} {path}: {}", without_url(&e)),
                    });
                }
            };
            if status.is_success() {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                return serde_json::from_slice(&bytes).map(Some).map_err(|_| {
                    if write {
                        ProviderError::OutcomeUnknown {
                            message: format!(
                                "{method} {path} answered {status} with a body that is not JSON: {}",
                                snippet(&bytes)
                            ),
                        }
                    } else {
                        ProviderError::Decode {
                            message: format!(
                                "{method} {path} answered {status} with a body that is not JSON: {}",
                                snippet(&bytes)
                            ),
                        }
                    }
                });
            }
            // A token may be revoked or expire early: any 401 earns one fresh token.
            if status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                attempt -= 1;
                token = self.token(Some(&token)).await?;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                // A 429 was not processed, so even a write may be sent again.
                let asked = retry_hint
                    .as_deref()
                    .and_then(parse_retry_after)
                    .unwrap_or_else(|| backoff(attempt));
                if asked > CEILING {
                    return Err(ProviderError::RateLimited {
                        message: format!(
                            "ZIdentity asks to wait {} s; retry later",
                            asked.as_secs()
                        ),
                        retry_after: Some(asked),
                    });
                }
                if attempt < MAX_ATTEMPTS {
                    let wait = honour_retry_after(asked, Duration::from_millis(500));
                    tracing::debug!(wait_ms = wait.as_millis() as u64, "ZIdentity 429; waiting");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            if status.is_server_error() {
                if !write && attempt < MAX_ATTEMPTS {
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                if write {
                    return Err(ProviderError::OutcomeUnknown {
                        message: format!(
                            "{method} {path} answered HTTP {}: {}; the change may or may not have been made",
                            status.as_u16(),
                            describe(status, &bytes).1
                        ),
                    });
                }
            }
            return Err(map_error(status, retry_hint.as_deref(), &bytes));
        }
    }

    /// Sends and decodes a JSON answer into `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<T, ProviderError> {
        let v = self
            .send(method.clone(), path, query, body)
            .await?
            .ok_or_else(|| ProviderError::Decode {
                message: format!("{method} {path}: the answer had no body"),
            })?;
        serde_json::from_value(v).map_err(|e| ProviderError::Decode {
            message: format!("{method} {path}: {e}"),
        })
    }
}

fn snippet(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

/// The tenant's code and message for a failed answer.
fn describe(status: StatusCode, body: &[u8]) -> (Option<String>, String) {
    match wire::error(body) {
        Some((code, Some(message))) => (code, message),
        Some((code, None)) => (
            code,
            status.canonical_reason().unwrap_or("error").to_string(),
        ),
        None if body.iter().all(u8::is_ascii_whitespace) => (
            None,
            status.canonical_reason().unwrap_or("error").to_string(),
        ),
        None => (None, snippet(body)),
    }
}

/// Maps a failed answer to a classified error with the tenant's own code and message (status
/// codes from the ZIdentity response-codes page; see docs/ZIDENTITY.md).
pub fn map_error(status: StatusCode, retry_hint: Option<&str>, body: &[u8]) -> ProviderError {
    let (code, message) = describe(status, body);
    match status.as_u16() {
        400 | 413 => ProviderError::Invalid { message },
        401 => ProviderError::Auth {
            message: format!(
                "ZIdentity refused the OneAPI token even after renewing it ({message}); check the API client's scopes"
            ),
        },
        404 => ProviderError::NotFound { what: message },
        409 => ProviderError::Duplicate { message },
        429 => ProviderError::RateLimited {
            message,
            retry_after: retry_hint.and_then(parse_retry_after),
        },
        s => ProviderError::Api {
            status: s,
            code,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_the_tenants_words_and_their_kind() {
        let e = |s: u16, b: &str| {
            map_error(
                StatusCode::from_u16(s).expect("status"),
                Some("7"),
                b.as_bytes(),
            )
        };
        assert!(
            matches!(e(409, r#"{"code":"CONFLICT","message":"taken"}"#), ProviderError::Duplicate { message } if message == "taken")
        );
        assert!(
            matches!(e(400, r#"{"reason":"bad domain"}"#), ProviderError::Invalid { message } if message == "bad domain")
        );
        assert!(matches!(e(404, ""), ProviderError::NotFound { .. }));
        assert!(matches!(
            e(429, "{}"),
            ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        assert!(
            matches!(e(403, r#"{"code":"FORBIDDEN","message":"no scope"}"#), ProviderError::Api { status: 403, code: Some(c), .. } if c == "FORBIDDEN")
        );
        assert!(matches!(e(401, "x"), ProviderError::Auth { .. }));
        assert!(matches!(
            e(500, "<html>\u{0}"),
            ProviderError::Api { status: 500, .. }
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_error_answer_is_classified_without_panic(
            status in 400u16..600,
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128),
            v in crate::provider::arbitrary::json(),
        ) {
            let s = StatusCode::from_u16(status).expect("in range");
            let _ = map_error(s, None, &bytes);
            let _ = map_error(s, Some("1"), &serde_json::to_vec(&v).expect("json"));
        }
    }
}
