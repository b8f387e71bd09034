//! The `duplicate_identity` rule: accounts that are one person's, told from namesakes.
//!
//! A shared display name alone proves nothing: in a real workforce thousands of people share one
//! with someone. Two accounts are reported as one person when they have the same **person name**
//! (case, spacing, punctuation, "Last, First" order and middle initials ignored) and at least:
//! - **the same mailbox**: the email local part without its `+tag`, a role or leftover suffix
//!   (`.adm`, `-admin`, `.old`, `.test`, `.legacy`) and separators, on any domain — mailboxes are
//!   unique in a company, so a namesake gets `jane.doe2`, never `jane.doe` again; or
//! - **the same department and a shared specific group** (one that at most 2 % of the accounts
//!   are in, so not "All Staff"): a rehire or mover leftover; or
//! - **the initial-and-surname alias** of the name (`jdoe` beside `jane.doe`) with the same
//!   department or a shared specific group.
//!
//! Memory stays bounded: per account a few hashes, a department index and its group indices
//! (about 40 bytes), beside the id and email the audit keeps anyway.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::model::User;

/// Role or leftover suffixes of a second mailbox of the same person.
const ROLE_SUFFIXES: [&str; 6] = ["adm", "admin", "old", "test", "legacy", "bak"];
/// A name shared by more accounts than this is compared by mailbox only (pairwise comparison
/// of every namesake would be quadratic).
const PAIRWISE_MAX: usize = 3_000;
/// "No department".
const NONE: u32 = u32::MAX;

fn hash(s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The person name as (given, family): lower-case, punctuation and middle initials dropped,
/// "Last, First" reordered. `None` for an empty name.
pub fn person_name(name: &str) -> Option<(String, String)> {
    let clean = |part: &str| -> Vec<String> {
        part.split_whitespace()
            .map(|t| {
                t.chars()
                    .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '\'')
                    .collect::<String>()
                    .to_lowercase()
            })
            .filter(|t| t.chars().count() > 1)
            .collect()
    };
    let tokens = match name.split_once(',') {
        Some((last, first)) => {
            let mut t = clean(first);
            t.extend(clean(last));
            t
        }
        None => clean(name),
    };
    let first = tokens.first()?.clone();
    let last = tokens
        .last()
        .filter(|_| tokens.len() > 1)
        .cloned()
        .unwrap_or_default();
    Some((first, last))
}

/// The mailbox stem: the local part without `+tag`, role suffix and separators.
pub fn mailbox_stem(email: &str) -> String {
    let local = email
        .rsplit_once('@')
        .map_or(email, |(l, _)| l)
        .to_lowercase();
    let mut local = local.split('+').next().unwrap_or_default().to_string();
    for suffix in ROLE_SUFFIXES {
        for sep in ['.', '-', '_'] {
            if let Some(stripped) = local.strip_suffix(&format!("{sep}{suffix}")) {
                local = stripped.to_string();
            }
        }
    }
    local
        .chars()
        .filter(|c| !matches!(c, '.' | '-' | '_'))
        .collect()
}

struct Account {
    /// Index of the account in the audit's own list (for ids and emails).
    index: u32,
    name: u64,
    stem: u64,
    dept: u32,
    groups: (u32, u32),
    /// The mailbox is the initial-and-surname alias of the name (`jdoe`).
    alias: bool,
}

/// Why two accounts are taken for one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    SameMailbox,
    DepartmentAndGroup,
    Alias,
}

impl Signal {
    pub fn words(self) -> &'static str {
        match self {
            Signal::SameMailbox => "same person name and the same mailbox",
            Signal::DepartmentAndGroup => {
                "same person name, department and a group few accounts are in"
            }
            Signal::Alias => "same person name, one mailbox the initial-and-surname alias of it",
        }
    }
}

/// The identity keys of every audited account.
#[derive(Default)]
pub struct IdentityKeys {
    accounts: Vec<Account>,
    groups: Vec<u32>,
    departments: HashMap<String, u32>,
}

impl IdentityKeys {
    /// Adds the `index`-th audited account; `group_index` maps a group id to its position in
    /// the tenant's group list.
    pub fn add(&mut self, index: u32, u: &User, group_index: &HashMap<&str, usize>) {
        let Some((first, last)) = person_name(&u.name) else {
            return;
        };
        let stem = mailbox_stem(&u.email);
        if stem.is_empty() {
            return;
        }
        let alias = !last.is_empty()
            && first
                .chars()
                .next()
                .is_some_and(|c| stem == format!("{c}{last}"));
        let dept = match &u.department {
            Some(d) => {
                let next = self.departments.len() as u32;
                *self.departments.entry(d.id.clone()).or_insert(next)
            }
            None => NONE,
        };
        let start = self.groups.len() as u32;
        self.groups.extend(
            u.groups
                .iter()
                .filter_map(|g| group_index.get(g.id.as_str()).map(|i| *i as u32)),
        );
        self.accounts.push(Account {
            index,
            name: hash(&format!("{first} {last}")),
            stem: hash(&stem),
            dept,
            groups: (start, self.groups.len() as u32),
            alias,
        });
    }

    fn groups_of(&self, a: &Account) -> &[u32] {
        &self.groups[a.groups.0 as usize..a.groups.1 as usize]
    }

