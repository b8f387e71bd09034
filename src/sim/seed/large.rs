//! The `large` scenario: 100,000 users, 2,000 groups and 50 departments, for benchmarks and
//! paging tests.
//!
//! Built in one pass with one allocation per string field and no per-user lookups (names are
//! lower-cased once, ids are handed out in ascending order), so seeding stays well under a
//! second.

use super::{
    DEPARTMENTS, DOMAINS, FIRST_DEPARTMENT_ID, FIRST_GROUP_ID, FIRST_NAMES, LAST_NAMES, base,
    group_id,
};
use crate::sim::rng::SeedRng;
use crate::sim::store::{Department, Group, Tenant, User};

/// Users in the tenant, the fixed accounts included.
pub(crate) const USERS: usize = 100_000;
/// Groups in the tenant, the demo's 15 included.
pub(crate) const GROUPS: usize = 2_000;
/// Regions that multiply the demo departments into 50.
const REGIONS: [&str; 4] = ["EMEA", "APAC", "AMER", "LATAM"];
/// Extra groups (besides All Staff) a generated user joins: 0..=MAX_EXTRA_GROUPS.
const MAX_EXTRA_GROUPS: usize = 3;

/// The large tenant for `seed`.
pub(crate) fn tenant(seed: u64) -> Tenant {
    let (mut t, first_generated) = base();
    let mut rng = SeedRng::new(seed);

    let mut dept_ids: Vec<u64> = t.departments.keys().copied().collect();
    let regional = REGIONS
        .iter()
        .flat_map(|r| DEPARTMENTS.iter().map(move |d| format!("{d} {r}")));
    for (id, name) in (FIRST_DEPARTMENT_ID + DEPARTMENTS.len() as u64..).zip(regional) {
        t.departments.insert(
            id,
            Department {
                id,
                name,
                comments: None,
            },
        );
        dept_ids.push(id);
    }

    let first_team = FIRST_GROUP_ID + t.groups.len() as u64;
    let last_group = FIRST_GROUP_ID + GROUPS as u64;
    for id in first_team..last_group {
        t.groups.insert(
            id,
            Group {
                id,
                name: format!("Team {:04}", id - FIRST_GROUP_ID + 1),
                comments: None,
                is_system_defined: false,
            },
        );
    }
    let teams = (last_group - first_team) as usize;
    let all_staff = group_id(&t, "All Staff");

    let firsts: Vec<String> = FIRST_NAMES.iter().map(|n| n.to_lowercase()).collect();
    let lasts: Vec<String> = LAST_NAMES.iter().map(|n| n.to_lowercase()).collect();
    let generated = USERS.saturating_sub(t.users.len());
    let users = (0..generated).map(|i| {
        let id = first_generated + i as u64;
        let (f, l) = (rng.below(FIRST_NAMES.len()), rng.below(LAST_NAMES.len()));
        // One in ten on the second domain, like the demo.
        let domain = DOMAINS[usize::from(rng.below(10) == 0)];
        let mut groups = Vec::with_capacity(1 + MAX_EXTRA_GROUPS);
        groups.extend(all_staff);
        for _ in 0..rng.below(MAX_EXTRA_GROUPS + 1) {
            let g = first_team + rng.below(teams) as u64;
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        User {
            id,
            name: format!("{} {}", FIRST_NAMES[f], LAST_NAMES[l]),
            // The index makes every email unique (and distinct from the fixed accounts').
            email: format!("{}.{}.{i}@{domain}", firsts[f], lasts[l]),
            department: Some(dept_ids[rng.below(dept_ids.len())]),
            groups,
            comments: None,
            admin_user: false,
            user_type: None,
            temp_auth_email: None,
        }
    });
    t.users.extend(users.map(|u| (u.id, u)));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn large_has_the_advertised_sizes_and_unique_emails() {
        let t = tenant(42);
        assert_eq!(t.users.len(), USERS);
        assert_eq!(t.groups.len(), GROUPS);
        // The demo's 10 plus one per region and demo department.
        assert_eq!(t.departments.len(), 50);
        let emails: HashSet<String> = t.users.values().map(|u| u.email.to_lowercase()).collect();
        assert_eq!(emails.len(), USERS);
        assert_eq!(t.users[&70001].email, "breakglass@acme.example");
        assert!(t.users.values().all(
            |u| u.department.is_none_or(|d| t.departments.contains_key(&d))
                && u.groups.iter().all(|g| t.groups.contains_key(g))
        ));
    }

    #[test]
    fn large_is_deterministic_per_seed() {
        let (a, b) = (tenant(1), tenant(1));
        assert!(a == b);
        let c = tenant(2);
        assert!(a.users != c.users);
    }
}
