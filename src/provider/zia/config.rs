//! A native ZIA connection from its `[connections.NAME]` table: the rules the table must meet,
//! how the provider is built from it (legacy session or OneAPI), the SDKs' `ZIA_*` and
//! `ZSCALER_*` variables when there is no config file, and the blocks `init` writes.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{CLOUDS, ZiaAuth, ZiaConfig, ZiaProvider, cloud_base_url};
use crate::config::{ConnectionConfig, ZiaAuthKind};
use crate::provider::Provider;
use crate::provider::oneapi;
use crate::provider::registry::{Backend, BuildError, Context, KeyProblem, Template};

/// `kind = "zia"`.
pub static BACKEND: Backend = Backend {
    kind: "zia",
    title: "ZIA native API",
    stages_writes: true,
    about: "Native ZIA API with the legacy API-key session login (or OneAPI, with auth = \"oneapi\").",
    check,
    schema,
    build,
    from_env: Some(from_env),
    templates: &[
        Template {
            name: "zia",
            help: "Native ZIA with the legacy API-key login",
            text: ZIA,
            env: &["ZIA_USERNAME", "ZIA_PASSWORD", "ZIA_API_KEY"],
        },
        Template {
            name: "oneapi",
            help: "Native ZIA through OneAPI (tenants migrated to ZIdentity)",
            text: ONEAPI,
            env: &["ZSCALER_CLIENT_ID", "ZSCALER_CLIENT_SECRET"],
        },
    ],
};

const ZIA: &str = r#"[connections.zia-prod]
kind = "zia"                                   # native ZIA API, legacy API-key session login
cloud = "zscalertwo"                           # zscaler, zscalerone, zscalertwo, zscalerthree, zscloud, zscalerbeta, zscalergov, zscalerten, zspreview
# base_url = "https://zsapi.zscalertwo.net"    # instead of cloud, for a non-standard tenant
username = { env = "ZIA_USERNAME" }
password = { env = "ZIA_PASSWORD" }
api_key = { env = "ZIA_API_KEY" }              # Administration > API Key Management
registered_domains = ["example.com"]           # the tenant's domains; lets the audit flag external accounts
rate_limits = true                             # pace to ZIA's published limits

"#;

const ONEAPI: &str = r#"[connections.zia-oneapi]
kind = "zia"
auth = "oneapi"                                # ZIdentity OAuth2 client credentials (migrated tenants)
vanity_domain = "acme"                         # acme.zslogin.net
cloud = "production"                           # OneAPI cloud: production, beta, gov, govus
client_id = { env = "ZSCALER_CLIENT_ID" }
client_secret = { env = "ZSCALER_CLIENT_SECRET" }
registered_domains = ["example.com"]
rate_limits = true

"#;

fn check(c: &ConnectionConfig, out: &mut Vec<KeyProblem>) {
    if c.auth == ZiaAuthKind::Oneapi {
        if c.vanity_domain.is_none() && c.token_url.is_none() {
            out.push(KeyProblem::at(
                "auth",
                "auth = \"oneapi\" needs vanity_domain (the ZIdentity vanity domain, e.g. \"acme\") or token_url",
            ));
        }
        if let Some(cloud) = &c.cloud
            && let Err(why) = oneapi_cloud(cloud)
        {
            out.push(KeyProblem::at("cloud", why));
        }
    } else {
        if c.cloud.is_none() && c.base_url.is_none() {
            out.push(KeyProblem::at(
                "kind",
                "kind = \"zia\" needs cloud (e.g. \"zscalertwo\") or base_url",
            ));
        }
        if let (Some(cloud), None) = (&c.cloud, &c.base_url)
            && cloud_base_url(cloud).is_none()
        {
            out.push(KeyProblem::at(
                "cloud",
                format!(
                    "unknown cloud '{cloud}'; use one of {}, or set base_url",
                    CLOUDS.join(", ")
                ),
            ));
        }
    }
    if c.session_timeout_secs == 0 {
        out.push(KeyProblem::at(
            "session_timeout_secs",
            "must be at least 1 (the tenant's API Session Timeout Duration, 300 to 1200)",
        ));
    }
}

