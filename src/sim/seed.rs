//! Deterministic seed data: the same tenant on every start, with planted edge cases.

use super::store::{SimDepartment, SimGroup, SimUser, Tenant};

/// Which tenant to seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scenario {
    /// A few hundred readable users with a break-glass admin, a service account and a handful
    /// of orphan-looking leftovers.
    #[default]
    Demo,
}

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
const GROUPS: [&str; 15] = [
    "All Staff",
    "Sales",
    "Engineering",
    "Finance",
    "HR",
    "Marketing",
    "Support",
    "IT",
    "Admins",
    "Contractors",
    "Executives",
    "Legal",
    "Quarantine",
    "Legacy VPN Users",
    "Service Accounts",
];
const FIRST: [&str; 24] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "xena", "yusuf",
    "zoe", "liam", "maya",
];
const LAST: [&str; 13] = [
    "anders", "brown", "chen", "diaz", "evans", "fischer", "garcia", "hughes", "ito", "jones",
    "kim", "lopez", "novak",
];

fn title(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

impl Scenario {
    pub fn build(self) -> Tenant {
        let mut t = Tenant {
            domains: vec!["acme.example".into(), "acme-labs.example".into()],
            ..Tenant::default()
        };
        for (i, name) in DEPARTMENTS.iter().enumerate() {
            let id = 77001 + i as i64;
            t.departments.insert(
                id,
                SimDepartment {
                    id,
                    name: (*name).into(),
                },
            );
        }
        for (i, name) in GROUPS.iter().enumerate() {
            let id = 88001 + i as i64;
            t.groups.insert(
                id,
                SimGroup {
                    id,
                    name: (*name).into(),
                },
            );
        }
        let dept = |n: &str| t_lookup(&DEPARTMENTS, n, 77001);
        let group = |n: &str| t_lookup(&GROUPS, n, 88001);
        let mut next = 70001i64;
        let mut add = |t: &mut Tenant,
                       name: &str,
                       email: &str,
                       d: Option<&str>,
                       g: &[&str],
                       comments: Option<&str>,
                       admin: bool| {
            let id = next;
            next += 1;
            t.users.insert(
                id,
                SimUser {
                    id,
                    name: name.into(),
                    email: email.into(),
                    department: d.map(dept),
                    groups: g.iter().map(|n| group(n)).collect(),
                    comments: comments.map(str::to_string),
                    admin_user: admin,
                    user_type: None,
                },
            );
        };
        add(
            &mut t,
            "Break Glass Admin",
            "breakglass@acme.example",
            Some("IT"),
            &["Admins"],
            Some("Emergency access - do not modify"),
            true,
        );
        add(
            &mut t,
            "Jane Doe",
            "jane.doe@acme.example",
            Some("Sales"),
            &["All Staff", "Sales"],
            None,
            false,
        );
        add(
            &mut t,
            "John Smith",
            "john.smith@acme.example",
            Some("Engineering"),
            &["All Staff", "Engineering"],
            None,
            false,
        );
        add(
            &mut t,
            "svc-scanner",
            "svc-scanner@acme.example",
            Some("IT"),
            &["Service Accounts"],
            Some("Service account for the vulnerability scanner"),
            false,
        );
        add(
            &mut t,
            "Temp Contractor",
            "temp.contractor@acme.example",
            Some("Operations"),
            &[],
            None,
            false,
        );
        add(
            &mut t,
            "Old Vendor",
            "old.vendor@vendor-mail.example",
            Some("Operations"),
            &["Contractors"],
            None,
            false,
        );
        add(
            &mut t,
            "Jane Doe",
            "jdoe@acme.example",
            Some("Sales"),
            &["All Staff"],
            None,
            false,
        );
        add(
            &mut t,
            "No Department",
            "no.dept@acme-labs.example",
            None,
            &["All Staff"],
            None,
            false,
        );
        // 300 generated staff: every (first, last) pair in a fixed order, departments in turn.
        let departments_with_groups = [
            "Sales",
            "Engineering",
            "Finance",
            "HR",
            "Marketing",
            "Support",
            "IT",
            "Legal",
        ];
        for k in 0..300usize {
            let first = FIRST[k % FIRST.len()];
            let last = LAST[(k / FIRST.len()) % LAST.len()];
            let d = departments_with_groups[(k * 7) % departments_with_groups.len()];
            let domain = if k % 10 == 9 {
                "acme-labs.example"
            } else {
                "acme.example"
            };
            let email = format!("{first}.{last}@{domain}");
            add(
                &mut t,
                &format!("{} {}", title(first), title(last)),
                &email,
                Some(d),
                &["All Staff", d],
                None,
                false,
            );
        }
        t
    }
}

fn t_lookup(names: &[&str], name: &str, base: i64) -> i64 {
    names
        .iter()
        .position(|n| *n == name)
        .map(|i| base + i as i64)
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_deterministic_and_unique() {
        let a = Scenario::Demo.build();
        assert_eq!(a, Scenario::Demo.build());
        let mut emails: Vec<String> = a.users.values().map(|u| u.email.to_lowercase()).collect();
        let n = emails.len();
        emails.sort();
        emails.dedup();
        assert_eq!(n, emails.len(), "emails unique");
        assert_eq!(n, 308);
    }
}
