//! A SCIM connection (ZIA or ZPA) from its `[connections.NAME]` table: the rules the table must
//! meet, how the provider is built from it, `ZPA_SCIM_URL` when there is no config file, and
//! the blocks `init` writes.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{ScimConfig, ScimFlavor, ScimProvider};
use crate::config::{ConnectionConfig, env_ref};
use crate::provider::Provider;
use crate::provider::registry::{Backend, BuildError, Context, KeyProblem, Template};

/// `kind = "zia-scim"`.
pub static ZIA_SCIM: Backend = Backend {
    kind: "zia-scim",
    title: "ZIA SCIM",
    stages_writes: false,
    about: "ZIA SCIM 2.0 endpoint (bearer token; `base_url` copied from the admin portal).",
    check,
    schema: || schema("zia-scim"),
    build: |c, cx| build(c, cx, ScimFlavor::Zia),
    from_env: None,
    templates: &[Template {
        name: "zia-scim",
        help: "ZIA SCIM 2.0",
        text: r#"[connections.zia-scim]
kind = "zia-scim"                              # the SCIM endpoint exactly as the admin portal shows it
base_url = "https://scim.zscalertwo.net/00000000/00000/scim"
token = { env = "ZIA_SCIM_API_TOKEN" }
requests_per_second = 5                        # Zscaler's SCIM limit
patch = "auto"                                 # auto | patch | put

"#,
        env: &[ZIA_TOKEN_ENV],
    }],
};

/// `kind = "zpa-scim"`.
pub static ZPA_SCIM: Backend = Backend {
    kind: "zpa-scim",
    title: "ZPA SCIM",
    stages_writes: false,
    about: "ZPA SCIM 2.0 endpoint (bearer token per IdP; `base_url` copied from the admin portal).",
    check,
    schema: || schema("zpa-scim"),
    build: |c, cx| build(c, cx, ScimFlavor::Zpa),
    from_env: Some(zpa_from_env),
    templates: &[Template {
        name: "zpa-scim",
        help: "ZPA SCIM 2.0",
        text: r#"[connections.zpa]
kind = "zpa-scim"                              # IdP Configuration > SCIM Service Provider Endpoint
base_url = "https://scim1.private.zscaler.com/scim/1/000000000000000000/v2"
token = { env = "ZPA_SCIM_TOKEN" }

"#,
        env: &[ZPA_TOKEN_ENV],
    }],
};

/// Where the official SDKs read a SCIM token from, per flavour.
const ZIA_TOKEN_ENV: &str = "ZIA_SCIM_API_TOKEN";
const ZPA_TOKEN_ENV: &str = "ZPA_SCIM_TOKEN";

fn check(c: &ConnectionConfig, out: &mut Vec<KeyProblem>) {
    if c.base_url.is_none() {
        out.push(KeyProblem::at(
            "kind",
            "SCIM connections need base_url: copy the SCIM endpoint from the admin portal (e.g. https://scim1.private.zscaler.com/scim/1/<idpId>/v2)",
        ));
    }
    if c.cloud.is_some() {
        out.push(KeyProblem::at(
            "cloud",
            "SCIM connections take base_url only, not cloud: endpoints differ per IdP",
        ));
    }
}

fn schema(kind: &str) -> Vec<Value> {
    vec![json!({
        "if": {"properties": {"kind": {"const": kind}}},
        "then": {
            "required": ["base_url"],
            "properties": {"base_url": {"pattern": "^\\s*https?://"}},
            "not": {"required": ["cloud"]}
        }
    })]
}

fn build(
    c: &ConnectionConfig,
    _: &Context<'_>,
    flavor: ScimFlavor,
) -> Result<Arc<dyn Provider>, BuildError> {
    let token_ref = c.token.clone().unwrap_or_else(|| {
        env_ref(match flavor {
            ScimFlavor::Zia => ZIA_TOKEN_ENV,
            ScimFlavor::Zpa => ZPA_TOKEN_ENV,
        })
    });
    let token = token_ref.read().map_err(|e| BuildError::at("token", e))?;
    let provider = ScimProvider::new(ScimConfig {
        flavor,
        base_url: c.base_url.clone().unwrap_or_default(),
        token,
        timeout: Duration::from_secs(c.timeout_secs.max(1)),
        requests_per_second: Some(c.requests_per_second).filter(|_| c.rate_limits.enabled()),
        patch: c.patch,
    })?
    .with_cache_ttl(Duration::from_secs(c.cache_ttl_secs));
    Ok(Arc::new(provider))
}

/// A connection `zpa` when `ZPA_SCIM_URL` is set (its token from `ZPA_SCIM_TOKEN`, the
/// connection's default).
fn zpa_from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    lookup("ZPA_SCIM_URL")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(|url| {
            format!(
                "[connections.zpa]\nkind = \"zpa-scim\"\nbase_url = {}\n",
                serde_json::Value::from(url)
            )
        })
}
