//! deactivate on one account of one connection, and what every deactivation path shares:
//! the modes, the quarantine group, and carrying one out.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::guard::confirm::Confirmer;
use crate::guard::plan::{Plan, user_target};
use crate::guard::policy::quote;
use crate::model::{GroupRef, User};

use super::catalog::DEACTIVATE;
use super::execute::{Writer, Written};
use super::gate::{Passed, Proposal, gate_user, input_of, precheck_plan};
use super::result::{ConfirmationInfo, Verification, WriteResult, WriteStatus, group_names, opt};
use super::{App, Caller, Connection, ToolError, provider_error, resolve};

/// How to take an account away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeactivateMode {
    /// Delete the account (native ZIA has no disabled state).
    Delete,
    /// Mark the account inactive, keeping it (SCIM backends).
    Disable,
    /// Keep the account but move it into the connection's quarantine group and remove every
    /// other membership (needs `quarantine_group` on the connection).
    Quarantine,
}

impl DeactivateMode {
    /// Whether this mode can remove an account (and so counts against the deletion cap).
    pub fn destructive(self, caps: &crate::provider::Capabilities) -> bool {
        match self {
            DeactivateMode::Delete => true,
            DeactivateMode::Disable => caps.disable_may_delete,
            DeactivateMode::Quarantine => false,
        }
    }

    /// The gentlest mode a connection offers when the caller names none: disable where there
    /// is a disabled state, else delete.
    pub fn gentlest(caps: &crate::provider::Capabilities) -> Self {
        if caps.disable {
            DeactivateMode::Disable
        } else {
            DeactivateMode::Delete
        }
    }

    pub(super) fn verb(self) -> &'static str {
        match self {
            DeactivateMode::Delete => "Delete",
            DeactivateMode::Disable => "Disable",
            DeactivateMode::Quarantine => "Quarantine",
        }
    }

    pub(super) fn past(self) -> &'static str {
        match self {
            DeactivateMode::Delete => "Deleted",
            DeactivateMode::Disable => "Disabled",
            DeactivateMode::Quarantine => "Quarantined",
        }
    }
}

/// The mode asked for if the connection can do it, else the gentlest it offers; an impossible
/// mode is refused with the call that would work.
pub(super) fn checked_mode(
    conn: &Connection,
    asked: Option<DeactivateMode>,
) -> Result<DeactivateMode, ToolError> {
    let caps = conn.provider.capabilities();
    let mode = asked.unwrap_or(DeactivateMode::gentlest(&caps));
    match mode {
        DeactivateMode::Disable if !caps.disable => Err(ToolError::invalid_input(format!(
            "connection {} (native ZIA) has no disabled state; call deactivate with mode \"delete\" to remove the account (the plan shows the full account first)",
            conn.name
        ))),
        DeactivateMode::Delete if !caps.delete => Err(ToolError::invalid_input(format!(
            "connection {} cannot delete users; use mode \"disable\"",
            conn.name
        ))),
        m => Ok(m),
    }
}

/// A deactivation ready to run on one connection: the mode with what it needs, so that a
/// quarantine without its group cannot be expressed.
#[derive(Debug, Clone)]
pub(super) enum Deactivation {
    Delete,
    Disable,
    Quarantine(GroupRef),
}

impl Deactivation {
    /// Resolves a mode on a connection (quarantine looks the connection's group up).
    pub(super) async fn for_mode(
        mode: DeactivateMode,
        conn: &Connection,
    ) -> Result<Self, ToolError> {
        Ok(match mode {
            DeactivateMode::Delete => Self::Delete,
            DeactivateMode::Disable => Self::Disable,
            DeactivateMode::Quarantine => Self::Quarantine(quarantine_group(conn).await?),
        })
    }

    pub(super) fn mode(&self) -> DeactivateMode {
        match self {
            Self::Delete => DeactivateMode::Delete,
            Self::Disable => DeactivateMode::Disable,
            Self::Quarantine(_) => DeactivateMode::Quarantine,
        }
    }
}

