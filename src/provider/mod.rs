//! The backend abstraction: everything the tools and the guard may ask of a Zscaler tenant.
//!
//! Tool handlers and the guard only see this trait; providers know nothing of MCP. A new backend
//! (another IdP) is one new module implementing [`Provider`] and declaring itself in
//! [`registry::BACKENDS`]: its config rules, construction and `init` block live in the module.

pub mod http;
pub mod memberships;
pub mod oneapi;
pub mod outcome;
pub mod registry;
pub mod retry;
pub mod scim;
pub mod zia;
pub mod zidentity;

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;

use crate::model::{
    ActivationState, Department, Group, GroupRef, NewUser, Page, PageRequest, User, UserFilter,
    UserUpdate,
};

/// What a backend can do, so tools can refuse early with a clear message instead of failing
/// half-way through a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Capabilities {
    /// Writes are staged and need `activate` (native ZIA).
    pub staged_changes: bool,
    /// Users can be disabled without deletion (SCIM `active=false`).
    pub disable: bool,
    /// Users can be deleted.
    pub delete: bool,
    /// Users can be created.
    pub create: bool,
    /// Departments are objects of their own and required on create (native ZIA); elsewhere a
    /// department is free text on the user.
    pub departments: bool,
    /// A new account needs at least one group (native ZIA).
    pub create_needs_group: bool,
    /// Disabling may delete the account (ZIA SCIM: `active:false` is reported to delete), so it
    /// is planned and capped like a deletion.
    pub disable_may_delete: bool,
    /// The most users one list request returns (native ZIA 10,000, SCIM 100, ZIdentity 1,000):
    /// whoever reads the whole directory asks for pages of this size, so that every page is
    /// one request and progress follows the transfer.
    pub page_size: usize,
    /// How many ids one bulk delete request takes (native ZIA `bulkDelete`: 500); 0 when the
    /// backend has no bulk call and [`Provider::delete_users`] deletes one by one.
    pub bulk_delete_max: usize,
    /// Finding a user by email reads the directory page by page (native ZIA filters by prefix
    /// only), so several users are best resolved in one pass over every page rather than one
    /// lookup each.
    pub lookup_scans_pages: bool,
    /// Users carry a free-text comments field (native ZIA); elsewhere there is none to set.
    pub comments: bool,
}

