//! The TOML configuration: named connections, the safety policy, and where state lives.
//!
//! Secrets are never written in the file: each is a reference to an environment variable or a
//! file, resolved at start-up into a [`Secret`] so that it cannot leak through `Debug`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use crate::secret::Secret;

mod check;

/// Why a configuration could not be loaded; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// The whole configuration file. `zscaler-lifecycle-mcp config schema` prints its JSON Schema,
/// derived from these structs so that editors and the parser cannot disagree.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["connections"]))]
#[schemars(transform = check::four_eyes_rules)]
pub struct Config {
    /// Named tenants. The name is what tools take as `connection`; at least one is needed.
    #[serde(default)]
    #[schemars(transform = check::connection_names)]
    pub connections: BTreeMap<String, ConnectionConfig>,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub server: ServerConfig,
    /// Sources of record for audit_orphans (HR or IdP exports), by name.
    #[serde(default)]
    pub sources: BTreeMap<String, crate::orphans::source::SourceConfig>,
    /// Where shared state (plans, approvals, rate budgets, locks, the activation ledger) lives.
    #[serde(default)]
    pub state: StateConfig,
    /// Named approvers (`[approvers.NAME]`): the people who may approve plans, each with their
    /// own secret. With at least one, `approve` and the approval page need a name and that
    /// person's secret, and neither a terminal nor an inline confirmation approves anything.
    #[serde(default)]
    #[schemars(transform = check::approver_names)]
    pub approvers: BTreeMap<String, ApproverConfig>,
    /// The text this was parsed from, so that problems found later (an unset environment
    /// variable at start-up) still name their line.
    #[serde(skip)]
    #[schemars(skip)]
    source: Option<SourceText>,
}

/// The config text, kept for line numbers; never printed (it may hold inline secrets).
#[derive(Clone)]
struct SourceText(std::sync::Arc<str>);

impl std::fmt::Debug for SourceText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<config text>")
    }
}

/// One named approver. Give exactly one of `secret_hash` and `secret`.
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = check::approver_rules)]
pub struct ApproverConfig {
    /// Argon2id hash of the approver's secret, as printed by `zscaler-lifecycle-mcp approvers
    /// hash` (a PHC string, `$argon2id$v=19$...`). The secret itself is never stored.
    #[serde(default)]
    pub secret_hash: Option<String>,
    /// Or the secret itself, in a file only that person can read:
    /// `{ file = "/home/jane/.config/zlm/approver-secret" }`. Not `env` or `value`: whoever runs
    /// `approve` chooses its environment, and the config is readable by the server's account.
    #[serde(default)]
    pub secret: Option<SecretRef>,
    /// Or (the strongest) the Ed25519 public key derived from the approver's secret, as
    /// printed by `zscaler-lifecycle-mcp approvers hash --as NAME` (`ed25519:` and 64 hex
    /// digits): each approval is then signed with the key only that secret derives, so
    /// nobody who can read the state directory or the config can forge one.
    #[serde(default)]
    pub public_key: Option<String>,
}

impl std::fmt::Debug for ApproverConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A weak secret can be guessed from its hash: keep the hash out of logs too.
        f.debug_struct("ApproverConfig")
            .field(
                "secret_hash",
                &self.secret_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("secret", &self.secret)
            .field("public_key", &self.public_key)
            .finish()
    }
}

/// Which store holds state that replicas must share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StateBackendKind {
    /// Files in the state directory: one process (plus `approve` on the same machine).
    #[default]
    File,
    /// A Redis server shared by several replicas: Zscaler's rate limits and edit lock are per
    /// tenant, not per process, and an approved plan must run exactly once across replicas.
    Redis,
}

/// The `[state]` table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = check::state_rules)]
pub struct StateConfig {
    #[serde(default)]
    pub backend: StateBackendKind,
    /// The Redis URL, `redis://[:password@]host:port[/db]`. A `SecretRef` (or a plain string)
    /// because the URL may carry a password.
    #[serde(default)]
    pub url: Option<UrlRef>,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// This replica's name in the journal (its chain file is `journal-<replica_id>.jsonl`).
    /// Default: a random id created once and kept in the state directory.
    #[serde(default)]
    pub replica_id: Option<String>,
    /// Connect and response timeout for Redis, in milliseconds.
    #[serde(default = "default_state_timeout_ms")]
    #[schemars(range(min = 1))]
    pub timeout_ms: u64,
    /// How many replicas serve the same tenants. While Redis is unreachable each replica paces
    /// its reads to 1/replicas of the tenant's rate budget, so that together they stay inside it.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1))]
    pub replicas: u32,
}

