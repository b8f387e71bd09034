//! add_to_group and remove_from_group: one account's memberships, every other one kept.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::guard::confirm::Confirmer;
use crate::guard::plan::{Plan, user_target};
use crate::guard::policy::quote;
use crate::model::{GroupRef, User};

use super::catalog::{ADD_TO_GROUP, REMOVE_FROM_GROUP};
use super::execute::Writer;
use super::gate::{Passed, Proposal, gate_user, input_of, precheck_plan};
use super::result::{ConfirmationInfo, WriteResult, WriteStatus, group_names, opt};
use super::{App, Caller, Connection, ToolError, provider_error, resolve};

/// Arguments of add_to_group.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddToGroupArgs {
    /// The user's email (case-insensitive) or id.
    pub user: String,
    /// Group names to add; other memberships are kept.
    pub groups: Vec<String>,
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
    /// Approved plan id, if policy requires confirmation.
    #[serde(default)]
    pub plan_id: String,
}

/// Arguments of remove_from_group.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveFromGroupArgs {
    /// The user's email (case-insensitive) or id.
    pub user: String,
    /// Group names to remove; other memberships are kept.
    pub groups: Vec<String>,
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
    /// Approved plan id (same arguments as the first call).
    #[serde(default)]
    pub plan_id: String,
}

/// Shared by add and remove: resolve, check policy on the resolved account and groups, and
/// find which memberships really change.
async fn membership_targets(
    app: &App,
    conn: &Connection,
    user_key: &str,
    names: &[String],
    adding: bool,
) -> Result<(User, Vec<GroupRef>), ToolError> {
    if names.is_empty() {
        return Err(ToolError::invalid_input(
            "groups is empty: name at least one group",
        ));
    }
    let tool = if adding {
        ADD_TO_GROUP
    } else {
        REMOVE_FROM_GROUP
    };
    app.policy
        .check_targets(tool, names.len(), "groups")
        .map_err(ToolError::refused)?;
    let user = resolve::user(conn, user_key).await?;
    app.policy.check_user(&user).map_err(ToolError::refused)?;
    for g in names {
        app.policy.check_group(g).map_err(ToolError::refused)?;
    }
    let requested = if adding {
        let all = conn
            .provider
            .list_groups()
            .await
            .map_err(|e| provider_error(&conn.name, "list_groups", e))?;
        resolve::groups(conn, &all, names)?
    } else {
        // Removal resolves against the user's own memberships: no extra call, and a group the
        // user is not in is a clear error rather than a silent no-op.
        let current: Vec<crate::model::Group> = user
            .groups
            .iter()
            .map(|g| crate::model::Group {
                id: g.id.clone(),
                name: g.name.clone(),
                comments: None,
                system_defined: false,
            })
            .collect();
        resolve::groups(conn, &current, names).map_err(|_| {
            ToolError::not_found(format!(
                "user {} is not a member of {}; current groups: {}",
                quote(&user.email),
                names
                    .iter()
                    .map(|n| quote(n))
                    .collect::<Vec<_>>()
                    .join(", "),
                if user.groups.is_empty() {
                    "none".to_string()
                } else {
                    group_names(&user.groups)
                }
            ))
        })?
    };
    for g in &requested {
        app.policy.check_group_ref(g).map_err(ToolError::refused)?;
    }
    let changing: Vec<GroupRef> = requested
        .into_iter()
        .filter(|g| user.groups.iter().any(|m| m.id == g.id) != adding)
        .collect();
    Ok((user, changing))
}

/// A membership change that passed the gate (or needed none).
struct MembershipChange<'a> {
    tool: &'a str,
    before: &'a User,
    add: &'a [GroupRef],
    remove: &'a [GroupRef],
    confirmation: ConfirmationInfo,
    plan: Option<Plan>,
}