/// The quarantine group of a connection, resolved, or why quarantine cannot be used there.
async fn quarantine_group(conn: &Connection) -> Result<GroupRef, ToolError> {
    let name = conn.quarantine_group.as_deref().ok_or_else(|| {
        ToolError::invalid_input(format!(
            "connection {} has no quarantine_group configured; use mode \"disable\" or \"delete\", or ask an administrator to set quarantine_group",
            conn.name
        ))
    })?;
    let all = conn
        .provider
        .list_groups()
        .await
        .map_err(|e| provider_error(&conn.name, "list_groups", e))?;
    let found = resolve::groups(conn, &all, &[name.to_string()])?;
    found
        .into_iter()
        .next()
        .ok_or_else(|| ToolError::not_found(format!("quarantine group {} not found", quote(name))))
}

/// The memberships quarantine removes, refused if a protected group is among them or is the
/// quarantine group itself.
pub(super) fn quarantine_removals(
    app: &App,
    user: &User,
    quarantine: &GroupRef,
) -> Result<Vec<GroupRef>, ToolError> {
    let remove: Vec<GroupRef> = user
        .groups
        .iter()
        .filter(|g| g.id != quarantine.id)
        .cloned()
        .collect();
    for g in remove.iter().chain(std::iter::once(quarantine)) {
        app.policy.check_group_ref(g).map_err(ToolError::refused)?;
    }
    Ok(remove)
}

/// Arguments of deactivate.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivateArgs {
    /// The user's email (case-insensitive) or id (an email when connection is "all").
    #[serde(default)]
    pub user: String,
    /// Instead of user: several emails or ids on one connection, in one plan.
    #[serde(default)]
    pub users: Vec<String>,
    /// Omit when only one is configured; "all": every connection where the email exists.
    #[serde(default)]
    pub connection: String,
    /// Default: the gentlest the connection offers (disable, else delete).
    #[serde(default)]
    pub mode: Option<DeactivateMode>,
    /// Approved plan id (same arguments as the first call).
    #[serde(default)]
    pub plan_id: String,
}

pub async fn deactivate(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: DeactivateArgs,
) -> Result<WriteResult, ToolError> {
    app.policy
        .check_write(DEACTIVATE)
        .map_err(ToolError::refused)?;
    if !args.users.is_empty() {
        return super::batch::deactivate_many(app, caller, confirmer, args).await;
    }
    if args
        .connection
        .trim()
        .eq_ignore_ascii_case(super::offboard::ALL)
    {
        return super::offboard::deactivate_everywhere(app, caller, confirmer, args).await;
    }
    let conn = app.connection_for(DEACTIVATE, opt(&args.connection).as_deref())?;
    let caps = conn.provider.capabilities();
    let mode = checked_mode(conn, args.mode)?;
    precheck_plan(app, caller, DEACTIVATE, &conn.name, &args.plan_id)?;
    // On ZIA SCIM a disable may delete the account, so it is capped like a deletion.
    if mode.destructive(&caps) {
        app.deletions
            .check(&conn.name, 1)
            .map_err(ToolError::from)?;
    }
    let action = Deactivation::for_mode(mode, conn).await?;
    let user = resolve::user(conn, &args.user).await?;
    app.policy.check_user(&user).map_err(ToolError::refused)?;
    let mut changes = vec![format!(
        "{} user {} {} (id {}) on connection {}",
        mode.verb(),
        quote(&user.name),
        quote(&user.email),
        user.id,
        conn.name
    )];
    match &action {
        Deactivation::Quarantine(q) => {
            let remove = quarantine_removals(app, &user, q)?;
            changes.push(format!(
                "Move them into {} and remove them from {}; the account stays",
                quote(&q.name),
                if remove.is_empty() {
                    "no other group".into()
                } else {
                    group_names(&remove)
                }
            ));
        }
        Deactivation::Delete | Deactivation::Disable => changes.push(format!(
            "Their department {} and groups {} go with the account (a snapshot is kept in the journal)",
            user.department
                .as_ref()
                .map(|d| quote(&d.name))
                .unwrap_or_else(|| "none".into()),
            if user.groups.is_empty() {
                "none".into()
            } else {
                group_names(&user.groups)
            }
        )),
    }
    if mode == DeactivateMode::Disable && caps.disable_may_delete {
        changes.push(
            "Warning: this ZIA SCIM server may DELETE the account when it is set inactive; treat this as a deletion".into(),
        );
    }
    if caps.staged_changes {
        changes.push("Staged on the tenant until activate_changes".into());
    }
    let proposal = Proposal {
        tool: DEACTIVATE,
        arguments: json!({"user": user.id, "mode": mode}),
        input: input_of(&args),
        plan_id: &args.plan_id,
        changes,
        targets: vec![user_target(&user)],
    };
    let (Passed { plan, confirmation }, user) =
        match gate_user(app, conn, caller, confirmer, proposal, user).await? {
            Ok(go) => go,
            Err(stop) => return Ok(*stop),
        };
    let done =
        carry_out_deactivation(app, caller, conn, &user, &action, &plan, &confirmation).await?;
    let status = if done.written.unknown {
        WriteStatus::OutcomeUnknown
    } else {
        WriteStatus::Executed
    };
    let mut r = WriteResult::new(status, conn, done.summary);
    r.notices.extend(done.written.notices);
    r.verification = Some(done.written.verification);
    r.user = done.written.after;
    r.staged = caps.staged_changes;
    r.plan = Some(plan);
    r.confirmation = Some(confirmation);
    if caps.staged_changes {
        // Quarantine on native ZIA stages a membership change, not a deletion.
        let what = if mode == DeactivateMode::Quarantine {
            "change"
        } else {
            "deletion"
        };
        r.next_step = Some(format!(
            "The {what} is staged; call activate_changes to make it live."
        ));
    }
    Ok(r)
}

