//! update_user: a mover. The name, department, comments and the exact set of groups an account
//! should end with, turned into one change (a diff: groups added and removed) and written in one
//! backend call. A change that takes access away (a group removed, another department) is
//! always confirmed; one that only adds (or renames, or comments) is confirmed where
//! `policy.confirm_tools` names update_user.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::guard::confirm::Confirmer;
use crate::guard::plan::user_target;
use crate::guard::policy::quote;
use crate::model::{Department, DepartmentRef, Group, GroupRef, User, UserUpdate};

use super::catalog::UPDATE_USER;
use super::execute::Writer;
use super::gate::{Passed, Proposal, gate_user, input_of, precheck_plan};
use super::result::{ConfirmationInfo, WriteResult, WriteStatus, group_names, opt};
use super::{App, Caller, Connection, ToolError, provider_error, resolve};

/// Arguments of update_user.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserArgs {
    /// The user's email (case-insensitive) or id.
    pub user: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Must exist on native ZIA.
    #[serde(default)]
    pub department: Option<String>,
    /// The exact set of groups to end with.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// Native ZIA only; "" clears.
    #[serde(default)]
    pub comments: Option<String>,
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
    /// Approved plan id (same arguments as the first call).
    #[serde(default)]
    pub plan_id: String,
}

/// What a mover's account should end with; `None` keeps that part as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Desired<'a> {
    pub name: Option<&'a str>,
    /// A department name (or id on native ZIA).
    pub department: Option<&'a str>,
    /// The exact set of group names (or ids).
    pub groups: Option<&'a [String]>,
    pub comments: Option<&'a str>,
}

/// The change that brings `user` to `want` on `conn`, with names resolved against the
/// connection's `groups` and `departments` (read once by the caller, so a batch reads them
/// once). Refuses, before anything is sent: a bad name, an unknown department or group, a
/// protected group added or removed, comments where the backend keeps none, and native ZIA
/// accounts left without a group. An empty [`UserUpdate`] means nothing needs to change.
pub fn diff(
    app: &App,
    conn: &Connection,
    user: &User,
    want: &Desired<'_>,
    groups: &[Group],
    departments: &[Department],
) -> Result<UserUpdate, ToolError> {
    let native = conn.provider.capabilities().departments;
    let mut update = UserUpdate::default();
    if let Some(name) = want.name.map(str::trim) {
        let chars = name.chars().count();
        if chars == 0 || chars > 127 || name.chars().any(char::is_control) {
            return Err(ToolError::invalid_input(format!(
                "name must be 1 to 127 characters without control characters (got {chars}); omit name to keep {}",
                quote(&user.name)
            )));
        }
        if name != user.name {
            update.name = Some(name.to_string());
        }
    }
    if let Some(wanted) = want.department.map(str::trim) {
        if wanted.is_empty() {
            return Err(ToolError::invalid_input(
                "department is empty: name the department the user moves to, or omit department to keep the current one",
            ));
        }
        // Native ZIA departments are objects that must exist; elsewhere a department is text.
        let department = if native {
            resolve::department(conn, departments, wanted)?
        } else {
            DepartmentRef {
                id: wanted.to_string(),
                name: wanted.to_string(),
            }
        };
        let same = user.department.as_ref().is_some_and(|d| {
            if native {
                d.id == department.id
            } else {
                d.name.eq_ignore_ascii_case(&department.name)
            }
        });
        if !same {
            update.department = Some(department);
        }
    }
    if let Some(names) = want.groups {
        app.policy
            .check_targets(UPDATE_USER, names.len(), "groups")
            .map_err(ToolError::refused)?;
        if names.is_empty() && native {
            return Err(ToolError::invalid_input(
                "groups is empty: a native ZIA account needs at least one group; list_groups shows the available ones (omit groups to keep the current ones)",
            ));
        }
        for g in names {
            app.policy.check_group(g).map_err(ToolError::refused)?;
        }
        let wanted = resolve::groups(conn, groups, names)?;
        update.add_groups = wanted
            .iter()
            .filter(|g| !user.groups.iter().any(|m| m.id == g.id))
            .cloned()
            .collect();
        update.remove_groups = user
            .groups
            .iter()
            .filter(|m| !wanted.iter().any(|g| g.id == m.id))
            .cloned()
            .collect();
        // A protected group can be neither joined nor left, whichever way it is named.
        for g in update.add_groups.iter().chain(&update.remove_groups) {
            app.policy.check_group_ref(g).map_err(ToolError::refused)?;
        }
    }
    if let Some(comments) = want.comments.map(str::trim) {
        // Only some backends' user objects have a comments field (native ZIA).
        if !conn.provider.capabilities().comments {
            return Err(ToolError::invalid_input(format!(
                "connection {} keeps no comments on users (only native ZIA does); call again without comments",
                conn.name
            )));
        }
        if comments != user.comments.as_deref().unwrap_or_default() {
            update.comments = Some(comments.to_string());
        }
    }
    Ok(update)
}

/// Whether a change takes access away (a group removed, or another department, which
/// department-based policies follow): such a change is always confirmed.
pub fn takes_access_away(update: &UserUpdate) -> bool {
    !update.remove_groups.is_empty() || update.department.is_some()
}