/// A OneAPI cloud names a ZIdentity cloud (`production`, `beta`, `gov`, `govus`), which goes
/// into host names; a legacy ZIA cloud name there is a common slip.
fn oneapi_cloud(cloud: &str) -> Result<(), String> {
    let c = cloud.trim();
    if cloud_base_url(c).is_some() {
        return Err(format!(
            "'{cloud}' is a legacy ZIA cloud, not a OneAPI cloud: with auth = \"oneapi\" use production (the default), beta, gov or govus — or auth = \"session\" for the legacy login"
        ));
    }
    if c.is_empty() || !c.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        return Err(format!(
            "unknown OneAPI cloud '{cloud}'; use production (the default), beta, gov or govus"
        ));
    }
    Ok(())
}

/// A regular expression matching `word` in any letter case (JSON Schema patterns have no
/// case-insensitive flag; the parser compares clouds case-insensitively).
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn schema() -> Vec<Value> {
    let legacy_cloud = format!("^\\s*({})\\s*$", CLOUDS.map(any_case).join("|"));
    vec![
        json!({
            "if": {"properties": {"kind": {"const": "zia"}, "auth": {"not": {"const": "oneapi"}}}},
            "then": {"anyOf": [{"required": ["cloud"]}, {"required": ["base_url"]}]}
        }),
        json!({
            "if": {
                "properties": {"kind": {"const": "zia"}, "auth": {"not": {"const": "oneapi"}}},
                "not": {"required": ["base_url"]}
            },
            "then": {"properties": {"cloud": {"pattern": legacy_cloud}}}
        }),
        json!({
            "if": {"properties": {"kind": {"const": "zia"}, "auth": {"const": "oneapi"}}, "required": ["auth"]},
            "then": {"properties": {"cloud": {
                "pattern": "^\\s*[A-Za-z0-9]+\\s*$",
                "not": {"pattern": legacy_cloud}
            }}}
        }),
        json!({
            "if": {"properties": {"kind": {"const": "zia"}, "auth": {"const": "oneapi"}}, "required": ["auth"]},
            "then": {"anyOf": [{"required": ["vanity_domain"]}, {"required": ["token_url"]}]}
        }),
        json!({
            "if": {"properties": {"kind": {"const": "zia"}}, "required": ["session_timeout_secs"]},
            "then": {"properties": {"session_timeout_secs": {"minimum": 1}}}
        }),
    ]
}

/// The connection's settings (legacy session or OneAPI) and the key that names its tenant in
/// a shared rate budget: the API base for a session, the token endpoint for OneAPI (whose
/// gateway every tenant shares).
fn settings(c: &ConnectionConfig) -> Result<(ZiaConfig, String), BuildError> {
    let timeout = Duration::from_secs(c.timeout_secs.max(1));
    let session_timeout = Duration::from_secs(c.session_timeout_secs.max(1));
    if c.auth == ZiaAuthKind::Oneapi {
        let cloud = c.cloud.clone().unwrap_or_default();
        let token_url = match (&c.token_url, &c.vanity_domain) {
            (Some(url), _) => url.clone(),
            (None, Some(vanity)) => oneapi::token_url(vanity, &cloud),
            (None, None) => return Err(BuildError::at("auth", "set vanity_domain or token_url")),
        };
        let cfg = ZiaConfig {
            base_url: c
                .base_url
                .clone()
                .unwrap_or_else(|| oneapi::gateway_url(&cloud)),
            auth: ZiaAuth::OneApi(oneapi::OneApiCredentials {
                token_url: token_url.clone(),
                client_id: c
                    .client_id
                    .read()
                    .map_err(|e| BuildError::at("client_id", e))?,
                credential: oneapi::credential(c)?,
            }),
            timeout,
            rate_limits: c.rate_limits.budget(),
            session_timeout,
        };
        return Ok((cfg, token_url));
    }
    let base_url = match (&c.base_url, &c.cloud) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(cloud)) => cloud_base_url(cloud).ok_or_else(|| {
            BuildError::at(
                "cloud",
                format!(
                    "unknown cloud '{cloud}'; use one of {}, or set base_url",
                    CLOUDS.join(", ")
                ),
            )
        })?,
        (None, None) => return Err(BuildError::at("kind", "set cloud or base_url")),
    };
    let cfg = ZiaConfig {
        base_url: base_url.clone(),
        auth: ZiaAuth::Session {
            username: c
                .username
                .read()
                .map_err(|e| BuildError::at("username", e))?
                .expose()
                .to_string(),
            password: c
                .password
                .read()
                .map_err(|e| BuildError::at("password", e))?,
            api_key: c.api_key.read().map_err(|e| BuildError::at("api_key", e))?,
        },
        timeout,
        rate_limits: c.rate_limits.budget(),
        session_timeout,
    };
    Ok((cfg, base_url))
}

