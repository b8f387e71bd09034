//! Session authentication the way a ZIA tenant does it: the legacy API-key obfuscation check,
//! `JSESSIONID` cookies and idle expiry.
//!
//! This is an independent implementation of the algorithm in the reference (§1, §2); it
//! deliberately shares nothing with the provider adapter, so that each checks the other.

use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// Name of the session cookie (both official SDKs look for exactly this name).
pub(crate) const SESSION_COOKIE: &str = "JSESSIONID";

/// Obfuscates a ZIA API key with a timestamp (epoch ms, as decimal digits).
///
/// Returns `None` when the inputs cannot be obfuscated: a timestamp shorter than six characters
/// or containing a non-digit, or a key shorter than twelve characters (the Go SDK's guard).
pub(crate) fn obfuscate_api_key(api_key: &str, timestamp: &str) -> Option<String> {
    let key: Vec<char> = api_key.chars().collect();
    if key.len() < 12 || timestamp.len() < 6 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let last6 = &timestamp[timestamp.len() - 6..];
    let n: u32 = last6.parse().ok()?;
    let r = format!("{:06}", n >> 1);
    let mut out = String::with_capacity(12);
    for d in last6.bytes() {
        out.push(key[usize::from(d - b'0')]);
    }
    for d in r.bytes() {
        out.push(key[usize::from(d - b'0') + 2]);
    }
    Some(out)
}

/// Compares two strings without an early exit on the first differing byte, so response time
/// does not reveal how much of a secret matched.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// Reads the `JSESSIONID` value from the request's `Cookie` header(s), if any.
pub(crate) fn session_id_from_headers(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A fresh random session id: 32 hex characters from the thread RNG.
pub(crate) fn new_session_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode_upper(bytes)
}

/// One admin session: when it was last used, and whether it staged writes that its end will
/// activate (the ZIA trap: logout or idle timeout publishes pending changes).
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub last_seen: Instant,
    pub made_writes: bool,
}

impl Session {
    pub fn new(now: Instant) -> Self {
        Self {
            last_seen: now,
            made_writes: false,
        }
    }

    /// A session idle for longer than `timeout` is expired.
    pub fn is_expired(&self, now: Instant, timeout: Duration) -> bool {
        now.saturating_duration_since(self.last_seen) > timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn obfuscation_matches_reference_vector_2() {
        assert_eq!(
            obfuscate_api_key("abcdefghijklmnopqrstuvwxyz1234567890", "1718236987654").as_deref(),
            Some("jihgfeglfkej")
        );
    }

    #[test]
    fn obfuscation_matches_reference_vector_6_zero_padding() {
        assert_eq!(
            obfuscate_api_key("AbCdEfGhIjKl", "1712345000123").as_deref(),
            Some("AAAbCdCCCCId")
        );
    }

    #[test]
    fn obfuscation_rejects_short_or_bad_inputs() {
        assert_eq!(obfuscate_api_key("short", "1712345000123"), None);
        assert_eq!(obfuscate_api_key("AbCdEfGhIjKl", "12345"), None);
        assert_eq!(obfuscate_api_key("AbCdEfGhIjKl", "17123450001x3"), None);
        assert_eq!(obfuscate_api_key("AbCdEfGhIjKl", "-712345000123"), None);
        assert_eq!(
            obfuscate_api_key("ÄbCdEfGhIjKl", "1712345000123").as_deref(),
            Some("ÄÄÄbCdCCCCId")
        );
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(!constant_time_eq("", "a"));
        assert!(constant_time_eq("", ""));
    }

    #[test]
    fn cookie_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(session_id_from_headers(&h), None);
        h.append(
            COOKIE,
            HeaderValue::from_static("a=b; JSESSIONID=ABC123; c=d"),
        );
        assert_eq!(session_id_from_headers(&h).as_deref(), Some("ABC123"));
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("x=y"));
        h.append(COOKIE, HeaderValue::from_static("JSESSIONID=Z"));
        assert_eq!(session_id_from_headers(&h).as_deref(), Some("Z"));
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("JSESSIONID="));
        assert_eq!(session_id_from_headers(&h), None);
    }
}
