//! The audit_orphans tool: one connection, optionally against a source of record (HR export)
//! and a reference connection, through the named rules of [`crate::orphans::rules`]. Each
//! finding names its rule, evidence, severity and the exact tool call that would start
//! remediation. This module is the tool around them: arguments, paging, progress,
//! cancellation and the result.
//!
//! The tenant is streamed page by page: per-user rules run as each page arrives, and only
//! compact keys (an id and email per audited account, hashes of its identity keys, group
//! usage) are kept for the rules that need the whole tenant. The reference connection is kept
//! as an email → active map. Findings are counted per rule; only the top `max_findings` are
//! held in memory, and the full list is streamed to a report file ([`ReportStore`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use tokio_util::sync::CancellationToken;

use crate::model::{Page, PageRequest, User, UserFilter};
use crate::orphans::findings::{Finding, Findings, thousands};
use crate::orphans::report::ReportStore;
use crate::orphans::rules::{
    AccountRules, Reference, Rule, Severity, SourceOfRecord, TenantKeys, duplicates, empty_group,
};

use super::{App, ToolError, provider_error};

/// Arguments of audit_orphans.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditArgs {
    /// Omit when only one is configured.
    #[serde(default)]
    pub connection: String,
    /// Rules to apply; all when empty.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Configured source of record (HR export).
    #[serde(default)]
    pub source_of_record: String,
    /// Connection to compare with (cross_product_drift).
    #[serde(default)]
    pub reference_connection: String,
    /// Findings returned in detail, 1–500 (default 50).
    #[serde(default)]
    pub max_findings: Option<u32>,
}

/// Per-rule counts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RuleSummary {
    #[schemars(with = "String")]
    pub rule: Rule,
    pub definition: String,
    #[schemars(with = "String")]
    pub severity: Severity,
    pub count: usize,
    /// Set when the rule could not run, saying why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// An account left out of the audit on purpose.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Excluded {
    pub id: String,
    pub email: String,
    pub reason: String,
}

/// Result of audit_orphans.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditResult {
    pub connection: String,
    pub users_scanned: usize,
    pub groups_scanned: usize,
    pub summary: Vec<RuleSummary>,
    /// Most urgent first.
    pub findings: Vec<Finding>,
    /// More findings exist than returned.
    pub truncated: bool,
    /// Resource URI: every finding, CSV.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// Protected and admin accounts, never flagged.
    pub excluded: Vec<Excluded>,
    /// Signals this backend cannot give.
    pub insufficient_signal: Vec<String>,
}

/// Follows a running audit, one call per page read. Implemented by the MCP layer (progress
/// notifications) and the CLI (a progress bar); the audit knows neither.
#[async_trait::async_trait]
pub trait AuditProgress: Send + Sync {
    /// `scanned` grows with every page (users read so far, reference connection included);
    /// `message` says where the audit is, e.g. "page 3: 30,000 users".
    async fn page(&self, scanned: u64, message: String);
}

/// How a caller follows and stops an audit.
#[derive(Default)]
pub struct AuditControl<'a> {
    pub progress: Option<&'a dyn AuditProgress>,
    /// Cancelled by the caller (an MCP `notifications/cancelled`): the audit stops before the
    /// next page, or abandons the page it is waiting for, and returns an error.
    pub cancel: CancellationToken,
    /// The caller's principal: the full report belongs to it, and only it can read it.
    pub owner: &'a str,
}

fn cancelled() -> ToolError {
    ToolError::cancelled("audit_orphans was cancelled; nothing was reported")
}

/// One page of a connection's users for a read of the whole directory (`what`, in a tenant
/// error), abandoned as soon as the caller cancels (with the caller's `cancelled` error).
pub(super) async fn next_page(
    conn: &super::Connection,
    cursor: Option<String>,
    cancel: &CancellationToken,
    what: &str,
    cancelled: fn() -> ToolError,
) -> Result<Page<User>, ToolError> {
    if cancel.is_cancelled() {
        return Err(cancelled());
    }
    let request = PageRequest {
        cursor,
        // The backend's own page size: every page is one request, and progress follows it.
        limit: conn.provider.capabilities().page_size,
    };
    let filter = UserFilter::default();
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(cancelled()),
        page = conn.provider.list_users(&filter, &request) => {
            page.map_err(|e| provider_error(&conn.name, what, e))
        }
    }
}

/// Runs the audit: streams the connection (and the reference connection) page by page,
/// applies the chosen rules, and returns counts for every finding, the top `max_findings`, and
/// the URI of the report holding all of them.
pub async fn audit_orphans(
    app: &App,
    args: AuditArgs,
    control: AuditControl<'_>,
) -> Result<AuditResult, ToolError> {
    let cancel = control.cancel.clone();
    let connection = args.connection.trim().to_string();
    let result = audit(app, args, control).await;
    // Logged here, once the audit has unwound and its partial report is removed, so the line
    // is true when it is read.
    if result.is_err() && cancel.is_cancelled() {
        tracing::info!(connection = %connection, "audit_orphans cancelled by the caller; stopped reading pages");
    }
    result
}

