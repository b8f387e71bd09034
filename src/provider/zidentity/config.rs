//! Building a ZIdentity connection from its `[connections.NAME]` table: where the API lives
//! (from `vanity_domain` and `cloud`, or `base_url`), where tokens come from, and the SDKs'
//! `ZSCALER_VANITY_DOMAIN` / `ZSCALER_CLOUD` variables as defaults.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{MAX_PAGE, ZidentityConfig, ZidentityLimits, ZidentityProvider};
use crate::config::{ConnectionConfig, RateLimits};
use crate::provider::Provider;
use crate::provider::oneapi::{self, OneApiCredential, OneApiCredentials};
use crate::provider::registry::{Backend, BuildError, Context, KeyProblem, Template};

/// `kind = "zidentity"`.
pub static BACKEND: Backend = Backend {
    kind: "zidentity",
    title: "ZIdentity",
    stages_writes: false,
    about: "ZIdentity admin API (users and groups), OneAPI client credentials; `vanity_domain` and\n`cloud` default to `ZSCALER_VANITY_DOMAIN` / `ZSCALER_CLOUD`.",
    check,
    schema,
    build,
    from_env: None,
    templates: &[Template {
        name: "zidentity",
        help: "ZIdentity (users and groups of tenants migrated to ZIdentity), OneAPI",
        text: r#"[connections.zidentity]
kind = "zidentity"                             # ZIdentity admin API: users and groups (OneAPI)
vanity_domain = "acme"                         # acme.zslogin.net; default ZSCALER_VANITY_DOMAIN
cloud = "production"                           # production, beta, gov, govus; default ZSCALER_CLOUD
client_id = { env = "ZSCALER_CLIENT_ID" }
client_secret = { env = "ZSCALER_CLIENT_SECRET" }
# private_key = { file = "/run/secrets/oneapi_key.pem" }  # RSA key instead of the secret
registered_domains = ["example.com"]
rate_limits = true                             # pace to the announced 150 requests/s and 10,000/min

"#,
        env: &["ZSCALER_CLIENT_ID", "ZSCALER_CLIENT_SECRET"],
    }],
};

/// `vanity_domain` may come from `ZSCALER_VANITY_DOMAIN`: that is checked when the connection
/// is built.
fn check(c: &ConnectionConfig, out: &mut Vec<KeyProblem>) {
    if matches!(c.rate_limits, RateLimits::Budget(_)) {
        out.push(KeyProblem::at(
            "rate_limits",
            "a ZIdentity connection takes rate_limits = true (pace to the announced 150/s and 10,000/min) or false, not a table of ZIA figures",
        ));
    }
}

fn schema() -> Vec<Value> {
    vec![json!({
        "if": {"properties": {"kind": {"const": "zidentity"}}},
        "then": {"properties": {"rate_limits": {"type": "boolean"}}}
    })]
}

fn build(c: &ConnectionConfig, cx: &Context<'_>) -> Result<Arc<dyn Provider>, BuildError> {
    let cfg = from_connection(c, oneapi::credential(c)?, cx.env).map_err(BuildError::Whole)?;
    Ok(Arc::new(ZidentityProvider::new(cfg)?))
}

/// The admin API on a vanity domain's admin host, as the Go SDK builds it:
/// `https://{vanity}-admin.zslogin.net/admin/api/v1` in production,
/// `https://{vanity}-admin.zslogin{cloud}.net/...` elsewhere; for `gov`/`govus` the host
/// follows the token endpoint's (`zidentitygov.net` / `.us`), which no SDK shows (an open
/// question in docs/ZIDENTITY.md).
pub fn admin_api_url(vanity: &str, cloud: &str) -> String {
    let vanity = vanity.trim();
    let host = match cloud.trim().to_ascii_lowercase().as_str() {
        "" | "production" => format!("{vanity}-admin.zslogin.net"),
        "gov" => format!("{vanity}-admin.zidentitygov.net"),
        "govus" => format!("{vanity}-admin.zidentitygov.us"),
        other => format!("{vanity}-admin.zslogin{other}.net"),
    };
    format!("https://{host}/admin/api/v1")
}

