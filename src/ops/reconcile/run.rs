//! Carrying out an approved reconcile plan: on each connection, leavers first (access goes
//! first), then movers, then joiners, every write through the [`Writer`] (protection, the
//! deletion cap, the journal's intent before the request, read-back after). Native ZIA deletes
//! its leavers with bulkDelete; the providers pace every request at the tenant's limits.
//!
//! Cancellation is checked between writes, never inside one: a write that was sent is always
//! settled and journaled, and what was not sent is reported `skipped`. Running the plan's
//! remainder later is a new reconcile, which reads the tenant again and so plans only what is
//! still missing: nothing is written twice.

use tokio_util::sync::CancellationToken;

use crate::guard::plan::Plan;
use crate::model::UserUpdate;
use crate::ops::audit::AuditProgress;
use crate::ops::batch::bulk_delete_with;
use crate::ops::catalog::RECONCILE;
use crate::ops::deactivate::{DeactivateMode, Deactivation, deactivate_with};
use crate::ops::execute::{Writer, Written};
use crate::ops::result::{ConfirmationInfo, Verification};
use crate::ops::{App, Caller, Connection, ToolError};

use super::Planned;
use super::diff::{Change, Kind};

/// What happened to one change.
#[derive(Debug, Clone)]
pub struct ItemOutcome {
    pub connection: String,
    pub kind: Kind,
    pub email: String,
    pub user_id: Option<String>,
    pub change: String,
    /// `verified`, `mismatch`, `unknown` (the answer was lost and reading back could not
    /// tell), `failed` or `skipped` (not attempted: cancelled, or left for a later run).
    pub outcome: &'static str,
    pub detail: String,
}

/// How the run reports and stops.
pub struct Run<'a> {
    pub app: &'a App,
    pub caller: &'a Caller,
    pub plan: &'a Plan,
    pub confirmation: &'a ConfirmationInfo,
    pub progress: Option<&'a dyn AuditProgress>,
    pub cancel: &'a CancellationToken,
    /// Changes to carry out in all, for progress.
    pub total: usize,
    pub done: usize,
    pub outcomes: Vec<ItemOutcome>,
}

fn verdict(v: Verification) -> &'static str {
    match v {
        Verification::Verified => "verified",
        Verification::Mismatch => "mismatch",
        Verification::Unknown => "unknown",
    }
}

