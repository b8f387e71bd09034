//! Zscaler OneAPI tokens: OAuth2 client credentials (a client secret or a private-key JWT
//! assertion) exchanged at the ZIdentity token endpoint for a bearer token. Shared by the
//! native ZIA adapter (the API gateway's `/zia/api/v1`, for tenants migrated to ZIdentity) and
//! the ZIdentity admin API adapter.

use std::time::Duration;

use reqwest::header;
use serde::Deserialize;

use crate::provider::ProviderError;
use crate::provider::retry::without_url;
use crate::secret::Secret;

/// The audience every OneAPI token is requested for.
const AUDIENCE: &str = "https://api.zscaler.com";
/// Used when the token answer has no `expires_in` (as the Python SDK does).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Renew this long before the token expires (as the Go SDK does).
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// RFC 7523 client assertion type, as the SDKs send with a private key.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of a client assertion (the SDKs use 10 minutes).
const ASSERTION_SECONDS: u64 = 600;

/// How a OneAPI client proves itself to ZIdentity.
#[derive(Clone)]
pub enum OneApiCredential {
    /// The client secret (`ZSCALER_CLIENT_SECRET`).
    ClientSecret(Secret),
    /// An RSA private key in PEM (`ZSCALER_PRIVATE_KEY`), whose public half is registered
    /// with the client in ZIdentity: each token request carries a fresh RS256 assertion
    /// signed with it, so no shared secret travels.
    PrivateKey(Secret),
}

/// Client credentials of one OneAPI client.
#[derive(Clone)]
pub struct OneApiCredentials {
    pub token_url: String,
    pub client_id: Secret,
    pub credential: OneApiCredential,
}

#[derive(serde::Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

/// A signed RFC 7523 client assertion: `iss = sub = client_id`, `aud` the OneAPI audience,
/// valid for 10 minutes, with a random `jti` so that no two are alike.
pub fn client_assertion(
    client_id: &str,
    private_key_pem: &Secret,
) -> Result<String, ProviderError> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes())
        .map_err(|e| ProviderError::Auth {
            message: format!(
                "the OneAPI private key is not a usable RSA key in PEM form ({e}); give the PEM text or a path to it"
            ),
        })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = AssertionClaims {
        iss: client_id,
        sub: client_id,
        aud: AUDIENCE,
        iat: now,
        exp: now + ASSERTION_SECONDS,
        jti: hex::encode(rand::random::<[u8; 16]>()),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(|e| ProviderError::Auth {
        message: format!("cannot sign the OneAPI client assertion: {e}"),
    })
}

impl std::fmt::Debug for OneApiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneApiCredentials")
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// The ZIdentity token endpoint for a vanity domain and OneAPI cloud (empty or `production` for
/// the production cloud; `beta`, …; `gov` and `govus` for FedRAMP).
pub fn token_url(vanity: &str, cloud: &str) -> String {
    let vanity = vanity.trim();
    match cloud.trim().to_ascii_lowercase().as_str() {
        "" | "production" => format!("https://{vanity}.zslogin.net/oauth2/v1/token"),
        "gov" => format!("https://{vanity}.zidentitygov.net/oauth2/v1/token"),
        "govus" => format!("https://{vanity}.zidentitygov.us/oauth2/v1/token"),
        other => format!("https://{vanity}.zslogin{other}.net/oauth2/v1/token"),
    }
}

/// The API gateway for a OneAPI cloud; the ZIA API lives under `/zia/api/v1` of it.
pub fn gateway_url(cloud: &str) -> String {
    match cloud.trim().to_ascii_lowercase().as_str() {
        "" | "production" => "https://api.zsapi.net".into(),
        "gov" => "https://api.zscalergov.net".into(),
        "govus" => "https://api.zscalergov.us".into(),
        other => format!("https://api.{other}.zsapi.net"),
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    /// A number, or a number in a string.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Asks ZIdentity for a token; returns it with how long to use it before renewing. `http` is
/// the connection's client from [`crate::provider::http::client`], which never follows a
/// redirect: one would carry the client secret or assertion elsewhere.
pub async fn fetch_token(
    http: &reqwest::Client,
    creds: &OneApiCredentials,
) -> Result<(Secret, Duration), ProviderError> {
    // The serializer is not Send: build the body before any await.
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials")
            .append_pair("client_id", creds.client_id.expose());
        match &creds.credential {
            OneApiCredential::ClientSecret(secret) => {
                form.append_pair("client_secret", secret.expose());
            }
            OneApiCredential::PrivateKey(pem) => {
                let assertion = client_assertion(creds.client_id.expose(), pem)?;
                form.append_pair("client_assertion_type", JWT_BEARER)
                    .append_pair("client_assertion", &assertion);
            }
        }
        form.append_pair("audience", AUDIENCE).finish()
    };
    let resp = http
        .post(&creds.token_url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| ProviderError::Transport {
            message: format!("OneAPI token request failed: {}", without_url(&e)),
        })?;
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap_or_default();
    if !status.is_success() {
        // The body may echo the request; never surface more than the status and a short text.
        let text: String = String::from_utf8_lossy(&bytes)
            .chars()
            .filter(|c| !c.is_control())
            .take(160)
            .collect();
        return Err(ProviderError::Auth {
            message: format!(
                "ZIdentity refused the OneAPI client credentials (HTTP {}{}): {text}",
                status.as_u16(),
                match creds.credential {
                    OneApiCredential::ClientSecret(_) => ", client secret",
                    OneApiCredential::PrivateKey(_) =>
                        ", private-key assertion: is this key's public half registered with the client?",
                }
            ),
        });
    }
    parse_token_answer(&bytes)
}

/// A successful token answer: the token and how long to use it before renewing.
pub fn parse_token_answer(bytes: &[u8]) -> Result<(Secret, Duration), ProviderError> {
    let answer: TokenAnswer = serde_json::from_slice(bytes).map_err(|e| ProviderError::Auth {
        message: format!("OneAPI token answer is not the expected JSON: {e}"),
    })?;
    let token = answer
        .access_token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ProviderError::Auth {
            message: "OneAPI token answer has no access_token".into(),
        })?;
    let lifetime = answer
        .expires_in
        .and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_LIFETIME);
    Ok((Secret::new(token), lifetime.saturating_sub(RENEW_BEFORE)))
}