fn default_replicas() -> u32 {
    1
}

/// A Redis URL given inline (`url = "redis://..."`) or as a secret reference
/// (`url = { env = "REDIS_URL" }`).
#[derive(Clone, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum UrlRef {
    Inline(String),
    Ref(SecretRef),
}

impl std::fmt::Debug for UrlRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // An inline URL may hold a password: never print it.
            Self::Inline(_) => f.write_str("UrlRef::Inline(<redacted>)"),
            Self::Ref(r) => f.debug_tuple("UrlRef::Ref").field(r).finish(),
        }
    }
}

impl UrlRef {
    /// Reads the URL now, as a [`Secret`].
    pub fn resolve(&self, what: &str) -> Result<Secret, String> {
        match self {
            Self::Inline(v) => Ok(Secret::new(v.trim())),
            Self::Ref(r) => r.resolve(what),
        }
    }
}

fn default_key_prefix() -> String {
    "zlm:".into()
}
fn default_state_timeout_ms() -> u64 {
    2000
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            backend: StateBackendKind::File,
            url: None,
            key_prefix: default_key_prefix(),
            replica_id: None,
            timeout_ms: default_state_timeout_ms(),
            replicas: default_replicas(),
        }
    }
}

/// Replica ids name files and appear in journal records: keep them to a safe alphabet.
pub fn valid_replica_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !id.starts_with('.')
}

/// Which API a connection talks to: one of the backends of
/// [`crate::provider::registry::BACKENDS`], by its `kind` name.
#[derive(Clone, Copy)]
pub struct ConnectionKind(&'static crate::provider::registry::Backend);

impl ConnectionKind {
    /// The kind a connection table names (`zia`, `zpa-scim` …), if a backend has it.
    pub fn named(kind: &str) -> Option<Self> {
        crate::provider::registry::get(kind).map(Self)
    }

    /// The name, as the config spells it.
    pub fn name(self) -> &'static str {
        self.0.kind
    }

    /// The backend: its rules, construction and `init` block.
    pub fn backend(self) -> &'static crate::provider::registry::Backend {
        self.0
    }
}

impl PartialEq for ConnectionKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for ConnectionKind {}

impl std::fmt::Debug for ConnectionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnectionKind({:?})", self.name())
    }
}

impl<'de> Deserialize<'de> for ConnectionKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(d)?;
        Self::named(&name).ok_or_else(|| {
            serde::de::Error::unknown_variant(&name, crate::provider::registry::kinds())
        })
    }
}

impl JsonSchema for ConnectionKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ConnectionKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let kinds: Vec<serde_json::Value> = crate::provider::registry::BACKENDS
            .iter()
            .map(|b| serde_json::json!({"type": "string", "const": b.kind, "description": b.about}))
            .collect();
        schemars::json_schema!({
            "description": "Which API a connection talks to.",
            "oneOf": kinds
        })
    }
}

