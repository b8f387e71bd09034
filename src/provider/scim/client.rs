//! One HTTP exchange with a SCIM 2.0 server: bearer auth, pacing, retries, error mapping.
//!
//! Policy: pace every request to the server's limit (Zscaler SCIM: 5 req/s); on 429 wait what the
//! server asks (any `Retry-After` form), failing fast past the ceiling; retry 5xx and transport
//! failures only for reads, and only connection failures (the request never left) for writes.
//! A write whose outcome is unknown is reported as unknown, never repeated.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode, header};
use serde_json::Value;

use super::wire;
use crate::provider::ProviderError;
use crate::provider::outcome::{ErrorShape, check_written};
use crate::provider::retry::{
    backoff, honour_retry_after, is_write, parse_retry_after, without_url,
};
use crate::secret::Secret;

/// The media type RFC 7644 §3.1 asks for.
const SCIM_JSON: &str = "application/scim+json";
/// Attempts per request, counting the first.
const MAX_ATTEMPTS: u32 = 5;
/// Longest single wait for a rate limit before giving up with "retry after".
const CEILING: Duration = Duration::from_secs(30);

/// A configured SCIM endpoint.
pub struct ScimClient {
    http: reqwest::Client,
    /// The base URL exactly as configured (no trailing slash): never rebuilt from parts.
    base: String,
    token: Secret,
    pacer: Option<DefaultDirectRateLimiter>,
}

impl ScimClient {
    /// `requests_per_second` of `None` or 0 turns pacing off (for servers without limits).
    pub fn new(
        base_url: &str,
        token: Secret,
        timeout: Duration,
        requests_per_second: Option<u32>,
    ) -> Result<Self, ProviderError> {
        let http = crate::provider::http::client(timeout)?;
        let pacer = requests_per_second
            .and_then(NonZeroU32::new)
            .map(|n| RateLimiter::direct(Quota::per_second(n).allow_burst(NonZeroU32::MIN)));
        Ok(Self {
            http,
            base: base_url.trim().trim_end_matches('/').to_string(),
            token,
            pacer,
        })
    }

    /// Sends one request; returns the JSON body, or `None` for an empty success (204).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, ProviderError> {
        let url = format!("{}{}", self.base, path);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Some(p) = &self.pacer {
                p.until_ready().await;
            }
            let mut req = self
                .http
                .request(method.clone(), &url)
                .query(query)
                .bearer_auth(self.token.expose())
                .header(header::ACCEPT, SCIM_JSON);
            if let Some(b) = body {
                req = req
                    .header(header::CONTENT_TYPE, SCIM_JSON)
                    .body(b.to_string());
            }
            let resp = match req.send().await {
                Ok(r) => r,
                // The request could not even be built (the URL): nothing was sent.
                Err(e) if e.is_builder() => {
                    return Err(ProviderError::Config {
                        message: format!("{method} {path}: {}", without_url(&e)),
                    });
                }
                Err(e) => {
                    let never_sent = e.is_connect();
                    if attempt < MAX_ATTEMPTS && (never_sent || !is_write(&method)) {
                        tokio::time::sleep(backoff(attempt)).await;
                        continue;
                    }
                    if is_write(&method) && !never_sent {
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
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = match resp.bytes().await {
                Ok(b) => b,
                Err(e) if is_write(&method) => {
                    return Err(ProviderError::OutcomeUnknown {
                        message: format!(
                            "{method} {path} answered HTTP {} but its body broke off ({})",
                            status.as_u16(),
                            without_url(&e)
                        ),
                    });
                }
                Err(e) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(error = %without_url(&e), "SCIM read interrupted; retrying");
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
                if is_write(&method) {
                    return check_written(&method, path, status, &bytes, ErrorShape::Scim);
                }
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                return serde_json::from_slice(&bytes).map(Some).map_err(|_| {
                    ProviderError::Decode {
                        message: format!(
                            "{method} {path} answered {status} with a body that is not JSON: {}",
                            snippet(&bytes)
                        ),
                    }
                });
            }
            if status == StatusCode::TOO_MANY_REQUESTS && attempt < MAX_ATTEMPTS {
                // A 429 means the request was not processed, so even a write may be repeated.
                let asked = retry_after
                    .as_deref()
                    .and_then(parse_retry_after)
                    .unwrap_or_else(|| backoff(attempt));
                if asked <= CEILING {
                    // A person should know the tenant is throttling (MCP clients see it too).
                    tracing::warn!(
                        wait_ms = asked.as_millis() as u64,
                        "the SCIM server is rate limiting (HTTP 429); waiting before retrying"
                    );
                    tokio::time::sleep(honour_retry_after(asked, Duration::from_millis(200))).await;
                    continue;
                }
            }
            if status.is_server_error() {
                if !is_write(&method) && attempt < MAX_ATTEMPTS {
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                if is_write(&method) && status != StatusCode::NOT_IMPLEMENTED {
                    return Err(ProviderError::OutcomeUnknown {
                        message: format!(
                            "{method} {path} answered {status}: {}",
                            describe_error(status, &bytes).0
                        ),
                    });
                }
            }
            return Err(map_error(status, retry_after.as_deref(), &bytes));
        }
    }
}

fn snippet(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

/// The server's words for a failed answer and its `scimType`, from one parse of the body.
fn describe_error(status: StatusCode, body: &[u8]) -> (String, Option<String>) {
    match wire::error(body) {
        Some(e) => {
            let detail = e
                .detail
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").into());
            let message = match &e.scim_type {
                Some(t) => format!("{detail} (scimType {t})"),
                None => detail,
            };
            (message, e.scim_type)
        }
        None if body.is_empty() => (
            status.canonical_reason().unwrap_or("error").to_string(),
            None,
        ),
        None => (snippet(body), None),
    }
}

/// Maps a failed answer to a classified error carrying the server's `detail` and `scimType`.
pub fn map_error(status: StatusCode, retry_after: Option<&str>, body: &[u8]) -> ProviderError {
    let (message, scim_type) = describe_error(status, body);
    match status.as_u16() {
        400 if scim_type.as_deref() == Some("uniqueness") => ProviderError::Duplicate { message },
        400 => ProviderError::Invalid { message },
        401 => ProviderError::Auth {
            message: format!("the SCIM bearer token was refused ({message})"),
        },
        404 => ProviderError::NotFound { what: message },
        409 => ProviderError::Duplicate { message },
        429 => ProviderError::RateLimited {
            message,
            retry_after: retry_after.and_then(parse_retry_after),
        },
        405 | 501 => ProviderError::Unsupported { what: message },
        s => ProviderError::Api {
            status: s,
            code: scim_type,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_errors_become_actionable() {
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"userName taken"}"#;
        match map_error(StatusCode::CONFLICT, None, body) {
            ProviderError::Duplicate { message } => {
                assert_eq!(message, "userName taken (scimType uniqueness)")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            map_error(StatusCode::UNAUTHORIZED, None, b""),
            ProviderError::Auth { .. }
        ));
        match map_error(StatusCode::TOO_MANY_REQUESTS, Some("7"), b"slow down") {
            ProviderError::RateLimited {
                retry_after,
                message,
            } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)));
                assert_eq!(message, "slow down");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            map_error(StatusCode::NOT_IMPLEMENTED, None, b"{}"),
            ProviderError::Unsupported { .. }
        ));
    }
}
