//! Building the running application from a config file, or from the embedded demo tenant.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, PolicyConfig, state_dir};
use crate::guard::journal::Journal;
use crate::guard::ledger::Ledger;
use crate::guard::policy::Policy;
use crate::guard::store::PlanStore;
use crate::ops::{App, Connection};
use crate::provider::registry::{BuildError, Context};
use crate::provider::scim::{PatchMode, ScimConfig, ScimFlavor, ScimProvider};
use crate::provider::zia::{ZiaAuth, ZiaConfig, ZiaProvider};
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

/// The connections the official SDKs' environment variables describe, when there is no config
/// file (how an MCP bundle passes settings): each backend says which of its variables make a
/// connection (native ZIA: `zia` from the `ZSCALER_*` OneAPI or `ZIA_*` legacy variables;
/// ZPA SCIM: `zpa` from `ZPA_SCIM_URL`).
pub fn from_env() -> Option<Result<Running, SetupError>> {
    let text = env_config_text(|n| std::env::var(n).ok())?;
    Some(
        Config::parse(&text, Path::new("(environment)"))
            .map_err(SetupError::from)
            .and_then(build),
    )
}

/// The configuration [`from_env`] builds, from a variable lookup (testable without touching
/// the process environment): each backend's connection its SDK variables describe, in the
/// registry's order. `None` when no connection is described.
fn env_config_text(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    let tables: Vec<String> = crate::provider::registry::BACKENDS
        .iter()
        .filter_map(|b| b.from_env.and_then(|f| f(&lookup)))
        .collect();
    (!tables.is_empty()).then(|| tables.join("\n"))
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
        let context = Context {
            shared: shared.as_ref(),
            replicas: config.state.replicas,
            env: &|n| std::env::var(n).ok(),
        };
        let provider = (c.kind.backend().build)(c, &context).map_err(|e| match e {
            BuildError::At(p) => at(p.key, p.message),
            BuildError::Whole(message) => err(message),
        })?;
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
        patch: PatchMode::Auto,
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
}
