//! restore_user: undoes a deactivation this server made, from the account as the journal
//! recorded it just before (the deactivation's "before" snapshot). An account that still
//! exists disabled (SCIM, ZIdentity) is set active and put back in the groups it had; one that
//! was deleted (native ZIA) is created again from the snapshot, and gets a new id. It grants
//! access, so it is always confirmed; only deactivations within `policy.restore_window_days`
//! can be undone.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::guard::confirm::Confirmer;
use crate::guard::plan::{PlanTarget, user_target, value_fingerprint};
use crate::guard::policy::quote;
use crate::guard::{now_secs, rfc3339};
use crate::model::{DepartmentRef, Group, GroupRef, NewUser, User, normalize_email};
use crate::provider::ProviderError;

use super::catalog::RESTORE_USER;
use super::execute::Writer;
use super::gate::{Gate, Passed, Proposal, gate, gate_user, input_of, precheck_plan};
use super::result::{WriteResult, WriteStatus, group_names, opt};
use super::{App, Caller, Connection, ToolError, provider_error};

/// Arguments of restore_user.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreUserArgs {
    /// Email or id of the deactivated account.
    pub user: String,
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
    /// Approved plan id (same arguments as the first call).
    #[serde(default)]
    pub plan_id: String,
}

/// A deactivation this server journaled: the account just before it, and when.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub before: User,
    /// `delete` or `disable`.
    pub mode: String,
    /// When it was done (Unix seconds), from the journal record.
    pub at: u64,
}

/// Whether a journal record is the executed deactivation (delete or disable) of the account
/// `key` names (its id, or its email in any case) on `connection`.
fn is_deactivation_of(r: &Map<String, Value>, connection: &str, key: &str) -> bool {
    let before = &r.get("before").cloned().unwrap_or_default();
    r.get("connection").and_then(Value::as_str) == Some(connection)
        && r.get("outcome").and_then(Value::as_str) == Some("executed")
        && matches!(
            r.get("mode").and_then(Value::as_str),
            Some("delete" | "disable")
        )
        && r.get("verification").and_then(Value::as_str) != Some("mismatch")
        && (before["id"].as_str() == Some(key)
            || before["email"]
                .as_str()
                .is_some_and(|e| normalize_email(e) == normalize_email(key)))
}

/// The latest deactivation of `key` on `connection` in the journal, if it is within the
/// restore window at `now`. The errors say what to do instead.
pub async fn find_snapshot(
    app: &App,
    connection: &str,
    key: &str,
    now: u64,
) -> Result<Snapshot, ToolError> {
    let key = key.trim().to_string();
    let window = app.policy.restore_window_secs;
    let journal = app.journal.clone();
    let scope = connection.to_string();
    let unreadable = |e: String| {
        ToolError::internal(format!(
            "restore_user needs the journal, which could not be read ({e}); nothing changed"
        ))
    };
    // The journal is files on disk: read it off the async workers, skipping rotated segments
    // that ended more than two windows ago (what they hold is far outside the window).
    let since = now.saturating_sub(window.saturating_mul(2));
    let found = {
        let key = key.clone();
        tokio::task::spawn_blocking(move || {
            journal.records_where(since, |r| is_deactivation_of(r, &scope, &key))
        })
        .await
        .map_err(|e| unreadable(e.to_string()))?
        .map_err(|e| unreadable(e.to_string()))?
    };
    let key = key.as_str();
    let latest = found
        .into_iter()
        .filter_map(|r| {
            let at = crate::guard::journal::record_time(&r)?;
            let before: User = serde_json::from_value(r.get("before")?.clone()).ok()?;
            let mode = r.get("mode")?.as_str()?.to_string();
            Some(Snapshot { before, mode, at })
        })
        .max_by_key(|s| s.at);
    let Some(snapshot) = latest else {
        return Err(ToolError::not_found(format!(
            "no snapshot of {} in the journal: restore_user undoes only deactivations (delete or disable) this server made on connection {connection}; check the email or id (get_user), or create the account again with create_user",
            quote(key)
        )));
    };
    if now.saturating_sub(snapshot.at) > window {
        return Err(ToolError::refused(format!(
            "{} was deactivated on {}, more than policy.restore_window_days ({} days) ago; restore_user no longer undoes it — create the account again with create_user",
            quote(&snapshot.before.email),
            rfc3339(snapshot.at),
            window / 86_400
        )));
    }
    Ok(snapshot)
}

