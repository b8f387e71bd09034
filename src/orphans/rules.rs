//! The audit's rules: what each looks for, how urgent its findings are, and how an account or
//! a group becomes a finding. The rules read users, a source of record ([`super::source`]) and
//! a reference connection's emails; the audit tool streams pages through them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::{Group, User};

use super::duplicates::{IdentityKeys, Signal};
use super::findings::{Finding, Findings};
use super::source::{MatchedBy, SourceIndex};

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

    /// What the rule looks for, in one sentence (the summary's `definition`).
    pub fn definition(self) -> &'static str {
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

    /// How urgent the rule's findings are.
    pub fn severity(self) -> Severity {
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

/// The source of record, with the name the caller gave it.
pub struct SourceOfRecord {
    pub name: String,
    pub index: SourceIndex,
}

/// The reference connection as the drift rule needs it.
pub struct Reference {
    pub name: String,
    /// Each email on the reference connection (as [`User::email_key`]), and whether any of its
    /// accounts is active.
    pub active_by_email: HashMap<String, bool>,
}

/// An audited account, as the global rules need it: spans into one string arena.
struct Compact {
    start: u32,
    id_end: u32,
    end: u32,
}

/// What the whole-tenant rules keep per account, instead of the account: about 12 bytes of
/// spans plus its identity keys ([`IdentityKeys`]).
#[derive(Default)]
pub struct TenantKeys {
    arena: String,
    accounts: Vec<Compact>,
    identity: IdentityKeys,
}

impl TenantKeys {
    /// Keeps what duplicate_identity needs of one audited account.
    pub fn add(&mut self, u: &User, group_index: &HashMap<&str, usize>) {
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

/// The rules that judge one account on its own, applied as its page arrives.
pub struct AccountRules<'a> {
    /// The rules the caller chose.
    pub rules: &'a BTreeSet<Rule>,
    /// Rules that cannot run, with why (left out of every account).
    pub skipped: &'a BTreeMap<Rule, String>,
    /// The audited connection's name, for the suggested calls.
    pub connection: &'a str,
    /// The email domains the connection has registered.
    pub registered_domains: &'a [String],
    pub source: Option<&'a SourceOfRecord>,
    pub reference: Option<&'a Reference>,
}

impl AccountRules<'_> {
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
            suggested_call: json!({"tool": tool, "arguments": {"user": u.id, "connection": self.connection}}),
        }
    }

    /// Applies every per-account rule to `u`, as its page arrives.
    pub fn apply(&self, u: &User, out: &mut Findings) {
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
            let registered = self.registered_domains;
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
pub fn duplicates(
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

/// empty_group: a group nobody among the `users` audited is in.
pub fn empty_group(g: &Group, users: usize, connection: &str) -> Finding {
    Finding {
        rule: Rule::EmptyGroup,
        severity: Rule::EmptyGroup.severity(),
        kind: "group".into(),
        id: g.id.clone(),
        label: g.name.clone(),
        evidence: format!("no user among {users} is a member"),
        suggested_call: json!({"tool": "list_users", "arguments": {"group": g.name, "connection": connection}}),
    }
}
