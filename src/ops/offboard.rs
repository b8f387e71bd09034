//! Offboarding one person from every connected tenant at once (`deactivate` with
//! `connection: "all"`): one plan that lists every account found (and where none was), one
//! human confirmation, then execution per connection with a per-connection outcome.
//!
//! A person is matched across connections by normalised email (userName on SCIM). The plan is
//! built only when every connection answered: offboarding must never silently skip a tenant it
//! could not read.

use serde_json::{Map, Value, json};

use crate::guard::confirm::Confirmer;
use crate::guard::plan::{PlanTarget, user_fingerprint};
use crate::guard::policy::quote;
use crate::model::{User, normalize_email};

use super::catalog::DEACTIVATE;
use super::deactivate::{
    DeactivateArgs, DeactivateMode, Deactivation, carry_out_deactivation, quarantine_removals,
};
use super::gate::{Passed, Proposal, gate_then, input_of, precheck_plan};
use super::result::{ConnectionOutcome, WriteResult, WriteStatus};
use super::{App, Caller, Connection, ErrorKind, ToolError, provider_error};

/// The scope name a plan covering every connection is bound to.
pub const ALL: &str = "all";

/// One account the plan will deactivate.
struct Found<'a> {
    conn: &'a Connection,
    user: User,
    action: Deactivation,
}

fn target(conn: &Connection, user: &User) -> PlanTarget {
    PlanTarget {
        kind: "user".into(),
        id: format!("{}/{}", conn.name, user.id),
        label: format!("{} on {}", user.email, conn.name),
        fingerprint: user_fingerprint(user),
    }
}

/// The gentlest mode a connection offers, or the one asked for if it can do it.
fn mode_for(conn: &Connection, asked: Option<DeactivateMode>) -> Result<DeactivateMode, ToolError> {
    let caps = conn.provider.capabilities();
    match asked {
        Some(DeactivateMode::Disable) if !caps.disable => Err(ToolError::invalid_input(format!(
            "connection {} has no disabled state, so mode \"disable\" cannot cover every connection; omit mode to use the gentlest each connection offers",
            conn.name
        ))),
        Some(DeactivateMode::Delete) if !caps.delete => Err(ToolError::invalid_input(format!(
            "connection {} cannot delete users; omit mode to use the gentlest each connection offers",
            conn.name
        ))),
        Some(m) => Ok(m),
        None => Ok(DeactivateMode::gentlest(&caps)),
    }
}

/// Looks the person up everywhere. Any connection that cannot answer stops the whole plan.
async fn find_everywhere<'a>(
    app: &'a App,
    email: &str,
    asked: Option<DeactivateMode>,
) -> Result<(Vec<Found<'a>>, Vec<&'a str>), ToolError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for conn in app.connections.values() {
        let mode = mode_for(conn, asked)?;
        let allowed = app.policy.check_connection(DEACTIVATE, &conn.name);
        let hits = conn
            .provider
            .find_users_by_email(email)
            .await
            .map_err(|e| {
                let err = provider_error(&conn.name, "looking up the user", e);
                let message = format!(
                    "{err}; nothing was planned, because offboarding everywhere must not skip a connection it cannot read (pass connection to act on the others one by one)"
                );
                err.with_message(message)
            })?;
        match hits.len() {
            0 => missing.push(conn.name.as_str()),
            1 => {
                // An account the policy puts out of reach must not be silently left behind.
                allowed.map_err(|why| {
                    ToolError::refused(format!(
                        "{why}; the person has an account there, so offboarding everywhere cannot be planned — offboard the allowed connections one by one and tell a human about {}",
                        conn.name
                    ))
                })?;
                let user = hits
                    .into_iter()
                    .next()
                    .ok_or_else(|| ToolError::internal("lookup lost its result"))?;
                app.policy.check_user(&user).map_err(ToolError::refused)?;
                if mode.destructive(&conn.provider.capabilities()) {
                    app.deletions
                        .check(&conn.name, 1)
                        .map_err(ToolError::from)?;
                }
                let action = Deactivation::for_mode(mode, conn).await?;
                if let Deactivation::Quarantine(q) = &action {
                    quarantine_removals(app, &user, q)?;
                }
                found.push(Found { conn, user, action });
            }
            n => {
                return Err(ToolError::ambiguous(format!(
                    "{n} users on connection {} have the email {}; offboard them one by one with connection \"{}\" and the user id",
                    conn.name,
                    quote(email),
                    conn.name
                )));
            }
        }
    }
    Ok((found, missing))
}

fn change_line(f: &Found<'_>) -> Vec<String> {
    let caps = f.conn.provider.capabilities();
    let mut lines = vec![format!(
        "{} user {} {} (id {}) on connection {}",
        f.action.mode().verb(),
        quote(&f.user.name),
        quote(&f.user.email),
        f.user.id,
        f.conn.name
    )];
    if let Deactivation::Quarantine(q) = &f.action {
        lines.push(format!(
            "On {} move them into {} and remove every other membership; the account stays",
            f.conn.name,
            quote(&q.name)
        ));
    }
    if matches!(f.action, Deactivation::Disable) && caps.disable_may_delete {
        lines.push(format!(
            "Warning: on {} (ZIA SCIM) setting the account inactive may DELETE it; treat this as a deletion",
            f.conn.name
        ));
    }
    if caps.staged_changes {
        lines.push(format!(
            "On {} the {} is staged until activate_changes",
            f.conn.name,
            if matches!(f.action, Deactivation::Quarantine(_)) {
                "change"
            } else {
                "deletion"
            }
        ));
    }
    lines
}

