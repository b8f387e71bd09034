//! activate_changes: publish a native ZIA tenant's staged changes (tenant-wide), showing this
//! server's own staged changes — from every process that shares its state — first.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::guard::confirm::Confirmer;
use crate::guard::plan::{PlanTarget, value_fingerprint};
use crate::model::ActivationState;

use super::catalog::ACTIVATE_CHANGES;
use super::execute::Writer;
use super::gate::{Passed, Proposal, gate_once, input_of, precheck_plan};
use super::result::{WriteResult, WriteStatus, opt};
use super::{App, Caller, ToolError};

/// Arguments of activate_changes.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateChangesArgs {
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
    /// Approved plan id (same arguments as the first call).
    #[serde(default)]
    pub plan_id: String,
}

pub async fn activate_changes(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: ActivateChangesArgs,
) -> Result<WriteResult, ToolError> {
    app.policy
        .check_write(ACTIVATE_CHANGES)
        .map_err(ToolError::refused)?;
    let conn = app.connection_for(ACTIVATE_CHANGES, opt(&args.connection).as_deref())?;
    if !conn.provider.capabilities().staged_changes {
        return Err(ToolError::invalid_input(format!(
            "connection {} applies changes immediately; there is nothing to activate",
            conn.name
        )));
    }
    precheck_plan(app, caller, ACTIVATE_CHANGES, &conn.name, &args.plan_id)?;
    let status = super::activation_status(conn).await?;
    let mine = app.ledger.pending(&conn.name);
    if status == ActivationState::Active {
        app.ledger.clear(&conn.name);
        let mut r = WriteResult::new(
            WriteStatus::NoChange,
            conn,
            "Nothing is pending on the tenant; nothing to activate.".into(),
        );
        r.tenant_status = Some(status);
        return Ok(r);
    }
    let mut changes = vec![format!(
        "Activate every pending change on connection {} (tenant-wide: it publishes other administrators' pending work too)",
        conn.name
    )];
    if mine.is_empty() {
        changes.push("None of the pending changes were made by this server".into());
    } else {
        changes.extend(
            mine.iter()
                .map(|e| format!("Staged by this server at {}: {}", e.at, e.summary)),
        );
    }
    let state = json!({"status": status, "ledger": mine});
    let target = PlanTarget {
        kind: "tenant".into(),
        id: conn.name.clone(),
        label: format!("pending changes on {}", conn.name),
        fingerprint: value_fingerprint(&state),
    };
    let arguments = json!({"connection": conn.name});
    let proposal = Proposal {
        tool: ACTIVATE_CHANGES,
        arguments,
        input: input_of(&args),
        plan_id: &args.plan_id,
        changes,
        targets: vec![target],
    };
    let Passed { plan, confirmation } =
        match gate_once(app, &conn.name, caller, confirmer, proposal).await? {
            Ok(go) => go,
            Err(stop) => return Ok(*stop),
        };
    let writer = Writer {
        app,
        caller,
        conn,
        tool: ACTIVATE_CHANGES,
        plan: Some(&plan),
        confirmation: &confirmation,
    };
    let written = writer.activate(&json!(mine)).await?;
    let mut r = match written.after {
        Some(status) => {
            let mut r = WriteResult::new(
                WriteStatus::Executed,
                conn,
                format!(
                    "Activated the pending changes on {} (tenant status {:?}).",
                    conn.name, status
                ),
            );
            r.tenant_status = Some(status);
            r
        }
        None if written.unknown => WriteResult::new(
            WriteStatus::OutcomeUnknown,
            conn,
            format!(
                "Whether the activation on {} happened is unknown (the tenant's answer was lost and its status could not be read); call pending_changes before trying again.",
                conn.name
            ),
        ),
        None => WriteResult::new(
            WriteStatus::Executed,
            conn,
            format!(
                "Activated the pending changes on {}; its status could not be read back (call pending_changes).",
                conn.name
            ),
        ),
    };
    r.notices.extend(written.notices);
    r.verification = Some(written.verification);
    r.plan = Some(plan);
    r.confirmation = Some(confirmation);
    Ok(r)
}
