//! audit_orphans, first version: rules that need no source of record. Each finding names its
//! rule, evidence, severity and the exact tool call that would fix it.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::{PageRequest, User, UserFilter};

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
    const ALL: [Rule; 7] = [
        Rule::TerminatedButPresent,
        Rule::CrossProductDrift,
        Rule::NotInSourceOfRecord,
        Rule::NoGroupOrDepartment,
        Rule::DuplicateIdentity,
        Rule::UnregisteredOrExternalDomain,
        Rule::EmptyGroup,
    ];

    fn definition(self) -> &'static str {
        match self {
            Rule::NoGroupOrDepartment => {
                "account has no group or no department, so no role explains why it exists"
            }
            Rule::DuplicateIdentity => {
                "several accounts share a normalised display name or email local part"
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    High,
    Medium,
    Low,
}

/// Arguments of audit_orphans.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditArgs {
    /// Connection name (omit when only one is configured).
    #[serde(default)]
    pub connection: String,
    /// Rules to apply; all when empty.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Name of a configured source of record (HR export) to compare against.
    #[serde(default)]
    pub source_of_record: String,
    /// Another connection to compare with (cross_product_drift), e.g. the ZIA connection when
    /// auditing ZPA: people absent or disabled there but active here are flagged.
    #[serde(default)]
    pub reference_connection: String,
    /// Findings to return in detail, 1–500 (default 50); counts always cover everything.
    #[serde(default)]
    pub max_findings: Option<u32>,
}

/// One finding.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Finding {
    pub rule: Rule,
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
    pub rule: Rule,
    pub definition: String,
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
    pub findings: Vec<Finding>,
    /// True when more findings exist than were returned.
    pub truncated: bool,
    /// Protected, admin and service accounts: reported, never flagged as orphans.
    pub excluded: Vec<Excluded>,
    /// Signals this backend cannot give.
    pub insufficient_signal: Vec<String>,
}

fn norm_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn local_part(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    local.split('+').next().unwrap_or_default().to_string()
}

/// Every user of a connection, page by page.
async fn all_users(conn: &super::Connection) -> Result<Vec<User>, ToolError> {
    let mut users: Vec<User> = Vec::new();
    let mut cursor = None;
    loop {
        let page = conn
            .provider
            .list_users(
                &UserFilter::default(),
                &PageRequest {
                    cursor,
                    limit: 10_000,
                },
            )
            .await
            .map_err(|e| provider_error(&conn.name, "list_users", e))?;
        users.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(users),
        }
    }
}