async fn audit(
    app: &App,
    args: AuditArgs,
    control: AuditControl<'_>,
) -> Result<AuditResult, ToolError> {
    let name = args.connection.trim();
    let conn = app.connection_for("audit_orphans", (!name.is_empty()).then_some(name))?;
    let rules: BTreeSet<Rule> = if args.rules.is_empty() {
        Rule::ALL.into_iter().collect()
    } else {
        args.rules.iter().copied().collect()
    };
    let max = args.max_findings.unwrap_or(50);
    if !(1..=500).contains(&max) {
        return Err(ToolError::invalid_input(format!(
            "max_findings {max} is out of range; use 1 to 500"
        )));
    }
    let source = load_source(app, args.source_of_record.trim()).await?;
    let reference_name = args.reference_connection.trim();
    let other = if reference_name.is_empty() {
        None
    } else {
        if reference_name == conn.name {
            return Err(ToolError::invalid_input(format!(
                "reference_connection must be another connection than {}; configured: {}",
                conn.name,
                app.connections
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Some(app.connection_for("audit_orphans", Some(reference_name))?)
    };
    let cancel = &control.cancel;
    // An audit is evidence of the tenant as it is now, not as a lookup cached it.
    conn.provider.forget_cached();
    if let Some(other) = other {
        other.provider.forget_cached();
    }
    let groups = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(cancelled()),
        g = conn.provider.list_groups() => g.map_err(|e| provider_error(&conn.name, "list_groups", e))?,
    };

    let mut scanned: u64 = 0;
    let reference = match other {
        None => None,
        Some(other) => {
            let mut active_by_email: HashMap<String, bool> = HashMap::new();
            let mut cursor = None;
            let mut n = 0u64;
            loop {
                let page = next_page(other, cursor, cancel, "list_users", cancelled).await?;
                n += 1;
                scanned += page.items.len() as u64;
                for u in page.items {
                    let e = active_by_email.entry(u.email_key()).or_insert(false);
                    *e |= u.active != Some(false);
                }
                if let Some(p) = control.progress {
                    p.page(
                        scanned,
                        format!(
                            "reference {} page {n}: {} users",
                            other.name,
                            thousands(active_by_email.len() as u64)
                        ),
                    )
                    .await;
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            Some(Reference {
                name: other.name.clone(),
                active_by_email,
            })
        }
    };

    let store = ReportStore::for_owner(&app.state_dir, control.owner);
    let report = match store.create(&conn.name) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot create the audit report file; the result holds the top findings only");
            None
        }
    };
    let mut findings = Findings::new(max as usize, report);
    let mut skipped: BTreeMap<Rule, String> = BTreeMap::new();
    if rules.contains(&Rule::UnregisteredOrExternalDomain) && conn.registered_domains.is_empty() {
        skipped.insert(
            Rule::UnregisteredOrExternalDomain,
            format!(
                "no registered_domains configured for connection {}",
                conn.name
            ),
        );
    }
    for rule in [Rule::NotInSourceOfRecord, Rule::TerminatedButPresent] {
        if rules.contains(&rule) && source.is_none() {
            skipped.insert(rule, "no source_of_record given".into());
        }
    }
    if rules.contains(&Rule::CrossProductDrift) && reference.is_none() {
        skipped.insert(
            Rule::CrossProductDrift,
            "no reference_connection given".into(),
        );
    }

    let user_rules = AccountRules {
        rules: &rules,
        skipped: &skipped,
        connection: &conn.name,
        registered_domains: &conn.registered_domains,
        source: source.as_ref(),
        reference: reference.as_ref(),
    };
    let group_index: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.as_str(), i))
        .collect();
    let mut group_members = vec![0usize; groups.len()];
    let mut keys = TenantKeys::default();
    let mut excluded = Vec::new();
    let mut users_scanned: usize = 0;
    let mut cursor = None;
    let mut n = 0u64;
    loop {
        let page = next_page(conn, cursor, cancel, "list_users", cancelled).await?;
        n += 1;
        users_scanned += page.items.len();
        scanned += page.items.len() as u64;
        for u in &page.items {
            for g in &u.groups {
                if let Some(i) = group_index.get(g.id.as_str()) {
                    group_members[*i] += 1;
                }
            }
            if app.policy.check_user(u).is_err() {
                excluded.push(Excluded {
                    id: u.id.clone(),
                    email: u.email.clone(),
                    reason: if u.admin {
                        "administrator account".into()
                    } else {
                        "protected by policy".into()
                    },
                });
                continue;
            }
            if rules.contains(&Rule::DuplicateIdentity) {
                keys.add(u, &group_index);
            }
            user_rules.apply(u, &mut findings);
        }
        if let Some(p) = control.progress {
            p.page(
                scanned,
                format!("page {n}: {} users", thousands(users_scanned as u64)),
            )
            .await;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    if cancel.is_cancelled() {
        return Err(cancelled());
    }

    if rules.contains(&Rule::DuplicateIdentity) {
        duplicates(
            &keys,
            &group_members,
            users_scanned,
            &conn.name,
            &mut findings,
        );
    }
    drop(keys);
    if rules.contains(&Rule::EmptyGroup) {
        for (g, _) in groups
            .iter()
            .zip(&group_members)
            .filter(|(g, members)| !g.system_defined && **members == 0)
        {
            findings.push(empty_group(g, users_scanned, &conn.name));
        }
    }

    let found = findings.finish();
    let summary = Rule::ALL
        .iter()
        .filter(|r| rules.contains(r))
        .map(|r| RuleSummary {
            rule: *r,
            definition: r.definition().into(),
            severity: r.severity(),
            count: found.counts.get(r).copied().unwrap_or(0),
            skipped: skipped.get(r).cloned(),
        })
        .collect();
    Ok(AuditResult {
        connection: conn.name.clone(),
        users_scanned,
        groups_scanned: groups.len(),
        summary,
        truncated: found.total > found.top.len(),
        findings: found.top,
        report: found.report,
        excluded,
        insufficient_signal: vec!["dormancy: this backend exposes no last-login data, so inactive accounts cannot be detected".into()],
    })
}

/// The configured source of record `name`, read and indexed (`None` for an empty name); an
/// unknown name or a defective export is an error that names what is configured or where the
/// defect is.
pub(super) async fn load_source(
    app: &App,
    name: &str,
) -> Result<Option<SourceOfRecord>, ToolError> {
    if name.is_empty() {
        return Ok(None);
    }
    let cfg = app.sources.get(name).ok_or_else(|| {
        let configured = if app.sources.is_empty() {
            "none (add a [sources.NAME] table to the config)".to_string()
        } else {
            app.sources.keys().cloned().collect::<Vec<_>>().join(", ")
        };
        ToolError::not_found(format!(
            "source_of_record '{name}' is not configured; configured sources: {configured}"
        ))
    })?;
    // Reading a large export is blocking file I/O: keep it off the async workers.
    let cfg = cfg.clone();
    let index = tokio::task::spawn_blocking(move || cfg.load())
        .await
        .map_err(|e| ToolError::internal(format!("reading source_of_record '{name}' failed: {e}")))?
        .map_err(|e| {
            ToolError::internal(format!("source_of_record '{name}' cannot be used: {e}"))
        })?;
    Ok(Some(SourceOfRecord {
        name: name.to_string(),
        index,
    }))
}

/// The result as compact markdown for the model: counts per rule, then the top findings.
/// Tenant text (emails, names, evidence) is quoted and length-limited.
pub fn markdown(r: &AuditResult) -> String {
    use crate::guard::policy::quote;
    use std::fmt::Write as _;
    const SHOWN: usize = 20;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "audit_orphans on {}: {} users, {} groups scanned.\n",
        r.connection,
        thousands(r.users_scanned as u64),
        thousands(r.groups_scanned as u64)
    );
    let _ = writeln!(s, "| rule | severity | count |\n|---|---|---|");
    for rs in &r.summary {
        let count = match &rs.skipped {
            Some(why) => format!("skipped: {why}"),
            None => thousands(rs.count as u64),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {count} |",
            rs.rule.name(),
            rs.severity.name()
        );
    }
    if !r.findings.is_empty() {
        let _ = writeln!(s, "\nTop findings:");
    }
    for f in r.findings.iter().take(SHOWN) {
        let _ = writeln!(
            s,
            "- [{}] {} {} ({}): {}",
            f.severity.name(),
            f.rule.name(),
            quote(&f.label),
            quote(&f.id),
            quote(&f.evidence)
        );
    }
    let total: usize = r.summary.iter().map(|x| x.count).sum();
    if total > r.findings.len().min(SHOWN) {
        let _ = write!(
            s,
            "\n{} findings in all; the structured result holds {}",
            thousands(total as u64),
            r.findings.len()
        );
        match &r.report {
            Some(uri) => {
                let _ = writeln!(s, ", and resource {uri} every one (CSV).");
            }
            None => {
                let _ = writeln!(s, ".");
            }
        }
    }
    if !r.excluded.is_empty() {
        let _ = writeln!(
            s,
            "\n{} protected or admin accounts were excluded (see `excluded`).",
            r.excluded.len()
        );
    }
    for i in &r.insufficient_signal {
        let _ = writeln!(s, "\nNot checked: {i}");
    }
    s
}
