//! The ZPA SCIM directory: ZPA is a separate product with its own user store, so it does not
//! share the ZIA tenant. Seeded deterministically with some of the ZIA demo's persons, two
//! ZPA-only users and 150 generated ones (enough for two pages at `count=100`).

use std::collections::BTreeMap;

use super::model::{ScimGroup, ScimUser};
use super::time::seed_time;
use crate::sim::seed::generated_person;

/// First ZPA user id (ids are opaque strings; decimal numbers keep the order readable).
pub(crate) const FIRST_ZPA_USER_ID: u64 = 200_001;
/// First ZPA group id.
pub(crate) const FIRST_ZPA_GROUP_ID: u64 = 300_001;
/// Generated ZPA users.
const GENERATED: usize = 150;

/// The ZPA users and groups. Users are stored with empty `groups`; membership lives in the
/// groups' `members`, and reads fill users' `groups` from it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct ZpaDirectory {
    pub users: BTreeMap<String, ScimUser>,
    pub groups: BTreeMap<String, ScimGroup>,
    pub next_user_id: u64,
    pub next_group_id: u64,
}

/// (userName, displayName, department) of the fixed ZPA users, in id order.
const FIXED: [(&str, &str, &str); 6] = [
    ("jane.doe@acme.example", "Jane Doe", "Sales"),
    ("john.smith@acme.example", "John Smith", "Engineering"),
    (
        "temp.contractor@acme.example",
        "Temp Contractor",
        "Operations",
    ),
    ("old.vendor@vendor-mail.example", "Old Vendor", "Operations"),
    ("zpa.only@acme.example", "Zed Paonly", "Engineering"),
    ("lab.tech@acme-labs.example", "Lab Tech", "IT"),
];

/// Groups in id order, with the userNames of their seeded members.
const GROUPS: [(&str, &[&str]); 4] = [
    ("All Staff", &["jane.doe@acme.example"]),
    ("Engineering", &["jane.doe@acme.example"]),
    ("Contractors", &["temp.contractor@acme.example"]),
    ("Quarantine", &[]),
];

fn user(id: u64, user_name: &str, display_name: &str, department: &str) -> ScimUser {
    let (given, family) = match display_name.split_once(' ') {
        Some((g, f)) => (Some(g.to_string()), Some(f.to_string())),
        None => (Some(display_name.to_string()), None),
    };
    ScimUser {
        id: id.to_string(),
        external_id: Some(format!("00u{id}")),
        user_name: user_name.to_string(),
        display_name: display_name.to_string(),
        given_name: given,
        family_name: family,
        emails: vec![user_name.to_string()],
        active: true,
        department: Some(department.to_string()),
        groups: Vec::new(),
        created: seed_time(),
        last_modified: seed_time(),
    }
}

impl ZpaDirectory {
    /// Adds a scenario's extra user (id after the last one), for drift cases between products.
    pub fn insert_seed_user(&mut self, user_name: &str, display_name: &str, department: &str) {
        let id = self.next_user_id;
        self.users.insert(
            id.to_string(),
            user(id, user_name, display_name, department),
        );
        self.next_user_id += 1;
    }
}

/// The seeded ZPA directory; the same on every start.
pub(crate) fn seed() -> ZpaDirectory {
    let mut users = BTreeMap::new();
    let mut next = FIRST_ZPA_USER_ID;
    for (user_name, display_name, dept) in FIXED {
        users.insert(next.to_string(), user(next, user_name, display_name, dept));
        next += 1;
    }
    for i in 0..GENERATED {
        let p = generated_person(i);
        users.insert(next.to_string(), user(next, &p.email, &p.name, p.dept));
        next += 1;
    }
    let id_of = |name: &str| {
        users
            .values()
            .find(|u| u.user_name == name)
            .map(|u| u.id.clone())
    };
    let mut groups = BTreeMap::new();
    let mut next_group = FIRST_ZPA_GROUP_ID;
    for (name, members) in GROUPS {
        let id = next_group.to_string();
        groups.insert(
            id.clone(),
            ScimGroup {
                id,
                display_name: name.to_string(),
                external_id: None,
                members: members.iter().filter_map(|m| id_of(m)).collect(),
                created: seed_time(),
                last_modified: seed_time(),
            },
        );
        next_group += 1;
    }
    ZpaDirectory {
        users,
        groups,
        next_user_id: next,
        next_group_id: next_group,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_deterministic_with_expected_people() {
        let d = seed();
        assert_eq!(d.users.len(), FIXED.len() + GENERATED);
        assert_eq!(d.users["200001"].user_name, "jane.doe@acme.example");
        assert_eq!(d.users["200005"].display_name, "Zed Paonly");
        assert_eq!(d.groups["300001"].members, vec!["200001".to_string()]);
        assert_eq!(d.groups["300003"].members, vec!["200003".to_string()]);
        let names: std::collections::HashSet<String> = d
            .users
            .values()
            .map(|u| u.user_name.to_lowercase())
            .collect();
        assert_eq!(names.len(), d.users.len());
        assert_eq!(seed().users, d.users);
    }
}
