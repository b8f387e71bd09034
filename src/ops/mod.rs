//! What each tool does, independent of MCP: typed arguments in, typed results or an actionable
//! error out. The MCP layer only adapts these to the protocol, so `call` on the command line and
//! a remote client run exactly the same code.

mod activate;
pub mod args;
pub mod audit;
pub mod batch;
pub mod catalog;
mod create;
mod deactivate;
pub mod error;
pub mod execute;
mod gate;
mod membership;
pub mod offboard;
pub mod read;
pub mod reconcile;
mod record;
pub mod resolve;
pub mod restore;
mod result;
pub mod update;
pub mod write;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::guard::caps::DeletionBudget;
use crate::guard::journal::Journal;
use crate::guard::ledger::Ledger;
use crate::guard::policy::Policy;
use crate::guard::store::PlanStore;
use crate::provider::ProviderError;

pub use execute::Tenant;

/// The demo's native ZIA connection.
const DEMO: &str = "demo";

pub use error::{ErrorKind, ToolError};

/// One configured tenant.
pub struct Connection {
    pub name: String,
    /// The backend, for reads; writes go through [`execute::Writer`] only.
    pub provider: Tenant,
    /// Email domains the tenant has registered (empty = unknown).
    pub registered_domains: Vec<String>,
    /// Group that deactivate's quarantine mode moves people into (None = no quarantine).
    pub quarantine_group: Option<String>,
}

/// Who is calling: plans, confirmations and reports are bound to the principal, and the
/// journal records both.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `name/version` from the MCP client's clientInfo (self-declared: informative only).
    pub client: String,
    /// Who the server authenticated: the bearer token's name over HTTP, [`LOCAL`] on stdio and
    /// in `call` (whoever can start the process).
    pub principal: String,
}

/// The principal of a caller the server did not authenticate over the network: the process
/// that spawned it (stdio) or the person running `call`.
pub const LOCAL: &str = "local";

impl Default for Caller {
    fn default() -> Self {
        Self {
            client: "unknown".into(),
            principal: LOCAL.into(),
        }
    }
}

/// Everything the tools share.
pub struct App {
    pub connections: BTreeMap<String, Connection>,
    pub policy: Policy,
    pub plans: PlanStore,
    pub journal: Journal,
    pub ledger: Ledger,
    /// The hourly deletion budget, kept in the state backend.
    pub deletions: DeletionBudget,
    pub state_dir: PathBuf,
    /// Set when serving the embedded demo tenant.
    pub demo: bool,
    /// Sources of record the audit may compare against, by name.
    pub sources: BTreeMap<String, crate::orphans::source::SourceConfig>,
    /// The Redis that replicas share (`[state] backend = "redis"`), for state kept beside the
    /// plan store (e.g. MCP tasks); `None` with the file backend.
    pub shared: Option<crate::state::RedisState>,
}

impl App {
    /// Picks the connection a call names, or the only one.
    pub fn connection(&self, name: Option<&str>) -> Result<&Connection, ToolError> {
        let names = || {
            self.connections
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => self.connections.get(n).ok_or_else(|| {
                ToolError::not_found(format!(
                    "connection '{n}' not found; configured connections: {}",
                    names()
                ))
            }),
            None if self.connections.len() == 1 => self
                .connections
                .values()
                .next()
                .ok_or_else(|| ToolError::internal("no connection configured")),
            // The demo's native ZIA tenant is the one a call that names none acts on.
            None if self.demo && self.connections.contains_key(DEMO) => self
                .connections
                .get(DEMO)
                .ok_or_else(|| ToolError::internal("no connection configured")),
            None => Err(ToolError::invalid_input(format!(
                "several connections are configured; pass connection as one of: {}",
                names()
            ))),
        }
    }
}

impl App {
    /// Picks the connection a call names (or the only one) and checks that the policy lets
    /// `tool` act on it.
    pub fn connection_for(&self, tool: &str, name: Option<&str>) -> Result<&Connection, ToolError> {
        let conn = self.connection(name)?;
        self.policy
            .check_connection(tool, &conn.name)
            .map_err(ToolError::refused)?;
        Ok(conn)
    }
}

/// The tenant's activation status, with the usual error wording.
pub async fn activation_status(
    conn: &Connection,
) -> Result<crate::model::ActivationState, ToolError> {
    conn.provider
        .activation_status()
        .await
        .map_err(|e| provider_error(&conn.name, "reading the activation status", e))
}

/// Turns a provider failure into a message that names the connection and a next step.
pub fn provider_error(conn: &str, what: &str, e: ProviderError) -> ToolError {
    let next = match &e {
        ProviderError::NotFound { .. } => "; check the id or email with list_users or get_user",
        ProviderError::Duplicate { .. } => {
            "; an account with this email already exists — use get_user to see it"
        }
        ProviderError::Invalid { .. } => "; fix the argument and call again",
        ProviderError::Auth { .. } => {
            "; the server's credentials for this connection were refused — an administrator must fix the configuration (run `zscaler-lifecycle-mcp check`)"
        }
        ProviderError::RateLimited { .. } => "; wait and call again later",
        ProviderError::QuotaExhausted { .. } => {
            "; the tenant's hourly quota is used up: nothing more can be sent until its window resets — tell the person and call again after the time given"
        }
        ProviderError::Maintenance { .. } => {
            "; the tenant is in maintenance (scheduled upgrade) and refuses changes: nothing was changed — call again later"
        }
        ProviderError::EditLocked { .. } => {
            "; another administrator session is editing the tenant — call again in a minute"
        }
        ProviderError::Unsupported { .. } => "",
        ProviderError::OutcomeUnknown { .. } => {
            "; the change may or may not have happened — read the state back with get_user before trying again"
        }
        ProviderError::Partial { .. } => {
            "; the rest was not attempted — read the state back with get_user, then call again for what is missing"
        }
        ProviderError::Transport { .. } => "; the tenant could not be reached — call again later",
        // The message names the store and says writes wait for it.
        ProviderError::StateStore { .. } => "; nothing was sent to the tenant",
        ProviderError::Config { .. } => {
            "; nothing was sent — an administrator must fix the connection's settings (run `zscaler-lifecycle-mcp check`)"
        }
        ProviderError::Api { .. } | ProviderError::Decode { .. } => "",
    };
    let kind = match &e {
        ProviderError::NotFound { .. } => ErrorKind::NotFound,
        ProviderError::Duplicate { .. } | ProviderError::EditLocked { .. } => ErrorKind::Conflict,
        ProviderError::Invalid { .. } | ProviderError::Unsupported { .. } => {
            ErrorKind::InvalidInput
        }
        ProviderError::OutcomeUnknown { .. } | ProviderError::Partial { .. } => {
            ErrorKind::OutcomeUnknown
        }
        ProviderError::Auth { .. }
        | ProviderError::RateLimited { .. }
        | ProviderError::QuotaExhausted { .. }
        | ProviderError::Maintenance { .. }
        | ProviderError::Transport { .. }
        | ProviderError::Api { .. }
        | ProviderError::Decode { .. } => ErrorKind::Upstream,
        ProviderError::StateStore { .. } | ProviderError::Config { .. } => ErrorKind::Internal,
    };
    ToolError::of(
        kind,
        format!("{what} failed on connection {conn}: {e}{next}"),
    )
}
