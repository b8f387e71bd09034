//! Deactivating several users of one connection in one plan (`deactivate` with `users`).
//!
//! One-by-one deletes do not scale on native ZIA: `DELETE /users/{id}` is limited to 1 per minute
//! and 4 per hour, so offboarding a team would take a day. ZIA's `POST /users/bulkDelete` (≤ 500
//! ids, a POST at 1/s) deletes them in one request per 500. The batch is still one plan, bound to
//! every target's id and fingerprint, with one human confirmation; nothing is planned unless every
//! named user resolves to exactly one account the policy allows changing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::guard::confirm::Confirmer;
use crate::guard::plan::{Plan, user_target};
use crate::guard::policy::quote;
use crate::model::{PageRequest, User, UserFilter, normalize_email};
use crate::provider::ProviderError;

use super::catalog::DEACTIVATE;
use super::deactivate::{
    DeactivateArgs, DeactivateMode, Deactivation, carry_out_deactivation, checked_mode,
    quarantine_removals,
};
use super::execute::Writer;
use super::gate::{Passed, Proposal, gate_then, input_of, precheck_plan};
use super::result::{ConfirmationInfo, ConnectionOutcome, Verification, WriteResult, WriteStatus};
use super::{App, Caller, Connection, ErrorKind, ToolError, provider_error};

/// Most users one call may name, whatever the policy says: a plan a human can still read.
pub const MAX_USERS: usize = 500;

/// For each key (email or id), the accounts it names.
///
/// Where an email lookup reads the directory page by page (native ZIA: its filters are prefix
/// matches), the whole batch is resolved in one pass over the largest pages instead of one pass
/// per user. Elsewhere each key is looked up with a filter or a GET, one request per key.
async fn find_many(conn: &Connection, keys: &[String]) -> Result<Vec<Vec<User>>, ToolError> {
    let mut found: Vec<Vec<User>> = vec![Vec::new(); keys.len()];
    let caps = conn.provider.capabilities();
    if !caps.lookup_scans_pages {
        for (i, key) in keys.iter().enumerate() {
            found[i] = if key.contains('@') {
                conn.provider
                    .find_users_by_email(key)
                    .await
                    .map_err(|e| provider_error(&conn.name, "looking up the users", e))?
            } else {
                match conn.provider.get_user(key).await {
                    Ok(u) => vec![u],
                    Err(ProviderError::NotFound { .. } | ProviderError::Invalid { .. }) => {
                        Vec::new()
                    }
                    Err(e) => return Err(provider_error(&conn.name, "looking up the users", e)),
                }
            };
        }
        return Ok(found);
    }
    let mut by_email: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut by_id: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, key) in keys.iter().enumerate() {
        if key.contains('@') {
            by_email.entry(normalize_email(key)).or_default().push(i);
        } else {
            by_id.entry(key.as_str()).or_default().push(i);
        }
    }
    let mut cursor = None;
    loop {
        let page = conn
            .provider
            .list_users(
                &UserFilter::default(),
                &PageRequest {
                    cursor,
                    limit: caps.page_size,
                },
            )
            .await
            .map_err(|e| provider_error(&conn.name, "listing users", e))?;
        for u in page.items {
            let mut slots: Vec<usize> = by_id.get(u.id.as_str()).cloned().unwrap_or_default();
            if let Some(e) = by_email.get(&u.email_key()) {
                slots.extend(e);
            }
            for i in slots {
                found[i].push(u.clone());
            }
        }
        // Ids are unique, so a batch of ids stops reading as soon as all are found; an email
        // needs every page, because a second account with it makes the name ambiguous.
        let all_ids_found = by_email.is_empty() && found.iter().all(|f| !f.is_empty());
        match page.next_cursor {
            Some(c) if !all_ids_found => cursor = Some(c),
            _ => return Ok(found),
        }
    }
}