/// One tenant connection. A flat table (not a tagged enum) so that TOML errors keep their line
/// numbers. Credentials default to the env names the official Zscaler SDKs use, so an existing
/// setup works unchanged.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = check::connection_rules)]
pub struct ConnectionConfig {
    pub kind: ConnectionKind,
    /// Cloud name (`zscaler`, `zscalertwo`, …); ignored when `base_url` is set.
    #[serde(default)]
    pub cloud: Option<String>,
    /// Full base URL, for non-standard tenants and the simulator (`/api/v1` is appended).
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default = "default_username_ref")]
    pub username: SecretRef,
    #[serde(default = "default_password_ref")]
    pub password: SecretRef,
    #[serde(default = "default_api_key_ref")]
    pub api_key: SecretRef,
    /// Email domains registered on the tenant, used by the audit to spot external accounts.
    #[serde(default)]
    pub registered_domains: Vec<String>,
    /// The group deactivate's `quarantine` mode moves people into, removing every other
    /// membership (keeps the account for investigation); unset = no quarantine mode.
    #[serde(default)]
    pub quarantine_group: Option<String>,
    /// Per-request timeout in seconds.
    #[serde(default = "default_timeout_secs")]
    #[schemars(range(min = 1))]
    pub timeout_secs: u64,
    /// Pace requests to ZIA's published limits (GET 2/s, POST/PUT 1/s, DELETE 1/min and 4/h,
    /// activation 10/min): `true` (the default), `false` only for a tenant or simulator without
    /// limits, or a table `[connections.NAME.rate_limits]` with the tenant's own figures
    /// (`get_per_second`, `get_per_hour`, `write_per_second`, `write_per_hour`,
    /// `delete_per_minute`, `delete_per_hour`, `activate_per_minute`, `activate_per_hour`;
    /// each one left out keeps its documented value).
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Native ZIA: the tenant's "API Session Timeout Duration" in seconds (Administration >
    /// Advanced Settings; 5 to 20 minutes, default 5). A session idle this long has ended and
    /// its staged changes were activated; the adapter refreshes a little before.
    #[serde(default = "default_session_timeout_secs")]
    pub session_timeout_secs: u64,
    /// Native ZIA: `session` (legacy API key, the default) or `oneapi` (ZIdentity OAuth2, for
    /// tenants migrated to ZIdentity). With `oneapi`, `cloud` is the OneAPI cloud (`production`,
    /// `beta`, `gov`, `govus`) and `base_url` overrides the API gateway.
    #[serde(default)]
    pub auth: ZiaAuthKind,
    /// OneAPI client id; defaults to the SDKs' `ZSCALER_CLIENT_ID`.
    #[serde(default = "default_client_id_ref")]
    pub client_id: SecretRef,
    /// OneAPI client secret; defaults to the SDKs' `ZSCALER_CLIENT_SECRET`.
    #[serde(default = "default_client_secret_ref")]
    pub client_secret: SecretRef,
    /// OneAPI private key (RSA, PEM text or a path to it) instead of the client secret: token
    /// requests then carry a signed RFC 7523 assertion. The SDKs read `ZSCALER_PRIVATE_KEY`.
    #[serde(default)]
    pub private_key: Option<SecretRef>,
    /// OneAPI vanity domain (`acme` for `acme.zslogin.net`).
    #[serde(default)]
    pub vanity_domain: Option<String>,
    /// OneAPI token endpoint override (non-standard clouds, the simulator).
    #[serde(default)]
    pub token_url: Option<String>,
    /// SCIM bearer token (SCIM kinds); defaults to `ZIA_SCIM_API_TOKEN` / `ZPA_SCIM_TOKEN`.
    #[serde(default)]
    pub token: Option<SecretRef>,
    /// SCIM pacing; Zscaler's SCIM servers allow 5 requests per second.
    #[serde(default = "default_scim_rps")]
    #[schemars(range(min = 1))]
    pub requests_per_second: u32,
    /// SCIM: `auto` (ask the server), `patch` or `put` for membership and active changes.
    #[serde(default = "default_patch_mode")]
    pub patch: crate::provider::scim::PatchMode,
    /// Seconds the directory cache keeps what it read (user pages and the email index, groups,
    /// departments), at most 3600; 0 turns it off. Writes never rely on it: they re-read their
    /// target by id. Per process: replicas do not share it.
    #[serde(default = "default_cache_ttl_secs")]
    #[schemars(range(max = 3600))]
    pub cache_ttl_secs: u64,
}

/// The longest `cache_ttl_secs`: past an hour, other administrators' changes stay unseen too
/// long for a lookup to be trusted.
pub const MAX_CACHE_TTL_SECS: u64 = 3600;

fn default_cache_ttl_secs() -> u64 {
    crate::provider::zia::DEFAULT_CACHE_TTL.as_secs()
}

/// Whether and to what budget a connection paces its requests: `rate_limits = true|false`, or
/// a table of the tenant's own figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(untagged)]
pub enum RateLimits {
    /// `true`: the documented limits; `false`: no pacing.
    Switch(bool),
    /// The tenant's own limits.
    Budget(crate::provider::zia::RateBudget),
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::Switch(true)
    }
}

