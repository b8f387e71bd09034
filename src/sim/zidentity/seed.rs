//! The seeded ZIdentity tenant, the same on every start: accounts a guardrail must refuse
//! (break-glass, a service account, two admins, the Admins group), a disabled leaver, a
//! ZIdentity-only account and an account with no group (audit cases), and generated people
//! shared with the ZIA demo tenant, enough for three pages of 100.

use std::collections::BTreeSet;

use serde_json::Map;

use super::model::{IdName, ZidDirectory, ZidGroup, ZidUser};
use crate::sim::seed::generated_person;

/// Generated people (the first ones of the ZIA demo tenant's list).
pub(crate) const GENERATED: usize = 250;

/// The organisation's domains (the same as the ZIA demo tenant's).
const DOMAINS: [&str; 2] = ["acme.example", "acme-labs.example"];

/// (name, description, dynamic, adminEntitlementEnabled), in creation order.
const GROUPS: [(&str, &str, bool, bool); 16] = [
    ("All Staff", "Every employee", false, false),
    ("Sales", "Sales team", false, false),
    ("Engineering", "Engineering team", false, false),
    ("Finance", "Finance team", false, false),
    ("HR", "Human resources", false, false),
    ("Marketing", "Marketing team", false, false),
    ("Support", "Customer support", false, false),
    ("IT", "IT operations", false, false),
    ("Admins", "Tenant administrators", false, true),
    ("Contractors", "External contractors", false, false),
    ("Executives", "Executive team", false, false),
    ("Legal", "Legal team", false, false),
    ("Quarantine", "Accounts under investigation", false, false),
    ("Service Accounts", "Non-human accounts", false, false),
    (
        "Empty Project",
        "A project group nobody is in",
        false,
        false,
    ),
    (
        "Engineering (dynamic)",
        "Everyone whose department is Engineering",
        true,
        false,
    ),
];

/// A fixed account: (login name, display name, department, groups, active, admin roles, source).
type Fixed = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [&'static str],
    bool,
    &'static [&'static str],
    &'static str,
);

/// The fixed accounts, in creation order. Tests rely on these exact values.
const FIXED: [Fixed; 10] = [
    (
        "breakglass@acme.example",
        "Break Glass Admin",
        Some("IT"),
        &["Admins"],
        true,
        &["Super Admin"],
        "UI",
    ),
    (
        "iris.admin@acme.example",
        "Iris Admin",
        Some("IT"),
        &["All Staff", "IT"],
        true,
        &["ZIA Admin"],
        "UI",
    ),
    (
        "jane.doe@acme.example",
        "Jane Doe",
        Some("Sales"),
        &["All Staff", "Sales"],
        true,
        &[],
        "SCIM",
    ),
    (
        "john.smith@acme.example",
        "John Smith",
        Some("Engineering"),
        &["All Staff", "Engineering", "Engineering (dynamic)"],
        true,
        &[],
        "SCIM",
    ),
    (
        "svc-scanner@acme.example",
        "svc-scanner",
        Some("IT"),
        &["Service Accounts"],
        true,
        &[],
        "API",
    ),
    (
        "temp.contractor@acme.example",
        "Temp Contractor",
        Some("Operations"),
        &[],
        true,
        &[],
        "UI",
    ),
    (
        "old.vendor@vendor-mail.example",
        "Old Vendor",
        Some("Operations"),
        &["Contractors"],
        true,
        &[],
        "UI",
    ),
    (
        "former.staff@acme.example",
        "Former Staff",
        Some("Sales"),
        &["All Staff"],
        false,
        &[],
        "SCIM",
    ),
    (
        "zid.only@acme.example",
        "Zoe Idonly",
        Some("Marketing"),
        &["All Staff", "Marketing"],
        true,
        &[],
        "ZIDENTITY",
    ),
    (
        "no.dept@acme-labs.example",
        "No Department",
        None,
        &["All Staff"],
        true,
        &[],
        "UI",
    ),
];

