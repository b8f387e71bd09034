//! What a reconcile would change on one connection: the source of record against the tenant as
//! it is now. Pure: the tenant's users, groups and departments go in, the changes come out, so
//! the rules are tested without a tenant.
//!
//! A tenant account is matched to a person of the source the way `audit_orphans` matches it
//! ([`SourceIndex::lookup`]: normalised email, alias, externalId). Then:
//! - **leaver**: the person's row says they left (or, with `deactivate_absent`, no row names the
//!   account) and the account is still active;
//! - **mover**: the person is active and the account's department or managed group set differs
//!   from the row's (groups: the row's plus `default_group`);
//! - **joiner**: an active person no account matches.
//!
//! Groups the server may not change (protected, built-in, the connection's quarantine group)
//! are outside what reconcile manages: a membership in one is kept, and a row asking for one is
//! refused. Other defects of a row (an invalid email, a quarantined account) leave that row out
//! with the reason; the rest of the plan stands. A department or group the source names that
//! the connection lacks is not a row's problem but the mapping's, and a protected account the
//! source would change is an export no one should act on blindly: either refuses the whole
//! plan, naming each and its rows.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::guard::plan::user_fingerprint;
use crate::guard::policy::{Policy, quote};
use crate::model::{Department, DepartmentRef, Group, GroupRef, NewUser, User};
use crate::orphans::source::{Person, SourceIndex, SourceMapping};
use crate::provider::Capabilities;

use crate::ops::ToolError;

/// Which kinds of change a reconcile plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub joiners: bool,
    pub movers: bool,
    pub leavers: bool,
}

impl Scope {
    /// Joiners, movers and leavers.
    pub const ALL: Scope = Scope {
        joiners: true,
        movers: true,
        leavers: true,
    };
}

/// The connection as the diff needs it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub name: &'a str,
    pub caps: Capabilities,
    /// Email domains the tenant registered (empty: unknown, any).
    pub registered_domains: &'a [String],
    /// The connection's quarantine group, whose members reconcile leaves alone.
    pub quarantine_group: Option<&'a str>,
}

/// The tenant as it is now.
#[derive(Debug, Clone, Copy)]
pub struct Tenant<'a> {
    pub users: &'a [User],
    pub groups: &'a [Group],
    /// Native ZIA's department objects (empty elsewhere: a department is free text there).
    pub departments: &'a [Department],
}

/// The source of record with its mapping.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub name: &'a str,
    pub index: &'a SourceIndex,
    pub mapping: &'a SourceMapping,
}

/// The kind of a change, in the order a reconcile carries them out: access goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Leaver,
    Mover,
    Joiner,
}

impl Kind {
    /// As results and reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Leaver => "leaver",
            Kind::Mover => "mover",
            Kind::Joiner => "joiner",
        }
    }
}

/// One change to one account.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: Kind,
    /// The account's email (movers, leavers) or the person's (joiners).
    pub email: String,
    /// Where the source lists the person (`line 12`), if it does.
    pub row: Option<String>,
    /// The account as it is now (movers, leavers).
    pub before: Option<User>,
    /// The account to create (joiners).
    pub new: Option<NewUser>,
    /// A mover's new department.
    pub department: Option<DepartmentRef>,
    /// A mover's groups to add.
    pub add: Vec<GroupRef>,
    /// A mover's groups to remove.
    pub remove: Vec<GroupRef>,
}

impl Change {
    /// The account's id, for movers and leavers.
    pub fn user_id(&self) -> Option<&str> {
        self.before.as_ref().map(|u| u.id.as_str())
    }

