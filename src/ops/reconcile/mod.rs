//! reconcile: one confirmed plan that brings a tenant (or every tenant) in line with the source
//! of record — joiners created, movers updated, leavers deactivated.
//!
//! The first call reads the source and each tenant afresh, works out the changes
//! ([`diff::compute`]), and returns one plan: counts on top, each change in words, every change
//! in a CSV resource (`reconcile://ID.csv`). The plan binds each connection's whole set of
//! changes in one target (a digest of every change and the state of every account it touches),
//! so a plan whose tenant or source changed since is refused, and four-eyes counts the changes,
//! not the targets. Caps apply to the whole plan before anything runs: leavers beyond the
//! hourly deletion cap are deferred (listed, left for a later run) rather than stopping
//! half-way. Once approved, the call with `plan_id` reads the tenants again, checks they still
//! match the plan, and carries it out ([`run`]) with progress notifications and cancellation;
//! every item's outcome goes to the journal (through the writer) and to a CSV resource.

mod diff;
mod run;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::guard::caps::CapError;
use crate::guard::confirm::Confirmer;
use crate::guard::plan::{Plan, PlanTarget};
use crate::guard::policy::quote;
use crate::model::{Department, Group, User};
use crate::orphans::report::{ReportStore, ReportWriter};
use crate::orphans::source::SourceMapping;

use super::audit::{AuditProgress, load_source, next_page};
use super::catalog::RECONCILE;
use super::deactivate::DeactivateMode;
use super::gate::{Gate, Proposal, ensure_unchanged, gate_counted, input_of, precheck_plan};
use super::result::{ConfirmationInfo, Verification, WriteResult, WriteStatus};
use super::{App, Caller, Connection, ToolError, provider_error, record};
use crate::orphans::findings::thousands;

use diff::{Diff, Source, Target, Tenant};
pub use diff::{Kind, Scope};
use run::{ItemOutcome, Run};

/// The most changes one plan may hold: a plan a tenant can carry out in a working day at the
/// documented rate limits, and whose report a person can still review.
pub const MAX_CHANGES: usize = 20_000;
/// The change lines a plan shows a person (the rest are in its report).
const PLAN_LINES: usize = 200;
/// The plan lines a result shows the model (every line is in the report).
const RESULT_LINES: usize = 25;
/// Columns of a reconcile report.
const HEADER: [&str; 7] = [
    "connection",
    "kind",
    "email",
    "user_id",
    "change",
    "outcome",
    "detail",
];

/// A kind of change a reconcile may plan.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Joiners,
    Movers,
    Leavers,
}

/// Arguments of reconcile.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcileArgs {
    /// Omit when only one is configured; "all": every connection.
    #[serde(default)]
    pub connection: String,
    /// A configured source (HR export).
    pub source_of_record: String,
    /// Default: all.
    #[serde(default)]
    pub scope: Vec<ScopeKind>,
    /// Approved plan id.
    #[serde(default)]
    pub plan_id: String,
}

/// What a reconcile plans, and once it ran, what became of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ReconcileCounts {
    pub joiners: usize,
    pub movers: usize,
    /// Leavers this plan deactivates.
    pub leavers: usize,
    /// Leavers over the hourly deletion cap, left for a later run.
    pub deferred: usize,
    /// Rows left out with a reason (protected accounts, quarantined, invalid rows).
    pub refused: usize,
    /// Accounts already as the source says.
    pub unchanged: usize,
    /// Once run: changes by outcome (verified, mismatch, unknown, failed, skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<BTreeMap<String, usize>>,
}

/// How a caller follows and stops a reconcile.
pub struct ReconcileControl<'a> {
    pub progress: Option<&'a dyn AuditProgress>,
    /// Cancelled by the caller: reading stops at once, writing after the write in flight.
    pub cancel: CancellationToken,
    /// The caller's principal: the reports belong to it.
    pub owner: &'a str,
}

/// One connection's share of a plan.
pub(crate) struct Planned<'a> {
    pub conn: &'a Connection,
    pub diff: Diff,
    pub mode: DeactivateMode,
    /// How many leavers (the first ones) this run deactivates; the rest are deferred.
    pub fit: usize,
    /// Why leavers are deferred, in words.
    pub cap_note: Option<String>,
}

