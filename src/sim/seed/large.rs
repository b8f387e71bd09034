//! The `large` scenario: 100,000 users, 2,000 groups and 50 departments, for benchmarks,
//! paging tests and the audit's accuracy.
//!
//! People are named like a real workforce: given and family names drawn with a skew (a few very
//! common, many rare), so thousands of different people share a display name with someone.
//! Mailboxes follow one company-wide convention over both domains: `first.last`, then
//! `first.m.last` for someone with a middle initial, then `first.last2`, `first.last3`… — one
//! namespace, as with one identity provider. About 1 % of people also hold a second account
//! (the audit's true duplicates, listed by [`World::duplicates`](super::World)):
//! - the same mailbox on the other domain (an account from the acquired company);
//! - a role or leftover suffix on the same mailbox (`jane.doe.adm`, `jane.doe+legacy`);
//! - the initial-and-surname alias (`jdoe`) in the same department;
//! - a rehire or mover leftover under the next free mailbox (`jane.doe2`): in the same
//!   department with the same team memberships mostly, else indistinguishable from a namesake.
//!
//! The second account's display name is often written another way ("Doe, Jane", "Jane M. Doe",
//! "JANE DOE").
//!
//! Built in one pass with no per-user lookups beyond a hash set of taken mailboxes, so seeding
//! stays well under a second.

use std::collections::HashSet;

use super::names::{FIRST, LAST, Skewed};
use super::{DEPARTMENTS, DOMAINS, FIRST_DEPARTMENT_ID, FIRST_GROUP_ID, base, group_id};
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
/// One account in this many is a person's second account.
const DUPLICATE_EVERY: usize = 100;
/// Suffixes of a second account on the same mailbox.
const ROLE_SUFFIXES: [&str; 5] = [".adm", "-admin", ".old", "+legacy", ".test"];

/// A generated person's first account, as later duplicates need it.
struct Person {
    first: usize,
    last: usize,
    middle: Option<char>,
    mailbox: String,
    domain: usize,
    dept: u64,
    id: u64,
    groups: Vec<u64>,
}

/// The large tenant for `seed`, and the pairs of accounts that are one person.
pub(crate) fn tenant(seed: u64) -> (Tenant, Vec<(u64, u64)>) {
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

    // One mailbox namespace over both domains; the fixed accounts hold theirs.
    let mut taken: HashSet<String> = t
        .users
        .values()
        .filter_map(|u| u.email.split('@').next().map(str::to_lowercase))
        .collect();
    let firsts = Skewed::new(FIRST.len());
    let lasts = Skewed::new(LAST.len());
    let mut people: Vec<Person> = Vec::new();
    // The demo's fixed Jane Doe holds two accounts (jane.doe and the jdoe alias).
    let mut duplicates: Vec<(u64, u64)> = vec![(70002, 70007)];
    let generated = USERS.saturating_sub(t.users.len());
    let mut users = Vec::with_capacity(generated);
    for i in 0..generated {
        let id = first_generated + i as u64;
        let second = i % DUPLICATE_EVERY == DUPLICATE_EVERY / 2 && !people.is_empty();
        let user = if second {
            let of = rng.below(people.len());
            let ctx = Pools {
                dept_ids: &dept_ids,
                first_team,
                teams,
                all_staff,
            };
            let user = second_account(&people[of], id, &mut taken, &mut rng, &ctx);
            duplicates.push((people[of].id, id));
            user
        } else {
            let first = firsts.pick(&mut rng);
            let last = lasts.pick(&mut rng);
            let middle = (rng.below(4) == 0).then(|| (b'A' + rng.below(26) as u8) as char);
            let mailbox = free_mailbox(&mut taken, first, last, middle);
            // One in ten on the second domain, like the demo.
            let domain = usize::from(rng.below(10) == 0);
            let mut groups = Vec::with_capacity(1 + MAX_EXTRA_GROUPS);
            groups.extend(all_staff);
            for _ in 0..rng.below(MAX_EXTRA_GROUPS + 1) {
                let g = first_team + rng.below(teams) as u64;
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
            let person = Person {
                first,
                last,
                middle,
                mailbox,
                domain,
                dept: dept_ids[rng.below(dept_ids.len())],
                id,
                groups,
            };
            let user = User {
                id,
                name: display_name(&person, 0),
                email: format!("{}@{}", person.mailbox, DOMAINS[person.domain]),
                department: Some(person.dept),
                groups: person.groups.clone(),
                comments: None,
                admin_user: false,
                user_type: None,
                temp_auth_email: None,
            };
            people.push(person);
            user
        };
        users.push(user);
    }
    t.users.extend(users.into_iter().map(|u| (u.id, u)));
    (t, duplicates)
}

/// What a second account may be given besides its person's own values.
struct Pools<'a> {
    dept_ids: &'a [u64],
    first_team: u64,
    teams: usize,
    all_staff: Option<u64>,
}