fn split_name(display: &str) -> (Option<String>, Option<String>) {
    match display.split_once(' ') {
        Some((f, l)) => (Some(f.to_string()), Some(l.to_string())),
        None => (None, None),
    }
}

/// One account to seed.
struct Spec<'a> {
    login: &'a str,
    display: &'a str,
    dept: Option<&'a str>,
    groups: &'a [&'a str],
    status: bool,
    roles: &'a [&'a str],
    source: &'a str,
}

fn add_user(d: &mut ZidDirectory, s: Spec<'_>) {
    let id = d.new_id();
    let department: Option<IdName> = s.dept.map(|n| d.department_named(n));
    let (first, last) = split_name(s.display);
    d.users.insert(
        id.clone(),
        ZidUser {
            id: id.clone(),
            login_name: s.login.to_string(),
            display_name: s.display.to_string(),
            first_name: first,
            last_name: last,
            primary_email: s.login.to_string(),
            secondary_email: None,
            department,
            status: s.status,
            source: s.source.to_string(),
            idp: Some(d.default_idp.clone()),
            custom_attrs: Map::new(),
            admin_roles: s.roles.iter().map(|r| r.to_string()).collect(),
        },
    );
    for g in s.groups {
        if let Some(group) = d.groups.values_mut().find(|x| x.name == *g) {
            group.members.insert(id.clone());
        }
    }
}

/// The seeded ZIdentity tenant.
pub(crate) fn directory() -> ZidDirectory {
    let mut d = ZidDirectory::empty(&DOMAINS);
    for (name, description, dynamic, admin) in GROUPS {
        let id = d.new_id();
        d.groups.insert(
            id.clone(),
            ZidGroup {
                id,
                name: name.to_string(),
                description: Some(description.to_string()),
                source: "UI".into(),
                dynamic,
                admin_entitlement_enabled: admin,
                service_entitlement_enabled: false,
                members: BTreeSet::new(),
            },
        );
    }
    for (login, display, dept, groups, status, roles, source) in FIXED {
        add_user(
            &mut d,
            Spec {
                login,
                display,
                dept,
                groups,
                status,
                roles,
                source,
            },
        );
    }
    for i in 0..GENERATED {
        let p = generated_person(i);
        let dept_group = match p.dept {
            "Executive" => Some("Executives"),
            "Operations" => None,
            other => Some(other),
        };
        let mut groups = vec!["All Staff"];
        groups.extend(dept_group);
        if p.dept == "Engineering" {
            groups.push("Engineering (dynamic)");
        }
        add_user(
            &mut d,
            Spec {
                login: &p.email,
                display: &p.name,
                dept: Some(p.dept),
                groups: &groups,
                status: true,
                roles: &[],
                source: "SCIM",
            },
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_deterministic_with_the_guardrail_cases() {
        let d = directory();
        assert_eq!(d, directory());
        assert_eq!(d.users.len(), FIXED.len() + GENERATED);
        let logins: BTreeSet<String> = d.users.values().map(|u| u.login_name.clone()).collect();
        assert_eq!(logins.len(), d.users.len(), "login names are unique");
        let bg = d.by_login("breakglass@acme.example").expect("breakglass");
        assert_eq!(bg.admin_roles, vec!["Super Admin".to_string()]);
        let admins = d.groups.values().find(|g| g.name == "Admins").expect("g");
        assert!(admins.admin_entitlement_enabled && admins.members.contains(&bg.id));
        assert!(!d.by_login("former.staff@acme.example").expect("f").status);
        let empty = d.groups.values().find(|g| g.name == "Empty Project");
        assert!(empty.is_some_and(|g| g.members.is_empty()));
        assert!(d.groups.values().any(|g| g.dynamic));
        assert_eq!(
            d.by_login("temp.contractor@acme.example")
                .map(|u| d.groups_of(&u.id).count()),
            Some(0)
        );
    }
}