impl Planned<'_> {
    fn leavers(&self) -> usize {
        self.diff.count(Kind::Leaver)
    }

    fn runnable(&self) -> usize {
        self.diff.changes.len() - self.deferred()
    }

    fn deferred(&self) -> usize {
        self.leavers().saturating_sub(self.fit)
    }

    fn target(&self) -> PlanTarget {
        PlanTarget {
            kind: "reconcile".into(),
            id: self.conn.name.clone(),
            label: format!(
                "{} joiners, {} movers, {} leavers on {}",
                self.diff.count(Kind::Joiner),
                self.diff.count(Kind::Mover),
                self.leavers(),
                self.conn.name
            ),
            fingerprint: diff::fingerprint(&self.diff.changes, mode_name(self.mode)),
        }
    }
}

fn mode_name(mode: DeactivateMode) -> &'static str {
    match mode {
        DeactivateMode::Delete => "delete",
        DeactivateMode::Disable => "disable",
        DeactivateMode::Quarantine => "quarantine",
    }
}

fn scope_of(kinds: &[ScopeKind]) -> Scope {
    if kinds.is_empty() {
        return Scope::ALL;
    }
    Scope {
        joiners: kinds.contains(&ScopeKind::Joiners),
        movers: kinds.contains(&ScopeKind::Movers),
        leavers: kinds.contains(&ScopeKind::Leavers),
    }
}

fn cancelled() -> ToolError {
    ToolError::cancelled("reconcile was cancelled while reading the tenant; nothing was changed")
}

/// The connections a call names: one, or every one the policy lets reconcile act on.
fn connections<'a>(
    app: &'a App,
    name: &str,
    notices: &mut Vec<String>,
) -> Result<(Vec<&'a Connection>, String), ToolError> {
    if !name.trim().eq_ignore_ascii_case(super::offboard::ALL) {
        let conn = app.connection_for(RECONCILE, super::result::opt(name).as_deref())?;
        return Ok((vec![conn], conn.name.clone()));
    }
    let mut out = Vec::new();
    for conn in app.connections.values() {
        match app.policy.check_connection(RECONCILE, &conn.name) {
            Ok(()) => out.push(conn),
            Err(why) => notices.push(format!("Connection {} left out: {why}", conn.name)),
        }
    }
    if out.is_empty() {
        return Err(ToolError::refused(
            "policy.tool_connections lets reconcile act on no connection; nothing was planned",
        ));
    }
    Ok((out, super::offboard::ALL.to_string()))
}