impl RateLimits {
    /// Whether requests are paced at all.
    pub fn enabled(&self) -> bool {
        !matches!(self, Self::Switch(false))
    }

    /// The budget to pace to, `None` when pacing is off.
    pub fn budget(&self) -> Option<crate::provider::zia::RateBudget> {
        match self {
            Self::Switch(true) => Some(crate::provider::zia::RateBudget::documented()),
            Self::Switch(false) => None,
            Self::Budget(b) => Some(*b),
        }
    }
}

impl<'de> Deserialize<'de> for RateLimits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RateLimits;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("true, false, or a table such as { write_per_second = 1, write_per_hour = 400 }")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RateLimits, E> {
                Ok(RateLimits::Switch(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RateLimits, A::Error> {
                let b = crate::provider::zia::RateBudget::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                b.validate().map_err(serde::de::Error::custom)?;
                Ok(RateLimits::Budget(b))
            }
        }
        d.deserialize_any(V)
    }
}

fn default_session_timeout_secs() -> u64 {
    300
}

/// How a native ZIA connection authenticates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ZiaAuthKind {
    /// Legacy API-key session login.
    #[default]
    Session,
    /// ZIdentity OAuth2 client credentials through the OneAPI gateway.
    Oneapi,
}

fn default_client_id_ref() -> SecretRef {
    env_ref("ZSCALER_CLIENT_ID")
}
fn default_client_secret_ref() -> SecretRef {
    env_ref("ZSCALER_CLIENT_SECRET")
}

fn default_scim_rps() -> u32 {
    5
}
fn default_patch_mode() -> crate::provider::scim::PatchMode {
    crate::provider::scim::PatchMode::Auto
}

/// Where a secret comes from: `{ env = "NAME" }`, `{ file = "/path" }`, or (for non-secret
/// values such as a username only) `{ value = "..." }`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct SecretRef {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub file: Option<PathBuf>,
    #[serde(default)]
    pub value: Option<String>,
}

/// A reference to an environment variable, the form every credential defaults to.
pub fn env_ref(name: &str) -> SecretRef {
    SecretRef {
        env: Some(name.to_string()),
        file: None,
        value: None,
    }
}
fn default_username_ref() -> SecretRef {
    env_ref("ZIA_USERNAME")
}
fn default_password_ref() -> SecretRef {
    env_ref("ZIA_PASSWORD")
}
fn default_api_key_ref() -> SecretRef {
    env_ref("ZIA_API_KEY")
}
fn default_timeout_secs() -> u64 {
    30
}

impl SecretRef {
    /// Reads the secret now. `what` names it in the error so the user knows which to set.
    pub fn resolve(&self, what: &str) -> Result<Secret, String> {
        self.read().map_err(|e| format!("{what}: {e}"))
    }

    /// Reads the secret now; the error says what is missing, not which key wanted it.
    pub fn read(&self) -> Result<Secret, String> {
        match (&self.env, &self.file, &self.value) {
            (Some(var), None, None) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
                _ => Err(format!("environment variable {var} is not set")),
            },
            (None, Some(path), None) => std::fs::read_to_string(path)
                .map(|v| Secret::new(v.trim()))
                .map_err(|e| format!("cannot read {}: {e}", path.display())),
            (None, None, Some(v)) => Ok(Secret::new(v.clone())),
            _ => Err("give exactly one of env, file or value".to_string()),
        }
    }
}

