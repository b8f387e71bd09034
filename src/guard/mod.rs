//! The guardrail: policy checks, plans bound to their targets' state, human approval, and the
//! audit journal. It sees providers only through the `Provider` trait and knows nothing of MCP.

pub mod approvers;
pub mod caps;
pub mod confirm;
pub mod journal;
pub mod ledger;
pub mod plan;
pub mod policy;
pub mod store;

use std::time::{SystemTime, UNIX_EPOCH};

/// Why the guard refused or failed; messages are written for the person or model reading them.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("state directory {path}: {message}")]
    State { path: String, message: String },
    #[error(
        "plan {id} not found (plans expire and are single-use; call the tool again without plan_id to get a new plan)"
    )]
    PlanNotFound { id: String },
    #[error("plan {id} was tampered with or signed by another key; refusing it")]
    BadSignature { id: String },
    #[error(
        "plan {id} was signed with a key the state store no longer has (the store was reset); call the tool again without plan_id to get a new plan"
    )]
    KeyGone { id: String },
    #[error(
        "the token given with plan {id} is not valid: it was not issued by this server for this exact plan; nothing was changed — call the tool again without plan_id to get a new plan"
    )]
    BadToken { id: String },
    #[error(
        "plan {id} came with a token, but token mode is off for {tool} on {scope}: a human must approve the plan (`zscaler-lifecycle-mcp approve {id}`), then call again with plan_id \"{id}\""
    )]
    TokenModeOff {
        id: String,
        tool: String,
        scope: String,
    },
    #[error("plan {id} expired; call the tool again without plan_id to get a new plan")]
    Expired { id: String },
    #[error("plan {id} was already used; call the tool again without plan_id to get a new plan")]
    AlreadyUsed { id: String },
    #[error(
        "plan {id} has not been approved yet: a human must run `zscaler-lifecycle-mcp approve {id}` in a terminal, or approve it on the page of `zscaler-lifecycle-mcp approve --web`, first"
    )]
    NotApproved { id: String },
    /// Named approvers or four-eyes: not enough distinct approvers yet.
    #[error(
        "plan {id} needs {required} distinct approver{plural}; approved so far by {so_far}: {who} must run `zscaler-lifecycle-mcp approve {id} --as NAME` in a terminal (or approve it with name and secret on the page of `zscaler-lifecycle-mcp approve --web`), then call again with plan_id \"{id}\"",
        plural = if *required == 1 { "" } else { "s" },
        who = if so_far == "nobody" { "a named approver" } else { "another named approver" }
    )]
    NeedsApprovals {
        id: String,
        required: u32,
        /// The approvers so far, `nobody` when none.
        so_far: String,
    },
    #[error(
        "plan {id} was made for {planned}, not for this call ({actual}); call the tool again without plan_id"
    )]
    Mismatch {
        id: String,
        planned: String,
        actual: String,
    },
    #[error("journal {path}: {message}")]
    Journal { path: String, message: String },
    /// The shared state backend (Redis) failed; nothing was changed.
    #[error(transparent)]
    Backend(#[from] crate::state::StateError),
}

/// Seconds since the Unix epoch; a clock before 1970 counts as 0 rather than panicking.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 UTC time of a Unix timestamp, for people reading plans and the journal.
pub fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(secs)).to_string()
}