/// The change in words, for the plan: one line per part, quoting tenant text as data.
pub fn describe(user: &User, update: &UserUpdate) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(n) = &update.name {
        lines.push(format!(
            "Rename to {} (was {})",
            quote(n),
            quote(&user.name)
        ));
    }
    if let Some(d) = &update.department {
        lines.push(format!(
            "Move from department {} to {}",
            user.department
                .as_ref()
                .map(|x| quote(&x.name))
                .unwrap_or_else(|| "none".into()),
            quote(&d.name)
        ));
    }
    if !update.add_groups.is_empty() {
        lines.push(format!("Add to {}", group_names(&update.add_groups)));
    }
    if !update.remove_groups.is_empty() {
        lines.push(format!(
            "Remove from {}",
            group_names(&update.remove_groups)
        ));
    }
    if let Some(c) = &update.comments {
        lines.push(if c.is_empty() {
            "Clear the comments".to_string()
        } else {
            format!("Set the comments to {}", quote(c))
        });
    }
    let kept: Vec<GroupRef> = user
        .groups
        .iter()
        .filter(|g| !update.remove_groups.iter().any(|r| r.id == g.id))
        .cloned()
        .collect();
    if !kept.is_empty() && (!update.add_groups.is_empty() || !update.remove_groups.is_empty()) {
        lines.push(format!("Keep {}", group_names(&kept)));
    }
    lines
}

/// The change in one line, for the summary and the activation ledger.
fn summary_of(user: &User, update: &UserUpdate) -> String {
    let mut parts = Vec::new();
    if let Some(n) = &update.name {
        parts.push(format!("renamed to {}", quote(n)));
    }
    if let Some(d) = &update.department {
        parts.push(format!("moved to department {}", quote(&d.name)));
    }
    if !update.add_groups.is_empty() {
        parts.push(format!("added to {}", group_names(&update.add_groups)));
    }
    if !update.remove_groups.is_empty() {
        parts.push(format!(
            "removed from {}",
            group_names(&update.remove_groups)
        ));
    }
    if update.comments.is_some() {
        parts.push("comments changed".into());
    }
    format!(
        "updated user {} ({}): {}",
        user.email,
        user.id,
        parts.join("; ")
    )
}

pub async fn update_user(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: UpdateUserArgs,
) -> Result<WriteResult, ToolError> {
    app.policy
        .check_write(UPDATE_USER)
        .map_err(ToolError::refused)?;
    let conn = app.connection_for(UPDATE_USER, opt(&args.connection).as_deref())?;
    if args.name.is_none()
        && args.department.is_none()
        && args.groups.is_none()
        && args.comments.is_none()
    {
        return Err(ToolError::invalid_input(
            "nothing to change: pass name, department, groups (the exact set the account should end with) or comments",
        ));
    }
    precheck_plan(app, caller, UPDATE_USER, &conn.name, &args.plan_id)?;
    let user = resolve::user(conn, &args.user).await?;
    app.policy.check_user(&user).map_err(ToolError::refused)?;
    let native = conn.provider.capabilities().departments;
    let want_groups = args.groups.is_some();
    let want_departments = native && args.department.is_some();
    let (groups, departments) = tokio::try_join!(
        async {
            if want_groups {
                conn.provider.list_groups().await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            if want_departments {
                conn.provider.list_departments().await
            } else {
                Ok(Vec::new())
            }
        }
    )
    .map_err(|e| provider_error(&conn.name, "reading groups and departments", e))?;
    let want = Desired {
        name: args.name.as_deref(),
        department: args.department.as_deref(),
        groups: args.groups.as_deref(),
        comments: args.comments.as_deref(),
    };
    let update = diff(app, conn, &user, &want, &groups, &departments)?;
    if update.is_empty() {
        let mut r = WriteResult::new(
            WriteStatus::NoChange,
            conn,
            format!(
                "{} already has every value asked for; nothing changed.",
                quote(&user.email)
            ),
        );
        r.user = Some(user);
        return Ok(r);
    }
    let staged = conn.provider.capabilities().staged_changes;
    let confirm = takes_access_away(&update)
        || app.policy.needs_confirmation(UPDATE_USER)
        || opt(&args.plan_id).is_some();
    let (user, plan, confirmation) = if confirm {
        let mut changes = vec![format!(
            "Update user {} {} (id {}) on connection {}",
            quote(&user.name),
            quote(&user.email),
            user.id,
            conn.name
        )];
        changes.extend(describe(&user, &update));
        if staged {
            changes.push("Staged on the tenant until activate_changes".into());
        }
        let ids = |refs: &[GroupRef]| {
            let mut ids: Vec<String> = refs.iter().map(|g| g.id.clone()).collect();
            ids.sort();
            ids
        };
        let proposal = Proposal {
            tool: UPDATE_USER,
            arguments: json!({
                "user": user.id,
                "name": update.name,
                "department": update.department.as_ref().map(|d| &d.id),
                "add_group_ids": ids(&update.add_groups),
                "remove_group_ids": ids(&update.remove_groups),
                "comments": update.comments,
            }),
            input: input_of(&args),
            plan_id: &args.plan_id,
            changes,
            targets: vec![user_target(&user)],
        };
        match gate_user(app, conn, caller, confirmer, proposal, user).await? {
            Ok((Passed { plan, confirmation }, user)) => (user, Some(plan), confirmation),
            Err(stop) => return Ok(*stop),
        }
    } else {
        (user, None, ConfirmationInfo::not_required())
    };
    let writer = Writer {
        app,
        caller,
        conn,
        tool: UPDATE_USER,
        plan: plan.as_ref(),
        confirmation: &confirmation,
    };
    let line = summary_of(&user, &update);
    let written = writer.update_user(&user, &update, line.clone()).await?;
    Ok(WriteResult::of_account_write(
        conn,
        written,
        &line,
        plan,
        confirmation,
    ))
}