/// Resolves every key to exactly one account, or explains every key that does not.
async fn resolve_all(conn: &Connection, keys: &[String]) -> Result<Vec<User>, ToolError> {
    let found = find_many(conn, keys).await?;
    let mut missing = Vec::new();
    let mut ambiguous = Vec::new();
    let mut users: Vec<User> = Vec::new();
    let mut named: BTreeMap<String, &str> = BTreeMap::new();
    for (key, hits) in keys.iter().zip(found) {
        match hits.len() {
            0 => missing.push(quote(key)),
            1 => {
                let u = hits.into_iter().next().ok_or_else(|| {
                    ToolError::internal("lookup lost its result; nothing was planned")
                })?;
                if let Some(first) = named.insert(u.id.clone(), key) {
                    return Err(ToolError::invalid_input(format!(
                        "users names the account {} (id {}) twice, as {} and {}; list each person once",
                        quote(&u.email),
                        u.id,
                        quote(first),
                        quote(key)
                    )));
                }
                users.push(u);
            }
            n => ambiguous.push(format!(
                "{} matches {n} accounts (ids {})",
                quote(key),
                hits.iter()
                    .map(|u| u.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    if !missing.is_empty() || !ambiguous.is_empty() {
        let mut why = Vec::new();
        if !missing.is_empty() {
            why.push(format!(
                "not found on connection {}: {} (list_users with email_prefix shows similar accounts)",
                conn.name,
                missing.join(", ")
            ));
        }
        if !ambiguous.is_empty() {
            why.push(format!(
                "ambiguous: {} (pass the id of the one you mean)",
                ambiguous.join("; ")
            ));
        }
        // A key naming several accounts needs the id; that fix comes first.
        let kind = if ambiguous.is_empty() {
            ErrorKind::NotFound
        } else {
            ErrorKind::Ambiguous
        };
        return Err(ToolError::of(
            kind,
            format!("nothing was planned; {}", why.join("; ")),
        ));
    }
    Ok(users)
}

/// Which of `ids` still exist, read back after a bulk delete. A full pass on native ZIA (one
/// request per 10,000 users) rather than one GET per id at 2 per second.
async fn still_present(conn: &Connection, ids: &[String]) -> Result<BTreeSet<String>, ToolError> {
    let found = find_many(conn, ids).await?;
    Ok(ids
        .iter()
        .zip(found)
        .filter(|(_, hits)| !hits.is_empty())
        .map(|(id, _)| id.clone())
        .collect())
}

/// `deactivate` with `users`.
pub async fn deactivate_many(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: DeactivateArgs,
) -> Result<WriteResult, ToolError> {
    if args
        .connection
        .trim()
        .eq_ignore_ascii_case(super::offboard::ALL)
    {
        return Err(ToolError::invalid_input(
            "users cannot be combined with connection \"all\": offboard one person everywhere with user and connection \"all\", or several people on one connection with users and that connection's name",
        ));
    }
    if !args.user.trim().is_empty() {
        return Err(ToolError::invalid_input(
            "pass either user (one account) or users (several), not both",
        ));
    }
    let keys: Vec<String> = args.users.iter().map(|k| k.trim().to_string()).collect();
    if keys.iter().any(String::is_empty) {
        return Err(ToolError::invalid_input(
            "users contains an empty entry; pass emails or ids only",
        ));
    }
    if keys.len() > MAX_USERS {
        return Err(ToolError::invalid_input(format!(
            "users names {} accounts; at most {MAX_USERS} per call, so split the list",
            keys.len()
        )));
    }
    let conn = app.connection_for(DEACTIVATE, super::result::opt(&args.connection).as_deref())?;
    app.policy
        .check_targets(DEACTIVATE, keys.len(), "accounts")
        .map_err(ToolError::refused)?;
    let caps = conn.provider.capabilities();
    let mode = checked_mode(conn, args.mode)?;
    precheck_plan(app, caller, DEACTIVATE, &conn.name, &args.plan_id)?;
    if mode.destructive(&caps) {
        app.deletions
            .check(&conn.name, keys.len())
            .map_err(ToolError::from)?;
    }
    let action = Deactivation::for_mode(mode, conn).await?;
    let users = resolve_all(conn, &keys).await?;
    let mut refused = Vec::new();
    for u in &users {
        let mut check = app.policy.check_user(u);
        if check.is_ok()
            && let Deactivation::Quarantine(q) = &action
        {
            check = quarantine_removals(app, u, q)
                .map(|_| ())
                .map_err(|e| e.message);
        }
        if let Err(why) = check {
            refused.push(why);
        }
    }
    if !refused.is_empty() {
        return Err(ToolError::refused(format!(
            "nothing was planned: {}; remove those accounts from users and call again",
            refused.join("; ")
        )));
    }

    let mut changes = vec![format!(
        "{} {} users on connection {}{}",
        mode.verb(),
        users.len(),
        conn.name,
        match &action {
            Deactivation::Delete if caps.bulk_delete_max > 0 => format!(
                " with {} bulkDelete request(s) of up to {}",
                users.len().div_ceil(caps.bulk_delete_max),
                caps.bulk_delete_max
            ),
            Deactivation::Quarantine(q) => format!(
                ": each keeps only the group {}; the accounts stay",
                quote(&q.name)
            ),
            _ => String::new(),
        }
    )];
    changes.extend(
        users
            .iter()
            .map(|u| format!("{} {} (id {})", quote(&u.name), quote(&u.email), u.id)),
    );
    if mode == DeactivateMode::Disable && caps.disable_may_delete {
        changes.push(
            "Warning: this ZIA SCIM server may DELETE accounts set inactive; treat this as deletions".into(),
        );
    }
    if caps.staged_changes {
        changes.push("Staged on the tenant until activate_changes".into());
    }
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    let proposal = Proposal {
        tool: DEACTIVATE,
        arguments: json!({"users": ids, "mode": mode}),
        input: input_of(&args),
        plan_id: &args.plan_id,
        changes,
        targets: users.iter().map(user_target).collect(),
    };
    let reread = |users: Vec<User>| async move {
        let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
        let fresh = resolve_all(conn, &ids).await?;
        let targets = fresh.iter().map(user_target).collect();
        Ok((fresh, targets))
    };
    let (Passed { plan, confirmation }, users) =
        match gate_then(app, &conn.name, caller, confirmer, proposal, users, reread).await? {
            Ok(go) => go,
            Err(stop) => return Ok(*stop),
        };

    let outcomes = match &action {
        Deactivation::Delete => {
            bulk_delete(app, caller, conn, &users, &plan, &confirmation).await?
        }
        _ => {
            let mut outcomes = Vec::new();
            for u in &users {
                outcomes.push(
                    match carry_out_deactivation(
                        app,
                        caller,
                        conn,
                        u,
                        &action,
                        &plan,
                        &confirmation,
                    )
                    .await
                    {
                        Ok(done) => outcome(
                            conn,
                            u,
                            if done.written.unknown {
                                "unknown"
                            } else {
                                "executed"
                            },
                            Some(done.written.verification),
                            done.summary,
                        ),
                        Err(e) => ConnectionOutcome {
                            error_kind: Some(e.kind),
                            ..outcome(conn, u, "failed", None, e.message)
                        },
                    },
                );
            }
            outcomes
        }
    };
    finish(conn, mode, outcomes, plan, confirmation)
}

fn outcome(
    conn: &Connection,
    user: &User,
    what: &str,
    verification: Option<Verification>,
    detail: String,
) -> ConnectionOutcome {
    ConnectionOutcome {
        connection: conn.name.clone(),
        outcome: what.into(),
        user_id: Some(user.id.clone()),
        verification,
        detail,
        error_kind: None,
    }
}

/// Deletes the batch (bulk where the backend has it) through the [`Writer`], then reads back
/// which accounts are gone. Every account gets its own journal record with its snapshot,
/// whatever happened.
async fn bulk_delete(
    app: &App,
    caller: &Caller,
    conn: &Connection,
    users: &[User],
    plan: &Plan,
    confirmation: &ConfirmationInfo,
) -> Result<Vec<ConnectionOutcome>, ToolError> {
    let writer = Writer {
        app,
        caller,
        conn,
        tool: DEACTIVATE,
        plan: Some(plan),
        confirmation,
    };
    bulk_delete_with(&writer, users).await
}

/// [`bulk_delete`] through `writer`, whose tool (deactivate, reconcile) the journal records.
pub(super) async fn bulk_delete_with(
    writer: &Writer<'_>,
    users: &[User],
) -> Result<Vec<ConnectionOutcome>, ToolError> {
    let conn = writer.conn;
    // One call: the adapter splits it into requests the API accepts (ZIA: ≤ 500 ids each). If it
    // fails part-way, or its answer is lost, reading back below tells which accounts are gone.
    let sent = writer.delete_many(users).await?;
    let error = sent.error.clone();
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    // The read-back asks the tenant, not what the directory cache made of the bulk answer.
    conn.provider.forget_cached();
    let present = still_present(conn, &ids).await;
    let settled = writer.settle_bulk(sent, users, present.as_ref());
    let mut outcomes = Vec::new();
    for (u, s) in users.iter().zip(settled) {
        let detail = match s.outcome {
            "executed" => format!("Deleted user {} (id {}).", quote(&u.email), u.id),
            "failed" => format!(
                "user {} (id {}) still exists after the delete{}",
                quote(&u.email),
                u.id,
                error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
            ),
            _ => format!(
                "could not read the tenant back to tell whether {} (id {}) was deleted; get_user shows its state",
                quote(&u.email),
                u.id
            ),
        };
        outcomes.push(outcome(conn, u, s.outcome, Some(s.verification), detail));
    }
    Ok(outcomes)
}

fn finish(
    conn: &Connection,
    mode: DeactivateMode,
    outcomes: Vec<ConnectionOutcome>,
    plan: Plan,
    confirmation: ConfirmationInfo,
) -> Result<WriteResult, ToolError> {
    let count = |what: &str| outcomes.iter().filter(|o| o.outcome == what).count();
    let (done, unknown, failed) = (count("executed"), count("unknown"), count("failed"));
    let total = outcomes.len();
    let verb = mode.verb().to_lowercase();
    // The summary says exactly what the outcomes say: executed, unknown, failed.
    let status = if done == total {
        WriteStatus::Executed
    } else if unknown == total {
        WriteStatus::OutcomeUnknown
    } else if done == 0 && unknown == 0 {
        let first = outcomes.iter().find(|o| o.outcome == "failed");
        // The first failure's kind stands for the call's.
        return Err(ToolError::of(
            first
                .and_then(|o| o.error_kind)
                .unwrap_or(ErrorKind::Upstream),
            format!(
                "{verb} failed for all {total} users on {}; nothing changed: {}",
                conn.name,
                first.map(|o| o.detail.as_str()).unwrap_or_default()
            ),
        ));
    } else {
        WriteStatus::PartlyExecuted
    };
    let mut parts = vec![format!(
        "{} {done} of {total} users on {}",
        mode.past(),
        conn.name
    )];
    if unknown > 0 {
        parts.push(format!(
            "{unknown} unknown (the tenant could not be read back)"
        ));
    }
    if failed > 0 {
        parts.push(format!("{failed} not {}", mode.past().to_lowercase()));
    }
    let mut r = WriteResult::new(
        status,
        conn,
        format!(
            "{}{}.",
            parts.join("; "),
            if done == total {
                ""
            } else {
                "; the outcomes list says what happened to each"
            }
        ),
    );
    let caps = conn.provider.capabilities();
    r.staged = caps.staged_changes && done + unknown > 0;
    r.verification = Some(if unknown > 0 && failed == 0 {
        Verification::Unknown
    } else {
        Verification::matched(done == total)
    });
    if r.staged {
        r.next_step = Some(format!(
            "The {} staged; call activate_changes to make them live.",
            if mode == DeactivateMode::Quarantine {
                "changes are"
            } else {
                "deletions are"
            }
        ));
    } else if done < total {
        r.next_step = Some(
            "Read the outcomes; call get_user for any 'unknown' account and deactivate the failed ones again once the cause is fixed.".into(),
        );
    }
    r.outcomes = outcomes;
    r.plan = Some(plan);
    r.confirmation = Some(confirmation);
    Ok(r)
}
