//! Deterministic seed data: the same tenant on every start, with no RNG and no clock, so tests
//! and demos can rely on exact ids and accounts.

use super::store::{Department, Group, Tenant, User};

/// Which data set the simulator starts with. Only the demo tenant exists today; the enum lets
/// a future option pick other scenarios (large tenants, edge cases) without changing callers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scenario {
    /// The demo tenant: protected accounts, a handful of orphan-looking accounts and ~300
    /// ordinary users.
    #[default]
    Demo,
}

/// First department id; departments are numbered in [`DEPARTMENTS`] order.
pub(crate) const FIRST_DEPARTMENT_ID: u64 = 77001;
/// First group id; groups are numbered in [`GROUPS`] order.
pub(crate) const FIRST_GROUP_ID: u64 = 88001;
/// First user id; the fixed accounts come first, then the generated ones.
pub(crate) const FIRST_USER_ID: u64 = 70001;
/// How many ordinary users the demo tenant generates.
pub(crate) const GENERATED_USERS: usize = 300;

const DOMAINS: [&str; 2] = ["acme.example", "acme-labs.example"];

const DEPARTMENTS: [&str; 10] = [
    "Sales",
    "Engineering",
    "Finance",
    "HR",
    "Marketing",
    "Support",
    "IT",
    "Legal",
    "Executive",
    "Operations",
];

const GROUPS: [(&str, &str); 15] = [
    ("All Staff", "Every employee"),
    ("Sales", "Sales team"),
    ("Engineering", "Engineering team"),
    ("Finance", "Finance team"),
    ("HR", "Human resources"),
    ("Marketing", "Marketing team"),
    ("Support", "Customer support"),
    ("IT", "IT operations"),
    ("Admins", "Tenant administrators"),
    ("Contractors", "External contractors"),
    ("Executives", "Executive team"),
    ("Legal", "Legal team"),
    ("Quarantine", "Accounts under investigation"),
    ("Legacy VPN Users", "Retired VPN access group"),
    ("Service Accounts", "Non-human accounts"),
];

/// First names for generated users. None of these combine into a fixed account's email.
const FIRST_NAMES: [&str; 30] = [
    "Alice", "Bruno", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
    "Wei", "Ximena", "Yusuf", "Zoe", "Aaron", "Bianca", "Chen", "Dana",
];
/// Last names for generated users.
const LAST_NAMES: [&str; 20] = [
    "Anderson", "Baker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito",
    "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Silva",
    "Tanaka", "Weber",
];

/// A fixed account: (email, name, department name, group names, admin, comments).
type Fixed = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [&'static str],
    bool,
    Option<&'static str>,
);

/// The fixed accounts, in id order from [`FIRST_USER_ID`]. Tests rely on these exact values.
const FIXED: [Fixed; 8] = [
    (
        "breakglass@acme.example",
        "Break Glass Admin",
        Some("IT"),
        &["Admins"],
        true,
        Some("Emergency access - do not modify"),
    ),
    (
        "jane.doe@acme.example",
        "Jane Doe",
        Some("Sales"),
        &["All Staff", "Sales"],
        false,
        None,
    ),
    (
        "john.smith@acme.example",
        "John Smith",
        Some("Engineering"),
        &["All Staff", "Engineering"],
        false,
        None,
    ),
    (
        "svc-scanner@acme.example",
        "svc-scanner",
        Some("IT"),
        &["Service Accounts"],
        false,
        Some("Service account for the vulnerability scanner"),
    ),
    (
        "temp.contractor@acme.example",
        "Temp Contractor",
        Some("Operations"),
        &[],
        false,
        None,
    ),
    (
        "old.vendor@vendor-mail.example",
        "Old Vendor",
        Some("Operations"),
        &["Contractors"],
        false,
        None,
    ),
    (
        "jdoe@acme.example",
        "Jane Doe",
        Some("Sales"),
        &["All Staff"],
        false,
        None,
    ),
    (
        "no.dept@acme-labs.example",
        "No Department",
        None,
        &["All Staff"],
        false,
        None,
    ),
];

/// Builds the tenant for a scenario. Validation is bypassed on purpose: the demo carries legacy
/// leftovers (an unregistered domain, a user without department) a real tenant can hold.
pub(crate) fn seed(scenario: Scenario) -> Tenant {
    match scenario {
        Scenario::Demo => demo(),
    }
}