/// A OneAPI connection's proof, read from its table: its private key when one is configured
/// (`private_key`, PEM text or a path to it), else its client secret.
pub fn credential(
    c: &crate::config::ConnectionConfig,
) -> Result<OneApiCredential, crate::provider::registry::BuildError> {
    use crate::provider::registry::BuildError;
    Ok(match &c.private_key {
        Some(r) => OneApiCredential::PrivateKey(
            private_key_pem(r.read().map_err(|e| BuildError::at("private_key", e))?)
                .map_err(|e| BuildError::at("private_key", e))?,
        ),
        None => OneApiCredential::ClientSecret(
            c.client_secret
                .read()
                .map_err(|e| BuildError::at("client_secret", e))?,
        ),
    })
}

/// The PEM text of a OneAPI private key given as the text itself (as `ZSCALER_PRIVATE_KEY`
/// may hold it) or as a path to it.
fn private_key_pem(value: Secret) -> Result<Secret, String> {
    let v = value.expose().trim();
    if v.starts_with("-----BEGIN") {
        // Environment variables often carry the newlines escaped.
        return Ok(Secret::new(v.replace("\\n", "\n")));
    }
    std::fs::read_to_string(v)
        .map(Secret::new)
        .map_err(|e| format!("private_key: neither PEM text nor a readable key file ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_per_cloud() {
        assert_eq!(
            token_url("acme", ""),
            "https://acme.zslogin.net/oauth2/v1/token"
        );
        assert_eq!(
            token_url("acme", "beta"),
            "https://acme.zsloginbeta.net/oauth2/v1/token"
        );
        assert_eq!(
            token_url("acme", "GOV"),
            "https://acme.zidentitygov.net/oauth2/v1/token"
        );
        assert_eq!(
            token_url("acme", "govus"),
            "https://acme.zidentitygov.us/oauth2/v1/token"
        );
        assert_eq!(gateway_url("production"), "https://api.zsapi.net");
        assert_eq!(gateway_url("beta"), "https://api.beta.zsapi.net");
        assert_eq!(gateway_url("govus"), "https://api.zscalergov.us");
    }

    #[test]
    fn credentials_are_redacted() {
        let c = OneApiCredentials {
            token_url: "https://x".into(),
            client_id: Secret::new("id-123"),
            credential: OneApiCredential::ClientSecret(Secret::new("very-secret")),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("very-secret") && !d.contains("id-123"), "{d}");
        let k = OneApiCredentials {
            credential: OneApiCredential::PrivateKey(Secret::new("-----BEGIN PRIVATE KEY-----abc")),
            ..c
        };
        let d = format!("{k:?}");
        assert!(!d.contains("PRIVATE KEY") && !d.contains("abc"), "{d}");
    }

    proptest::proptest! {
        #[test]
        fn token_answers_never_panic(v in crate::provider::arbitrary::json(), bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128)) {
            let _ = parse_token_answer(&serde_json::to_vec(&v).expect("serialize"));
            let _ = parse_token_answer(&bytes);
        }

        #[test]
        fn lifetimes_in_numbers_or_strings_renew_early(secs in 0u64..1_000_000, quoted in proptest::prelude::any::<bool>()) {
            let e = if quoted { serde_json::json!(secs.to_string()) } else { serde_json::json!(secs) };
            let body = serde_json::json!({"access_token": "t", "expires_in": e});
            let (t, life) = parse_token_answer(&serde_json::to_vec(&body).expect("json")).expect("valid");
            proptest::prop_assert_eq!(t.expose(), "t");
            proptest::prop_assert_eq!(life, Duration::from_secs(secs).saturating_sub(RENEW_BEFORE));
        }
    }

    #[test]
    fn a_bad_private_key_is_a_clear_error_without_the_key() {
        let pem =
            Secret::new("-----BEGIN PRIVATE KEY-----\nnot-base64!!\n-----END PRIVATE KEY-----");
        match client_assertion("client", &pem) {
            Err(ProviderError::Auth { message }) => {
                assert!(message.contains("not a usable RSA key"), "{message}");
                assert!(!message.contains("not-base64"), "{message}");
            }
            other => panic!("expected an auth error, got {other:?}"),
        }
    }

    #[test]
    fn a_private_key_is_pem_text_or_a_file() {
        let pem = "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----";
        let got = private_key_pem(Secret::new(pem)).expect("pem");
        assert!(
            got.expose().contains("\nAAAA\n"),
            "escaped newlines restored"
        );
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("k.pem");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nBBBB\n").expect("write");
        let got = private_key_pem(Secret::new(path.display().to_string())).expect("file");
        assert!(got.expose().contains("BBBB"));
        let err = private_key_pem(Secret::new("/nonexistent/k.pem")).expect_err("missing file");
        assert!(
            err.contains("neither PEM text nor a readable key file"),
            "{err}"
        );
    }
}
