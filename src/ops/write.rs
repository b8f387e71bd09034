//! Write tools: create_user, add_to_group, remove_from_group, deactivate, activate_changes.
//!
//! Every destructive write goes through [`gate`]: it plans (targets + fingerprints + changes in
//! words), asks a human inline if the client can, otherwise stores the plan for out-of-band
//! approval and returns it; on the second call with `plan_id` it checks the plan is live,
//! approved, made for these arguments, and that the targets did not change since. Every outcome,
//! including a refusal or a declined confirmation, is journaled.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::guard::confirm::{ConfirmAnswer, Confirmer};
use crate::guard::now_secs;
use crate::guard::plan::{Plan, PlanTarget, split_plan_ref, user_target, value_fingerprint};
use crate::guard::policy::quote;
use crate::guard::store::PlanStore;
use crate::model::{ActivationState, GroupRef, NewUser, User, normalize_email};
use crate::provider::ProviderError;

use super::{App, Caller, Connection, ToolError, provider_error, resolve};

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

/// Which out-of-band channel approved a plan. The approval page signs its approvals with the
/// approver "USER (web)" (the approver is covered by the approval's HMAC), so the channel can be
/// told without changing the stored approval's format.
fn out_of_band_channel(approver: &str) -> &'static str {
    if approver.ends_with(" (web)") {
        "approve-web"
    } else {
        "approve-cli"
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
}

impl WriteResult {
    pub(super) fn new(status: WriteStatus, conn: &Connection, summary: String) -> Self {
        let mut r = Self::scoped(status, &conn.name, summary);
        r.notices = conn.provider.take_notices();
        r
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
        }
    }
}

/// What to do after a write that ZIA keeps staged.
const STAGED_NEXT_STEP: &str =
    "The change is staged on the tenant; call activate_changes when the batch is complete.";

pub(super) fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

pub(super) fn journal(app: &App, caller: &Caller, tool: &str, conn: &str, fields: Value) {
    let mut event = Map::new();
    event.insert("tool".into(), tool.into());
    event.insert("connection".into(), conn.into());
    event.insert("client".into(), caller.client.clone().into());
    if let Value::Object(m) = fields {
        event.extend(m);
    }
    if let Err(e) = app.journal.append(event) {
        // A write that cannot be journaled already happened; say so loudly rather than fail it.
        tracing::error!(error = %e, "journal append failed");
    }
}

/// Who approved a plan executed in token mode, as the journal and the result record it.
const TOKEN_APPROVER: &str = "unattended token mode";

/// The plan id a call passes, and the token appended to it; a token is refused outright where
/// token mode is off, so a made-up one never reaches the plan store.
fn plan_ref<'a>(
    app: &App,
    tool: &str,
    scope: &str,
    plan_id: &'a str,
) -> Result<(&'a str, Option<&'a str>), crate::guard::GuardError> {
    let (id, token) = split_plan_ref(plan_id);
    if token.is_some() && !app.policy.token_mode(tool, scope) {
        return Err(crate::guard::GuardError::TokenModeOff {
            id: id.chars().take(40).collect(),
            tool: tool.into(),
            scope: scope.into(),
        });
    }
    Ok((id, token))
}

/// The outcome of the gate. Short-lived, so the size difference between variants is harmless.
#[allow(clippy::large_enum_variant)]
pub(super) enum Gate {
    /// Go ahead. `recheck` means the targets must be read again and compared with the plan,
    /// because a human took time to answer.
    Proceed {
        plan: Plan,
        confirmation: ConfirmationInfo,
        recheck: bool,
    },
    /// Stop here and return this.
    Stop(Box<WriteResult>),
}

/// What a destructive call proposes to do, before confirmation.
pub(super) struct Proposal<'a> {
    pub tool: &'a str,
    /// The call's arguments in canonical form (resolved ids), which a plan is bound to.
    pub arguments: Value,
    /// `plan_id` from the call, empty on a first call.
    pub plan_id: &'a str,
    pub changes: Vec<String>,
    pub targets: Vec<PlanTarget>,
}