fn demo() -> Tenant {
    let mut t = Tenant {
        domains: DOMAINS.iter().map(|d| d.to_string()).collect(),
        ..Tenant::default()
    };
    for (id, name) in (FIRST_DEPARTMENT_ID..).zip(DEPARTMENTS) {
        t.departments.insert(
            id,
            Department {
                id,
                name: name.to_string(),
                comments: None,
            },
        );
    }
    for (id, (name, comments)) in (FIRST_GROUP_ID..).zip(GROUPS) {
        let g = Group {
            id,
            name: name.to_string(),
            comments: Some(comments.to_string()),
            is_system_defined: false,
        };
        t.groups.insert(id, g);
    }
    let dept_id = |name: &str| {
        t.departments
            .values()
            .find(|d| d.name == name)
            .map(|d| d.id)
    };
    let group_id = |name: &str| t.groups.values().find(|g| g.name == name).map(|g| g.id);

    let mut users = Vec::new();
    let mut next = FIRST_USER_ID;
    for (email, name, dept, groups, admin, comments) in FIXED {
        users.push(User {
            id: next,
            name: name.to_string(),
            email: email.to_string(),
            department: dept.and_then(dept_id),
            groups: groups.iter().filter_map(|g| group_id(g)).collect(),
            comments: comments.map(str::to_string),
            admin_user: admin,
            user_type: None,
            temp_auth_email: None,
        });
        next += 1;
    }

    let all_staff = group_id("All Staff");
    for i in 0..GENERATED_USERS {
        let Person { name, email, dept } = generated_person(i);
        let dept_group = match dept {
            "Executive" => group_id("Executives"),
            "Operations" => None,
            other => group_id(other),
        };
        users.push(User {
            id: next,
            name,
            email,
            department: dept_id(dept),
            groups: all_staff.into_iter().chain(dept_group).collect(),
            comments: None,
            admin_user: false,
            user_type: None,
            temp_auth_email: None,
        });
        next += 1;
    }
    t.users = users.into_iter().map(|u| (u.id, u)).collect();
    t
}

/// One generated person: display name, email and department name.
pub(crate) struct Person {
    pub name: String,
    pub email: String,
    pub dept: &'static str,
}

/// The `i`-th generated person (`i < 600`), shared by the ZIA tenant and the ZPA SCIM directory
/// so both products know the same people.
pub(crate) fn generated_person(i: usize) -> Person {
    // Walk the 600 first×last combinations with a stride coprime to 600, so the first 300 steps
    // visit distinct combinations in a mixed-looking but fixed order.
    let combos = FIRST_NAMES.len() * LAST_NAMES.len();
    let c = (i * 7 + 11) % combos;
    let first = FIRST_NAMES[c % FIRST_NAMES.len()];
    let last = LAST_NAMES[c / FIRST_NAMES.len()];
    let domain = if i % 10 == 9 { DOMAINS[1] } else { DOMAINS[0] };
    Person {
        name: format!("{first} {last}"),
        email: format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()),
        dept: DEPARTMENTS[(i * 3 + i / 10) % DEPARTMENTS.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn demo_is_deterministic_and_emails_unique() {
        let a = seed(Scenario::Demo);
        assert_eq!(a, seed(Scenario::Demo));
        assert_eq!(a.users.len(), FIXED.len() + GENERATED_USERS);
        let emails: HashSet<String> = a.users.values().map(|u| u.email.to_lowercase()).collect();
        assert_eq!(emails.len(), a.users.len());
    }

    #[test]
    fn fixed_accounts_have_expected_ids_and_membership() {
        let t = seed(Scenario::Demo);
        let bg = &t.users[&70001];
        assert_eq!(bg.email, "breakglass@acme.example");
        assert_eq!(bg.department, Some(77007));
        assert_eq!(bg.groups, vec![88009]);
        assert!(bg.admin_user);
        assert_eq!(t.users[&70005].groups, Vec::<u64>::new());
        assert_eq!(t.users[&70008].department, None);
        let legacy_vpn = 88014;
        assert_eq!(t.groups[&legacy_vpn].name, "Legacy VPN Users");
        assert!(t.users.values().all(|u| !u.groups.contains(&legacy_vpn)));
        assert_eq!(t.groups[&88015].name, "Service Accounts");
        assert_eq!(t.departments[&77010].name, "Operations");
    }
}