fn build(c: &ConnectionConfig, cx: &Context<'_>) -> Result<Arc<dyn Provider>, BuildError> {
    let (cfg, tenant) = settings(c)?;
    let provider = ZiaProvider::new(cfg)?.with_cache_ttl(Duration::from_secs(c.cache_ttl_secs));
    Ok(Arc::new(match cx.shared {
        Some(s) => provider
            .with_shared_state(s.clone(), &tenant)
            .with_replicas(cx.replicas),
        None => provider,
    }))
}

/// The connection `zia` from the official SDKs' variables: OneAPI when `ZSCALER_CLIENT_ID` and
/// `ZSCALER_VANITY_DOMAIN` are set (secret from `ZSCALER_CLIENT_SECRET`, or else a private key
/// from `ZSCALER_PRIVATE_KEY`; cloud from `ZSCALER_CLOUD`) and `ZSCALER_USE_LEGACY_CLIENT` is
/// not true, else the legacy login when `ZIA_CLOUD` or `ZIA_BASE_URL` is set (credentials from
/// `ZIA_USERNAME`, `ZIA_PASSWORD` and `ZIA_API_KEY`).
fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let var = |n: &str| {
        lookup(n)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let quote = |v: &str| serde_json::Value::from(v).to_string();
    let domains = || {
        var("ZIA_REGISTERED_DOMAINS").map(|d| {
            let list: Vec<String> = d.split(',').map(|x| quote(x.trim())).collect();
            format!("registered_domains = [{}]\n", list.join(", "))
        })
    };
    // OneAPI, as the official SDKs read it: client credentials plus the vanity domain.
    let vanity = var("ZSCALER_VANITY_DOMAIN");
    // The SDKs' switch back to the legacy session login, whatever OneAPI variables are set.
    let legacy = var("ZSCALER_USE_LEGACY_CLIENT")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    if let (false, Some(v), Some(_)) = (legacy, &vanity, var("ZSCALER_CLIENT_ID")) {
        let mut text = format!(
            "[connections.zia]\nkind = \"zia\"\nauth = \"oneapi\"\nvanity_domain = {}\n",
            quote(v)
        );
        // A private key instead of a secret, as the SDKs read it.
        if var("ZSCALER_CLIENT_SECRET").is_none() && var("ZSCALER_PRIVATE_KEY").is_some() {
            text.push_str("private_key = { env = \"ZSCALER_PRIVATE_KEY\" }\n");
        }
        if let Some(c) = var("ZSCALER_CLOUD") {
            text.push_str(&format!("cloud = {}\n", quote(&c)));
        }
        text.push_str(&domains().unwrap_or_default());
        return Some(text);
    }
    let (cloud, base_url) = (var("ZIA_CLOUD"), var("ZIA_BASE_URL"));
    let mut text = String::from("[connections.zia]\nkind = \"zia\"\n");
    if let Some(u) = &base_url {
        text.push_str(&format!("base_url = {}\n", quote(u)));
    } else if let Some(c) = &cloud {
        text.push_str(&format!("cloud = {}\n", quote(c)));
    } else {
        return None;
    }
    text.push_str(&domains().unwrap_or_default());
    Some(text)
}