pub(super) async fn gate(
    app: &App,
    scope: &str,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    proposal: Proposal<'_>,
) -> Result<Gate, ToolError> {
    let Proposal {
        tool,
        arguments,
        plan_id,
        changes,
        targets,
    } = proposal;
    let now = now_secs();
    if let Some(raw) = opt(plan_id) {
        let (id, token) = split_plan_ref(&raw);
        let id = id.to_string();
        let refuse = |e: ToolError| {
            journal(
                app,
                caller,
                tool,
                scope,
                json!({"outcome": "refused", "plan_id": id, "reason": e.0}),
            );
            e
        };
        plan_ref(app, tool, scope, &raw).map_err(|e| refuse(e.into()))?;
        let stored = app.plans.load_live(&id).map_err(|e| refuse(e.into()))?;
        if stored.tool != tool || stored.connection != scope || stored.arguments != arguments {
            return Err(refuse(ToolError::from(
                crate::guard::GuardError::Mismatch {
                    id: id.clone(),
                    planned: format!(
                        "{} {} on {}",
                        stored.tool, stored.arguments, stored.connection
                    ),
                    actual: format!("{tool} {arguments} on {scope}"),
                },
            )));
        }
        if stored.targets != targets {
            return Err(refuse(ToolError(format!(
                "plan {id} no longer matches the tenant: the target changed since the plan was made (someone else edited it); call {tool} again without plan_id to get a new plan"
            ))));
        }
        let confirmation = match token {
            Some(token) => {
                if !app.plans.verify_plan_token(&stored, token) {
                    let bad = crate::guard::GuardError::BadToken { id: id.clone() };
                    return Err(refuse(bad.into()));
                }
                ConfirmationInfo {
                    channel: "token".into(),
                    approver: Some(TOKEN_APPROVER.into()),
                }
            }
            None => {
                let approval = app.plans.approval(&stored).map_err(|e| refuse(e.into()))?;
                ConfirmationInfo {
                    channel: out_of_band_channel(&approval.approver).into(),
                    approver: Some(approval.approver),
                }
            }
        };
        app.plans.consume(&id).map_err(|e| refuse(e.into()))?;
        if token.is_some() {
            journal(
                app,
                caller,
                tool,
                scope,
                json!({"outcome": "approved", "plan_id": id, "channel": "token", "approver": TOKEN_APPROVER}),
            );
        }
        return Ok(Gate::Proceed {
            plan: stored,
            confirmation,
            recheck: false,
        });
    }
    let plan = Plan {
        id: PlanStore::new_id(),
        tool: tool.into(),
        connection: scope.to_string(),
        arguments,
        changes,
        targets,
        created_at: now,
        expires_at: now + app.policy.plan_ttl_secs,
    };
    match confirmer.confirm(&plan).await {
        ConfirmAnswer::Accepted => Ok(Gate::Proceed {
            plan,
            confirmation: ConfirmationInfo {
                channel: confirmer.channel().into(),
                approver: None,
            },
            recheck: true,
        }),
        answer @ (ConfirmAnswer::Declined | ConfirmAnswer::Cancelled) => {
            let how = if answer == ConfirmAnswer::Declined {
                "declined"
            } else {
                "cancelled"
            };
            journal(
                app,
                caller,
                tool,
                scope,
                json!({"outcome": how, "plan": plan}),
            );
            let mut r = WriteResult::scoped(
                WriteStatus::Declined,
                scope,
                format!("The human {how} the plan; nothing was changed."),
            );
            r.plan = Some(plan);
            r.next_step = Some("Do not retry unless the human asks again.".into());
            Ok(Gate::Stop(Box::new(r)))
        }
        ConfirmAnswer::AskClient => {
            let mut r = WriteResult::scoped(
                WriteStatus::InputRequired,
                scope,
                format!("Plan {} needs the human's confirmation.", plan.id),
            );
            r.plan = Some(plan);
            Ok(Gate::Stop(Box::new(r)))
        }
        ConfirmAnswer::Unavailable if app.policy.token_mode(tool, scope) => {
            let mut plan = plan;
            plan.expires_at = now + app.policy.token_plan_ttl_secs();
            plan.changes.push(
                "Token mode: no human confirms this plan; it runs when the caller echoes its token"
                    .into(),
            );
            app.plans.save(&plan)?;
            let token = app.plans.plan_token(&plan);
            journal(
                app,
                caller,
                tool,
                scope,
                json!({"outcome": "awaiting_approval", "channel": "token", "plan": plan}),
            );
            let with_token = format!("{}.{token}", plan.id);
            let mut r = WriteResult::scoped(
                WriteStatus::AwaitingApproval,
                scope,
                format!(
                    "Nothing was changed. Plan {} was issued in token mode (unattended automation): no human approves it.",
                    plan.id
                ),
            );
            r.next_step = Some(format!(
                "Token mode is on for {tool} on {scope}. If a person is present, show them the plan first. To carry out exactly this plan, call {tool} again with the same arguments and plan_id \"{with_token}\" before {} UTC; it works once.",
                crate::guard::rfc3339(plan.expires_at)
            ));
            r.plan_id_with_token = Some(with_token);
            r.plan = Some(plan);
            Ok(Gate::Stop(Box::new(r)))
        }
        ConfirmAnswer::Unavailable => {
            app.plans.save(&plan)?;
            journal(
                app,
                caller,
                tool,
                scope,
                json!({"outcome": "awaiting_approval", "plan": plan}),
            );
            let mut r = WriteResult::scoped(
                WriteStatus::AwaitingApproval,
                scope,
                format!(
                    "Nothing was changed. Plan {} needs a human's approval.",
                    plan.id
                ),
            );
            r.next_step = Some(format!(
                "Show the plan to the user. A human must run `zscaler-lifecycle-mcp approve {}` in a terminal, or approve it on the page that `zscaler-lifecycle-mcp approve --web` serves (you must not run either yourself), then call {tool} again with the same arguments and plan_id \"{}\" before it expires.",
                plan.id, plan.id
            ));
            r.plan = Some(plan);
            Ok(Gate::Stop(Box::new(r)))
        }
    }
}

