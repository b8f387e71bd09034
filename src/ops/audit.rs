//! audit_orphans: named rules over one connection, optionally against a source of record (HR
//! export) and a reference connection. Each finding names its rule, evidence, severity and the
//! exact tool call that would start remediation.
//!
//! The tenant is streamed page by page: per-user rules run as each page arrives, and only
//! compact keys (an id and email per audited account, hashes of its identity keys, group
//! usage) are kept for the rules that need the whole tenant. The reference connection is kept
//! as an email → active map. Findings are counted per rule; only the top `max_findings` are
//! held in memory, and the full list is streamed to a report file ([`ReportStore`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use tokio_util::sync::CancellationToken;

use crate::model::{Page, PageRequest, User, UserFilter};
use crate::orphans::duplicates::{IdentityKeys, Signal};
use crate::orphans::report::{ReportStore, ReportWriter};
use crate::orphans::source::{MatchedBy, SourceIndex};
use crate::provider::ProviderKind;

use super::{App, ToolError, provider_error};

/// A rule the audit applies.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// An account with no group or no department: nobody granted it a role.
    NoGroupOrDepartment,
    /// Two or more accounts that look like the same person.
    DuplicateIdentity,
    /// An account whose email domain is not registered on the tenant.
    UnregisteredOrExternalDomain,
    /// A group nobody is in.
    EmptyGroup,
    /// An account whose email is not in the source of record.
    NotInSourceOfRecord,
    /// An account of a person the source of record marks as gone.
    TerminatedButPresent,
    /// An active account whose person is absent or disabled on the reference connection (e.g.
    /// still active in ZPA after being offboarded from ZIA).
    CrossProductDrift,
}

impl Rule {
    /// Every rule, most urgent first (the order of the summary).
    pub const ALL: [Rule; 7] = [
        Rule::TerminatedButPresent,
        Rule::CrossProductDrift,
        Rule::NotInSourceOfRecord,
        Rule::NoGroupOrDepartment,
        Rule::DuplicateIdentity,
        Rule::UnregisteredOrExternalDomain,
        Rule::EmptyGroup,
    ];

    /// The rule's name as the tool's arguments and results spell it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::NoGroupOrDepartment => "no_group_or_department",
            Rule::DuplicateIdentity => "duplicate_identity",
            Rule::UnregisteredOrExternalDomain => "unregistered_or_external_domain",
            Rule::EmptyGroup => "empty_group",
            Rule::NotInSourceOfRecord => "not_in_source_of_record",
            Rule::TerminatedButPresent => "terminated_but_present",
            Rule::CrossProductDrift => "cross_product_drift",
        }
    }

    fn definition(self) -> &'static str {
        match self {
            Rule::NoGroupOrDepartment => {
                "account has no group or no department, so no role explains why it exists"
            }
            Rule::DuplicateIdentity => {
                "accounts with the same person name and the same mailbox on any domain, or the same department and a small group, or the name's initial-and-surname alias"
            }
            Rule::UnregisteredOrExternalDomain => {
                "email domain is not one of the tenant's registered domains"
            }
            Rule::EmptyGroup => {
                "group has no members (a leftover, or a policy target nobody is in)"
            }
            Rule::NotInSourceOfRecord => {
                "account email is not in the source of record (HR/IdP export)"
            }
            Rule::TerminatedButPresent => {
                "the source of record marks this person as gone, but the account exists"
            }
            Rule::CrossProductDrift => {
                "account is active here but the same email is absent or disabled on the reference connection"
            }
        }
    }

    fn severity(self) -> Severity {
        match self {
            Rule::UnregisteredOrExternalDomain
            | Rule::TerminatedButPresent
            | Rule::NotInSourceOfRecord
            | Rule::CrossProductDrift => Severity::High,
            Rule::NoGroupOrDepartment | Rule::DuplicateIdentity => Severity::Medium,
            Rule::EmptyGroup => Severity::Low,
        }
    }
}

/// How urgent a finding is; findings are returned most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    High,
    Medium,
    Low,
}