    /// Every pair of accounts taken for one person, as (account index, account index, signal);
    /// `members[g]` is how many accounts are in group `g`, `users` how many were scanned.
    pub fn pairs(&self, members: &[usize], users: usize) -> Vec<(u32, u32, Signal)> {
        let specific_max = (users / 50).max(2);
        let specific = |g: &u32| {
            members
                .get(*g as usize)
                .is_some_and(|n| *n >= 2 && *n <= specific_max)
        };
        let mut order: Vec<usize> = (0..self.accounts.len()).collect();
        order.sort_unstable_by_key(|i| (self.accounts[*i].name, self.accounts[*i].stem));
        let mut out = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let name = self.accounts[order[i]].name;
            let mut j = i;
            while j < order.len() && self.accounts[order[j]].name == name {
                j += 1;
            }
            let bucket = &order[i..j];
            i = j;
            if bucket.len() < 2 {
                continue;
            }
            let before = out.len();
            let shares_group = |a: &Account, b: &Account| {
                self.groups_of(a)
                    .iter()
                    .any(|g| specific(g) && self.groups_of(b).contains(g))
            };
            for (x, &ai) in bucket.iter().enumerate() {
                let a = &self.accounts[ai];
                for &bi in &bucket[x + 1..] {
                    let b = &self.accounts[bi];
                    if bucket.len() > PAIRWISE_MAX && a.stem != b.stem {
                        // Sorted by stem within the name: no later one shares it either.
                        break;
                    }
                    let signal = if a.stem == b.stem {
                        Some(Signal::SameMailbox)
                    } else if bucket.len() > PAIRWISE_MAX {
                        None
                    } else {
                        let dept = a.dept != NONE && a.dept == b.dept;
                        let group = shares_group(a, b);
                        if dept && group {
                            Some(Signal::DepartmentAndGroup)
                        } else if a.alias != b.alias && group {
                            Some(Signal::Alias)
                        } else {
                            None
                        }
                    };
                    if let Some(s) = signal {
                        out.push((a.index, b.index, s));
                    }
                }
            }
            if bucket.len() > PAIRWISE_MAX {
                continue;
            }
            // An alias that shares no specific group is the person's only when exactly one
            // namesake sits in its department: with several, which one it belongs to is a guess.
            for &ai in bucket {
                let a = &self.accounts[ai];
                if !a.alias
                    || a.dept == NONE
                    || out[before..]
                        .iter()
                        .any(|(x, y, _)| *x == a.index || *y == a.index)
                {
                    continue;
                }
                let mut same_dept = bucket
                    .iter()
                    .map(|bi| &self.accounts[*bi])
                    .filter(|b| !b.alias && b.dept == a.dept);
                if let (Some(b), None) = (same_dept.next(), same_dept.next()) {
                    out.push((a.index, b.index, Signal::Alias));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DepartmentRef, GroupRef};

    fn user(id: &str, name: &str, email: &str, dept: &str, groups: &[&str]) -> User {
        User {
            id: id.into(),
            name: name.into(),
            email: email.into(),
            department: Some(DepartmentRef {
                id: dept.into(),
                name: dept.into(),
            }),
            groups: groups
                .iter()
                .map(|g| GroupRef {
                    id: g.to_string(),
                    name: g.to_string(),
                })
                .collect(),
            active: None,
            admin: false,
            comments: None,
            external_id: None,
            ..Default::default()
        }
    }

    #[test]
    fn names_and_mailboxes_normalise() {
        let jd = Some(("jane".to_string(), "doe".to_string()));
        assert_eq!(person_name("Jane Doe"), jd);
        assert_eq!(person_name("Doe, Jane"), jd);
        assert_eq!(person_name("  JANE  M.  Doe "), jd);
        assert_eq!(person_name(""), None);
        assert_eq!(mailbox_stem("Jane.Doe+old@acme.example"), "janedoe");
        assert_eq!(mailbox_stem("jane.doe.adm@acme.example"), "janedoe");
        assert_eq!(mailbox_stem("jane_doe-admin@x.example"), "janedoe");
        assert_eq!(mailbox_stem("jane.doe2@acme.example"), "janedoe2");
    }

    #[test]
    fn namesakes_are_not_duplicates_but_second_accounts_are() {
        let users = [
            user(
                "1",
                "Jane Doe",
                "jane.doe@acme.example",
                "Sales",
                &["all", "t1"],
            ),
            user("2", "Doe, Jane", "jane.doe@labs.example", "Sales", &["all"]),
            user("3", "Jane Doe", "jane.doe2@acme.example", "Sales", &["all"]),
            user(
                "4",
                "Jane Doe",
                "jane.doe3@acme.example",
                "IT",
                &["all", "t1"],
            ),
            user("5", "Jane Doe", "jdoe@acme.example", "Sales", &["all"]),
            user(
                "6",
                "Jane Doe",
                "jane.doe4@acme.example",
                "HR",
                &["all", "t2"],
            ),
            user(
                "7",
                "Jane Doe",
                "jane.doe5@acme.example",
                "HR",
                &["all", "t2"],
            ),
        ];
        let ids = ["all", "t1", "t2"];
        let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, g)| (*g, i)).collect();
        let mut keys = IdentityKeys::default();
        for (i, u) in users.iter().enumerate() {
            keys.add(i as u32, u, &index);
        }
        // "all" holds every account: not specific; t1 and t2 two each.
        let mut pairs: Vec<(u32, u32, Signal)> = keys
            .pairs(&[7, 2, 2], 7)
            .into_iter()
            .map(|(a, b, s)| (a.min(b), a.max(b), s))
            .collect();
        pairs.sort_by_key(|p| (p.0, p.1));
        // jdoe could be the alias of any of three Jane Does in Sales: not guessed.
        assert_eq!(
            pairs,
            [
                (0, 1, Signal::SameMailbox),
                (5, 6, Signal::DepartmentAndGroup)
            ]
        );
        let mut keys = IdentityKeys::default();
        keys.add(0, &users[0], &index);
        keys.add(1, &users[4], &index);
        keys.add(2, &users[3], &index);
        assert_eq!(keys.pairs(&[3, 2, 0], 3), [(1, 0, Signal::Alias)]);
    }
}