    /// The change in words, for the plan and the report. Tenant and source text is quoted.
    pub fn words(&self, leaver_verb: &str) -> String {
        let names = |refs: &[GroupRef]| {
            refs.iter()
                .map(|g| quote(&g.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let dept = |d: Option<&DepartmentRef>| d.map_or_else(|| "none".into(), |d| quote(&d.name));
        match (self.kind, &self.before, &self.new) {
            (Kind::Joiner, _, Some(n)) => format!(
                "Create {} {} in department {} with groups {}",
                quote(&n.name),
                quote(&n.email),
                dept(n.department.as_ref()),
                if n.groups.is_empty() {
                    "none".into()
                } else {
                    names(&n.groups)
                }
            ),
            (Kind::Mover, Some(u), _) => {
                let mut parts = Vec::new();
                if let Some(d) = &self.department {
                    parts.push(format!(
                        "department {} → {}",
                        dept(u.department.as_ref()),
                        quote(&d.name)
                    ));
                }
                if !self.add.is_empty() {
                    parts.push(format!("add {}", names(&self.add)));
                }
                if !self.remove.is_empty() {
                    parts.push(format!("remove {}", names(&self.remove)));
                }
                format!(
                    "Move {} (id {}): {}",
                    quote(&u.email),
                    u.id,
                    parts.join("; ")
                )
            }
            (Kind::Leaver, Some(u), _) => format!(
                "{leaver_verb} {} (id {}): {}",
                quote(&u.email),
                u.id,
                match &self.row {
                    Some(row) => format!("the source marks the person as gone ({row})"),
                    None => "no row of the source names the account".into(),
                }
            ),
            _ => format!("{} {}", self.kind.name(), quote(&self.email)),
        }
    }

    /// What the plan binds of this change: its account's state and exactly what it sets.
    fn canonical(&self) -> serde_json::Value {
        let ids = |refs: &[GroupRef]| {
            let mut v: Vec<&str> = refs.iter().map(|g| g.id.as_str()).collect();
            v.sort_unstable();
            v.into_iter().map(str::to_string).collect::<Vec<_>>()
        };
        json!([
            self.kind.name(),
            self.email.to_lowercase(),
            self.before
                .as_ref()
                .map(|u| [u.id.clone(), user_fingerprint(u)]),
            self.new.as_ref().map(|n| json!([
                n.name,
                n.email.to_lowercase(),
                n.department.as_ref().map(|d| &d.id),
                ids(&n.groups),
            ])),
            self.department.as_ref().map(|d| &d.id),
            ids(&self.add),
            ids(&self.remove),
        ])
    }
}

/// A row (or account) the plan leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub email: String,
    pub user_id: Option<String>,
    pub row: Option<String>,
    pub reason: String,
}

/// Everything a reconcile would change on one connection.
#[derive(Debug, Default)]
pub struct Diff {
    /// Leavers, then movers, then joiners, each by email.
    pub changes: Vec<Change>,
    pub refused: Vec<Refused>,
    /// Accounts already as the source says.
    pub unchanged: usize,
    /// Protected and admin accounts no row names (never leavers).
    pub excluded: usize,
}

impl Diff {
    /// How many changes of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.changes.iter().filter(|c| c.kind == kind).count()
    }
}

/// SHA-256 over every change and the way leavers are taken away: what a plan's target binds,
/// so a plan whose tenant (or source) changed since it was made is refused.
pub fn fingerprint(changes: &[Change], leaver_mode: &str) -> String {
    let all: Vec<serde_json::Value> = changes.iter().map(Change::canonical).collect();
    let canonical = json!({"mode": leaver_mode, "changes": all});
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// `first.last@x` → `First Last`: a display name when the source maps none.
pub fn name_from_email(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default();
    local
        .split(['.', '_', '-'])
        .filter(|p| !p.is_empty())
        .map(crate::ops::result::capitalize)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Names the source uses that the connection lacks (or holds twice), with their rows.
#[derive(Default)]
struct Unresolved {
    groups: BTreeMap<String, Vec<String>>,
    departments: BTreeMap<String, Vec<String>>,
    ambiguous: BTreeMap<String, usize>,
    /// Protected accounts the source would change: email → (row, why protected).
    protected: BTreeMap<String, (String, String)>,
}

impl Unresolved {
    fn is_empty(&self) -> bool {
        self.groups.is_empty()
            && self.departments.is_empty()
            && self.ambiguous.is_empty()
            && self.protected.is_empty()
    }

    fn error(&self, target: &Target<'_>, source: &str, tenant: &Tenant<'_>) -> ToolError {
        let listed = |m: &BTreeMap<String, Vec<String>>| {
            m.iter()
                .take(10)
                .map(|(name, rows)| {
                    let more = rows.len().saturating_sub(3);
                    let shown = rows.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                    if more > 0 {
                        format!("{} ({shown} and {more} more)", quote(name))
                    } else {
                        format!("{} ({shown})", quote(name))
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let mut why = Vec::new();
        if !self.departments.is_empty() {
            let mut known: Vec<&str> = tenant.departments.iter().map(|d| d.name.as_str()).collect();
            known.sort_unstable();
            why.push(format!(
                "{} department(s) of source '{source}' do not exist on connection {}: {} — native ZIA accounts need a department the tenant has (it has: {}); create it in the ZIA admin portal or correct the export",
                self.departments.len(),
                target.name,
                listed(&self.departments),
                known
                    .iter()
                    .take(30)
                    .map(|n| quote(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.groups.is_empty() {
            why.push(format!(
                "{} group(s) of source '{source}' do not exist on connection {}: {} — create them on the tenant or correct the export (list_groups shows the tenant's)",
                self.groups.len(),
                target.name,
                listed(&self.groups)
            ));
        }
        if !self.ambiguous.is_empty() {
            why.push(format!(
                "name(s) that match several groups or departments on connection {}: {} — rename them on the tenant so each name is unique",
                target.name,
                self.ambiguous
                    .iter()
                    .map(|(n, k)| format!("{} ({k})", quote(n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.protected.is_empty() {
            why.push(format!(
                "source '{source}' would change {} protected account(s) on connection {}: {} — this server never changes them; take them out of the export (or correct their rows) and handle them by hand",
                self.protected.len(),
                target.name,
                self.protected
                    .iter()
                    .take(10)
                    .map(|(email, (row, reason))| format!("{} ({row}: {reason})", quote(email)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let message = format!("nothing was planned: {}", why.join("; "));
        // A protected account is the policy's refusal; anything else is the source to fix.
        if self.protected.is_empty() {
            ToolError::invalid_input(message)
        } else {
            ToolError::refused(message)
        }
    }
}

/// Plans the changes that bring connection `target` in line with `source`.
pub fn compute(
    target: &Target<'_>,
    policy: &Policy,
    source: &Source<'_>,
    scope: Scope,
    tenant: &Tenant<'_>,
) -> Result<Diff, ToolError> {
    Differ::new(target, policy, source, scope, tenant).run()
}

struct Differ<'a> {
    target: &'a Target<'a>,
    policy: &'a Policy,
    source: &'a Source<'a>,
    scope: Scope,
    tenant: &'a Tenant<'a>,
    groups: HashMap<String, Vec<&'a Group>>,
    departments: HashMap<String, Vec<&'a Department>>,
    /// Groups reconcile never changes: built-in, protected, the quarantine group.
    unmanaged: HashSet<&'a str>,
    quarantine: Option<&'a str>,
    unresolved: Unresolved,
    diff: Diff,
}

fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl<'a> Differ<'a> {
    fn new(
        target: &'a Target<'a>,
        policy: &'a Policy,
        source: &'a Source<'a>,
        scope: Scope,
        tenant: &'a Tenant<'a>,
    ) -> Self {
        let mut groups: HashMap<String, Vec<&Group>> = HashMap::new();
        for g in tenant.groups {
            groups.entry(key(&g.name)).or_default().push(g);
        }
        let mut departments: HashMap<String, Vec<&Department>> = HashMap::new();
        for d in tenant.departments {
            departments.entry(key(&d.name)).or_default().push(d);
        }
        let quarantine = target.quarantine_group.and_then(|q| {
            tenant
                .groups
                .iter()
                .find(|g| g.id == q.trim() || g.name.eq_ignore_ascii_case(q.trim()))
                .map(|g| g.id.as_str())
        });
        let unmanaged = tenant
            .groups
            .iter()
            .filter(|g| {
                g.system_defined
                    || Some(g.id.as_str()) == quarantine
                    || policy
                        .check_group_ref(&GroupRef {
                            id: g.id.clone(),
                            name: g.name.clone(),
                        })
                        .is_err()
            })
            .map(|g| g.id.as_str())
            .collect();
        Self {
            target,
            policy,
            source,
            scope,
            tenant,
            groups,
            departments,
            unmanaged,
            quarantine,
            unresolved: Unresolved::default(),
            diff: Diff::default(),
        }
    }

    fn run(mut self) -> Result<Diff, ToolError> {
        let index = self.source.index;
        let mut matched: HashSet<u64> = HashSet::new();
        for u in self.tenant.users {
            match index.lookup(&u.email_key(), u.external_id.as_deref()) {
                Some((p, _)) => {
                    matched.insert(p.line);
                    if p.terminated {
                        self.leaver(u, Some(p));
                    } else {
                        self.mover(u, p);
                    }
                }
                None if self.source.mapping.deactivate_absent => self.leaver(u, None),
                None => {}
            }
        }
        if self.scope.joiners {
            for p in index.people() {
                if !p.terminated && !matched.contains(&p.line) {
                    self.joiner(p);
                }
            }
        }
        if !self.unresolved.is_empty() {
            return Err(self
                .unresolved
                .error(self.target, self.source.name, self.tenant));
        }
        let mut diff = self.diff;
        diff.changes.sort_by_key(|c| (c.kind, key(&c.email)));
        diff.refused.sort_by_key(|r| key(&r.email));
        Ok(diff)
    }

    fn row(&self, p: &Person) -> String {
        format!(
            "source '{}' {}",
            self.source.name,
            self.source.index.location(p)
        )
    }

    fn refuse(&mut self, email: &str, user: Option<&User>, p: Option<&Person>, reason: String) {
        let row = p.map(|p| self.row(p));
        self.diff.refused.push(Refused {
            email: email.to_string(),
            user_id: user.map(|u| u.id.clone()),
            row,
            reason,
        });
    }

    fn protected(&mut self, u: &User, p: &Person, why: String) {
        let row = self.source.index.location(p);
        self.unresolved
            .protected
            .insert(u.email.clone(), (row, why));
    }

    fn leaver(&mut self, u: &User, p: Option<&Person>) {
        if !self.scope.leavers {
            return;
        }
        if u.active == Some(false) {
            self.diff.unchanged += 1;
            return;
        }
        if let Err(why) = self.policy.check_user(u) {
            match p {
                // A person the source says left, whose account no tool may change: the export
                // is wrong or a human must do it; the whole plan is refused, naming it.
                Some(p) => self.protected(u, p, why),
                // Break-glass, service and admin accounts are in no HR export: never leavers.
                None => self.diff.excluded += 1,
            }
            return;
        }
        let row = p.map(|p| self.row(p));
        self.diff.changes.push(Change {
            kind: Kind::Leaver,
            email: u.email.clone(),
            row,
            before: Some(u.clone()),
            new: None,
            department: None,
            add: Vec::new(),
            remove: Vec::new(),
        });
    }

    /// The groups the person should be in: the row's and the default group, resolved on the
    /// connection. Names the connection lacks are recorded for the plan's error.
    fn desired_groups(&mut self, p: &Person) -> Vec<GroupRef> {
        let mut names: Vec<&str> = p.groups.iter().map(String::as_str).collect();
        if let Some(d) = self.source.mapping.default_group.as_deref() {
            names.push(d);
        }
        let mut out: Vec<GroupRef> = Vec::new();
        for name in names {
            let k = key(name);
            if k.is_empty() {
                continue;
            }
            match self.groups.get(&k).map(Vec::as_slice) {
                Some([g]) => {
                    if !out.iter().any(|r| r.id == g.id) {
                        out.push(GroupRef {
                            id: g.id.clone(),
                            name: g.name.clone(),
                        });
                    }
                }
                Some(many) if many.len() > 1 => {
                    self.unresolved
                        .ambiguous
                        .insert(name.trim().to_string(), many.len());
                }
                _ => {
                    let row = self.source.index.location(p);
                    self.unresolved
                        .groups
                        .entry(name.trim().to_string())
                        .or_default()
                        .push(row);
                }
            }
        }
        out
    }

    /// The department the person should be in on this connection: a department object on
    /// native ZIA (recorded for the plan's error when the tenant lacks it), free text elsewhere.
    fn desired_department(&mut self, p: &Person) -> Option<DepartmentRef> {
        self.source.mapping.department.as_ref()?;
        let name = p.department.as_deref()?.trim();
        if !self.target.caps.departments {
            return Some(DepartmentRef {
                id: name.to_string(),
                name: name.to_string(),
            });
        }
        match self.departments.get(&key(name)).map(Vec::as_slice) {
            Some([d]) => Some(DepartmentRef {
                id: d.id.clone(),
                name: d.name.clone(),
            }),
            Some(many) if many.len() > 1 => {
                self.unresolved
                    .ambiguous
                    .insert(name.to_string(), many.len());
                None
            }
            _ => {
                let row = self.source.index.location(p);
                self.unresolved
                    .departments
                    .entry(name.to_string())
                    .or_default()
                    .push(row);
                None
            }
        }
    }

    /// Why a row's groups cannot be set: one the server may not change.
    fn unmanaged_in(&self, groups: &[GroupRef]) -> Option<String> {
        let g = groups
            .iter()
            .find(|g| self.unmanaged.contains(g.id.as_str()))?;
        Some(format!(
            "the source puts the person in group {} (id {}), which this server never changes (protected, built-in or the quarantine group); a human administrator must decide",
            quote(&g.name),
            g.id
        ))
    }

    fn manages_groups(&self) -> bool {
        let m = self.source.mapping;
        m.groups.is_some() || m.default_group.is_some()
    }

    fn mover(&mut self, u: &User, p: &Person) {
        if !(self.scope.movers || self.scope.joiners) {
            return;
        }
        if u.active == Some(false) {
            self.refuse(
                &u.email,
                Some(u),
                Some(p),
                "the account is disabled but the source lists the person as active; if they are back, restore_user re-enables it".into(),
            );
            return;
        }
        if !self.scope.movers {
            return;
        }
        let department = self.desired_department(p).filter(|want| {
            let now = u.department.as_ref();
            if self.target.caps.departments {
                now.is_none_or(|d| d.id != want.id)
            } else {
                now.is_none_or(|d| !d.name.trim().eq_ignore_ascii_case(want.name.trim()))
            }
        });
        let (add, remove, wanted) = if self.manages_groups() {
            let wanted = self.desired_groups(p);
            let has = |g: &GroupRef| u.groups.iter().any(|m| m.id == g.id);
            let add: Vec<GroupRef> = wanted.iter().filter(|g| !has(g)).cloned().collect();
            let remove: Vec<GroupRef> = u
                .groups
                .iter()
                .filter(|g| !self.unmanaged.contains(g.id.as_str()))
                .filter(|g| !wanted.iter().any(|w| w.id == g.id))
                .cloned()
                .collect();
            (add, remove, wanted)
        } else {
            (Vec::new(), Vec::new(), Vec::new())
        };
        if department.is_none() && add.is_empty() && remove.is_empty() {
            self.diff.unchanged += 1;
            return;
        }
        if let Some(q) = self.quarantine
            && u.groups.iter().any(|g| g.id == q)
        {
            self.refuse(
                &u.email,
                Some(u),
                Some(p),
                "the account is in the connection's quarantine group; reconcile leaves quarantined accounts alone — a human decides when they come out".into(),
            );
            return;
        }
        if let Err(why) = self.policy.check_user(u) {
            self.protected(u, p, why);
            return;
        }
        if let Some(why) = self.unmanaged_in(&wanted) {
            self.refuse(&u.email, Some(u), Some(p), why);
            return;
        }
        self.diff.changes.push(Change {
            kind: Kind::Mover,
            email: u.email.clone(),
            row: Some(self.row(p)),
            before: Some(u.clone()),
            new: None,
            department,
            add,
            remove,
        });
    }

    fn joiner(&mut self, p: &Person) {
        let email = p.email.trim().to_string();
        let refuse = |this: &mut Self, reason: String| this.refuse(&email, None, Some(p), reason);
        let parts = email.split_once('@');
        let valid = email.chars().count() <= 127
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && parts.is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'));
        if !valid {
            return refuse(
                self,
                "not a valid email address for a new account (one @ between a name and a domain, at most 127 characters)".into(),
            );
        }
        let domain = parts.map(|(_, d)| d).unwrap_or_default();
        let registered = self.target.registered_domains;
        if !registered.is_empty() && !registered.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
            return refuse(
                self,
                format!(
                    "domain {} is not registered on connection {} (registered: {})",
                    quote(domain),
                    self.target.name,
                    registered.join(", ")
                ),
            );
        }
        if let Err(why) = self.policy.check_create_domain(&email) {
            return refuse(self, why);
        }
        let name = p
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| name_from_email(&email));
        let chars = name.chars().count();
        if chars == 0 || chars > 127 || name.chars().any(char::is_control) {
            return refuse(
                self,
                format!("name must be 1 to 127 characters (got {chars})"),
            );
        }
        if let Err(why) = self.policy.check_new_account(&email, &name) {
            return refuse(self, why);
        }
        let before = self.unresolved.groups.len() + self.unresolved.departments.len();
        let department = self.desired_department(p);
        let groups = self.desired_groups(p);
        if self.unresolved.groups.len() + self.unresolved.departments.len() > before {
            return; // reported with the plan's error
        }
        if self.target.caps.departments && department.is_none() {
            return refuse(
                self,
                "no department in the source: native ZIA needs one for a new account".into(),
            );
        }
        if self.target.caps.create_needs_group && groups.is_empty() {
            return refuse(
                self,
                "no group in the source: native ZIA needs at least one for a new account (set default_group in the mapping)".into(),
            );
        }
        if let Some(why) = self.unmanaged_in(&groups) {
            return refuse(self, why);
        }
        self.diff.changes.push(Change {
            kind: Kind::Joiner,
            email: email.clone(),
            row: Some(self.row(p)),
            before: None,
            new: Some(NewUser {
                name: name.trim().to_string(),
                email,
                department,
                groups,
                comments: None,
                password: None,
            }),
            department: None,
            add: Vec::new(),
            remove: Vec::new(),
        });
    }
}