pub async fn restore_user(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: RestoreUserArgs,
) -> Result<WriteResult, ToolError> {
    app.policy
        .check_write(RESTORE_USER)
        .map_err(ToolError::refused)?;
    let conn = app.connection_for(RESTORE_USER, opt(&args.connection).as_deref())?;
    precheck_plan(app, caller, RESTORE_USER, &conn.name, &args.plan_id)?;
    let snapshot = find_snapshot(app, &conn.name, &args.user, now_secs()).await?;
    let before = &snapshot.before;
    app.policy.check_user(before).map_err(ToolError::refused)?;
    let groups = conn
        .provider
        .list_groups()
        .await
        .map_err(|e| provider_error(&conn.name, "reading groups", e))?;
    // The snapshot's groups as the tenant has them now (by id); deleted ones cannot come back.
    let (kept, gone): (Vec<&GroupRef>, Vec<&GroupRef>) = before
        .groups
        .iter()
        .partition(|g| groups.iter().any(|t| t.id == g.id));
    let kept: Vec<GroupRef> = kept
        .into_iter()
        .filter_map(|g| groups.iter().find(|t| t.id == g.id))
        .map(|g: &Group| GroupRef {
            id: g.id.clone(),
            name: g.name.clone(),
        })
        .collect();
    let gone: Vec<GroupRef> = gone.into_iter().cloned().collect();
    let when = format!(
        "{} by this server on {}",
        if snapshot.mode == "delete" {
            "deleted"
        } else {
            "disabled"
        },
        rfc3339(snapshot.at)
    );
    let mut r = match conn.provider.get_user(&before.id).await {
        Ok(current) => {
            reactivate(
                app, caller, confirmer, &args, conn, &when, current, kept, &gone,
            )
            .await?
        }
        Err(ProviderError::NotFound { .. }) => {
            recreate(
                app, caller, confirmer, &args, conn, &when, before, kept, &gone,
            )
            .await?
        }
        Err(e) => return Err(provider_error(&conn.name, "reading the account", e)),
    };
    if !gone.is_empty() && r.status == WriteStatus::Executed {
        r.notices.push(format!(
            "Not restored: {} no longer exist on {}.",
            group_names(&gone),
            conn.name
        ));
    }
    Ok(r)
}

fn gone_line(gone: &[GroupRef]) -> Option<String> {
    (!gone.is_empty()).then(|| {
        format!(
            "Not restored: {} (no longer on the tenant)",
            group_names(gone)
        )
    })
}

fn sorted_ids(groups: &[GroupRef]) -> Vec<String> {
    let mut ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    ids.sort();
    ids
}

/// The account still exists (disabled): set it active and put it back in its groups.
#[allow(clippy::too_many_arguments)]
async fn reactivate(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: &RestoreUserArgs,
    conn: &Connection,
    when: &str,
    current: User,
    kept: Vec<GroupRef>,
    gone: &[GroupRef],
) -> Result<WriteResult, ToolError> {
    app.policy
        .check_user(&current)
        .map_err(ToolError::refused)?;
    let add: Vec<GroupRef> = kept
        .into_iter()
        .filter(|g| !current.groups.iter().any(|m| m.id == g.id))
        .collect();
    // A protected group is never joined, whichever way it comes back.
    for g in &add {
        app.policy.check_group_ref(g).map_err(ToolError::refused)?;
    }
    if current.active != Some(false) && add.is_empty() {
        let mut r = WriteResult::new(
            WriteStatus::NoChange,
            conn,
            format!(
                "{} is active and in every group it had; nothing to restore.",
                quote(&current.email)
            ),
        );
        r.user = Some(current);
        return Ok(r);
    }
    let mut changes = vec![format!(
        "Restore user {} {} (id {}) on connection {}, {when}: set it active",
        quote(&current.name),
        quote(&current.email),
        current.id,
        conn.name
    )];
    if !add.is_empty() {
        changes.push(format!("Add to {}", group_names(&add)));
    }
    changes.extend(gone_line(gone));
    let proposal = Proposal {
        tool: RESTORE_USER,
        arguments: json!({"user": current.id, "add_group_ids": sorted_ids(&add)}),
        input: input_of(args),
        plan_id: &args.plan_id,
        changes,
        targets: vec![user_target(&current)],
    };
    let (current, Passed { plan, confirmation }) =
        match gate_user(app, conn, caller, confirmer, proposal, current).await? {
            Ok((passed, user)) => (user, passed),
            Err(stop) => return Ok(*stop),
        };
    let writer = Writer {
        app,
        caller,
        conn,
        tool: RESTORE_USER,
        plan: Some(&plan),
        confirmation: &confirmation,
    };
    let line = format!(
        "restored user {} ({}): active{}",
        current.email,
        current.id,
        if add.is_empty() {
            String::new()
        } else {
            format!(", added to {}", group_names(&add))
        }
    );
    let written = writer.reactivate(&current, &add, line.clone()).await?;
    Ok(WriteResult::of_account_write(
        conn,
        written,
        &line,
        Some(plan),
        confirmation,
    ))
}