/// The safety policy (`[policy]`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Refuse every write.
    #[serde(default)]
    pub read_only: bool,
    /// Glob patterns (case-insensitive) on email or name of accounts no tool may change.
    #[serde(default)]
    pub protected_accounts: Vec<String>,
    /// Group names (globs) whose membership no tool may change.
    #[serde(default)]
    pub protected_groups: Vec<String>,
    /// Treat every tenant administrator account as protected.
    #[serde(default = "yes")]
    pub protect_admins: bool,
    /// Minutes a plan stays valid for approval.
    #[serde(default = "default_plan_ttl")]
    #[schemars(range(min = 1))]
    pub plan_ttl_minutes: u64,
    /// Tools this deployment does not offer at all (they vanish from tools/list).
    #[serde(default)]
    #[schemars(schema_with = "check::tool_list_schema")]
    pub disabled_tools: Vec<String>,
    /// Blast-radius cap: deletions per connection in any rolling hour (0 = no deletions).
    #[serde(default = "default_max_deletions")]
    pub max_deletions_per_hour: u32,
    /// Blast-radius cap per call: groups in one membership change or create, accounts in one
    /// `connection: "all"` plan.
    #[serde(default = "default_max_targets")]
    #[schemars(range(min = 1))]
    pub max_targets_per_call: u32,
    /// Email domains create_user may use (case-insensitive); empty = any registered domain.
    #[serde(default)]
    pub allowed_create_domains: Vec<String>,
    /// Tools whose calls must be confirmed by a human too even where they take nothing away
    /// (`create_user`, `add_to_group`, `update_user`); destructive calls always are.
    #[serde(default)]
    #[schemars(schema_with = "check::confirmable_list_schema")]
    pub confirm_tools: Vec<String>,
    /// Per tool, the only connections it may act on (`deactivate = ["zia-prod"]`); tools not
    /// listed may act on every connection.
    #[serde(default)]
    #[schemars(schema_with = "check::tool_connections_schema")]
    pub tool_connections: BTreeMap<String, Vec<String>>,
    /// Unattended confirmation by token (`[policy.token_mode]`), off unless enabled.
    #[serde(default)]
    pub token_mode: TokenModeConfig,
    /// Four-eyes: a plan with more targets than this needs two distinct named approvers
    /// (needs at least two `[approvers.NAME]`).
    #[serde(default)]
    pub four_eyes_over_targets: Option<u32>,
    /// Four-eyes: every `connection: "all"` plan needs two distinct named approvers (needs at
    /// least two `[approvers.NAME]`).
    #[serde(default)]
    pub four_eyes_all_connections: bool,
    /// How many days after a deactivation `restore_user` may still undo it from the journal's
    /// snapshot (older ones are re-created with create_user).
    #[serde(default = "default_restore_window")]
    #[schemars(range(min = 1, max = 3650))]
    pub restore_window_days: u32,
}

/// Token mode, for unattended automation where no person can confirm: when no inline channel
/// exists, a plan comes back with an HMAC token bound to it, and calling again with
/// `plan_id = "PLAN_ID.TOKEN"` executes it. Every other check still holds (single use, expiry,
/// fingerprint, same arguments, policy, caps, protected accounts), but nobody looks at the
/// plan: it is the weakest confirmation mode, and off unless `enabled = true`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenModeConfig {
    /// Turn token mode on.
    #[serde(default)]
    pub enabled: bool,
    /// Only these tools (empty = every tool that needs confirmation).
    #[serde(default)]
    #[schemars(schema_with = "check::token_tool_list_schema")]
    pub tools: Vec<String>,
    /// Only these connections (`"all"` = deactivate everywhere); empty = every connection.
    #[serde(default)]
    pub connections: Vec<String>,
    /// Seconds a token plan stays valid: an unattended caller echoes the token at once.
    #[serde(default = "default_token_ttl")]
    #[schemars(range(min = 1))]
    pub plan_ttl_secs: u64,
}

fn default_token_ttl() -> u64 {
    60
}

impl Default for TokenModeConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            tools: Vec::new(),
            connections: Vec::new(),
            plan_ttl_secs: default_token_ttl(),
        }
    }
}

fn default_max_targets() -> u32 {
    10
}

fn default_max_deletions() -> u32 {
    20
}

fn yes() -> bool {
    true
}
fn default_plan_ttl() -> u64 {
    5
}
fn default_restore_window() -> u32 {
    30
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            read_only: false,
            protected_accounts: Vec::new(),
            protected_groups: Vec::new(),
            protect_admins: true,
            plan_ttl_minutes: default_plan_ttl(),
            max_deletions_per_hour: default_max_deletions(),
            disabled_tools: Vec::new(),
            max_targets_per_call: default_max_targets(),
            allowed_create_domains: Vec::new(),
            confirm_tools: Vec::new(),
            tool_connections: BTreeMap::new(),
            token_mode: TokenModeConfig::default(),
            four_eyes_over_targets: None,
            four_eyes_all_connections: false,
            restore_window_days: default_restore_window(),
        }
    }
}