async fn finish_membership(
    app: &App,
    caller: &Caller,
    conn: &Connection,
    change: MembershipChange<'_>,
) -> Result<WriteResult, ToolError> {
    let MembershipChange {
        tool,
        before,
        add,
        remove,
        confirmation,
        plan,
    } = change;
    let what = if add.is_empty() {
        format!(
            "removed {} from {}",
            quote(&before.email),
            group_names(remove)
        )
    } else {
        format!("added {} to {}", quote(&before.email), group_names(add))
    };
    let writer = Writer {
        app,
        caller,
        conn,
        tool,
        plan: plan.as_ref(),
        confirmation: &confirmation,
    };
    let written = writer
        .change_groups(before, add, remove, what.clone())
        .await?;
    Ok(WriteResult::of_account_write(
        conn,
        written,
        &what,
        plan,
        confirmation,
    ))
}

pub async fn add_to_group(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: AddToGroupArgs,
) -> Result<WriteResult, ToolError> {
    app.policy
        .check_write(ADD_TO_GROUP)
        .map_err(ToolError::refused)?;
    let conn = app.connection_for(ADD_TO_GROUP, opt(&args.connection).as_deref())?;
    let (user, add) = membership_targets(app, conn, &args.user, &args.groups, true).await?;
    if add.is_empty() {
        let mut r = WriteResult::new(
            WriteStatus::NoChange,
            conn,
            format!(
                "{} is already a member of every requested group; nothing changed.",
                quote(&user.email)
            ),
        );
        r.user = Some(user);
        return Ok(r);
    }
    let (user, plan, confirmation) = if app.policy.needs_confirmation(ADD_TO_GROUP) {
        precheck_plan(app, caller, ADD_TO_GROUP, &conn.name, &args.plan_id)?;
        let mut ids: Vec<String> = add.iter().map(|g| g.id.clone()).collect();
        ids.sort();
        let proposal = Proposal {
            tool: ADD_TO_GROUP,
            arguments: json!({"user": user.id, "add_group_ids": ids}),
            input: input_of(&args),
            plan_id: &args.plan_id,
            changes: vec![format!(
                "Add user {} {} (id {}) to {}; keep their other groups",
                quote(&user.name),
                quote(&user.email),
                user.id,
                group_names(&add)
            )],
            targets: vec![user_target(&user)],
        };
        match gate_user(app, conn, caller, confirmer, proposal, user).await? {
            Ok((Passed { plan, confirmation }, user)) => (user, Some(plan), confirmation),
            Err(stop) => return Ok(*stop),
        }
    } else {
        (user, None, ConfirmationInfo::not_required())
    };
    let change = MembershipChange {
        tool: ADD_TO_GROUP,
        before: &user,
        add: &add,
        remove: &[],
        confirmation,
        plan,
    };
    finish_membership(app, caller, conn, change).await
}

pub async fn remove_from_group(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: RemoveFromGroupArgs,
) -> Result<WriteResult, ToolError> {
    app.policy
        .check_write(REMOVE_FROM_GROUP)
        .map_err(ToolError::refused)?;
    let conn = app.connection_for(REMOVE_FROM_GROUP, opt(&args.connection).as_deref())?;
    precheck_plan(app, caller, REMOVE_FROM_GROUP, &conn.name, &args.plan_id)?;
    let (user, remove) = membership_targets(app, conn, &args.user, &args.groups, false).await?;
    let mut ids: Vec<String> = remove.iter().map(|g| g.id.clone()).collect();
    ids.sort();
    let proposal = Proposal {
        tool: REMOVE_FROM_GROUP,
        arguments: json!({"user": user.id, "remove_group_ids": ids}),
        input: input_of(&args),
        plan_id: &args.plan_id,
        changes: vec![format!(
            "Remove user {} {} (id {}) from {}; keep their other groups",
            quote(&user.name),
            quote(&user.email),
            user.id,
            group_names(&remove)
        )],
        targets: vec![user_target(&user)],
    };
    let (passed, user) = match gate_user(app, conn, caller, confirmer, proposal, user).await? {
        Ok(go) => go,
        Err(stop) => return Ok(*stop),
    };
    let change = MembershipChange {
        tool: REMOVE_FROM_GROUP,
        before: &user,
        add: &[],
        remove: &remove,
        confirmation: passed.confirmation,
        plan: Some(passed.plan),
    };
    finish_membership(app, caller, conn, change).await
}