/// The account was deleted (native ZIA): create it again from the snapshot, with a new id.
#[allow(clippy::too_many_arguments)]
async fn recreate(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: &RestoreUserArgs,
    conn: &Connection,
    when: &str,
    before: &User,
    kept: Vec<GroupRef>,
    gone: &[GroupRef],
) -> Result<WriteResult, ToolError> {
    let native = conn.provider.capabilities().departments;
    let again = conn
        .provider
        .find_users_by_email(&before.email)
        .await
        .map_err(|e| provider_error(&conn.name, "looking the email up", e))?;
    if let Some(u) = again.first() {
        return Err(ToolError::conflict(format!(
            "{} exists again on {} (id {}): there is nothing to restore; change it with update_user",
            quote(&before.email),
            conn.name,
            u.id
        )));
    }
    for g in &kept {
        app.policy.check_group_ref(g).map_err(ToolError::refused)?;
    }
    if kept.is_empty() && native {
        return Err(ToolError::not_found(format!(
            "none of the groups {} was in still exists on {}, and a native ZIA account needs one; create it with create_user in the groups it needs now",
            quote(&before.email),
            conn.name
        )));
    }
    let department = match (&before.department, native) {
        (Some(d), true) => {
            let all = conn
                .provider
                .list_departments()
                .await
                .map_err(|e| provider_error(&conn.name, "reading departments", e))?;
            let Some(found) = all.iter().find(|x| x.id == d.id) else {
                return Err(ToolError::not_found(format!(
                    "department {} of {} no longer exists on {}; create the account with create_user in an existing department",
                    quote(&d.name),
                    quote(&before.email),
                    conn.name
                )));
            };
            Some(DepartmentRef {
                id: found.id.clone(),
                name: found.name.clone(),
            })
        }
        (d, _) => d.clone(),
    };
    let new = NewUser {
        name: before.name.clone(),
        email: before.email.clone(),
        department,
        groups: kept,
        comments: before.comments.clone(),
        password: None,
    };
    let arguments = json!({
        "email": normalize_email(&new.email), "old_id": before.id,
        "department": new.department.as_ref().map(|d| &d.id), "groups": sorted_ids(&new.groups),
    });
    let mut changes = vec![
        format!(
            "Re-create user {} {} on connection {} from the journal's snapshot ({when}); the old id {} is gone, the account gets a new id",
            quote(&new.name),
            quote(&new.email),
            conn.name,
            before.id
        ),
        format!(
            "In department {} with groups {}{}",
            new.department
                .as_ref()
                .map(|d| quote(&d.name))
                .unwrap_or_else(|| "none".into()),
            if new.groups.is_empty() {
                "none".into()
            } else {
                group_names(&new.groups)
            },
            new.comments
                .as_deref()
                .map(|c| format!(", comments {}", quote(c)))
                .unwrap_or_default()
        ),
    ];
    changes.extend(gone_line(gone));
    let proposal = Proposal {
        tool: RESTORE_USER,
        targets: vec![PlanTarget {
            kind: "new_user".into(),
            id: normalize_email(&new.email),
            label: normalize_email(&new.email),
            fingerprint: value_fingerprint(&arguments),
        }],
        arguments,
        input: input_of(args),
        plan_id: &args.plan_id,
        changes,
    };
    let (plan, confirmation) = match gate(app, &conn.name, caller, confirmer, proposal).await? {
        Gate::Stop(r) => return Ok(*r),
        Gate::Proceed {
            plan, confirmation, ..
        } => (plan, confirmation),
    };
    let writer = Writer {
        app,
        caller,
        conn,
        tool: RESTORE_USER,
        plan: Some(&plan),
        confirmation: &confirmation,
    };
    let written = writer.create_user(&new).await?;
    let mut r = match &written.after {
        Some(user) => WriteResult::new(
            WriteStatus::Executed,
            conn,
            format!(
                "Restored user {} on {} as a new account: its new id is {} (the old id {} is gone).",
                quote(&user.email),
                conn.name,
                user.id,
                before.id
            ),
        ),
        None => WriteResult::new(
            WriteStatus::OutcomeUnknown,
            conn,
            format!(
                "Whether user {} was re-created on {} is unknown (the tenant's answer was lost); call get_user with the email before trying again.",
                quote(&before.email),
                conn.name
            ),
        ),
    };
    r.notices.extend(written.notices);
    r.verification = Some(written.verification);
    r.user = written.after;
    r.plan = Some(plan);
    r.confirmation = Some(confirmation);
    r.staged_where(conn);
    Ok(r)
}
