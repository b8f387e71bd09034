//! The gate every guarded write passes: plan, confirm, then let it through exactly once.
//!
//! On a first call the gate turns a [`Proposal`] into a plan (targets with fingerprints, changes
//! in words, the hash of every argument, the caller) and asks a human inline if the client can,
//! otherwise stores the plan for out-of-band approval and returns it. On a call with `plan_id`
//! it lets the write through only if the plan is live, approved, proposed by this caller, made
//! for exactly these arguments, and its targets did not change since. Every refusal and answer
//! is journaled; a plan is journaled before it is shown.

use serde_json::{Value, json};

use crate::guard::GuardError;
use crate::guard::confirm::{ConfirmAnswer, Confirmer};
use crate::guard::now_secs;
use crate::guard::plan::{Plan, PlanTarget, input_digest, split_plan_ref, user_target};
use crate::guard::store::{Approval, PlanStore};
use crate::model::User;

use super::result::{ConfirmationInfo, WriteResult, WriteStatus, opt};
use super::{App, Caller, Connection, ToolError, record, resolve};

/// Who approved a plan executed in token mode, as the journal and the result record it.
const TOKEN_APPROVER: &str = "unattended token mode";

/// The plan id a call passes, and the token appended to it; a token is refused outright where
/// token mode is off, so a made-up one never reaches the plan store.
fn plan_ref<'a>(
    app: &App,
    tool: &str,
    scope: &str,
    plan_id: &'a str,
) -> Result<(&'a str, Option<&'a str>), GuardError> {
    let (id, token) = split_plan_ref(plan_id);
    if token.is_some() && !app.policy.token_mode(tool, scope) {
        return Err(GuardError::TokenModeOff {
            id: id.chars().take(40).collect(),
            tool: tool.into(),
            scope: scope.into(),
        });
    }
    Ok((id, token))
}

/// A plan belongs to the caller that proposed it: nobody else may carry it out, even with an
/// approval (an approval says yes to a change, not to whoever asks next).
fn check_owner(plan: &Plan, caller: &Caller) -> Result<(), ToolError> {
    if plan.caller != caller.principal {
        return Err(ToolError::refused(format!(
            "plan {} was proposed by another caller; only the caller that proposed it can carry it out — call {} again without plan_id to get a plan of your own",
            plan.id, plan.tool
        )));
    }
    Ok(())
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

/// What a guarded call proposes to do, before confirmation.
pub(super) struct Proposal<'a> {
    pub tool: &'a str,
    /// The call's arguments in canonical form (resolved ids), which a plan is bound to.
    pub arguments: Value,
    /// Every argument as the caller sent it; the plan binds its [`input_digest`].
    pub input: Value,
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
    let count = proposal.targets.len();
    gate_counted(app, scope, caller, confirmer, proposal, count).await
}