/// Gates a change to one user. On proceed, returns the plan, how it was confirmed, and the user
/// as it is now: re-read and compared with the plan when a human took time to answer.
async fn gate_user(
    app: &App,
    conn: &Connection,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    proposal: Proposal<'_>,
    user: User,
) -> Result<Result<(Plan, ConfirmationInfo, User), Box<WriteResult>>, ToolError> {
    match gate(app, &conn.name, caller, confirmer, proposal).await? {
        Gate::Stop(r) => Ok(Err(r)),
        Gate::Proceed {
            plan,
            confirmation,
            recheck,
        } => {
            let user = if recheck {
                let fresh = resolve::user(conn, &user.id).await?;
                ensure_unchanged(&plan, &[user_target(&fresh)])?;
                fresh
            } else {
                user
            };
            Ok(Ok((plan, confirmation, user)))
        }
    }
}

/// A plan id that can never execute (unknown, used, expired, tampered) is refused before any
/// tenant call, so a replay says "already used" rather than failing on a vanished target.
pub(super) fn precheck_plan(
    app: &App,
    caller: &Caller,
    tool: &str,
    scope: &str,
    plan_id: &str,
) -> Result<(), ToolError> {
    if let Some(raw) = opt(plan_id)
        && let Err(e) = plan_ref(app, tool, scope, &raw).and_then(|(id, _)| app.plans.load_live(id))
    {
        let id = split_plan_ref(&raw).0;
        let e = ToolError::from(e);
        journal(
            app,
            caller,
            tool,
            scope,
            json!({"outcome": "refused", "plan_id": id, "reason": e.0}),
        );
        return Err(e);
    }
    Ok(())
}

/// After a human took time to answer inline, the targets must still be as planned.
pub(super) fn ensure_unchanged(plan: &Plan, fresh: &[PlanTarget]) -> Result<(), ToolError> {
    if plan.targets != fresh {
        return Err(ToolError(format!(
            "nothing changed: the target was modified while the confirmation was open; call {} again to get a new plan",
            plan.tool
        )));
    }
    Ok(())
}