/// `deactivate` with `connection: "all"`.
pub async fn deactivate_everywhere(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: DeactivateArgs,
) -> Result<WriteResult, ToolError> {
    let email = args.user.trim();
    if !email.contains('@') {
        return Err(ToolError::invalid_input(format!(
            "with connection \"all\" pass the person's email, not an id (ids differ per connection); got {}",
            quote(email)
        )));
    }
    precheck_plan(app, caller, DEACTIVATE, ALL, &args.plan_id)?;
    let (found, missing) = find_everywhere(app, email, args.mode).await?;
    if found.is_empty() {
        return Err(ToolError::not_found(format!(
            "no account with email {} on any connection (checked {}); list_users with email_prefix shows similar accounts",
            quote(email),
            missing.join(", ")
        )));
    }
    app.policy
        .check_targets(DEACTIVATE, found.len(), "accounts")
        .map_err(ToolError::refused)?;
    let mut changes: Vec<String> = found.iter().flat_map(change_line).collect();
    if !missing.is_empty() {
        changes.push(format!("Not found on: {}", missing.join(", ")));
    }
    let per_conn: Map<String, Value> = found
        .iter()
        .map(|f| {
            (
                f.conn.name.clone(),
                json!({"user": f.user.id, "mode": f.action.mode()}),
            )
        })
        .collect();
    let proposal = Proposal {
        tool: DEACTIVATE,
        input: input_of(&args),
        arguments: json!({"user": normalize_email(email), "mode": args.mode, "connections": per_conn}),
        plan_id: &args.plan_id,
        changes,
        targets: found.iter().map(|f| target(f.conn, &f.user)).collect(),
    };
    // When a human took time to answer, every account is read again and must be as planned.
    let (Passed { plan, confirmation }, found) = match gate_then(
        app,
        ALL,
        caller,
        confirmer,
        proposal,
        found,
        reread_everywhere,
    )
    .await?
    {
        Ok(go) => go,
        Err(stop) => return Ok(*stop),
    };
    let mut outcomes = Vec::new();
    let mut notices = Vec::new();
    let mut staged_on = Vec::new();
    for f in &found {
        match carry_out_deactivation(
            app,
            caller,
            f.conn,
            &f.user,
            &f.action,
            &plan,
            &confirmation,
        )
        .await
        {
            Ok(done) => {
                if f.conn.provider.capabilities().staged_changes {
                    staged_on.push(f.conn.name.clone());
                }
                notices.extend(done.written.notices);
                outcomes.push(ConnectionOutcome {
                    connection: f.conn.name.clone(),
                    outcome: if done.written.unknown {
                        "unknown"
                    } else {
                        "executed"
                    }
                    .into(),
                    user_id: Some(f.user.id.clone()),
                    verification: Some(done.written.verification),
                    detail: done.summary,
                    error_kind: None,
                });
            }
            Err(e) => outcomes.push(ConnectionOutcome {
                connection: f.conn.name.clone(),
                outcome: "failed".into(),
                user_id: Some(f.user.id.clone()),
                verification: None,
                detail: e.message,
                error_kind: Some(e.kind),
            }),
        }
    }
    for name in &missing {
        outcomes.push(ConnectionOutcome {
            connection: (*name).to_string(),
            outcome: "not_found".into(),
            user_id: None,
            verification: None,
            detail: format!("no account with email {} here", quote(email)),
            error_kind: None,
        });
    }
    let failed: Vec<&ConnectionOutcome> =
        outcomes.iter().filter(|o| o.outcome == "failed").collect();
    let executed = outcomes.iter().filter(|o| o.outcome == "executed").count();
    let status = if failed.is_empty() {
        WriteStatus::Executed
    } else if executed == 0 {
        // The first failure's kind stands for the call's.
        let kind = failed
            .iter()
            .find_map(|o| o.error_kind)
            .unwrap_or(ErrorKind::Upstream);
        return Err(ToolError::of(
            kind,
            format!(
                "deactivate failed on every connection where {} exists: {}",
                quote(email),
                failed
                    .iter()
                    .map(|o| format!("{}: {}", o.connection, o.detail))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ));
    } else {
        WriteStatus::PartlyExecuted
    };
    let summary = format!(
        "Deactivated {} on {executed} of {} connection(s) where the account exists{}.",
        quote(email),
        found.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(
                "; FAILED on {}",
                failed
                    .iter()
                    .map(|o| o.connection.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let mut r = WriteResult::scoped(status, ALL, summary);
    r.notices = notices;
    for f in &found {
        r.notices.extend(f.conn.provider.take_notices());
    }
    r.staged = !staged_on.is_empty();
    if r.staged {
        r.next_step = Some(format!(
            "The changes are staged on {}; call activate_changes there to make them live.",
            staged_on.join(", ")
        ));
    } else if !failed.is_empty() {
        r.next_step = Some(
            "Read the failed connections' outcomes; call deactivate on each of them with its connection name once the cause is fixed.".into(),
        );
    }
    r.outcomes = outcomes;
    r.plan = Some(plan);
    r.confirmation = Some(confirmation);
    Ok(r)
}

/// The accounts of an offboarding, read again, with their plan targets.
async fn reread_everywhere(
    mut found: Vec<Found<'_>>,
) -> Result<(Vec<Found<'_>>, Vec<PlanTarget>), ToolError> {
    let mut fresh = Vec::new();
    for f in &mut found {
        let now = f
            .conn
            .provider
            .get_user(&f.user.id)
            .await
            .map_err(|e| provider_error(&f.conn.name, "re-reading the user", e))?;
        fresh.push(target(f.conn, &now));
        f.user = now;
    }
    Ok((found, fresh))
}