impl Severity {
    /// The severity as results spell it.
    pub fn name(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

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

/// One finding. `rule` and `severity` are plain strings in the published schema: the input
/// schema already lists the rules, and repeating enums in every result schema costs every
/// client's context on every turn.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Finding {
    #[schemars(with = "String")]
    pub rule: Rule,
    #[schemars(with = "String")]
    pub severity: Severity,
    /// `user` or `group`.
    pub kind: String,
    pub id: String,
    /// Email of a user or name of a group.
    pub label: String,
    pub evidence: String,
    /// The tool call that would start remediation.
    pub suggested_call: serde_json::Value,
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

/// 1234567 → "1,234,567", for progress messages people read.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How many users to ask for per page: the backend's own page size, so that every page is one
/// request and progress follows the transfer (native ZIA pages by 10,000, SCIM by 100).
pub(super) fn page_limit(kind: ProviderKind) -> usize {
    match kind {
        ProviderKind::Zia => 10_000,
        ProviderKind::ZiaScim | ProviderKind::ZpaScim => 100,
        ProviderKind::Zidentity => crate::provider::zidentity::MAX_PAGE,
    }
}

fn cancelled() -> ToolError {
    ToolError::new("audit_orphans was cancelled; nothing was reported")
}

/// One page of a connection's users, abandoned as soon as the caller cancels.
async fn next_page(
    conn: &super::Connection,
    cursor: Option<String>,
    cancel: &CancellationToken,
) -> Result<Page<User>, ToolError> {
    if cancel.is_cancelled() {
        return Err(cancelled());
    }
    let request = PageRequest {
        cursor,
        limit: page_limit(conn.provider.kind()),
    };
    let filter = UserFilter::default();
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(cancelled()),
        page = conn.provider.list_users(&filter, &request) => {
            page.map_err(|e| provider_error(&conn.name, "list_users", e))
        }
    }
}

/// Every finding passes through here: counted, kept if among the top `max` of its rule, and
/// written to the report.
struct Findings {
    max: usize,
    counts: BTreeMap<Rule, usize>,
    top: BTreeMap<Rule, Vec<Finding>>,
    report: Option<ReportWriter>,
}

impl Findings {
    fn push(&mut self, f: Finding) {
        *self.counts.entry(f.rule).or_default() += 1;
        if let Some(w) = &mut self.report
            && let Err(e) = w.push(&f)
        {
            tracing::warn!(error = %e, "the audit report could not be written; continuing without it");
            self.report = None;
        }
        let top = self.top.entry(f.rule).or_default();
        if top.len() < self.max {
            top.push(f);
        }
    }
}

/// An audited account, as the global rules need it: spans into one string arena.
struct Compact {
    start: u32,
    id_end: u32,
    end: u32,
}

/// What the whole-tenant rules keep per account, instead of the account.
#[derive(Default)]
struct TenantKeys {
    arena: String,
    accounts: Vec<Compact>,
    identity: IdentityKeys,
}

impl TenantKeys {
    fn add(&mut self, u: &User, group_index: &HashMap<&str, usize>) {
        // Spans are u32 to keep 12 bytes per account; past 4 GiB of ids and emails (far beyond
        // any tenant) further accounts are left out of duplicate_identity rather than aliased.
        let (Ok(idx), Ok(start), Ok(end)) = (
            u32::try_from(self.accounts.len()),
            u32::try_from(self.arena.len()),
            u32::try_from(self.arena.len() + u.id.len() + u.email.len()),
        ) else {
            return;
        };
        let id_end = start + u.id.len() as u32;
        self.arena.push_str(&u.id);
        self.arena.push_str(&u.email);
        self.accounts.push(Compact { start, id_end, end });
        self.identity.add(idx, u, group_index);
    }

    fn id(&self, i: u32) -> &str {
        let c = &self.accounts[i as usize];
        &self.arena[c.start as usize..c.id_end as usize]
    }

