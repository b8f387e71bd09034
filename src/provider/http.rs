//! The one HTTP client every backend talks through, so that what must hold for all of them
//! holds in one place: rustls, the connection's timeouts, the product's user agent, and no
//! redirects — a redirect can carry the bearer token, the session cookie or the OneAPI client
//! credentials to a host they were never meant for, and no Zscaler API answers a request
//! with one.

use std::time::Duration;

use super::ProviderError;

/// Longest wait for a TCP and TLS connection, whatever the request timeout: a tenant that does
/// not accept a connection within this will not accept it later.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client whose every request ends within `timeout` and never follows a redirect (a 3xx is
/// answered to the caller as it came).
pub fn client(timeout: Duration) -> Result<reqwest::Client, ProviderError> {
    // reqwest is built with `rustls-no-provider`: a process-wide provider must exist.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
        .user_agent(concat!("zscaler-lifecycle-mcp/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ProviderError::Config {
            message: format!("cannot build HTTP client: {e}"),
        })
}

/// Characters an id may keep as they are in a URL path: RFC 3986's unreserved set.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An id as one URL path segment. Ids are opaque tenant data, so anything but unreserved
/// characters is percent-encoded rather than trusted: an id can never add a path segment or a
/// query to the request it names.
pub fn path_segment(id: &str) -> Result<String, ProviderError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(ProviderError::Invalid {
            message: "empty id".into(),
        });
    }
    Ok(percent_encoding::utf8_percent_encode(id, UNRESERVED).to_string())
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn ids_are_one_segment_whatever_they_hold() {
        assert_eq!(path_segment(" a-b.c_d~9 ").expect("plain"), "a-b.c_d~9");
        assert_eq!(path_segment("../x?y#z").expect("encoded"), "..%2Fx%3Fy%23z");
        assert_eq!(path_segment("é").expect("utf-8"), "%C3%A9");
        assert!(path_segment("  ").is_err());
    }
}