fn check_email(conn: &Connection, email: &str) -> Result<(), ToolError> {
    let bad = |why: &str| {
        Err(ToolError(format!(
            "email {} is not valid: {why}; pass an address like first.last@{}",
            quote(email),
            conn.registered_domains
                .first()
                .map(String::as_str)
                .unwrap_or("example.com")
        )))
    };
    if email.len() > 127 {
        return bad("ZIA allows at most 127 characters");
    }
    // A bidirectional override or a zero-width character makes one address look like another.
    if let Some(what) = super::args::describe_hidden(email, super::args::hidden_char) {
        return Err(ToolError(format!(
            "email {email:?} contains {what}, an invisible or direction-changing character; type the address again without it"
        )));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains spaces or control characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return bad("it has no @");
    };
    if local.is_empty() || domain.is_empty() || domain.contains('@') || !domain.contains('.') {
        return bad("it needs exactly one @ between a name and a domain");
    }
    if !conn.registered_domains.is_empty()
        && !conn
            .registered_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    {
        return Err(ToolError(format!(
            "domain {} is not registered on connection {} (registered: {}); ZIA only accepts users in its registered domains",
            quote(domain),
            conn.name,
            conn.registered_domains.join(", ")
        )));
    }
    Ok(())
}

/// Arguments of create_user.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserArgs {
    /// Display name, 1–127 characters.
    pub name: String,
    /// Unique, in a registered domain.
    pub email: String,
    /// Must exist on native ZIA; free text on SCIM.
    #[serde(default)]
    pub department: String,
    /// Group names (see list_groups); native ZIA needs one or more.
    pub groups: Vec<String>,
    /// Stored on the account.
    #[serde(default)]
    pub comments: String,
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
    /// Approved plan id, if policy requires confirmation.
    #[serde(default)]
    pub plan_id: String,
}