impl Run<'_> {
    fn record(
        &mut self,
        conn: &Connection,
        c: &Change,
        words: String,
        outcome: &'static str,
        detail: String,
    ) {
        self.outcomes.push(ItemOutcome {
            connection: conn.name.clone(),
            kind: c.kind,
            email: c.email.clone(),
            user_id: c.user_id().map(str::to_string),
            change: words,
            outcome,
            detail,
        });
    }

    async fn tick(&mut self, what: String) {
        self.done += 1;
        if let Some(p) = self.progress {
            p.page(
                self.done as u64,
                format!("{} of {}: {what}", self.done, self.total),
            )
            .await;
        }
    }

    fn written(
        &mut self,
        conn: &Connection,
        c: &Change,
        words: String,
        r: Result<Written<crate::model::User>, ToolError>,
    ) -> String {
        match r {
            Ok(w) => {
                let outcome = if w.unknown {
                    "unknown"
                } else {
                    verdict(w.verification)
                };
                let id = w.after.as_ref().map(|u| u.id.clone());
                let mut detail = match (&id, c.kind) {
                    (Some(id), Kind::Joiner) => format!("created as id {id}"),
                    _ => String::new(),
                };
                if let Some(n) = w.notices.first() {
                    if !detail.is_empty() {
                        detail.push_str("; ");
                    }
                    detail.push_str(n);
                }
                self.outcomes.push(ItemOutcome {
                    connection: conn.name.clone(),
                    kind: c.kind,
                    email: c.email.clone(),
                    user_id: c.user_id().map(str::to_string).or(id),
                    change: words,
                    outcome,
                    detail,
                });
                format!("{} {}", c.kind.name(), c.email)
            }
            Err(e) => {
                self.record(conn, c, words, "failed", e.to_string());
                format!("{} {} failed", c.kind.name(), c.email)
            }
        }
    }

    /// Every change not attempted, as `skipped` with why.
    fn skip(&mut self, conn: &Connection, changes: &[Change], verb: &str, why: &str) {
        for c in changes {
            self.record(conn, c, c.words(verb), "skipped", why.to_string());
        }
    }

    /// Carries out one connection's share of the plan. Returns false once cancelled.
    pub async fn connection(&mut self, p: &Planned<'_>) -> bool {
        let conn = p.conn;
        let writer = Writer {
            app: self.app,
            caller: self.caller,
            conn,
            tool: RECONCILE,
            plan: Some(self.plan),
            confirmation: self.confirmation,
        };
        let verb = p.mode.verb();
        let leavers: Vec<&Change> = p
            .diff
            .changes
            .iter()
            .filter(|c| c.kind == Kind::Leaver)
            .collect();
        let (now, _later) = leavers.split_at(p.fit.min(leavers.len()));
        let cancelled =
            "not attempted: the run was cancelled before it (reconcile again to plan what is left)";
        if !now.is_empty() {
            if self.cancel.is_cancelled() {
                let rest: Vec<Change> = p
                    .diff
                    .changes
                    .iter()
                    .filter(|c| c.kind != Kind::Leaver)
                    .cloned()
                    .chain(now.iter().map(|c| (*c).clone()))
                    .collect();
                self.skip(conn, &rest, verb, cancelled);
                return false;
            }
            self.leavers(&writer, p.mode, now).await;
        }
        let others: Vec<&Change> = p
            .diff
            .changes
            .iter()
            .filter(|c| c.kind != Kind::Leaver)
            .collect();
        for (i, c) in others.iter().enumerate() {
            if self.cancel.is_cancelled() {
                let rest: Vec<Change> = others[i..].iter().map(|c| (*c).clone()).collect();
                self.skip(conn, &rest, verb, cancelled);
                return false;
            }
            let words = c.words(verb);
            let what = match c.kind {
                Kind::Joiner => {
                    let r = match &c.new {
                        Some(new) => writer.create_user(new).await,
                        None => Err(ToolError::internal(
                            "internal error: a joiner without an account to create",
                        )),
                    };
                    self.written(conn, c, words, r)
                }
                Kind::Mover => {
                    let r = match &c.before {
                        Some(before) => {
                            let update = UserUpdate {
                                department: c.department.clone(),
                                add_groups: c.add.clone(),
                                remove_groups: c.remove.clone(),
                                ..UserUpdate::default()
                            };
                            writer
                                .update_user(before, &update, format!("reconcile: {words}"))
                                .await
                        }
                        None => Err(ToolError::internal(
                            "internal error: a mover without its account",
                        )),
                    };
                    self.written(conn, c, words, r)
                }
                Kind::Leaver => continue,
            };
            self.tick(what).await;
        }
        true
    }

    /// Takes access away from the leavers that fit the deletion cap: one bulk delete on native
    /// ZIA (the adapter sends ≤ 500 ids a request), else one disable each.
    async fn leavers(&mut self, writer: &Writer<'_>, mode: DeactivateMode, leavers: &[&Change]) {
        let conn = writer.conn;
        let verb = mode.verb();
        if mode == DeactivateMode::Delete {
            let users: Vec<crate::model::User> =
                leavers.iter().filter_map(|c| c.before.clone()).collect();
            if let Some(p) = self.progress {
                p.page(
                    self.done as u64,
                    format!(
                        "{} of {}: deleting {} leavers on {}",
                        self.done,
                        self.total,
                        users.len(),
                        conn.name
                    ),
                )
                .await;
            }
            match bulk_delete_with(writer, &users).await {
                Ok(outcomes) => {
                    for (c, o) in leavers.iter().zip(outcomes) {
                        // Executed is verified only where the read-back said so.
                        let outcome = match o.outcome.as_str() {
                            "executed" => o.verification.map_or("unknown", verdict),
                            "unknown" => "unknown",
                            _ => "failed",
                        };
                        let detail = if outcome == "verified" {
                            String::new()
                        } else {
                            o.detail
                        };
                        self.record(conn, c, c.words(verb), outcome, detail);
                        self.done += 1;
                    }
                }
                Err(e) => {
                    for c in leavers {
                        self.record(conn, c, c.words(verb), "failed", e.to_string());
                        self.done += 1;
                    }
                }
            }
            if let Some(p) = self.progress {
                p.page(
                    self.done as u64,
                    format!(
                        "{} of {}: {} leavers on {} done",
                        self.done,
                        self.total,
                        users.len(),
                        conn.name
                    ),
                )
                .await;
            }
            return;
        }
        for (i, c) in leavers.iter().enumerate() {
            if self.cancel.is_cancelled() {
                let rest: Vec<Change> = leavers[i..].iter().map(|c| (*c).clone()).collect();
                self.skip(
                    conn,
                    &rest,
                    verb,
                    "not attempted: the run was cancelled before it (reconcile again to plan what is left)",
                );
                return;
            }
            let words = c.words(verb);
            let r = match &c.before {
                Some(u) => deactivate_with(writer, u, &Deactivation::Disable)
                    .await
                    .map(|d| d.written),
                None => Err(ToolError::internal(
                    "internal error: a leaver without its account",
                )),
            };
            let what = self.written(conn, c, words, r);
            self.tick(what).await;
        }
    }
}