/// Process-level settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = check::server_rules)]
pub struct ServerConfig {
    /// Where plans, approvals and the journal live; shared by `serve` and `approve`.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Rotate the journal file at this size (MiB; 0 = never). Rotated segments keep the chain
    /// (`journal.jsonl.<last seq>`) and `journal verify` checks them all.
    #[serde(default = "default_journal_max_mb")]
    pub journal_max_mb: u64,
    /// The key the journal's records and head are MACed with: `{ file = "…" }` or
    /// `{ env = "…" }`, at least 32 characters (e.g. `openssl rand -hex 32`). Default: a random
    /// key made once as `journal.key` in the state directory; a key outside it, readable by the
    /// server and `journal verify` but not by the agent's user, is stronger.
    #[serde(default)]
    #[schemars(transform = check::journal_key_rules)]
    pub journal_key: Option<SecretRef>,
    /// Copy every journal record (the same JSON line) to the local syslog socket, so that
    /// history survives someone who can edit the state directory. A copy that cannot be
    /// written fails the append, and so the write.
    #[serde(default)]
    pub journal_syslog: bool,
    /// The syslog socket for `journal_syslog` (default `/dev/log`).
    #[serde(default)]
    pub journal_syslog_socket: Option<PathBuf>,
    /// A long-lived command that receives every journal record on its stdin, one JSON line
    /// each (e.g. `["logger", "-t", "zlm-journal"]`); restarted if it exits. A copy that
    /// cannot be written fails the append, and so the write.
    #[serde(default)]
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub journal_command: Option<Vec<String>>,
}

fn default_journal_max_mb() -> u64 {
    64
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            state_dir: None,
            journal_max_mb: default_journal_max_mb(),
            journal_key: None,
            journal_syslog: false,
            journal_syslog_socket: None,
            journal_command: None,
        }
    }
}

impl Config {
    /// Loads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` only labels errors. Every error names its line: TOML and
    /// type errors through the TOML parser, and the rules serde cannot express (connection
    /// requirements, globs, tool and connection names, caps) through [`check`], which looks the
    /// offending key up in the text.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if let Some(problem) = check::problems(&config).into_iter().next() {
            return Err(ConfigError::Parse {
                path: path.to_path_buf(),
                message: problem.located(text),
            });
        }
        Ok(Config {
            source: Some(SourceText(text.into())),
            ..config
        })
    }

    /// `message` about the key at `path` (e.g. `["connections", "a", "password"]`), prefixed
    /// with its line in the text this config was parsed from (or the line of its nearest
    /// written parent, for a key left to its default) and its name.
    pub fn locate(&self, path: &[&str], message: &str) -> String {
        let problem = check::Problem::at_keys(path, message);
        match &self.source {
            Some(SourceText(text)) => problem.located(text),
            None => format!("{}: {message}", problem.key_name()),
        }
    }

    /// The JSON Schema of the config file (draft 2020-12), for editors (taplo, VS Code) and
    /// CI checks. Tested against the parser so that both accept and refuse the same files.
    pub fn json_schema() -> serde_json::Value {
        schemars::schema_for!(Config).to_value()
    }
}

