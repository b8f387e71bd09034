//! Deterministic seed data. The demo tenant is fixed (no RNG, no clock) so tests and demos can
//! rely on exact ids and accounts; the other scenarios derive their variation from `--seed`
//! through a fixed generator, so the same seed always gives the same tenant.

pub(crate) mod demo_hr;
mod large;
mod names;
mod orphans;

use std::fmt;
use std::str::FromStr;

use super::scim::{ZpaDirectory, seed_zpa};
use super::store::{Department, Group, Tenant, User};
use super::zidentity::ZidDirectory;

/// Which data set the simulator starts with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scenario {
    /// The demo tenant: protected accounts, a handful of orphan-looking accounts and ~300
    /// ordinary users. Ignores the seed.
    #[default]
    Demo,
    /// A large tenant for benchmarks and paging: 100,000 users (the demo's 8 fixed accounts
    /// first), 2,000 groups and 50 departments, with names, departments and memberships drawn
    /// from the seed.
    Large,
    /// The demo tenant plus known orphan and drift cases, and an HR export to audit against
    /// ([`crate::sim::Sim::hr_export_csv`]): users in unregistered domains
    /// (`ex.employee@acquired-corp.example`, `consultant@partner-firm.example`), users with no
    /// groups (`intern.summer@acme.example`), a ZIA user missing from HR and ZPA
    /// (`ghost.user@acme.example`), a terminated employee still in ZIA and ZPA
    /// (`departed.employee@acme.example`), a ZPA-only leaver (`former.zpa@acme.example`) and a
    /// few generated users, picked by the seed, terminated in HR but still in ZIA.
    Orphans,
}

impl Scenario {
    /// The CLI spelling (`demo`, `large`, `orphans`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Demo => "demo",
            Scenario::Large => "large",
            Scenario::Orphans => "orphans",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "demo" => Ok(Scenario::Demo),
            "large" => Ok(Scenario::Large),
            "orphans" => Ok(Scenario::Orphans),
            other => Err(format!(
                "unknown scenario '{other}' (expected demo, large or orphans)"
            )),
        }
    }
}

/// Everything a scenario seeds: the ZIA tenant, the ZPA SCIM directory, the ZIdentity
/// directory and, for scenarios that have one, the HR export (CSV
/// `work_email,status,end_date,aliases,external_id,manager`) to audit against.
pub(crate) struct World {
    pub tenant: Tenant,
    pub zpa: ZpaDirectory,
    pub zid: ZidDirectory,
    pub hr_export: Option<String>,
    /// Pairs of user ids that are one person's two accounts, planted by the scenario (the
    /// audit's ground truth for `duplicate_identity`; empty where none are planted).
    pub duplicates: Vec<(u64, u64)>,
}

/// Seeds a scenario. `seed` only matters to scenarios that draw data (not the demo).
pub(crate) fn world(scenario: Scenario, seed: u64) -> World {
    match scenario {
        Scenario::Demo => World {
            tenant: demo(),
            zpa: seed_zpa(),
            zid: super::zidentity::seed(),
            hr_export: None,
            duplicates: vec![(70002, 70007)],
        },
        Scenario::Large => {
            let (tenant, duplicates) = large::tenant(seed);
            World {
                tenant,
                zpa: seed_zpa(),
                zid: super::zidentity::seed(),
                hr_export: None,
                duplicates,
            }
        }
        Scenario::Orphans => orphans::world(seed),
    }
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

/// The demo tenant for a scenario. Validation is bypassed on purpose: the demo carries legacy
/// leftovers (an unregistered domain, a user without department) a real tenant can hold.
#[cfg(test)]
pub(crate) fn seed(scenario: Scenario) -> Tenant {
    world(scenario, 0).tenant
}

/// Domains, departments, groups and the fixed accounts every scenario starts from; returns the
/// tenant and the next free user id.
fn base() -> (Tenant, u64) {
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
    t.users = users.into_iter().map(|u| (u.id, u)).collect();
    (t, next)
}

/// The id of the department or group named `name` (seed data only, so a linear search is fine).
fn dept_id(t: &Tenant, name: &str) -> Option<u64> {
    t.departments
        .values()
        .find(|d| d.name == name)
        .map(|d| d.id)
}

fn group_id(t: &Tenant, name: &str) -> Option<u64> {
    t.groups.values().find(|g| g.name == name).map(|g| g.id)
}

fn demo() -> Tenant {
    let (mut t, mut next) = base();
    let dept_id = |name: &str| dept_id(&t, name);
    let group_id = |name: &str| group_id(&t, name);
    let mut users = Vec::new();
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
    t.users.extend(users.into_iter().map(|u| (u.id, u)));
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
