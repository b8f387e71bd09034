//! Building the running application from a config file, or from the embedded demo tenant.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConnectionKind, PolicyConfig, ZiaAuthKind, state_dir};
use crate::guard::journal::Journal;
use crate::guard::ledger::Ledger;
use crate::guard::policy::Policy;
use crate::guard::store::PlanStore;
use crate::ops::{App, Connection};
use crate::provider::oneapi;
use crate::provider::scim::{ScimConfig, ScimFlavor, ScimProvider};
use crate::provider::zia::{ZiaAuth, ZiaConfig, ZiaProvider, cloud_base_url};
use crate::sim::{Sim, SimOptions};

/// Why the application could not start; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("connection '{connection}': {message}")]
    Connection { connection: String, message: String },
    #[error("policy: {0}")]
    Policy(String),
    #[error(transparent)]
    Guard(#[from] crate::guard::GuardError),
    #[error("demo tenant: {0}")]
    Demo(String),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// The application plus whatever must live as long as it (the embedded simulator).
pub struct Running {
    pub app: Arc<App>,
    /// Present in demo mode; dropping it would take the demo tenant down.
    pub demo_sim: Option<Sim>,
}

/// The backends of every connection, before they are wrapped for the tools.
type Backends = BTreeMap<
    String,
    (
        Arc<dyn crate::provider::Provider>,
        Vec<String>,
        Option<String>,
    ),
>;

fn app(
    backends: Backends,
    policy: &PolicyConfig,
    config: Option<&Config>,
    demo: bool,
    shared: Option<crate::state::RedisState>,
) -> Result<App, SetupError> {
    // The policy's names, globs and caps were checked (with line numbers) by `Config::parse`.
    let dir = state_dir(config);
    let ledger = Ledger::new(&dir, shared.clone());
    let mut connections = BTreeMap::new();
    for (name, (provider, registered_domains, quarantine_group)) in backends {
        ledger.watch(&name, provider.clone());
        connections.insert(
            name.clone(),
            Connection {
                name,
                provider: crate::ops::Tenant::new(provider),
                registered_domains,
                quarantine_group,
            },
        );
    }
    Ok(App {
        connections,
        deletions: crate::guard::caps::DeletionBudget::new(
            &dir,
            shared.as_ref(),
            policy.max_deletions_per_hour,
        ),
        policy: Policy::new(policy).map_err(SetupError::Policy)?,
        plans: PlanStore::open_with(&dir, shared.as_ref())?.with_approvers(
            &crate::guard::approvers::Approvers::from_config(
                &config.map(|c| c.approvers.clone()).unwrap_or_default(),
            ),
        ),
        shared: shared.clone(),
        journal: Journal::for_config(config, &dir, shared.as_ref())?,
        ledger,
        state_dir: dir,
        demo,
        sources: config.map(|c| c.sources.clone()).unwrap_or_default(),
    })
}

/// Loads a config file and builds every connection (no network yet: logins are lazy).
pub fn from_config(path: &Path) -> Result<Running, SetupError> {
    build(Config::load(path)?)
}

/// A single connection `zia` from the official SDKs' environment variables, when there is no
/// config file (how an MCP bundle passes settings): OneAPI when `ZSCALER_CLIENT_ID` and
/// `ZSCALER_VANITY_DOMAIN` are set (secret from `ZSCALER_CLIENT_SECRET`, or else a private key
/// from `ZSCALER_PRIVATE_KEY`; cloud from `ZSCALER_CLOUD`) and `ZSCALER_USE_LEGACY_CLIENT` is
/// not true, else the legacy login when `ZIA_CLOUD` or `ZIA_BASE_URL` is set
/// (credentials from `ZIA_USERNAME`, `ZIA_PASSWORD` and `ZIA_API_KEY`); and a connection `zpa`
/// when `ZPA_SCIM_URL` is set (token from `ZPA_SCIM_TOKEN`).
pub fn from_env() -> Option<Result<Running, SetupError>> {
    let text = env_config_text(|n| std::env::var(n).ok())?;
    Some(
        Config::parse(&text, Path::new("(environment)"))
            .map_err(SetupError::from)
            .and_then(build),
    )
}

/// The configuration [`from_env`] builds, from a variable lookup (testable without touching
/// the process environment): the ZIA connection below, plus a ZPA SCIM connection `zpa` when
/// `ZPA_SCIM_URL` is set (its token from `ZPA_SCIM_TOKEN`, the connection's default). `None`
/// when no connection is described.
fn env_config_text(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    let zpa = lookup("ZPA_SCIM_URL")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(|url| {
            format!(
                "[connections.zpa]\nkind = \"zpa-scim\"\nbase_url = {}\n",
                serde_json::Value::from(url)
            )
        });
    match (zia_env_config_text(lookup), zpa) {
        (Some(zia), Some(zpa)) => Some(format!("{zia}\n{zpa}")),
        (zia, zpa) => zia.or(zpa),
    }
}

/// The ZIA connection `zia` from the official SDKs' variables (see [`from_env`]).
fn zia_env_config_text(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
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

/// The PEM text of a OneAPI private key given as the text itself (as `ZSCALER_PRIVATE_KEY`
/// may hold it) or as a path to it.
fn private_key_pem(value: crate::secret::Secret) -> Result<crate::secret::Secret, String> {
    let v = value.expose().trim();
    if v.starts_with("-----BEGIN") {
        // Environment variables often carry the newlines escaped.
        return Ok(crate::secret::Secret::new(v.replace("\\n", "\n")));
    }
    std::fs::read_to_string(v)
        .map(crate::secret::Secret::new)
        .map_err(|e| format!("private_key: neither PEM text nor a readable key file ({e})"))
}

/// A OneAPI connection's proof: its private key when one is configured, else its secret.
fn oneapi_credential(
    c: &crate::config::ConnectionConfig,
    at: &impl Fn(&str, String) -> SetupError,
) -> Result<oneapi::OneApiCredential, SetupError> {
    Ok(match &c.private_key {
        Some(r) => oneapi::OneApiCredential::PrivateKey(
            private_key_pem(r.read().map_err(|e| at("private_key", e))?)
                .map_err(|e| at("private_key", e))?,
        ),
        None => oneapi::OneApiCredential::ClientSecret(
            c.client_secret.read().map_err(|e| at("client_secret", e))?,
        ),
    })
}

/// A native ZIA connection's settings (legacy session or OneAPI) and the key that names its
/// tenant in a shared rate budget: the API base for a session, the token endpoint for OneAPI
/// (whose gateway every tenant shares).
///
/// `at(key, message)` makes the error for one key of the connection (with its line).
fn zia_config(
    c: &crate::config::ConnectionConfig,
    at: impl Fn(&str, String) -> SetupError,
) -> Result<(ZiaConfig, String), SetupError> {
    let timeout = Duration::from_secs(c.timeout_secs.max(1));
    let session_timeout = Duration::from_secs(c.session_timeout_secs.max(1));
    if c.auth == ZiaAuthKind::Oneapi {
        let cloud = c.cloud.clone().unwrap_or_default();
        let token_url = match (&c.token_url, &c.vanity_domain) {
            (Some(url), _) => url.clone(),
            (None, Some(vanity)) => oneapi::token_url(vanity, &cloud),
            (None, None) => return Err(at("auth", "set vanity_domain or token_url".into())),
        };
        let cfg = ZiaConfig {
            base_url: c
                .base_url
                .clone()
                .unwrap_or_else(|| oneapi::gateway_url(&cloud)),
            auth: ZiaAuth::OneApi(oneapi::OneApiCredentials {
                token_url: token_url.clone(),
                client_id: c.client_id.read().map_err(|e| at("client_id", e))?,
                credential: oneapi_credential(c, &at)?,
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
            at(
                "cloud",
                format!(
                    "unknown cloud '{cloud}'; use one of {}, or set base_url",
                    crate::provider::zia::CLOUDS.join(", ")
                ),
            )
        })?,
        (None, None) => return Err(at("kind", "set cloud or base_url".into())),
    };
    let cfg = ZiaConfig {
        base_url: base_url.clone(),
        auth: ZiaAuth::Session {
            username: c
                .username
                .read()
                .map_err(|e| at("username", e))?
                .expose()
                .to_string(),
            password: c.password.read().map_err(|e| at("password", e))?,
            api_key: c.api_key.read().map_err(|e| at("api_key", e))?,
        },
        timeout,
        rate_limits: c.rate_limits.budget(),
        session_timeout,
    };
    Ok((cfg, base_url))
}

fn build(config: Config) -> Result<Running, SetupError> {
    let shared = crate::state::from_config(&config.state)?;
    let mut connections = BTreeMap::new();
    for (name, c) in &config.connections {
        let err = |message: String| SetupError::Connection {
            connection: name.clone(),
            message,
        };
        // An error about one key of this connection, with the key's line in the file.
        let at = |field: &str, message: String| SetupError::Connection {
            connection: name.clone(),
            message: config.locate(&["connections", name, field], &message),
        };
        let provider: Arc<dyn crate::provider::Provider> = match c.kind {
            ConnectionKind::Zia => {
                let (cfg, tenant) = zia_config(c, at)?;
                let provider = ZiaProvider::new(cfg)
                    .map_err(|e| err(e.to_string()))?
                    .with_cache_ttl(Duration::from_secs(c.cache_ttl_secs));
                let provider = match &shared {
                    Some(s) => provider
                        .with_shared_state(s.clone(), &tenant)
                        .with_replicas(config.state.replicas),
                    None => provider,
                };
                Arc::new(provider)
            }
            kind @ (ConnectionKind::ZiaScim | ConnectionKind::ZpaScim) => {
                let token_ref = c
                    .token
                    .clone()
                    .unwrap_or_else(|| crate::config::env_ref(kind.default_token_env()));
                let token = token_ref.read().map_err(|e| at("token", e))?;
                let provider = ScimProvider::new(ScimConfig {
                    flavor: if kind == ConnectionKind::ZpaScim {
                        ScimFlavor::Zpa
                    } else {
                        ScimFlavor::Zia
                    },
                    base_url: c.base_url.clone().unwrap_or_default(),
                    token,
                    timeout: Duration::from_secs(c.timeout_secs.max(1)),
                    requests_per_second: Some(c.requests_per_second)
                        .filter(|_| c.rate_limits.enabled()),
                    patch: c.patch,
                })
                .map_err(|e| err(e.to_string()))?
                .with_cache_ttl(Duration::from_secs(c.cache_ttl_secs));
                Arc::new(provider)
            }
            ConnectionKind::Zidentity => {
                use crate::provider::zidentity::{ZidentityProvider, from_connection};
                let cfg = from_connection(c, oneapi_credential(c, &at)?, |n| std::env::var(n).ok())
                    .map_err(&err)?;
                Arc::new(ZidentityProvider::new(cfg).map_err(|e| err(e.to_string()))?)
            }
        };
        connections.insert(
            name.clone(),
            (
                provider,
                c.registered_domains.clone(),
                c.quarantine_group.clone(),
            ),
        );
    }
    Ok(Running {
        app: Arc::new(app(
            connections,
            &config.policy,
            Some(&config),
            false,
            shared,
        )?),
        demo_sim: None,
    })
}

/// The policy the demo tenant ships with: its break-glass and service accounts and the Admins
/// group are protected, like a careful real deployment.
pub fn demo_policy() -> PolicyConfig {
    PolicyConfig {
        protected_accounts: vec!["breakglass@*".into(), "svc-*".into()],
        protected_groups: vec!["Admins".into()],
        ..PolicyConfig::default()
    }
}

/// Name of the demo's ZPA SCIM connection (beside `demo`, native ZIA).
pub const DEMO_ZPA: &str = "demo-zpa";
/// Name of the demo's built-in HR source.
pub const DEMO_SOURCE: &str = "hr";

/// Starts the embedded simulator on 127.0.0.1 and connects to it as connection `demo` (native
/// ZIA, the one a call that names none acts on) and `demo-zpa` (ZPA SCIM), with a built-in HR
/// source `hr`, so `connection: "all"`, audits against a source of record and `reconcile` can
/// be tried with no config.
pub async fn demo() -> Result<Running, SetupError> {
    let demo_err = |e: String| SetupError::Demo(e);
    // Like the ZIA side, the embedded demo enforces no rate limits: pacing would only slow it.
    let sim = Sim::start(SimOptions {
        scim: crate::sim::ScimOptions {
            rate_limit_per_sec: None,
            ..crate::sim::ScimOptions::default()
        },
        ..SimOptions::default()
    })
    .await
    .map_err(|e| demo_err(e.to_string()))?;
    let creds = sim.credentials().clone();
    let provider = ZiaProvider::new(ZiaConfig {
        base_url: sim.base_url(),
        auth: ZiaAuth::Session {
            username: creds.username.clone(),
            password: crate::secret::Secret::new(creds.password.clone()),
            api_key: crate::secret::Secret::new(creds.api_key.clone()),
        },
        timeout: Duration::from_secs(30),
        // The embedded demo tenant enforces no limits; pacing would only slow the demo.
        rate_limits: None,
        session_timeout: crate::provider::zia::DEFAULT_SESSION_TIMEOUT,
    })
    .map_err(|e| SetupError::Demo(e.to_string()))?;
    let mut connections = BTreeMap::new();
    connections.insert(
        "demo".to_string(),
        (
            Arc::new(provider) as Arc<dyn crate::provider::Provider>,
            vec!["acme.example".into(), "acme-labs.example".into()],
            None,
        ),
    );
    let zpa_token = sim.scim_options().zpa_token.clone();
    demo_zpa_groups(&sim.zpa_scim_url(), &zpa_token)
        .await
        .map_err(demo_err)?;
    let zpa = ScimProvider::new(ScimConfig {
        flavor: ScimFlavor::Zpa,
        base_url: sim.zpa_scim_url(),
        token: crate::secret::Secret::new(zpa_token),
        timeout: Duration::from_secs(30),
        requests_per_second: None,
        patch: crate::provider::scim::PatchMode::Auto,
    })
    .map_err(|e| demo_err(e.to_string()))?;
    connections.insert(
        DEMO_ZPA.to_string(),
        (
            Arc::new(zpa) as Arc<dyn crate::provider::Provider>,
            Vec::new(),
            Some("Quarantine".into()),
        ),
    );
    let mut app = app(connections, &demo_policy(), None, true, None)?;
    app.sources.insert(
        DEMO_SOURCE.to_string(),
        demo_source(&app.state_dir).map_err(demo_err)?,
    );
    Ok(Running {
        app: Arc::new(app),
        demo_sim: Some(sim),
    })
}

/// Writes the demo's HR export into the state directory and describes it as a source with a
/// mapping, as a `[sources.hr]` table would.
fn demo_source(dir: &Path) -> Result<crate::orphans::source::SourceConfig, String> {
    use crate::orphans::source::{SourceConfig, SourceMapping};
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join("demo-hr.csv");
    std::fs::write(&path, crate::sim::demo_hr_csv())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut source: SourceConfig = toml::from_str(&format!(
        "path = {}\nemail = \"email\"\nstatus = \"status\"\n",
        toml::Value::String(path.display().to_string())
    ))
    .map_err(|e| format!("demo source: {e}"))?;
    source.mapping = Some(SourceMapping {
        name: Some("name".into()),
        department: Some("department".into()),
        groups: Some("groups".into()),
        default_group: Some("All Staff".into()),
        deactivate_absent: false,
    });
    Ok(source)
}

/// The department groups of the ZIA demo, created on the demo's ZPA SCIM directory (which has
/// only a few of them) as an IdP would push them, so one HR mapping fits both connections.
async fn demo_zpa_groups(base: &str, token: &str) -> Result<(), String> {
    const GROUPS: [&str; 8] = [
        "Sales",
        "Finance",
        "HR",
        "Marketing",
        "Support",
        "IT",
        "Legal",
        "Executives",
    ];
    let http = reqwest::Client::new();
    for name in GROUPS {
        let resp = http
            .post(format!("{base}/Groups"))
            .bearer_auth(token)
            .header("content-type", "application/scim+json")
            .json(&serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
            }))
            .send()
            .await
            .map_err(|e| format!("creating the ZPA demo group {name}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!(
                "creating the ZPA demo group {name}: HTTP {}",
                resp.status()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(vars: &[(&str, &str)]) -> Option<String> {
        let map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env_config_text(|n| map.get(n).cloned())
    }

    #[test]
    fn sdk_environment_picks_oneapi_a_private_key_or_the_legacy_switch() {
        let oneapi = [
            ("ZSCALER_CLIENT_ID", "id"),
            ("ZSCALER_CLIENT_SECRET", "s"),
            ("ZSCALER_VANITY_DOMAIN", "acme"),
            ("ZIA_CLOUD", "zscalertwo"),
        ];
        let t = text(&oneapi).expect("oneapi");
        assert!(
            t.contains("auth = \"oneapi\"") && !t.contains("private_key"),
            "{t}"
        );
        let t = text(&[
            ("ZSCALER_CLIENT_ID", "id"),
            ("ZSCALER_PRIVATE_KEY", "/keys/k.pem"),
            ("ZSCALER_VANITY_DOMAIN", "acme"),
        ])
        .expect("oneapi with a key");
        assert!(
            t.contains("private_key = { env = \"ZSCALER_PRIVATE_KEY\" }"),
            "{t}"
        );
        assert!(Config::parse(&t, Path::new("t")).is_ok(), "{t}");
        for on in ["true", "TRUE", "1"] {
            let mut legacy = oneapi.to_vec();
            legacy.push(("ZSCALER_USE_LEGACY_CLIENT", on));
            let t = text(&legacy).expect("legacy");
            assert!(
                !t.contains("oneapi") && t.contains("cloud = \"zscalertwo\""),
                "{t}"
            );
        }
        let mut off = oneapi.to_vec();
        off.push(("ZSCALER_USE_LEGACY_CLIENT", "false"));
        assert!(text(&off).expect("oneapi").contains("oneapi"));
        // Legacy asked for, but no legacy tenant named: nothing to build.
        assert!(
            text(&[
                ("ZSCALER_CLIENT_ID", "id"),
                ("ZSCALER_VANITY_DOMAIN", "acme"),
                ("ZSCALER_USE_LEGACY_CLIENT", "true")
            ])
            .is_none()
        );
        assert!(text(&[]).is_none());
    }

    #[test]
    fn a_zpa_scim_url_adds_a_zpa_connection() {
        let t = text(&[
            ("ZIA_CLOUD", "zscalertwo"),
            (
                "ZPA_SCIM_URL",
                "https://scim1.private.zscaler.com/scim/1/7/v2",
            ),
        ])
        .expect("both");
        let cfg = Config::parse(&t, Path::new("t")).expect("valid");
        assert_eq!(cfg.connections.len(), 2, "{t}");
        assert!(t.contains("kind = \"zpa-scim\""), "{t}");
        let t = text(&[("ZPA_SCIM_URL", "https://scim.example/v2")]).expect("zpa alone");
        assert!(Config::parse(&t, Path::new("t")).is_ok() && !t.contains("[connections.zia]"));
        assert!(text(&[("ZPA_SCIM_URL", " ")]).is_none());
    }

    #[test]
    fn a_private_key_is_pem_text_or_a_file() {
        let pem = "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----";
        let got = private_key_pem(crate::secret::Secret::new(pem)).expect("pem");
        assert!(
            got.expose().contains("\nAAAA\n"),
            "escaped newlines restored"
        );
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("k.pem");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nBBBB\n").expect("write");
        let got =
            private_key_pem(crate::secret::Secret::new(path.display().to_string())).expect("file");
        assert!(got.expose().contains("BBBB"));
        let err = private_key_pem(crate::secret::Secret::new("/nonexistent/k.pem"))
            .expect_err("missing file");
        assert!(
            err.contains("neither PEM text nor a readable key file"),
            "{err}"
        );
    }
}