pub async fn create_user(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: CreateUserArgs,
) -> Result<WriteResult, ToolError> {
    app.policy.check_write("create_user").map_err(ToolError)?;
    let conn = app.connection_for("create_user", opt(&args.connection).as_deref())?;
    if !conn.provider.capabilities().create {
        return Err(ToolError(format!(
            "connection {} cannot create users",
            conn.name
        )));
    }
    let name = args.name.trim();
    let email = args.email.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 127 || name.chars().any(char::is_control) {
        return Err(ToolError(format!(
            "name must be 1 to 127 characters without control characters (got {chars}); shorten it and call again"
        )));
    }
    check_email(conn, email)?;
    app.policy.check_create_domain(email).map_err(ToolError)?;
    app.policy
        .check_targets("create_user", args.groups.len(), "groups")
        .map_err(ToolError)?;
    let native = conn.provider.capabilities().departments;
    if args.groups.is_empty() && native {
        return Err(ToolError::new(
            "groups is empty: ZIA needs at least one group for a new user; list_groups shows the available ones",
        ));
    }
    for g in &args.groups {
        app.policy.check_group(g).map_err(ToolError)?;
    }
    let (groups, departments) = tokio::try_join!(
        conn.provider.list_groups(),
        conn.provider.list_departments()
    )
    .map_err(|e| provider_error(&conn.name, "reading groups and departments", e))?;
    let group_refs = resolve::groups(conn, &groups, &args.groups)?;
    // Native ZIA departments are objects that must exist; on SCIM a department is free text.
    let department = if native {
        Some(resolve::department(conn, &departments, &args.department)?)
    } else {
        opt(&args.department).map(|d| crate::model::DepartmentRef {
            id: d.clone(),
            name: d,
        })
    };
    let new = NewUser {
        name: name.to_string(),
        email: email.to_string(),
        department,
        groups: group_refs,
        comments: opt(&args.comments),
        password: None,
    };
    let confirmed = if app.policy.needs_confirmation("create_user") {
        precheck_plan(app, caller, "create_user", &conn.name, &args.plan_id)?;
        let mut group_ids: Vec<&str> = new.groups.iter().map(|g| g.id.as_str()).collect();
        group_ids.sort_unstable();
        let arguments = json!({
            "name": new.name, "email": normalize_email(&new.email),
            "department": new.department.as_ref().map(|d| &d.id), "groups": group_ids,
        });
        let proposal = Proposal {
            tool: "create_user",
            changes: vec![format!(
                "Create user {} {} on connection {} in department {} with groups {}",
                quote(&new.name),
                quote(&new.email),
                conn.name,
                new.department
                    .as_ref()
                    .map(|d| quote(&d.name))
                    .unwrap_or_else(|| "none".into()),
                if new.groups.is_empty() {
                    "none".into()
                } else {
                    group_names(&new.groups)
                }
            )],
            targets: vec![PlanTarget {
                kind: "new_user".into(),
                id: normalize_email(&new.email),
                label: new.email.clone(),
                fingerprint: value_fingerprint(&arguments),
            }],
            arguments,
            plan_id: &args.plan_id,
        };
        match gate(app, &conn.name, caller, confirmer, proposal).await? {
            Gate::Stop(r) => return Ok(*r),
            Gate::Proceed {
                plan, confirmation, ..
            } => Some((plan, confirmation)),
        }
    } else {
        None
    };
    let created = match conn.provider.create_user(&new).await {
        Ok(u) => u,
        Err(e) => {
            let err = provider_error(&conn.name, "create_user", e);
            journal(
                app,
                caller,
                "create_user",
                &conn.name,
                json!({"outcome": "failed", "email": email, "error": err.0}),
            );
            return Err(err);
        }
    };
    let staged = conn.provider.capabilities().staged_changes;
    if staged {
        app.ledger.record(
            &conn.name,
            "create_user",
            format!("created user {} ({})", email, created.id),
        );
    }
    let read_back = conn.provider.get_user(&created.id).await;
    let (verification, user) = match read_back {
        Ok(u) => {
            let mut want: Vec<&str> = new.groups.iter().map(|g| g.id.as_str()).collect();
            let mut got: Vec<&str> = u.groups.iter().map(|g| g.id.as_str()).collect();
            want.sort_unstable();
            got.sort_unstable();
            let ok = normalize_email(&u.email) == normalize_email(email)
                && u.name == new.name
                && u.department.as_ref().map(|d| &d.id) == new.department.as_ref().map(|d| &d.id)
                && want == got;
            (Verification::matched(ok), u)
        }
        Err(_) => (Verification::Unknown, created),
    };
    journal(
        app,
        caller,
        "create_user",
        &conn.name,
        json!({
            "outcome": "executed", "verification": verification, "after": user,
            "confirmation": {"channel": "not-required"}
        }),
    );
    let mut r = WriteResult::new(
        WriteStatus::Executed,
        conn,
        format!(
            "Created user {} (id {}) on {}.",
            quote(&user.email),
            user.id,
            conn.name
        ),
    );
    r.verification = Some(verification);
    r.user = Some(user);
    r.staged = staged;
    let (plan, confirmation) = match confirmed {
        Some((plan, confirmation)) => (Some(plan), confirmation),
        None => (
            None,
            ConfirmationInfo {
                channel: "not-required".into(),
                approver: None,
            },
        ),
    };
    r.plan = plan;
    r.confirmation = Some(confirmation);
    if staged {
        r.next_step = Some(STAGED_NEXT_STEP.into());
    }
    Ok(r)
}

/// Arguments of add_to_group.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, JsonSchema)]
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