/// The state directory: config, then `ZSCALER_LIFECYCLE_MCP_STATE_DIR`, then the XDG state home.
pub fn state_dir(config: Option<&Config>) -> PathBuf {
    if let Some(dir) = config.and_then(|c| c.server.state_dir.clone()) {
        return dir;
    }
    if let Ok(dir) = std::env::var("ZSCALER_LIFECYCLE_MCP_STATE_DIR")
        && !dir.is_empty()
    {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("zscaler-lifecycle-mcp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_zia_connection_with_defaults() {
        let c = Config::parse(
            "[connections.zia-prod]\nkind = \"zia\"\ncloud = \"zscalertwo\"\n",
            Path::new("t.toml"),
        )
        .expect("valid");
        let z = &c.connections["zia-prod"];
        assert_eq!(z.kind.name(), "zia");
        assert_eq!(z.username, env_ref("ZIA_USERNAME"));
        assert!(c.policy.protect_admins);
    }

    #[test]
    fn rate_limits_take_a_switch_or_the_tenants_own_figures() {
        use crate::provider::zia::RateBudget;
        let base = "[connections.a]\nkind = \"zia\"\ncloud = \"zscaler\"\n";
        let c = Config::parse(base, Path::new("t")).expect("valid");
        assert_eq!(
            c.connections["a"].rate_limits.budget(),
            Some(RateBudget::documented())
        );
        assert_eq!(c.connections["a"].session_timeout_secs, 300);
        let off = format!("{base}rate_limits = false\nsession_timeout_secs = 1200\n");
        let c = Config::parse(&off, Path::new("t")).expect("valid");
        assert_eq!(c.connections["a"].rate_limits.budget(), None);
        assert_eq!(c.connections["a"].session_timeout_secs, 1200);
        let table = format!(
            "{base}[connections.a.rate_limits]\nwrite_per_second = 2\nwrite_per_hour = 800\n"
        );
        let c = Config::parse(&table, Path::new("t")).expect("valid");
        let b = c.connections["a"].rate_limits.budget().expect("on");
        assert_eq!((b.write_per_second, b.write_per_hour), (2, 800));
        assert_eq!(
            b.get_per_second, 2,
            "unset figures keep the documented value"
        );
        assert_eq!(b.delete_per_hour, 4);
        for (bad, says) in [
            ("write_per_secnd = 2", "write_per_secnd"),
            ("delete_per_hour = 0", "delete_per_hour must be at least 1"),
            ("get_per_second = -1", "get_per_second"),
        ] {
            let text = format!("{base}[connections.a.rate_limits]\n{bad}\n");
            let err = Config::parse(&text, Path::new("t"))
                .expect_err(bad)
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let zero = format!("{base}session_timeout_secs = 0\n");
        assert!(Config::parse(&zero, Path::new("t")).is_err());
    }

    #[test]
    fn unknown_field_is_reported_with_its_line() {
        let err = Config::parse(
            "[connections.a]\nkind = \"zia\"\ncloud = \"x\"\npasword = 1\n",
            Path::new("t.toml"),
        )
        .expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains("pasword") && msg.contains("line 4"), "{msg}");
    }

    #[test]
    fn reserved_and_incomplete_connections_are_refused() {
        assert!(
            Config::parse(
                "[connections.all]\nkind=\"zia\"\ncloud=\"zscaler\"\n",
                Path::new("t")
            )
            .is_err()
        );
        assert!(Config::parse("[connections.a]\nkind=\"zia\"\n", Path::new("t")).is_err());
        assert!(Config::parse("", Path::new("t")).is_err());
    }

    #[test]
    fn state_table() {
        let base = "[connections.a]\nkind=\"zia\"\ncloud=\"zscaler\"\n";
        let c = Config::parse(base, Path::new("t")).expect("valid");
        assert_eq!(c.state.backend, StateBackendKind::File);
        assert_eq!(c.state.key_prefix, "zlm:");
        let c = Config::parse(
            &format!("{base}[state]\nbackend=\"redis\"\nurl=\"redis://:hunter2@h:1\"\n"),
            Path::new("t"),
        )
        .expect("valid");
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = Config::parse(
            &format!("{base}[state]\nbackend=\"redis\"\nurl={{ env = \"X\" }}\n"),
            Path::new("t"),
        )
        .expect("valid");
        assert_eq!(
            c.state.url,
            Some(UrlRef::Ref(env_ref("X"))),
            "secret reference form"
        );
        assert!(
            Config::parse(
                &format!("{base}[state]\nbackend=\"redis\"\n"),
                Path::new("t")
            )
            .is_err()
        );
        assert!(
            Config::parse(
                &format!("{base}[state]\nreplica_id=\"../x\"\n"),
                Path::new("t")
            )
            .is_err()
        );
    }

    #[test]
    fn secret_ref_resolution() {
        let r = SecretRef {
            env: None,
            file: None,
            value: Some("v".into()),
        };
        assert_eq!(r.resolve("x").expect("value").expose(), "v");
        let r = SecretRef {
            env: Some("ZLM_TEST_SURELY_UNSET".into()),
            file: None,
            value: None,
        };
        assert!(
            r.resolve("password")
                .expect_err("unset")
                .contains("ZLM_TEST_SURELY_UNSET")
        );
    }
}