/// Reads a connection's users, groups and departments afresh; stops at once when cancelled.
async fn read_tenant(
    conn: &Connection,
    control: &ReconcileControl<'_>,
    scanned: &mut u64,
) -> Result<(Vec<User>, Vec<Group>, Vec<Department>), ToolError> {
    // A plan is made from the tenant as it is now, not as a lookup cached it.
    conn.provider.forget_cached();
    let cancel = &control.cancel;
    let mut users = Vec::new();
    let mut cursor = None;
    loop {
        let page = next_page(conn, cursor, cancel, "reading users", cancelled).await?;
        *scanned += page.items.len() as u64;
        users.extend(page.items);
        if let Some(p) = control.progress {
            p.page(
                *scanned,
                format!(
                    "reading {}: {} users",
                    conn.name,
                    thousands(users.len() as u64)
                ),
            )
            .await;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let groups = conn
        .provider
        .list_groups()
        .await
        .map_err(|e| provider_error(&conn.name, "reading groups", e))?;
    let departments = if conn.provider.capabilities().departments {
        conn.provider
            .list_departments()
            .await
            .map_err(|e| provider_error(&conn.name, "reading departments", e))?
    } else {
        Vec::new()
    };
    Ok((users, groups, departments))
}

/// How many leavers fit the connection's deletion cap now, and why the rest wait.
fn fit_cap(
    app: &App,
    conn: &Connection,
    mode: DeactivateMode,
    leavers: usize,
) -> Result<(usize, Option<String>), ToolError> {
    if leavers == 0 || !mode.destructive(&conn.provider.capabilities()) {
        return Ok((leavers, None));
    }
    let fit = match app.deletions.check(&conn.name, leavers) {
        Ok(()) => return Ok((leavers, None)),
        Err(CapError::Exceeds { left, .. }) => left.min(leavers),
        Err(CapError::Reached { .. }) => 0,
        Err(e @ CapError::Unavailable { .. }) => return Err(ToolError::internal(e.to_string())),
    };
    Ok((
        fit,
        Some(format!(
            "{leavers} leavers on {} exceed policy.max_deletions_per_hour ({fit} left this hour): this plan takes away the first {fit}; the other {} are deferred — reconcile again after the hour, or ask an administrator to raise the cap",
            conn.name,
            leavers - fit
        )),
    ))
}

/// Reads every connection and works out its changes.
async fn plan_all<'a>(
    app: &App,
    conns: &[&'a Connection],
    source: &Source<'_>,
    scope: Scope,
    stored: Option<&Plan>,
    control: &ReconcileControl<'_>,
) -> Result<Vec<Planned<'a>>, ToolError> {
    let mut scanned = 0u64;
    let mut out = Vec::new();
    for conn in conns {
        let (users, groups, departments) = read_tenant(conn, control, &mut scanned).await?;
        let caps = conn.provider.capabilities();
        let target = Target {
            name: &conn.name,
            caps,
            registered_domains: &conn.registered_domains,
            quarantine_group: conn.quarantine_group.as_deref(),
        };
        let tenant = Tenant {
            users: &users,
            groups: &groups,
            departments: &departments,
        };
        let diff = diff::compute(&target, &app.policy, source, scope, &tenant)?;
        if scope.joiners && diff.count(Kind::Joiner) > 0 && !caps.create {
            return Err(ToolError::invalid_input(format!(
                "connection {} cannot create users; pass scope without joiners",
                conn.name
            )));
        }
        let mode = DeactivateMode::gentlest(&caps);
        let leavers = diff.count(Kind::Leaver);
        // A plan being carried out keeps the leavers it was approved with; a new plan asks the
        // deletion budget now.
        let (fit, cap_note) = match stored
            .and_then(|p| p.arguments["connections"][conn.name.as_str()]["leavers"].as_u64())
        {
            Some(n) => {
                let fit = (n as usize).min(leavers);
                let note = (fit < leavers).then(|| {
                    format!(
                        "{} leavers on {} are deferred by the deletion cap",
                        leavers - fit,
                        conn.name
                    )
                });
                (fit, note)
            }
            None => fit_cap(app, conn, mode, leavers)?,
        };
        out.push(Planned {
            conn,
            diff,
            mode,
            fit,
            cap_note,
        });
    }
    let total: usize = out.iter().map(|p| p.diff.changes.len()).sum();
    if total > MAX_CHANGES {
        return Err(ToolError::invalid_input(format!(
            "the source asks for {total} changes, over the {MAX_CHANGES} one plan may hold; pass one connection or a narrower scope (e.g. [\"leavers\"]) and reconcile again for the rest"
        )));
    }
    Ok(out)
}

fn counts(planned: &[Planned<'_>]) -> ReconcileCounts {
    let mut c = ReconcileCounts::default();
    for p in planned {
        c.joiners += p.diff.count(Kind::Joiner);
        c.movers += p.diff.count(Kind::Mover);
        c.leavers += p.fit.min(p.leavers());
        c.deferred += p.deferred();
        c.refused += p.diff.refused.len();
        c.unchanged += p.diff.unchanged;
    }
    c
}

/// Writes a report of the plan (`outcomes` = None: every change planned, deferred or refused)
/// or of its run; returns its URI. A report that cannot be written is logged, not fatal.
fn write_report(
    app: &App,
    owner: &str,
    scope_name: &str,
    planned: &[Planned<'_>],
    outcomes: Option<&[ItemOutcome]>,
) -> Option<String> {
    let store = ReportStore::reconcile_for_owner(&app.state_dir, owner);
    let mut w: ReportWriter = match store.create_with(scope_name, &HEADER) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot create the reconcile report");
            return None;
        }
    };
    let mut rows = |fields: [&str; 7]| w.push_row(&fields);
    let mut result = Ok(());
    for p in planned {
        let verb = p.mode.verb();
        let conn = p.conn.name.as_str();
        let mut leaver_no = 0;
        for c in &p.diff.changes {
            let deferred = c.kind == Kind::Leaver && {
                leaver_no += 1;
                leaver_no > p.fit
            };
            if outcomes.is_some() && !deferred {
                continue;
            }
            let (kind, outcome, detail) = if deferred {
                (
                    "deferred",
                    "deferred",
                    p.cap_note.clone().unwrap_or_default(),
                )
            } else {
                (c.kind.name(), "planned", c.row.clone().unwrap_or_default())
            };
            result = result.and(rows([
                conn,
                kind,
                &c.email,
                c.user_id().unwrap_or_default(),
                &c.words(verb),
                outcome,
                &detail,
            ]));
        }
        for r in &p.diff.refused {
            let detail = match &r.row {
                Some(row) => format!("{} ({row})", r.reason),
                None => r.reason.clone(),
            };
            result = result.and(rows([
                conn,
                "refused",
                &r.email,
                r.user_id.as_deref().unwrap_or_default(),
                "",
                "refused",
                &detail,
            ]));
        }
    }
    for o in outcomes.unwrap_or_default() {
        result = result.and(rows([
            &o.connection,
            o.kind.name(),
            &o.email,
            o.user_id.as_deref().unwrap_or_default(),
            &o.change,
            o.outcome,
            &o.detail,
        ]));
    }
    if let Err(e) = result {
        tracing::warn!(error = %e, "the reconcile report could not be written");
        return None;
    }
    match w.finish() {
        Ok(uri) => Some(uri),
        Err(e) => {
            tracing::warn!(error = %e, "the reconcile report could not be saved");
            None
        }
    }
}

/// The plan in words: counts and caps first, then each change (up to [`PLAN_LINES`]).
fn plan_lines(
    planned: &[Planned<'_>],
    source: &str,
    report: Option<&str>,
    all: bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    for p in planned {
        let caps = p.conn.provider.capabilities();
        let leavers = p.fit.min(p.leavers());
        let how = match p.mode {
            DeactivateMode::Delete if leavers > 0 && caps.bulk_delete_max > 0 => format!(
                " (delete, with {} bulkDelete request(s))",
                leavers.div_ceil(caps.bulk_delete_max)
            ),
            _ => format!(" ({})", p.mode.verb().to_lowercase()),
        };
        lines.push(format!(
            "Reconcile connection {} with source '{source}': {} joiners to create, {} movers to update, {leavers} leavers to take away{how}; {} deferred, {} refused, {} unchanged",
            p.conn.name,
            p.diff.count(Kind::Joiner),
            p.diff.count(Kind::Mover),
            p.deferred(),
            p.diff.refused.len(),
            p.diff.unchanged
        ));
        if let Some(note) = &p.cap_note {
            lines.push(format!("Deletion cap: {note}"));
        }
        if p.mode == DeactivateMode::Disable && caps.disable_may_delete && leavers > 0 {
            lines.push(format!(
                "Warning: the ZIA SCIM server of {} may DELETE accounts set inactive; treat these as deletions",
                p.conn.name
            ));
        }
        if caps.staged_changes && p.runnable() > 0 {
            lines.push(format!(
                "Changes on {} are staged until activate_changes",
                p.conn.name
            ));
        }
    }
    match report {
        Some(uri) => lines.push(format!("Every change: resource {uri} (CSV)")),
        None => lines.push(
            "The change report could not be written; the lines below are all a person sees".into(),
        ),
    }
    let mut shown = 0;
    let mut hidden = 0;
    for p in planned {
        let prefix = if all {
            format!("[{}] ", p.conn.name)
        } else {
            String::new()
        };
        let verb = p.mode.verb();
        let mut leaver_no = 0;
        for c in &p.diff.changes {
            let deferred = c.kind == Kind::Leaver && {
                leaver_no += 1;
                leaver_no > p.fit
            };
            if shown >= PLAN_LINES {
                hidden += 1;
                continue;
            }
            shown += 1;
            lines.push(if deferred {
                format!("{prefix}Deferred by the deletion cap: {}", c.words(verb))
            } else {
                format!("{prefix}{}", c.words(verb))
            });
        }
        for r in &p.diff.refused {
            if shown >= PLAN_LINES {
                hidden += 1;
                continue;
            }
            shown += 1;
            lines.push(format!(
                "{prefix}Refused, left as it is: {}: {}",
                quote(&r.email),
                r.reason
            ));
        }
    }
    if hidden > 0 {
        lines.push(format!(
            "… and {hidden} more lines: every change is in the report"
        ));
    }
    lines
}

/// A result for the model: the plan's lines trimmed to [`RESULT_LINES`] (all are in the report).
fn trimmed(mut plan: Plan) -> Plan {
    if plan.changes.len() > RESULT_LINES {
        let more = plan.changes.len() - RESULT_LINES;
        plan.changes.truncate(RESULT_LINES);
        plan.changes
            .push(format!("… {more} more lines (the approver sees up to {PLAN_LINES}; every change is in the report)"));
    }
    plan
}

/// reconcile.
pub async fn reconcile(
    app: &App,
    caller: &Caller,
    confirmer: &dyn Confirmer,
    args: ReconcileArgs,
    control: ReconcileControl<'_>,
) -> Result<WriteResult, ToolError> {
    app.policy
        .check_write(RECONCILE)
        .map_err(ToolError::refused)?;
    let source_name = args.source_of_record.trim();
    let configured = || {
        if app.sources.is_empty() {
            "none (add a [sources.NAME] table with a [sources.NAME.mapping] to the config)"
                .to_string()
        } else {
            app.sources.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    };
    if source_name.is_empty() {
        return Err(ToolError::invalid_input(format!(
            "source_of_record is required: the configured source to reconcile with; configured sources: {}",
            configured()
        )));
    }
    let Some(source_cfg) = app.sources.get(source_name) else {
        return Err(ToolError::not_found(format!(
            "source_of_record '{source_name}' is not configured; configured sources: {}; nothing was planned",
            configured()
        )));
    };
    let scope = scope_of(&args.scope);
    let mapping: SourceMapping = match (&source_cfg.mapping, scope.joiners || scope.movers) {
        (Some(m), _) => m.clone(),
        (None, false) => SourceMapping::default(),
        (None, true) => {
            return Err(ToolError::invalid_input(format!(
                "source '{source_name}' has no [sources.{source_name}.mapping]: joiners and movers need it to name the department and groups columns (e.g. department = \"department\", groups = \"groups\", default_group = \"All Staff\"); add one, or pass scope [\"leavers\"]"
            )));
        }
    };
    let mut notices = Vec::new();
    let (conns, scope_name) = connections(app, &args.connection, &mut notices)?;
    if scope.joiners || scope.movers {
        for conn in &conns {
            if conn.provider.capabilities().departments
                && scope.joiners
                && mapping.department.is_none()
            {
                return Err(ToolError::invalid_input(format!(
                    "connection {} is native ZIA, where every new account needs a department: set department in [sources.{source_name}.mapping], or pass scope without joiners",
                    conn.name
                )));
            }
        }
    }
    precheck_plan(app, caller, RECONCILE, &scope_name, &args.plan_id)?;
    let stored = match super::result::opt(&args.plan_id) {
        Some(raw) => {
            let id = crate::guard::plan::split_plan_ref(&raw).0.to_string();
            Some(app.plans.load_live(&id).map_err(ToolError::from)?)
        }
        None => None,
    };
    let loaded = load_source(app, source_name)
        .await?
        .ok_or_else(|| ToolError::internal("internal error: the source of record did not load"))?;
    let source = Source {
        name: source_name,
        index: &loaded.index,
        mapping: &mapping,
    };
    let planned = plan_all(app, &conns, &source, scope, stored.as_ref(), &control).await?;
    let mut c = counts(&planned);
    let runnable: usize = planned.iter().map(Planned::runnable).sum();
    if runnable == 0 {
        let report = (c.refused + c.deferred > 0)
            .then(|| write_report(app, control.owner, &scope_name, &planned, None))
            .flatten();
        let mut r = WriteResult::scoped(
            WriteStatus::NoChange,
            &scope_name,
            format!(
                "Nothing to change: {} already as source '{source_name}' says ({} accounts unchanged){}{}.",
                if conns.len() > 1 {
                    "every connection is"
                } else {
                    "the connection is"
                },
                c.unchanged,
                if c.deferred > 0 {
                    format!("; {} leavers wait for the deletion cap", c.deferred)
                } else {
                    String::new()
                },
                if c.refused > 0 {
                    format!("; {} rows refused (see the report)", c.refused)
                } else {
                    String::new()
                }
            ),
        );
        r.notices = notices;
        for conn in &conns {
            r.notices.extend(conn.provider.take_notices());
        }
        r.counts = Some(c);
        r.report = report;
        return Ok(r);
    }
    let all = scope_name == super::offboard::ALL;
    let report = if args.plan_id.trim().is_empty() {
        write_report(app, control.owner, &scope_name, &planned, None)
    } else {
        None
    };
    let mut kinds: Vec<ScopeKind> = args.scope.clone();
    kinds.sort_unstable();
    kinds.dedup();
    let per_conn: serde_json::Map<String, serde_json::Value> = planned
        .iter()
        .map(|p| {
            (
                p.conn.name.clone(),
                json!({"mode": mode_name(p.mode), "leavers": p.fit.min(p.leavers())}),
            )
        })
        .collect();
    let proposal = Proposal {
        tool: RECONCILE,
        arguments: json!({"source_of_record": source_name, "scope": kinds, "connections": per_conn}),
        input: input_of(&args),
        plan_id: &args.plan_id,
        changes: plan_lines(&planned, source_name, report.as_deref(), all),
        targets: planned.iter().map(Planned::target).collect(),
    };
    let (plan, confirmation, recheck) =
        match gate_counted(app, &scope_name, caller, confirmer, proposal, runnable).await? {
            Gate::Stop(mut r) => {
                if let Some(plan) = r.plan.take() {
                    r.plan = Some(trimmed(plan));
                }
                r.notices.extend(notices);
                r.counts = Some(c);
                r.report = report;
                if r.status == WriteStatus::AwaitingApproval {
                    r.summary.push_str(&format!(
                        " It makes {runnable} changes; every one is in the report."
                    ));
                }
                return Ok(*r);
            }
            Gate::Proceed {
                plan,
                confirmation,
                recheck,
            } => (plan, confirmation, recheck),
        };
    // A human took time to answer: the tenants must still be as planned.
    let planned = if recheck {
        let fresh = plan_all(app, &conns, &source, scope, Some(&plan), &control).await?;
        let targets: Vec<PlanTarget> = fresh.iter().map(Planned::target).collect();
        ensure_unchanged(&plan, &targets)?;
        fresh
    } else {
        planned
    };
    let mut run = Run {
        app,
        caller,
        plan: &plan,
        confirmation: &confirmation,
        progress: control.progress,
        cancel: &control.cancel,
        total: runnable,
        done: 0,
        outcomes: Vec::new(),
    };
    let mut stopped = false;
    for p in &planned {
        if stopped {
            let verb = p.mode.verb();
            let mut leaver_no = 0;
            for ch in &p.diff.changes {
                if ch.kind == Kind::Leaver {
                    leaver_no += 1;
                    if leaver_no > p.fit {
                        continue;
                    }
                }
                run.outcomes.push(ItemOutcome {
                    connection: p.conn.name.clone(),
                    kind: ch.kind,
                    email: ch.email.clone(),
                    user_id: ch.user_id().map(str::to_string),
                    change: ch.words(verb),
                    outcome: "skipped",
                    detail: "not attempted: the run was cancelled before it (reconcile again to plan what is left)".into(),
                });
            }
            continue;
        }
        stopped = !run.connection(p).await;
    }
    let outcomes = run.outcomes;
    let report = write_report(app, control.owner, &scope_name, &planned, Some(&outcomes));
    finish(
        app,
        caller,
        &planned,
        &scope_name,
        plan,
        confirmation,
        outcomes,
        report,
        &mut c,
        notices,
        stopped,
    )
}

/// The result of a run: counts by outcome, a summary that says exactly what they say, the
/// journal's summary record.
#[allow(clippy::too_many_arguments)]
fn finish(
    app: &App,
    caller: &Caller,
    planned: &[Planned<'_>],
    scope_name: &str,
    plan: Plan,
    confirmation: ConfirmationInfo,
    outcomes: Vec<ItemOutcome>,
    report: Option<String>,
    c: &mut ReconcileCounts,
    mut notices: Vec<String>,
    cancelled: bool,
) -> Result<WriteResult, ToolError> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for o in &outcomes {
        *by.entry(o.outcome.to_string()).or_default() += 1;
    }
    let n = |k: &str| by.get(k).copied().unwrap_or(0);
    let (verified, mismatch, unknown, failed, skipped) = (
        n("verified"),
        n("mismatch"),
        n("unknown"),
        n("failed"),
        n("skipped"),
    );
    let total = outcomes.len();
    let made = verified + mismatch;
    c.outcomes = Some(by.clone());
    if let Some(note) = record::after(
        app,
        caller,
        RECONCILE,
        scope_name,
        json!({
            "outcome": "reconciled", "plan_id": plan.id, "counts": &*c, "report": report,
            "cancelled": cancelled,
            // Every write has its own intent and outcome records; what was never sent is here.
            "skipped": outcomes.iter().filter(|o| o.outcome == "skipped").map(|o| json!({
                "connection": o.connection, "kind": o.kind.name(), "email": o.email,
                "user_id": o.user_id,
            })).collect::<Vec<_>>(),
        }),
    ) {
        notices.push(note);
    }
    if made == 0 && unknown == 0 && failed > 0 && !cancelled {
        let first = outcomes
            .iter()
            .find(|o| o.outcome == "failed")
            .map(|o| format!("{}: {}", o.email, o.detail))
            .unwrap_or_default();
        return Err(ToolError::upstream(format!(
            "reconcile failed for all {failed} changes; nothing changed. First failure: {first}{}",
            report
                .as_deref()
                .map(|u| format!(" (every outcome: resource {u})"))
                .unwrap_or_default()
        )));
    }
    let status = if verified == total {
        WriteStatus::Executed
    } else if unknown == total {
        WriteStatus::OutcomeUnknown
    } else {
        WriteStatus::PartlyExecuted
    };
    let mut parts = vec![format!(
        "Reconciled {scope_name} with the source: {made} of {total} changes made ({verified} verified"
    )];
    if mismatch > 0 {
        parts[0].push_str(&format!(", {mismatch} read back differently"));
    }
    parts[0].push(')');
    if unknown > 0 {
        parts.push(format!(
            "{unknown} unknown (the tenant's answer was lost; reconcile again reads it back)"
        ));
    }
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    if skipped > 0 {
        parts.push(format!(
            "{skipped} not attempted{}",
            if cancelled { " (cancelled)" } else { "" }
        ));
    }
    if c.deferred > 0 {
        parts.push(format!(
            "{} leavers deferred by the deletion cap",
            c.deferred
        ));
    }
    let mut r = WriteResult::scoped(status, scope_name, format!("{}.", parts.join("; ")));
    r.notices = notices;
    for p in planned {
        r.notices.extend(p.conn.provider.take_notices());
    }
    r.staged = planned.iter().any(|p| {
        p.conn.provider.capabilities().staged_changes
            && outcomes.iter().any(|o| {
                o.connection == p.conn.name
                    && matches!(o.outcome, "verified" | "mismatch" | "unknown")
            })
    });
    r.verification = Some(if mismatch > 0 {
        Verification::Mismatch
    } else if unknown > 0 || failed > 0 || skipped > 0 {
        Verification::Unknown
    } else {
        Verification::Verified
    });
    r.next_step = Some(if made + unknown < total || c.deferred > 0 {
        "Read the report for each change's outcome; call reconcile again (same arguments, no plan_id) to plan what is left — it reads the tenant afresh, so nothing done is done twice.".into()
    } else if r.staged {
        "The changes are staged on native ZIA; call activate_changes to make them live.".into()
    } else {
        "Done; the report holds every change's outcome.".into()
    });
    r.plan = Some(trimmed(plan));
    r.confirmation = Some(confirmation);
    r.counts = Some(c.clone());
    r.report = report;
    Ok(r)
}

#[cfg(test)]
mod tests;