/// A provider failure, classified so that the tool layer can tell the model what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The object does not exist on the tenant.
    #[error("{what} not found")]
    NotFound { what: String },
    /// The tenant already has a conflicting object (ZIA `DUPLICATE_ITEM`).
    #[error("duplicate: {message}")]
    Duplicate { message: String },
    /// The tenant rejected the input (ZIA `INVALID_INPUT_ARGUMENT`, SCIM `invalidValue`).
    #[error("invalid input: {message}")]
    Invalid { message: String },
    /// Credentials were refused or the session could not be established.
    #[error("authentication failed: {message}")]
    Auth { message: String },
    /// The tenant's rate limit was hit and waiting is not reasonable now.
    #[error("rate limited: {message}")]
    RateLimited {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The tenant's long-window (hourly) quota is used up (ZIA `403 LIMIT_EXCEEDED`): no retry
    /// helps before the window resets.
    #[error("hourly quota exhausted: {message}")]
    QuotaExhausted {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The tenant is in maintenance mode (scheduled upgrade) and refuses writes for now.
    #[error("tenant in maintenance; writes refused, retry later: {message}")]
    Maintenance { message: String },
    /// Another admin session holds the tenant-wide edit lock.
    #[error("tenant is locked for editing: {message}")]
    EditLocked { message: String },
    /// The backend cannot do this at all.
    #[error("not supported by this connection: {what}")]
    Unsupported { what: String },
    /// A write was sent but no answer came back: it may or may not have happened.
    #[error("outcome unknown: {message}")]
    OutcomeUnknown { message: String },
    /// The tenant could not be reached.
    #[error("connection failed: {message}")]
    Transport { message: String },
    /// The state store shared by replicas (Redis) could not be used, so nothing was sent: the
    /// tenant was never asked. The message names the store.
    #[error("{message}")]
    StateStore { message: String },
    /// The connection's own settings cannot make a request (a URL that does not parse, an
    /// HTTP client that cannot be built): calling again will not help; the configuration must
    /// change.
    #[error("the connection's configuration is unusable: {message}")]
    Config { message: String },
    /// Any other API error, with the tenant's own code and message.
    #[error("API error {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Api {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// A multi-step change stopped part-way; the message says what was done and what failed.
    #[error("partly done: {message}")]
    Partial { message: String },
    /// The tenant answered with something we could not parse.
    #[error("unexpected response: {message}")]
    Decode { message: String },
}

/// The operations the product needs from a tenant.
///
/// Reads return the tenant's current state (no caching across writes). Writes return the state
/// the tenant reports after the write, which the guard then verifies by reading back.
#[async_trait]
pub trait Provider: Send + Sync {
    /// What this backend can do; tools ask this, never which backend it is.
    fn capabilities(&self) -> Capabilities;

    /// One slice of users matching `filter`. Prefix filters match case-insensitively; the
    /// provider filters exactly on the client side whatever the API only approximates.
    async fn list_users(
        &self,
        filter: &UserFilter,
        page: &PageRequest,
    ) -> Result<Page<User>, ProviderError>;

    /// One user by id, with plain-text name and email (see the ZIdentity encoded-GET trap).
    async fn get_user(&self, id: &str) -> Result<User, ProviderError>;

    /// Every user whose email equals `email` case-insensitively (more than one means the tenant
    /// holds duplicates, which callers must treat as ambiguous).
    async fn find_users_by_email(&self, email: &str) -> Result<Vec<User>, ProviderError>;

    /// Every account that answers to `key` — by id, or by any identity attribute the backend
    /// has (email, SCIM userName, any of its emails, externalId) — so that a lookup finds an
    /// account however it is named, and a key two accounts answer to is seen as ambiguous.
    /// The default covers backends whose only identities are the id and one email.
    async fn find_users(&self, key: &str) -> Result<Vec<User>, ProviderError> {
        let key = key.trim();
        if key.contains('@') {
            return self.find_users_by_email(key).await;
        }
        match self.get_user(key).await {
            Ok(u) => Ok(vec![u]),
            Err(ProviderError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// All groups.
    async fn list_groups(&self) -> Result<Vec<Group>, ProviderError>;

    /// All departments (empty where the backend has none).
    async fn list_departments(&self) -> Result<Vec<Department>, ProviderError>;

    /// Creates a user; returns it as stored.
    async fn create_user(&self, user: &NewUser) -> Result<User, ProviderError>;

    /// Adds and removes group memberships of one user, keeping every other attribute and
    /// membership (ZIA: read-modify-write of the whole user).
    async fn change_groups(
        &self,
        user_id: &str,
        add: &[GroupRef],
        remove: &[GroupRef],
    ) -> Result<User, ProviderError>;

    /// Changes one account (a mover): its name, department, comments and memberships in one
    /// call, keeping every other attribute and membership. Native ZIA: one full-object PUT
    /// (read-modify-write); SCIM: a `PatchOp` (or a read-modify-write `PUT` where the server
    /// has no PATCH) and the memberships on the groups; ZIdentity: its record written back and
    /// the memberships one by one. Returns the account as the tenant shows it afterwards; a
    /// change that stopped part-way is [`ProviderError::Partial`], saying what was done.
    async fn update_user(&self, user_id: &str, update: &UserUpdate) -> Result<User, ProviderError>;

    /// Deletes a user.
    async fn delete_user(&self, user_id: &str) -> Result<(), ProviderError>;

    /// Deletes several users, with the backend's bulk call where it has one (native ZIA
    /// `bulkDelete`: one POST per ≤ 500 ids instead of DELETEs limited to 4 an hour). The caller
    /// reads the accounts back afterwards: a bulk request that fails leaves an unknown subset
    /// deleted, and ZIA silently ignores ids past 500.
    async fn delete_users(&self, user_ids: &[String]) -> Result<(), ProviderError> {
        for id in user_ids {
            self.delete_user(id).await?;
        }
        Ok(())
    }

    /// Sets a user's active flag. `Ok(None)` means the account no longer exists afterwards (ZIA
    /// SCIM may delete on `active:false`).
    async fn set_active(&self, user_id: &str, active: bool) -> Result<Option<User>, ProviderError> {
        let _ = (user_id, active);
        Err(ProviderError::Unsupported {
            what: "this backend has no disabled state".into(),
        })
    }

    /// Whether staged changes wait for activation (`Active` where nothing is ever staged).
    async fn activation_status(&self) -> Result<ActivationState, ProviderError>;

    /// Activates every staged change on the tenant (tenant-wide on ZIA).
    async fn activate(&self) -> Result<ActivationState, ProviderError>;

    /// A read that proves the connection works and changes nothing (for `check`), described in
    /// one line. The default reads the activation status, which needs a login on native ZIA.
    async fn probe(&self) -> Result<String, ProviderError> {
        let status = self.activation_status().await?;
        Ok(format!(
            "reachable, credentials accepted, tenant status {status:?}"
        ))
    }

    /// Forgets what this connection cached of the tenant (user pages, groups, departments), so
    /// the next reads go to the tenant: an audit reports the tenant as it is now.
    fn forget_cached(&self) {}

    /// Events the caller must surface to the person, drained on read (e.g. the tenant ended a
    /// session that held staged changes, which ZIA activates).
    fn take_notices(&self) -> Vec<String> {
        Vec::new()
    }

    /// How many changes this server had staged that the tenant activated because their admin
    /// session ended (idle timeout, replaced session), drained on read, so the activation
    /// ledger can record that they are live. Zero where nothing is ever staged.
    fn take_activated_by_session_end(&self) -> usize {
        0
    }
}

/// Strategies shared by the parsers' property tests.
#[cfg(test)]
pub(crate) mod arbitrary {
    use proptest::prelude::*;
    use serde_json::Value;

    /// Keys the parsers look for, so that arbitrary objects reach the typed paths.
    const KEYS: [&str; 20] = [
        "id",
        "name",
        "email",
        "groups",
        "department",
        "adminUser",
        "comments",
        "code",
        "message",
        "Retry-After",
        "status",
        "access_token",
        "expires_in",
        "userName",
        "emails",
        "active",
        "members",
        "Resources",
        "totalResults",
        "schemas",
    ];

    /// Any JSON value, biased towards the shapes and field names the API uses.
    pub fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[0-9]{1,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            prop::sample::select(KEYS.to_vec()).prop_map(str::to_string),
                            any::<String>()
                        ],
                        inner
                    ),
                    0..8
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }
}
