//! What every write tool returns: its status, how it was confirmed, what was verified.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::guard::plan::Plan;
use crate::guard::policy::quote;
use crate::model::{ActivationState, GroupRef, User};

use super::Connection;

/// What happened to a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteStatus {
    /// The change was made.
    Executed,
    /// Nothing needed changing.
    NoChange,
    /// Nothing changed yet: a human must approve the plan (or, in token mode, the caller echoes
    /// its token), then call again with plan_id.
    AwaitingApproval,
    /// Some connections of a `connection: "all"` call changed and some failed (see outcomes).
    PartlyExecuted,
    /// The tenant's answer was lost and reading back could not tell whether the change
    /// happened: read the state (get_user) before calling again.
    OutcomeUnknown,
    /// The human declined or dismissed the confirmation; nothing changed.
    Declined,
    /// The client must ask the human and call again with the answer (never sent as a final
    /// result: the MCP layer turns it into an `InputRequiredResult`).
    InputRequired,
}

/// Whether reading the state back after the write showed what the plan said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    Verified,
    Mismatch,
    /// The state could not be read back.
    Unknown,
}

impl Verification {
    /// Verified when the read-back matched the plan, mismatch otherwise.
    pub(super) fn matched(ok: bool) -> Self {
        if ok { Self::Verified } else { Self::Mismatch }
    }
}

/// How a write was confirmed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConfirmationInfo {
    /// `elicitation`, `mrtr`, `approve-cli`, `approve-web`, `token`, or `not-required`.
    pub channel: String,
    /// Who approved, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
}

impl ConfirmationInfo {
    /// For a write no policy asks a human about.
    pub(super) fn not_required() -> Self {
        Self {
            channel: "not-required".into(),
            approver: None,
        }
    }
}

/// The result of every write tool.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WriteResult {
    pub status: WriteStatus,
    pub connection: String,
    /// What happened.
    pub summary: String,
    /// id, changes (in words), targets, expires_at.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub plan: Option<Plan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<ConfirmationInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// The user read back (as in get_user).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_status: Option<ActivationState>,
    /// Waits for activate_changes.
    pub staged: bool,
    /// What the agent should do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_step: Option<String>,
    /// Token mode only: the plan_id to call again with (the plan id and its token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id_with_token: Option<String>,
    /// Events to tell the person.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    /// Per-connection results of a `connection: "all"` call, or per-user of a `users` call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<ConnectionOutcome>,
    /// reconcile: the changes planned (and, once run, their outcomes) by kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<super::reconcile::ReconcileCounts>,
    /// reconcile: resource URI of every change (or outcome), CSV.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}

/// What happened on one connection of a `connection: "all"` call.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConnectionOutcome {
    pub connection: String,
    /// `executed`, `failed`, `not_found`; in a `users` batch also `unknown` (could not be read
    /// back).
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// What was done or why it failed.
    pub detail: String,
    /// The kind of the error it failed with (as a tool error's `kind`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<super::ErrorKind>,
}

impl WriteResult {
    pub(super) fn new(status: WriteStatus, conn: &Connection, summary: String) -> Self {
        let mut r = Self::scoped(status, &conn.name, summary);
        r.notices = conn.provider.take_notices();
        r
    }

    /// The result of a write to one account as the writer settled it: executed, with `line`
    /// (what was done) as its summary, or unknown when the tenant's answer was lost — with the
    /// account read back, the writer's notices, the plan and how it was confirmed, and the
    /// next step where the backend stages writes.
    pub(super) fn of_account_write(
        conn: &Connection,
        written: super::execute::Written<User>,
        line: &str,
        plan: Option<Plan>,
        confirmation: ConfirmationInfo,
    ) -> Self {
        let mut r = if written.unknown {
            Self::new(
                WriteStatus::OutcomeUnknown,
                conn,
                format!(
                    "Whether {line} on {} happened is unknown (the tenant's answer was lost); call get_user before trying again.",
                    conn.name
                ),
            )
        } else {
            Self::new(
                WriteStatus::Executed,
                conn,
                format!("{} on {}.", capitalize(line), conn.name),
            )
        };
        r.notices.extend(written.notices);
        r.verification = Some(written.verification);
        r.user = written.after;
        r.confirmation = Some(confirmation);
        r.plan = plan;
        r.staged_where(conn);
        r
    }

    /// Marks the result staged, with the next step, where the backend stages writes.
    pub(super) fn staged_where(&mut self, conn: &Connection) {
        self.staged = conn.provider.capabilities().staged_changes;
        if self.staged {
            self.next_step = Some(STAGED_NEXT_STEP.into());
        }
    }

    /// A result for a connection name or `all`, before any tenant call (no notices to drain).
    pub(super) fn scoped(status: WriteStatus, scope: &str, summary: String) -> Self {
        Self {
            status,
            connection: scope.to_string(),
            summary,
            plan: None,
            confirmation: None,
            verification: None,
            user: None,
            tenant_status: None,
            staged: false,
            next_step: None,
            plan_id_with_token: None,
            notices: Vec::new(),
            outcomes: Vec::new(),
            counts: None,
            report: None,
        }
    }
}

/// What to do after a write that ZIA keeps staged.
pub(super) const STAGED_NEXT_STEP: &str =
    "The change is staged on the tenant; call activate_changes when the batch is complete.";

pub(super) fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Tenant names of groups, quoted as data, for plans and summaries.
pub(super) fn group_names(refs: &[GroupRef]) -> String {
    refs.iter()
        .map(|g| quote(&g.name))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