/// What one approved deactivation did on one connection.
pub(super) struct Deactivated {
    pub written: Written<User>,
    pub summary: String,
}

/// Executes one approved deactivation (delete, disable or quarantine) on one connection
/// through the [`Writer`], which checks, journals and reads back. Shared by the
/// single-connection, batch and `connection: "all"` paths so all honour the same caps and
/// records.
pub(super) async fn carry_out_deactivation(
    app: &App,
    caller: &Caller,
    conn: &Connection,
    user: &User,
    action: &Deactivation,
    plan: &Plan,
    confirmation: &ConfirmationInfo,
) -> Result<Deactivated, ToolError> {
    let writer = Writer {
        app,
        caller,
        conn,
        tool: DEACTIVATE,
        plan: Some(plan),
        confirmation,
    };
    deactivate_with(&writer, user, action).await
}

/// Carries out one deactivation through `writer`, whose tool (deactivate, reconcile) the
/// journal records.
pub(super) async fn deactivate_with(
    writer: &Writer<'_>,
    user: &User,
    action: &Deactivation,
) -> Result<Deactivated, ToolError> {
    let (app, conn) = (writer.app, writer.conn);
    let mode = action.mode();
    let caps = conn.provider.capabilities();
    let ledger_line = format!(
        "{} user {} ({})",
        mode.verb().to_lowercase(),
        user.email,
        user.id
    );
    let written = match action {
        Deactivation::Delete => writer.take_away(user, false, true, ledger_line).await?,
        Deactivation::Disable => {
            writer
                .take_away(user, true, mode.destructive(&caps), ledger_line)
                .await?
        }
        Deactivation::Quarantine(q) => {
            let remove = quarantine_removals(app, user, q)?;
            let add: Vec<GroupRef> = if user.groups.iter().any(|g| g.id == q.id) {
                Vec::new()
            } else {
                vec![q.clone()]
            };
            let mut w = writer
                .change_groups(user, &add, &remove, ledger_line)
                .await?;
            if let Some(after) = &w.after {
                w.verification =
                    Verification::matched(after.groups.len() == 1 && after.groups[0].id == q.id);
            }
            w
        }
    };
    let who = format!("{} (id {}) on {}", quote(&user.email), user.id, conn.name);
    let summary = if written.unknown {
        format!(
            "Whether user {who} was {} is unknown (the tenant's answer was lost); call get_user before trying again.",
            mode.past().to_lowercase()
        )
    } else {
        match (action, &written.after) {
            (Deactivation::Delete, _) => format!("Deleted user {who}."),
            (Deactivation::Quarantine(q), _) => {
                format!("Quarantined user {who}: only in {} now.", quote(&q.name))
            }
            (Deactivation::Disable, Some(_)) => format!("Disabled user {who}."),
            (Deactivation::Disable, None) => {
                format!("User {who} was set inactive and the server deleted the account.")
            }
        }
    };
    Ok(Deactivated { written, summary })
}