    fn email(&self, i: u32) -> &str {
        let c = &self.accounts[i as usize];
        &self.arena[c.id_end as usize..c.end as usize]
    }
}

/// The source of record, with the name the caller gave it.
pub(super) struct Source {
    pub name: String,
    pub index: SourceIndex,
}

/// The reference connection as the drift rule needs it.
struct Reference {
    name: String,
    active_by_email: HashMap<String, bool>,
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
        return Err(ToolError(format!(
            "max_findings {max} is out of range; use 1 to 500"
        )));
    }
    let source = load_source(app, args.source_of_record.trim()).await?;
    let reference_name = args.reference_connection.trim();
    let other = if reference_name.is_empty() {
        None
    } else {
        if reference_name == conn.name {
            return Err(ToolError(format!(
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
                let page = next_page(other, cursor, cancel).await?;
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
    let mut findings = Findings {
        max: max as usize,
        counts: BTreeMap::new(),
        top: BTreeMap::new(),
        report,
    };
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

    let user_rules = UserRules {
        rules: &rules,
        skipped: &skipped,
        conn,
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
        let page = next_page(conn, cursor, cancel).await?;
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
            findings.push(Finding {
                rule: Rule::EmptyGroup,
                severity: Rule::EmptyGroup.severity(),
                kind: "group".into(),
                id: g.id.clone(),
                label: g.name.clone(),
                evidence: format!("no user among {users_scanned} is a member"),
                suggested_call: json!({"tool": "list_users", "arguments": {"group": g.name, "connection": conn.name}}),
            });
        }
    }

    let summary = Rule::ALL
        .iter()
        .filter(|r| rules.contains(r))
        .map(|r| RuleSummary {
            rule: *r,
            definition: r.definition().into(),
            severity: r.severity(),
            count: findings.counts.get(r).copied().unwrap_or(0),
            skipped: skipped.get(r).cloned(),
        })
        .collect();
    let total: usize = findings.counts.values().sum();
    let report = match findings.report.take() {
        None => None,
        Some(w) => match w.finish() {
            Ok(uri) => Some(uri),
            Err(e) => {
                tracing::warn!(error = %e, "the audit report could not be saved");
                None
            }
        },
    };
    let mut top: Vec<Finding> = Vec::new();
    let mut order: Vec<Rule> = findings.top.keys().copied().collect();
    order.sort_by_key(|r| (r.severity(), *r));
    for r in order {
        if let Some(v) = findings.top.remove(&r) {
            top.extend(v);
        }
    }
    top.truncate(max as usize);
    Ok(AuditResult {
        connection: conn.name.clone(),
        users_scanned,
        groups_scanned: groups.len(),
        summary,
        truncated: total > top.len(),
        findings: top,
        report,
        excluded,
        insufficient_signal: vec!["dormancy: this backend exposes no last-login data, so inactive accounts cannot be detected".into()],
    })
}

/// The configured source of record `name`, read and indexed (`None` for an empty name); an
/// unknown name or a defective export is an error that names what is configured or where the
/// defect is.
pub(super) async fn load_source(app: &App, name: &str) -> Result<Option<Source>, ToolError> {
    if name.is_empty() {
        return Ok(None);
    }
    let cfg = app.sources.get(name).ok_or_else(|| {
        let configured = if app.sources.is_empty() {
            "none (add a [sources.NAME] table to the config)".to_string()
        } else {
            app.sources.keys().cloned().collect::<Vec<_>>().join(", ")
        };
        ToolError(format!(
            "source_of_record '{name}' is not configured; configured sources: {configured}"
        ))
    })?;
    // Reading a large export is blocking file I/O: keep it off the async workers.
    let cfg = cfg.clone();
    let index = tokio::task::spawn_blocking(move || cfg.load())
        .await
        .map_err(|e| ToolError(format!("reading source_of_record '{name}' failed: {e}")))?
        .map_err(|e| ToolError(format!("source_of_record '{name}' cannot be used: {e}")))?;
    Ok(Some(Source {
        name: name.to_string(),
        index,
    }))
}

/// The rules that judge one account on its own, applied as its page arrives.
struct UserRules<'a> {
    rules: &'a BTreeSet<Rule>,
    skipped: &'a BTreeMap<Rule, String>,
    conn: &'a super::Connection,
    source: Option<&'a Source>,
    reference: Option<&'a Reference>,
}

impl UserRules<'_> {
    fn on(&self, r: Rule) -> bool {
        self.rules.contains(&r) && !self.skipped.contains_key(&r)
    }

    fn finding(&self, rule: Rule, u: &User, evidence: String, tool: &str) -> Finding {
        Finding {
            rule,
            severity: rule.severity(),
            kind: "user".into(),
            id: u.id.clone(),
            label: u.email.clone(),
            evidence,
            suggested_call: json!({"tool": tool, "arguments": {"user": u.id, "connection": self.conn.name}}),
        }
    }

    fn apply(&self, u: &User, out: &mut Findings) {
        if self.on(Rule::NoGroupOrDepartment) {
            let missing = match (u.groups.is_empty(), u.department.is_none()) {
                (true, true) => Some("no group and no department"),
                (true, false) => Some("no group"),
                (false, true) => Some("no department"),
                (false, false) => None,
            };
            if let Some(m) = missing {
                out.push(self.finding(Rule::NoGroupOrDepartment, u, m.into(), "get_user"));
            }
        }
        if self.on(Rule::UnregisteredOrExternalDomain) {
            let domain = u
                .email
                .rsplit_once('@')
                .map(|(_, d)| d.trim().to_lowercase())
                .unwrap_or_default();
            let registered = &self.conn.registered_domains;
            if !registered.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
                out.push(self.finding(
                    Rule::UnregisteredOrExternalDomain,
                    u,
                    format!(
                        "domain {domain:?} is not registered (registered: {})",
                        registered.join(", ")
                    ),
                    "deactivate",
                ));
            }
        }
        if let Some(src) = self.source {
            let key = u.email_key();
            match src.index.lookup(&key, u.external_id.as_deref()) {
                None if self.on(Rule::NotInSourceOfRecord) => {
                    let ext = u
                        .external_id
                        .as_deref()
                        .map(|e| format!(" (nor its externalId {e:?})"))
                        .unwrap_or_default();
                    out.push(self.finding(
                        Rule::NotInSourceOfRecord,
                        u,
                        format!("{} is not in source '{}'{ext}", u.email, src.name),
                        "deactivate",
                    ));
                }
                Some((p, how)) if p.terminated && self.on(Rule::TerminatedButPresent) => {
                    let mut e = format!("source '{}' {}", src.name, src.index.location(p));
                    if let Some(id) = &p.employee_id {
                        e.push_str(&format!(" (employee {id})"));
                    }
                    e.push_str(": terminated");
                    if let Some(d) = &p.termination_date {
                        e.push_str(&format!(" on {d}"));
                    }
                    match how {
                        MatchedBy::Email => {}
                        MatchedBy::Alias => {
                            e.push_str(&format!("; matched as an alias of {}", p.email))
                        }
                        MatchedBy::ExternalId => {
                            e.push_str(&format!("; matched by externalId to {}", p.email))
                        }
                    }
                    if let Some(m) = &p.manager {
                        e.push_str(&format!("; manager {m}"));
                    }
                    out.push(self.finding(Rule::TerminatedButPresent, u, e, "deactivate"));
                }
                _ => {}
            }
        }
        if let Some(r) = self.reference
            && self.on(Rule::CrossProductDrift)
            && u.active != Some(false)
        {
            let evidence = match r.active_by_email.get(&u.email_key()) {
                None => Some(format!("{} has no account on {}", u.email, r.name)),
                Some(false) => Some(format!("{} is disabled on {}", u.email, r.name)),
                Some(true) => None,
            };
            if let Some(e) = evidence {
                out.push(self.finding(Rule::CrossProductDrift, u, e, "deactivate"));
            }
        }
    }
}

/// duplicate_identity over the compact keys (the rule itself is in
/// [`crate::orphans::duplicates`]): one finding per account taken for someone else's second
/// account, naming a few of them and why.
fn duplicates(
    keys: &TenantKeys,
    group_members: &[usize],
    users: usize,
    conn: &str,
    out: &mut Findings,
) {
    let pairs = keys.identity.pairs(group_members, users);
    let mut by_account: BTreeMap<u32, Vec<(u32, Signal)>> = BTreeMap::new();
    for (a, b, s) in pairs {
        by_account.entry(a).or_default().push((b, s));
        by_account.entry(b).or_default().push((a, s));
    }
    // Evidence names a few look-alikes, not all.
    const SHOWN: usize = 5;
    for (u, others) in by_account {
        let mut shown: Vec<String> = others
            .iter()
            .take(SHOWN)
            .map(|(o, s)| format!("{} ({}): {}", keys.email(*o), keys.id(*o), s.words()))
            .collect();
        if others.len() > SHOWN {
            shown.push(format!("{} more", others.len() - SHOWN));
        }
        let mut ids: Vec<&str> = vec![keys.id(u)];
        ids.extend(others.iter().take(SHOWN).map(|(o, _)| keys.id(*o)));
        out.push(Finding {
            rule: Rule::DuplicateIdentity,
            severity: Rule::DuplicateIdentity.severity(),
            kind: "user".into(),
            id: keys.id(u).to_string(),
            label: keys.email(u).to_string(),
            evidence: format!("looks like the same person as {}", shown.join("; ")),
            suggested_call: json!({"tool": "get_user", "arguments": {"user": keys.id(u), "connection": conn}, "compare_with": ids}),
        });
    }
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