pub async fn audit_orphans(app: &App, args: AuditArgs) -> Result<AuditResult, ToolError> {
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

    let source_name = args.source_of_record.trim();
    let source = if source_name.is_empty() {
        None
    } else {
        let cfg = app.sources.get(source_name).ok_or_else(|| {
            let configured = if app.sources.is_empty() {
                "none (add a [sources.NAME] table to the config)".to_string()
            } else {
                app.sources.keys().cloned().collect::<Vec<_>>().join(", ")
            };
            ToolError(format!(
                "source_of_record '{source_name}' is not configured; configured sources: {configured}"
            ))
        })?;
        Some(cfg.load().map_err(|e| {
            ToolError(format!(
                "source_of_record '{source_name}' cannot be used: {e}"
            ))
        })?)
    };
    let groups = conn
        .provider
        .list_groups()
        .await
        .map_err(|e| provider_error(&conn.name, "list_groups", e))?;
    let users = all_users(conn).await?;
    let reference_name = args.reference_connection.trim();
    let reference = if reference_name.is_empty() {
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
        let other = app.connection_for("audit_orphans", Some(reference_name))?;
        let mut by_email: BTreeMap<String, bool> = BTreeMap::new();
        for u in all_users(other).await? {
            let active = u.active != Some(false);
            let e = by_email.entry(u.email_key()).or_insert(false);
            *e |= active;
        }
        Some((other.name.clone(), by_email))
    };
    let mut excluded = Vec::new();
    let mut audited: Vec<&User> = Vec::new();
    for u in &users {
        match app.policy.check_user(u) {
            Err(_) => excluded.push(Excluded {
                id: u.id.clone(),
                email: u.email.clone(),
                reason: if u.admin {
                    "administrator account".into()
                } else {
                    "protected by policy".into()
                },
            }),
            Ok(()) => audited.push(u),
        }
    }

    let mut findings: Vec<Finding> = Vec::new();
    let mut skipped: BTreeMap<Rule, String> = BTreeMap::new();
    let user_finding = |rule: Rule, u: &User, evidence: String, call: serde_json::Value| Finding {
        rule,
        severity: rule.severity(),
        kind: "user".into(),
        id: u.id.clone(),
        label: u.email.clone(),
        evidence,
        suggested_call: call,
    };
    let deactivate_call = |u: &User| json!({"tool": "deactivate", "arguments": {"user": u.id, "connection": conn.name}});
    let get_call = |u: &User| json!({"tool": "get_user", "arguments": {"user": u.id, "connection": conn.name}});

    if rules.contains(&Rule::NoGroupOrDepartment) {
        for u in &audited {
            let mut missing = Vec::new();
            if u.groups.is_empty() {
                missing.push("no group");
            }
            if u.department.is_none() {
                missing.push("no department");
            }
            if !missing.is_empty() {
                findings.push(user_finding(
                    Rule::NoGroupOrDepartment,
                    u,
                    missing.join(" and "),
                    get_call(u),
                ));
            }
        }
    }
    if rules.contains(&Rule::DuplicateIdentity) {
        let mut by_key: BTreeMap<String, Vec<&User>> = BTreeMap::new();
        for u in &audited {
            by_key
                .entry(format!("name:{}", norm_name(&u.name)))
                .or_default()
                .push(u);
            by_key
                .entry(format!("local:{}", local_part(&u.email)))
                .or_default()
                .push(u);
        }
        let mut seen = BTreeSet::new();
        for (key, group) in &by_key {
            if group.len() < 2 {
                continue;
            }
            // Evidence names a few look-alikes, not all: on a large tenant one common name can
            // match hundreds of accounts, and listing them in every finding costs O(n²) memory.
            const SHOWN: usize = 5;
            let ids: Vec<&str> = group
                .iter()
                .take(SHOWN + 1)
                .map(|u| u.id.as_str())
                .collect();
            for u in group {
                if seen.insert(u.id.clone()) {
                    let mut others: Vec<String> = group
                        .iter()
                        .filter(|o| o.id != u.id)
                        .take(SHOWN)
                        .map(|o| format!("{} ({})", o.email, o.id))
                        .collect();
                    let more = (group.len() - 1).saturating_sub(SHOWN);
                    if more > 0 {
                        others.push(format!("{more} more"));
                    }
                    let what = if key.starts_with("name:") {
                        "display name"
                    } else {
                        "email local part"
                    };
                    findings.push(user_finding(Rule::DuplicateIdentity, u, format!("same {what} as {}", others.join(", ")), json!({"tool": "get_user", "arguments": {"user": u.id, "connection": conn.name}, "compare_with": ids})));
                }
            }
        }
    }
    if rules.contains(&Rule::UnregisteredOrExternalDomain) {
        if conn.registered_domains.is_empty() {
            skipped.insert(
                Rule::UnregisteredOrExternalDomain,
                format!(
                    "no registered_domains configured for connection {}",
                    conn.name
                ),
            );
        } else {
            for u in &audited {
                let domain = u
                    .email
                    .rsplit_once('@')
                    .map(|(_, d)| d.to_lowercase())
                    .unwrap_or_default();
                if !conn
                    .registered_domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&domain))
                {
                    findings.push(user_finding(
                        Rule::UnregisteredOrExternalDomain,
                        u,
                        format!(
                            "domain {domain:?} is not registered (registered: {})",
                            conn.registered_domains.join(", ")
                        ),
                        deactivate_call(u),
                    ));
                }
            }
        }
    }
    for rule in [Rule::NotInSourceOfRecord, Rule::TerminatedButPresent] {
        if rules.contains(&rule) && source.is_none() {
            skipped.insert(rule, "no source_of_record given".into());
        }
    }
    if let Some(src) = &source {
        for u in &audited {
            match src.people.get(&u.email_key()) {
                None if rules.contains(&Rule::NotInSourceOfRecord) => findings.push(user_finding(
                    Rule::NotInSourceOfRecord,
                    u,
                    format!("{} is not in source '{source_name}'", u.email),
                    deactivate_call(u),
                )),
                Some(p) if p.terminated && rules.contains(&Rule::TerminatedButPresent) => {
                    let when = p
                        .termination_date
                        .as_deref()
                        .map(|d| format!(" on {d}"))
                        .unwrap_or_default();
                    let id = p
                        .employee_id
                        .as_deref()
                        .map(|i| format!(" (employee {i})"))
                        .unwrap_or_default();
                    findings.push(user_finding(
                        Rule::TerminatedButPresent,
                        u,
                        format!(
                            "source '{source_name}' line {}{id}: terminated{when}",
                            p.line
                        ),
                        deactivate_call(u),
                    ));
                }
                _ => {}
            }
        }
    }
    if rules.contains(&Rule::CrossProductDrift) {
        match &reference {
            None => {
                skipped.insert(
                    Rule::CrossProductDrift,
                    "no reference_connection given".into(),
                );
            }
            Some((other, by_email)) => {
                for u in audited.iter().filter(|u| u.active != Some(false)) {
                    let evidence = match by_email.get(&u.email_key()) {
                        None => format!("{} has no account on {other}", u.email),
                        Some(false) => format!("{} is disabled on {other}", u.email),
                        Some(true) => continue,
                    };
                    findings.push(user_finding(
                        Rule::CrossProductDrift,
                        u,
                        evidence,
                        deactivate_call(u),
                    ));
                }
            }
        }
    }
    if rules.contains(&Rule::EmptyGroup) {
        let used: BTreeSet<&str> = users
            .iter()
            .flat_map(|u| u.groups.iter().map(|g| g.id.as_str()))
            .collect();
        for g in groups
            .iter()
            .filter(|g| !g.system_defined && !used.contains(g.id.as_str()))
        {
            findings.push(Finding {
                rule: Rule::EmptyGroup,
                severity: Rule::EmptyGroup.severity(),
                kind: "group".into(),
                id: g.id.clone(),
                label: g.name.clone(),
                evidence: format!("no user among {} is a member", users.len()),
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
            count: findings.iter().filter(|f| f.rule == *r).count(),
            skipped: skipped.get(r).cloned(),
        })
        .collect();
    findings.sort_by_key(|f| (f.severity as u8, f.rule));
    let truncated = findings.len() > max as usize;
    findings.truncate(max as usize);
    Ok(AuditResult {
        connection: conn.name.clone(),
        users_scanned: users.len(),
        groups_scanned: groups.len(),
        summary,
        findings,
        truncated,
        excluded,
        insufficient_signal: vec!["dormancy: this backend exposes no last-login data, so inactive accounts cannot be detected".into()],
    })
}