impl Pools<'_> {
    fn random_groups(&self, rng: &mut SeedRng) -> Vec<u64> {
        let mut groups: Vec<u64> = self.all_staff.into_iter().collect();
        for _ in 0..rng.below(MAX_EXTRA_GROUPS + 1) {
            let g = self.first_team + rng.below(self.teams) as u64;
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        groups
    }
}

/// A second account of `p` (see the module comment for the kinds and their shares).
fn second_account(
    p: &Person,
    id: u64,
    taken: &mut HashSet<String>,
    rng: &mut SeedRng,
    pools: &Pools<'_>,
) -> User {
    let name = display_name(p, rng.below(4));
    let other_domain = 1 - p.domain;
    let cross = format!("{}@{}", p.mailbox, DOMAINS[other_domain]);
    let kind = rng.below(100);
    let suffixed = format!(
        "{}{}",
        p.mailbox,
        ROLE_SUFFIXES[rng.below(ROLE_SUFFIXES.len())]
    );
    let alias = format!(
        "{}{}",
        FIRST[p.first]
            .chars()
            .next()
            .unwrap_or('x')
            .to_ascii_lowercase(),
        LAST[p.last].to_lowercase()
    );
    // Alias and rehire accounts are provisioned like the first one: same team memberships.
    // A person in no team gets a cross-domain or suffixed second account instead.
    let has_team = p.groups.len() > 1;
    let kind = if has_team || kind < 65 {
        kind
    } else {
        kind % 65
    };
    let (email, dept, groups) = if kind < 40 && taken.insert(cross.clone()) {
        // The same mailbox on the other domain; now and then filed in another department.
        let dept = if rng.below(10) == 0 {
            pools.dept_ids[rng.below(pools.dept_ids.len())]
        } else {
            p.dept
        };
        (cross, dept, p.groups.clone())
    } else if kind < 65 && taken.insert(suffixed.clone()) {
        (
            format!("{suffixed}@{}", DOMAINS[p.domain]),
            p.dept,
            p.groups.clone(),
        )
    } else if kind < 80 && taken.insert(alias.clone()) {
        (
            format!("{alias}@{}", DOMAINS[p.domain]),
            p.dept,
            p.groups.clone(),
        )
    } else {
        // Rehired or moved, under the next free mailbox; some in another department with
        // other teams, which no rule can tell from a namesake.
        let mailbox = free_mailbox(taken, p.first, p.last, None);
        let email = format!("{mailbox}@{}", DOMAINS[p.domain]);
        if rng.below(100) < 15 {
            let dept = pools.dept_ids[rng.below(pools.dept_ids.len())];
            (email, dept, pools.random_groups(rng))
        } else {
            (email, p.dept, p.groups.clone())
        }
    };
    User {
        id,
        name,
        email,
        department: Some(dept),
        groups,
        comments: None,
        admin_user: false,
        user_type: None,
        temp_auth_email: None,
    }
}

/// The mailbox the company convention gives a new person.
fn free_mailbox(
    taken: &mut HashSet<String>,
    first: usize,
    last: usize,
    middle: Option<char>,
) -> String {
    let f = FIRST[first].to_lowercase();
    let l = LAST[last].to_lowercase();
    let mut candidates = vec![format!("{f}.{l}")];
    if let Some(m) = middle {
        candidates.push(format!("{f}.{}.{l}", m.to_ascii_lowercase()));
    }
    for c in candidates {
        if taken.insert(c.clone()) {
            return c;
        }
    }
    (2..)
        .map(|n| format!("{f}.{l}{n}"))
        .find(|c| taken.insert(c.clone()))
        .unwrap_or_default()
}