/// [`gate`] for a plan whose targets stand for `count` changes (a reconcile binds each
/// connection's whole set of changes in one target): four-eyes counts the changes.
pub(super) async fn gate_counted(
    app: &App,
    scope: &str,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    proposal: Proposal<'_>,
    count: usize,
) -> Result<Gate, ToolError> {
    let Proposal {
        tool,
        arguments,
        input,
        plan_id,
        changes,
        targets,
    } = proposal;
    let input = input_digest(&input);
    let now = now_secs();
    if let Some(raw) = opt(plan_id) {
        let (id, token) = split_plan_ref(&raw);
        let id = id.to_string();
        let refuse = |e: ToolError| {
            record::refusal(
                app,
                caller,
                tool,
                scope,
                json!({"outcome": "refused", "plan_id": id, "reason": e.message}),
                e,
            )
        };
        plan_ref(app, tool, scope, &raw).map_err(|e| refuse(e.into()))?;
        let stored = app.plans.load_live(&id).map_err(|e| refuse(e.into()))?;
        check_owner(&stored, caller).map_err(refuse)?;
        if stored.tool != tool
            || stored.connection != scope
            || stored.arguments != arguments
            || stored.input != input
        {
            return Err(refuse(ToolError::from(GuardError::Mismatch {
                id: id.clone(),
                planned: format!(
                    "{} {} on {}",
                    stored.tool, stored.arguments, stored.connection
                ),
                actual: if stored.arguments == arguments && stored.tool == tool {
                    format!(
                        "{tool} with other arguments (every argument counts, comments and names too) on {scope}"
                    )
                } else {
                    format!("{tool} {arguments} on {scope}")
                },
            })));
        }
        if stored.targets != targets {
            return Err(refuse(ToolError::conflict(format!(
                "plan {id} no longer matches the tenant: the target changed since the plan was made (someone else edited it); call {tool} again without plan_id to get a new plan"
            ))));
        }
        let confirmation = match token {
            Some(token) => {
                if !app.plans.verify_plan_token(&stored, token) {
                    let bad = GuardError::BadToken { id: id.clone() };
                    return Err(refuse(bad.into()));
                }
                ConfirmationInfo {
                    channel: "token".into(),
                    approver: Some(TOKEN_APPROVER.into()),
                }
            }
            None => {
                let approvals = app
                    .plans
                    .approvals_for(&stored)
                    .map_err(|e| refuse(e.into()))?;
                ConfirmationInfo {
                    channel: Approval::channels(&approvals),
                    approver: Some(Approval::names(&approvals)),
                }
            }
        };
        if token.is_some() {
            // The token stands in for a human: its use is recorded before anything happens.
            record::ahead(
                app,
                caller,
                tool,
                scope,
                json!({"outcome": "approved", "plan_id": id, "channel": "token", "approver": TOKEN_APPROVER}),
            )?;
        }
        app.plans.consume(&id).map_err(|e| refuse(e.into()))?;
        return Ok(Gate::Proceed {
            plan: stored,
            confirmation,
            recheck: false,
        });
    }
    let approvals_required = app.policy.approvals_required(tool, scope, count);
    let plan = Plan {
        id: PlanStore::new_id(),
        tool: tool.into(),
        connection: scope.to_string(),
        arguments,
        input,
        caller: caller.principal.clone(),
        changes,
        targets,
        created_at: now,
        expires_at: now + app.policy.plan_ttl_secs,
        approvals_required,
    };
    // Named approvers approve out of band, with their secret; an inline "yes" is nobody's.
    let answer = if app.plans.named_approvers() {
        ConfirmAnswer::Unavailable
    } else {
        confirmer.confirm(&plan).await
    };
    match answer {
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
            let mut r = WriteResult::scoped(
                WriteStatus::Declined,
                scope,
                format!("The human {how} the plan; nothing was changed."),
            );
            if let Some(n) = record::after(
                app,
                caller,
                tool,
                scope,
                json!({"outcome": how, "plan": plan}),
            ) {
                r.notices.push(n);
            }
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
        // Four-eyes means two people: never an unattended token.
        ConfirmAnswer::Unavailable
            if app.policy.token_mode(tool, scope) && plan.approvals_required <= 1 =>
        {
            let mut plan = plan;
            plan.expires_at = now + app.policy.token_plan_ttl_secs();
            plan.changes.push(
                "Token mode: no human confirms this plan; it runs when the caller echoes its token"
                    .into(),
            );
            record::ahead(
                app,
                caller,
                tool,
                scope,
                json!({"outcome": "awaiting_approval", "channel": "token", "plan": plan}),
            )?;
            app.plans.save(&plan)?;
            let token = app.plans.plan_token(&plan);
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
            record::ahead(
                app,
                caller,
                tool,
                scope,
                json!({"outcome": "awaiting_approval", "plan": plan}),
            )?;
            app.plans.save(&plan)?;
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

/// A guarded change that passed the gate: its plan, how it was confirmed.
pub(super) struct Passed {
    pub plan: Plan,
    pub confirmation: ConfirmationInfo,
}

/// Gates a proposal and, on proceed, returns the plan, how it was confirmed, and the targets
/// as they are now: when a human took time to answer, `reread` reads them again (with their
/// plan targets) and they must still be as planned. `Err` carries the result to return instead
/// (awaiting approval, declined).
pub(super) async fn gate_then<T, F, Fut>(
    app: &App,
    scope: &str,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    proposal: Proposal<'_>,
    current: T,
    reread: F,
) -> Result<Result<(Passed, T), Box<WriteResult>>, ToolError>
where
    F: FnOnce(T) -> Fut,
    Fut: std::future::Future<Output = Result<(T, Vec<PlanTarget>), ToolError>>,
{
    match gate(app, scope, caller, confirmer, proposal).await? {
        Gate::Stop(r) => Ok(Err(r)),
        Gate::Proceed {
            plan,
            confirmation,
            recheck,
        } => {
            let current = if recheck {
                let (fresh, targets) = reread(current).await?;
                ensure_unchanged(&plan, &targets)?;
                fresh
            } else {
                current
            };
            Ok(Ok((Passed { plan, confirmation }, current)))
        }
    }
}

/// Gates a proposal whose targets are not read again after a slow answer (an account not
/// created yet; the tenant's pending changes, which the activation reads back itself).
pub(super) async fn gate_once(
    app: &App,
    scope: &str,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    proposal: Proposal<'_>,
) -> Result<Result<Passed, Box<WriteResult>>, ToolError> {
    Ok(match gate(app, scope, caller, confirmer, proposal).await? {
        Gate::Stop(r) => Err(r),
        Gate::Proceed {
            plan, confirmation, ..
        } => Ok(Passed { plan, confirmation }),
    })
}

/// Gates a change to one user: [`gate_then`], reading the user again by id.
pub(super) async fn gate_user(
    app: &App,
    conn: &Connection,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    proposal: Proposal<'_>,
    user: User,
) -> Result<Result<(Passed, User), Box<WriteResult>>, ToolError> {
    gate_then(
        app,
        &conn.name,
        caller,
        confirmer,
        proposal,
        user,
        |user| async move {
            let fresh = resolve::user(conn, &user.id).await?;
            let targets = vec![user_target(&fresh)];
            Ok((fresh, targets))
        },
    )
    .await
}

/// A plan id that can never execute here (unknown, used, expired, tampered, another caller's)
/// is refused before any tenant call, so a replay says "already used" rather than failing on a
/// vanished target.
pub(super) fn precheck_plan(
    app: &App,
    caller: &Caller,
    tool: &str,
    scope: &str,
    plan_id: &str,
) -> Result<(), ToolError> {
    let Some(raw) = opt(plan_id) else {
        return Ok(());
    };
    let checked = plan_ref(app, tool, scope, &raw)
        .and_then(|(id, _)| app.plans.load_live(id))
        .map_err(ToolError::from)
        .and_then(|plan| check_owner(&plan, caller));
    if let Err(e) = checked {
        let id = split_plan_ref(&raw).0;
        return Err(record::refusal(
            app,
            caller,
            tool,
            scope,
            json!({"outcome": "refused", "plan_id": id, "reason": e.message}),
            e,
        ));
    }
    Ok(())
}

/// After a human took time to answer inline, the targets must still be as planned.
pub(super) fn ensure_unchanged(plan: &Plan, fresh: &[PlanTarget]) -> Result<(), ToolError> {
    if plan.targets != fresh {
        return Err(ToolError::conflict(format!(
            "nothing changed: the target was modified while the confirmation was open; call {} again to get a new plan",
            plan.tool
        )));
    }
    Ok(())
}

/// The caller's arguments as the plan binds them.
pub(super) fn input_of(args: &impl serde::Serialize) -> Value {
    serde_json::to_value(args).unwrap_or(Value::Null)
}