fn group_names(refs: &[GroupRef]) -> String {
    refs.iter()
        .map(|g| quote(&g.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Shared by add and remove: resolve, check policy, and find which memberships really change.
async fn membership_targets(
    app: &App,
    conn: &Connection,
    user_key: &str,
    names: &[String],
    adding: bool,
) -> Result<(User, Vec<GroupRef>), ToolError> {
    if names.is_empty() {
        return Err(ToolError::new("groups is empty: name at least one group"));
    }
    let tool = if adding {
        "add_to_group"
    } else {
        "remove_from_group"
    };
    app.policy
        .check_targets(tool, names.len(), "groups")
        .map_err(ToolError)?;
    let user = resolve::user(conn, user_key).await?;
    app.policy.check_user(&user).map_err(ToolError)?;
    for g in names {
        app.policy.check_group(g).map_err(ToolError)?;
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
            ToolError(format!(
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
        app.policy.check_group(&g.name).map_err(ToolError)?;
    }
    let changing: Vec<GroupRef> = requested
        .into_iter()
        .filter(|g| user.groups.iter().any(|m| m.id == g.id) != adding)
        .collect();
    Ok((user, changing))
}

/// A membership change that passed the gate.
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
    let changed = match conn.provider.change_groups(&before.id, add, remove).await {
        Ok(u) => u,
        Err(e) => {
            let err = provider_error(&conn.name, tool, e);
            journal(
                app,
                caller,
                tool,
                &conn.name,
                json!({"outcome": "failed", "before": before, "error": err.0, "plan_id": plan.as_ref().map(|p| &p.id)}),
            );
            return Err(err);
        }
    };
    let staged = conn.provider.capabilities().staged_changes;
    let what = if add.is_empty() {
        format!(
            "removed {} from {}",
            quote(&before.email),
            group_names(remove)
        )
    } else {
        format!("added {} to {}", quote(&before.email), group_names(add))
    };
    if staged {
        app.ledger.record(&conn.name, tool, what.clone());
    }
    let (verification, after) = match conn.provider.get_user(&before.id).await {
        Ok(u) => {
            let has = |g: &GroupRef| u.groups.iter().any(|m| m.id == g.id);
            let kept = before
                .groups
                .iter()
                .filter(|g| !remove.iter().any(|r| r.id == g.id))
                .all(has);
            let ok = kept && add.iter().all(has) && !remove.iter().any(has);
            (Verification::matched(ok), u)
        }
        Err(_) => (Verification::Unknown, changed),
    };
    journal(
        app,
        caller,
        tool,
        &conn.name,
        json!({
            "outcome": "executed", "verification": verification, "before": before, "after": after,
            "plan_id": plan.as_ref().map(|p| &p.id), "confirmation": confirmation,
        }),
    );
    let mut r = WriteResult::new(
        WriteStatus::Executed,
        conn,
        format!("{} on {}.", capitalize(&what), conn.name),
    );
    r.verification = Some(verification);
    r.user = Some(after);
    r.staged = staged;
    r.plan = plan;
    r.confirmation = Some(confirmation);
    if staged {
        r.next_step = Some(STAGED_NEXT_STEP.into());
    }
    Ok(r)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub async fn add_to_group(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: AddToGroupArgs,
) -> Result<WriteResult, ToolError> {
    app.policy.check_write("add_to_group").map_err(ToolError)?;
    let conn = app.connection_for("add_to_group", opt(&args.connection).as_deref())?;
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
    let (user, plan, confirmation) = if app.policy.needs_confirmation("add_to_group") {
        precheck_plan(app, caller, "add_to_group", &conn.name, &args.plan_id)?;
        let mut ids: Vec<String> = add.iter().map(|g| g.id.clone()).collect();
        ids.sort();
        let proposal = Proposal {
            tool: "add_to_group",
            arguments: json!({"user": user.id, "add_group_ids": ids}),
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
            Ok((plan, confirmation, user)) => (user, Some(plan), confirmation),
            Err(stop) => return Ok(*stop),
        }
    } else {
        let confirmation = ConfirmationInfo {
            channel: "not-required".into(),
            approver: None,
        };
        (user, None, confirmation)
    };
    let change = MembershipChange {
        tool: "add_to_group",
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
        .check_write("remove_from_group")
        .map_err(ToolError)?;
    let conn = app.connection_for("remove_from_group", opt(&args.connection).as_deref())?;
    precheck_plan(app, caller, "remove_from_group", &conn.name, &args.plan_id)?;
    let (user, remove) = membership_targets(app, conn, &args.user, &args.groups, false).await?;
    let mut names: Vec<String> = remove.iter().map(|g| g.id.clone()).collect();
    names.sort();
    let arguments = json!({"user": user.id, "remove_group_ids": names});
    let changes = vec![format!(
        "Remove user {} {} (id {}) from {}; keep their other groups",
        quote(&user.name),
        quote(&user.email),
        user.id,
        group_names(&remove)
    )];
    let proposal = Proposal {
        tool: "remove_from_group",
        arguments,
        plan_id: &args.plan_id,
        changes,
        targets: vec![user_target(&user)],
    };
    let (plan, confirmation, user) =
        match gate_user(app, conn, caller, confirmer, proposal, user).await? {
            Ok(go) => go,
            Err(stop) => return Ok(*stop),
        };
    let change = MembershipChange {
        tool: "remove_from_group",
        before: &user,
        add: &[],
        remove: &remove,
        confirmation,
        plan: Some(plan),
    };
    finish_membership(app, caller, conn, change).await
}

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
        DeactivateMode::Disable if !caps.disable => Err(ToolError(format!(
            "connection {} (native ZIA) has no disabled state; call deactivate with mode \"delete\" to remove the account (the plan shows the full account first)",
            conn.name
        ))),
        DeactivateMode::Delete if !caps.delete => Err(ToolError(format!(
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
        ToolError(format!(
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
        .ok_or_else(|| ToolError(format!("quarantine group {} not found", quote(name))))
}

/// The memberships quarantine removes, refused if a protected group is among them.
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
    for g in &remove {
        app.policy.check_group(&g.name).map_err(ToolError)?;
    }
    Ok(remove)
}

/// Arguments of deactivate.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
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
    app.policy.check_write("deactivate").map_err(ToolError)?;
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
    let conn = app.connection_for("deactivate", opt(&args.connection).as_deref())?;
    let caps = conn.provider.capabilities();
    let mode = checked_mode(conn, args.mode)?;
    precheck_plan(app, caller, "deactivate", &conn.name, &args.plan_id)?;
    // On ZIA SCIM a disable may delete the account, so it is capped like a deletion.
    if mode.destructive(&caps) {
        app.policy.check_deletion(&conn.name).map_err(ToolError)?;
    }
    let action = Deactivation::for_mode(mode, conn).await?;
    let user = resolve::user(conn, &args.user).await?;
    app.policy.check_user(&user).map_err(ToolError)?;
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
    let arguments = json!({"user": user.id, "mode": mode});
    let proposal = Proposal {
        tool: "deactivate",
        arguments,
        plan_id: &args.plan_id,
        changes,
        targets: vec![user_target(&user)],
    };
    let (plan, confirmation, user) =
        match gate_user(app, conn, caller, confirmer, proposal, user).await? {
            Ok(go) => go,
            Err(stop) => return Ok(*stop),
        };
    let done =
        carry_out_deactivation(app, caller, conn, &user, &action, &plan, &confirmation).await?;
    let mut r = WriteResult::new(WriteStatus::Executed, conn, done.summary);
    r.verification = Some(done.verification);
    r.user = done.after;
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
    pub verification: Verification,
    /// The account as read back (`None` once deleted).
    pub after: Option<User>,
    pub summary: String,
}

/// Executes one approved deactivation (delete or disable) on one connection, verifies it by
/// reading the account back, and journals the outcome either way. Shared by the single-connection
/// and the `connection: "all"` paths so both honour the same caps and records.
pub(super) async fn carry_out_deactivation(
    app: &App,
    caller: &Caller,
    conn: &Connection,
    user: &User,
    action: &Deactivation,
    plan: &Plan,
    confirmation: &ConfirmationInfo,
) -> Result<Deactivated, ToolError> {
    let mode = action.mode();
    let caps = conn.provider.capabilities();
    let destructive = mode.destructive(&caps);
    if destructive {
        app.policy.check_deletion(&conn.name).map_err(ToolError)?;
    }
    let result = match action {
        Deactivation::Delete => conn.provider.delete_user(&user.id).await.map(|()| None),
        Deactivation::Disable => conn.provider.set_active(&user.id, false).await,
        Deactivation::Quarantine(q) => {
            let remove = quarantine_removals(app, user, q)?;
            let add: Vec<GroupRef> = if user.groups.iter().any(|g| g.id == q.id) {
                Vec::new()
            } else {
                vec![q.clone()]
            };
            conn.provider
                .change_groups(&user.id, &add, &remove)
                .await
                .map(Some)
        }
    };
    let after = match result {
        Ok(after) => after,
        Err(e) => {
            let err = provider_error(&conn.name, "deactivate", e);
            journal(
                app,
                caller,
                "deactivate",
                &conn.name,
                json!({"outcome": "failed", "mode": mode, "before": user, "plan_id": plan.id, "error": err.0}),
            );
            return Err(err);
        }
    };
    if destructive {
        app.policy.record_deletion(&conn.name);
    }
    if caps.staged_changes {
        app.ledger.record(
            &conn.name,
            "deactivate",
            format!(
                "{} user {} ({})",
                mode.verb().to_lowercase(),
                user.email,
                user.id
            ),
        );
    }
    let (verification, summary) = match (action, &after) {
        (Deactivation::Delete, _) => {
            let verification = match conn.provider.get_user(&user.id).await {
                Err(ProviderError::NotFound { .. }) => Verification::Verified,
                Ok(_) => Verification::Mismatch,
                Err(_) => Verification::Unknown,
            };
            (
                verification,
                format!(
                    "Deleted user {} (id {}) on {}.",
                    quote(&user.email),
                    user.id,
                    conn.name
                ),
            )
        }
        (Deactivation::Quarantine(q), after) => (
            Verification::matched(
                after
                    .as_ref()
                    .is_some_and(|u| u.groups.len() == 1 && u.groups[0].id == q.id),
            ),
            format!(
                "Quarantined user {} (id {}) on {}: only in {} now.",
                quote(&user.email),
                user.id,
                conn.name,
                quote(&q.name)
            ),
        ),
        (Deactivation::Disable, Some(u)) => (
            Verification::matched(u.active == Some(false)),
            format!(
                "Disabled user {} (id {}) on {}.",
                quote(&user.email),
                user.id,
                conn.name
            ),
        ),
        (Deactivation::Disable, None) => (
            Verification::Verified,
            format!(
                "User {} (id {}) on {} was set inactive and the server deleted the account.",
                quote(&user.email),
                user.id,
                conn.name
            ),
        ),
    };
    journal(
        app,
        caller,
        "deactivate",
        &conn.name,
        json!({
            "outcome": "executed", "mode": mode, "verification": verification,
            "before": user, "after": after, "plan_id": plan.id, "confirmation": confirmation,
        }),
    );
    Ok(Deactivated {
        verification,
        after,
        summary,
    })
}

/// Arguments of activate_changes.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
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
        .check_write("activate_changes")
        .map_err(ToolError)?;
    let conn = app.connection_for("activate_changes", opt(&args.connection).as_deref())?;
    if !conn.provider.capabilities().staged_changes {
        return Err(ToolError(format!(
            "connection {} applies changes immediately; there is nothing to activate",
            conn.name
        )));
    }
    precheck_plan(app, caller, "activate_changes", &conn.name, &args.plan_id)?;
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
        tool: "activate_changes",
        arguments,
        plan_id: &args.plan_id,
        changes,
        targets: vec![target],
    };
    let gate = gate(app, &conn.name, caller, confirmer, proposal).await?;
    let (plan, confirmation) = match gate {
        Gate::Stop(r) => return Ok(*r),
        Gate::Proceed {
            plan, confirmation, ..
        } => (plan, confirmation),
    };
    let after = match conn.provider.activate().await {
        Ok(s) => s,
        Err(e) => {
            let err = provider_error(&conn.name, "activate_changes", e);
            journal(
                app,
                caller,
                "activate_changes",
                &conn.name,
                json!({"outcome": "failed", "plan_id": plan.id, "error": err.0}),
            );
            return Err(err);
        }
    };
    app.ledger.clear(&conn.name);
    let read_back = conn.provider.activation_status().await.unwrap_or(after);
    let verification = if read_back == ActivationState::Pending {
        Verification::Mismatch
    } else {
        Verification::Verified
    };
    journal(
        app,
        caller,
        "activate_changes",
        &conn.name,
        json!({
            "outcome": "executed", "verification": verification, "activated": mine,
            "plan_id": plan.id, "confirmation": confirmation,
        }),
    );
    let mut r = WriteResult::new(
        WriteStatus::Executed,
        conn,
        format!(
            "Activated the pending changes on {} (tenant status {:?}).",
            conn.name, read_back
        ),
    );
    r.verification = Some(verification);
    r.tenant_status = Some(read_back);
    r.plan = Some(plan);
    r.confirmation = Some(confirmation);
    Ok(r)
}