/// The API root for a configured `base_url`: used as given when it already ends in
/// `/admin/api/v1`; `…/ziam` (the OneAPI gateway) and a bare host get `/admin/api/v1`.
pub fn api_root(base_url: &str) -> String {
    let b = base_url.trim().trim_end_matches('/');
    if b.ends_with("/admin/api/v1") {
        b.to_string()
    } else {
        format!("{b}/admin/api/v1")
    }
}

/// The connection's settings; `credential` is the client secret or private key, resolved by the
/// caller; `env` looks up the SDKs' variables (the process environment in production).
pub fn from_connection(
    c: &ConnectionConfig,
    credential: OneApiCredential,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ZidentityConfig, String> {
    let var = |n: &str| {
        env(n)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let vanity = c
        .vanity_domain
        .clone()
        .or_else(|| var("ZSCALER_VANITY_DOMAIN"));
    let cloud = c
        .cloud
        .clone()
        .or_else(|| var("ZSCALER_CLOUD"))
        .unwrap_or_default();
    let api_url = match (&c.base_url, &vanity) {
        (Some(b), _) => api_root(b),
        (None, Some(v)) => admin_api_url(v, &cloud),
        (None, None) => {
            return Err(
                "set vanity_domain (the ZIdentity vanity domain, e.g. \"acme\" for acme.zslogin.net) or ZSCALER_VANITY_DOMAIN, or base_url".into(),
            );
        }
    };
    let token_url = match (&c.token_url, &vanity) {
        (Some(t), _) => t.trim().to_string(),
        (None, Some(v)) => oneapi::token_url(v, &cloud),
        (None, None) => {
            return Err(
                "set vanity_domain or ZSCALER_VANITY_DOMAIN (tokens come from {vanity}.zslogin.net), or token_url".into(),
            );
        }
    };
    let client_id = c.client_id.resolve("client_id")?;
    Ok(ZidentityConfig {
        api_url,
        credentials: OneApiCredentials {
            token_url,
            client_id,
            credential,
        },
        timeout: Duration::from_secs(c.timeout_secs.max(1)),
        rate_limits: c.rate_limits.enabled().then(ZidentityLimits::announced),
        page_size: MAX_PAGE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::secret::Secret;
    use std::path::Path;

    #[test]
    fn urls_per_cloud_and_base_url_forms() {
        assert_eq!(
            admin_api_url("acme", ""),
            "https://acme-admin.zslogin.net/admin/api/v1"
        );
        assert_eq!(
            admin_api_url("acme", "BETA"),
            "https://acme-admin.zsloginbeta.net/admin/api/v1"
        );
        assert_eq!(
            admin_api_url("acme", "govus"),
            "https://acme-admin.zidentitygov.us/admin/api/v1"
        );
        assert_eq!(
            api_root("https://api.zsapi.net/ziam/"),
            "https://api.zsapi.net/ziam/admin/api/v1"
        );
        assert_eq!(
            api_root("https://acme-admin.zslogin.net/admin/api/v1"),
            "https://acme-admin.zslogin.net/admin/api/v1"
        );
        assert_eq!(
            api_root("http://127.0.0.1:9"),
            "http://127.0.0.1:9/admin/api/v1"
        );
    }

    #[test]
    fn vanity_and_cloud_default_to_the_sdk_variables() {
        let c = Config::parse(
            "[connections.z]\nkind = \"zidentity\"\nclient_id = { value = \"id\" }\n",
            Path::new("t"),
        )
        .expect("valid");
        let conn = &c.connections["z"];
        let secret = || OneApiCredential::ClientSecret(Secret::new("s"));
        let err = from_connection(conn, secret(), |_| None)
            .err()
            .expect("no vanity");
        assert!(err.contains("ZSCALER_VANITY_DOMAIN"), "{err}");
        let env = |n: &str| match n {
            "ZSCALER_VANITY_DOMAIN" => Some("acme".to_string()),
            "ZSCALER_CLOUD" => Some("beta".to_string()),
            _ => None,
        };
        let cfg = from_connection(conn, secret(), env).expect("from env");
        assert_eq!(
            cfg.api_url,
            "https://acme-admin.zsloginbeta.net/admin/api/v1"
        );
        assert_eq!(
            cfg.credentials.token_url,
            "https://acme.zsloginbeta.net/oauth2/v1/token"
        );
        assert_eq!(cfg.rate_limits, Some(ZidentityLimits::announced()));
        assert_eq!(cfg.page_size, MAX_PAGE);
    }
}