/// How a person's name is written: 0 as usual, else one of the variants a second account gets.
fn display_name(p: &Person, style: usize) -> String {
    let (f, l) = (FIRST[p.first], LAST[p.last]);
    match (style, p.middle) {
        (1, _) => format!("{l}, {f}"),
        (2, Some(_)) => format!("{f} {l}"),
        (2, None) => format!("{f} {}. {l}", (b'A' + (p.last % 26) as u8) as char),
        (3, _) => format!("{} {}", f.to_uppercase(), l.to_uppercase()),
        (_, Some(m)) => format!("{f} {m}. {l}"),
        (_, None) => format!("{f} {l}"),
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn large_has_the_advertised_sizes_and_unique_emails() {
        let (t, _) = tenant(42);
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
    fn names_repeat_like_a_real_workforce_and_duplicates_are_planted() {
        let (t, pairs) = tenant(1);
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        for u in t.users.values() {
            *by_name.entry(u.name.as_str()).or_default() += 1;
        }
        let shared: usize = by_name.values().filter(|n| **n > 1).sum();
        assert!(
            shared > 30_000,
            "many people share a display name: {shared}"
        );
        assert!(
            by_name.len() > 15_000,
            "and many names are rare: {}",
            by_name.len()
        );
        // About one account in a hundred is a second account of someone.
        assert!((900..1_100).contains(&pairs.len()), "{}", pairs.len());
        for (a, b) in &pairs {
            assert!(a != b && t.users.contains_key(a) && t.users.contains_key(b));
        }
        let kinds = |f: &dyn Fn(&str, &str) -> bool| {
            pairs
                .iter()
                .filter(|(a, b)| f(&t.users[a].email, &t.users[b].email))
                .count()
        };
        let local = |e: &str| e.split('@').next().unwrap_or_default().to_string();
        let cross = kinds(&|a, b| local(a) == local(b));
        let suffixed = kinds(&|a, b| {
            local(b).starts_with(&format!("{}.", local(a)))
                || local(b).starts_with(&format!("{}-", local(a)))
                || local(b).starts_with(&format!("{}+", local(a)))
        });
        assert!(cross > 250 && suffixed > 150, "{cross} {suffixed}");
    }

    /// The audit's duplicate_identity rule on this scenario, against the planted truth.
    #[test]
    fn duplicate_identity_finds_the_planted_second_accounts() {
        use crate::model::{DepartmentRef, GroupRef, User as Account};
        use crate::orphans::duplicates::IdentityKeys;
        let (t, pairs) = tenant(1);
        let group_ids: Vec<u64> = t.groups.keys().copied().collect();
        let id_strings: Vec<String> = group_ids.iter().map(u64::to_string).collect();
        let index: HashMap<&str, usize> = id_strings
            .iter()
            .enumerate()
            .map(|(i, g)| (g.as_str(), i))
            .collect();
        let mut members = vec![0usize; group_ids.len()];
        let mut keys = IdentityKeys::default();
        let users: Vec<&User> = t.users.values().collect();
        for (i, u) in users.iter().enumerate() {
            let account = Account {
                id: u.id.to_string(),
                name: u.name.clone(),
                email: u.email.clone(),
                department: u.department.map(|d| DepartmentRef {
                    id: d.to_string(),
                    name: String::new(),
                }),
                groups: u
                    .groups
                    .iter()
                    .map(|g| GroupRef {
                        id: g.to_string(),
                        name: String::new(),
                    })
                    .collect(),
                active: None,
                admin: false,
                comments: None,
                external_id: None,
                ..Default::default()
            };
            for g in &account.groups {
                members[index[g.id.as_str()]] += 1;
            }
            keys.add(i as u32, &account, &index);
        }
        let flagged: HashSet<u64> = keys
            .pairs(&members, users.len())
            .into_iter()
            .flat_map(|(a, b, _)| [users[a as usize].id, users[b as usize].id])
            .collect();
        let truth: HashSet<u64> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
        let hit = flagged.intersection(&truth).count() as f64;
        let precision = hit / flagged.len() as f64;
        let recall = hit / truth.len() as f64;
        eprintln!(
            "precision {precision:.4} recall {recall:.4} ({} flagged, {} true)",
            flagged.len(),
            truth.len()
        );
        assert!(
            precision >= 0.95 && recall >= 0.95,
            "precision {precision} recall {recall}"
        );
    }

    #[test]
    fn large_is_deterministic_per_seed() {
        let (a, pa) = tenant(1);
        let (b, pb) = tenant(1);
        assert!(a == b && pa == pb);
        let (c, _) = tenant(2);
        assert!(a.users != c.users);
    }
}
