//! The `orphans` scenario: the demo tenant plus known orphan and drift cases, and the HR export
//! that makes them orphans. Used to demonstrate and test `audit_orphans` end to end.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{World, demo, dept_id, group_id};
use crate::sim::rng::SeedRng;
use crate::sim::scim::seed_zpa;
use crate::sim::store::{Tenant, User};

/// CSV header of the HR export (the column names `init`'s config template uses).
pub(crate) const HR_HEADER: &str = "work_email,status,end_date,aliases,external_id,manager";

/// A leaver whose ZIA account still carries a former address, which HR lists as an alias:
/// (ZIA account, HR primary email).
pub(crate) const ALIAS_LEAVER: (&str, &str) =
    ("renamed.person@acme.example", "person.renamed@acme.example");
/// An employee whose ZIA account uses an address HR lists as an alias: not an orphan.
pub(crate) const ALIAS_ACTIVE: (&str, &str) =
    ("maiden.name@acme.example", "married.name@acme.example");
/// A ZPA account under an address HR no longer knows, whose SCIM externalId HR does know, on
/// a leaver's row: (ZPA userName, HR primary email).
pub(crate) const EXTERNAL_ID_LEAVER: (&str, &str) =
    ("zpa.oldname@acme.example", "zpa.newname@acme.example");

/// Extra ZIA accounts: (email, name, department, groups).
const EXTRA_ZIA: [(&str, &str, &str, &[&str]); 7] = [
    // Domains the tenant never registered (an acquisition, a partner).
    (
        "ex.employee@acquired-corp.example",
        "Ex Employee",
        "Sales",
        &["All Staff"],
    ),
    (
        "consultant@partner-firm.example",
        "Pat Consultant",
        "Operations",
        &["Contractors"],
    ),
    // No groups at all.
    (
        "intern.summer@acme.example",
        "Summer Intern",
        "Engineering",
        &[],
    ),
    // In ZIA only: not in HR, not in ZPA.
    (
        "ghost.user@acme.example",
        "Ghost User",
        "Finance",
        &["All Staff"],
    ),
    // Terminated in HR but still present in ZIA and ZPA.
    (
        DEPARTED,
        "Departed Employee",
        "Marketing",
        &["All Staff", "Marketing"],
    ),
    // Matched to HR rows by alias: a leaver, and an active employee.
    (
        ALIAS_LEAVER.0,
        "Renamed Person",
        "Marketing",
        &["All Staff"],
    ),
    (
        ALIAS_ACTIVE.0,
        "Maiden Name",
        "Finance",
        &["All Staff", "Finance"],
    ),
];

/// The fixed leaver still present in both products.
pub(crate) const DEPARTED: &str = "departed.employee@acme.example";
/// The fixed ZIA account no HR row mentions.
pub(crate) const GHOST: &str = "ghost.user@acme.example";
/// A ZPA SCIM user absent from ZIA, terminated in HR.
pub(crate) const ZPA_ONLY_LEAVER: &str = "former.zpa@acme.example";
/// How many generated users the seed marks as terminated (still present in ZIA).
pub(crate) const SEEDED_LEAVERS: usize = 5;

/// ZIA accounts that are not people in HR (admin, service, duplicate accounts) besides
/// [`GHOST`]; left out of the export like a real HR system would.
const NOT_IN_HR: [&str; 3] = [
    "breakglass@acme.example",
    "svc-scanner@acme.example",
    "jdoe@acme.example",
];

/// HR rows for people with no ZIA account: (email, status, end date).
const HR_ONLY: [(&str, &str, &str); 3] = [
    (ZPA_ONLY_LEAVER, "terminated", "2025-03-31"),
    ("long.gone@acme.example", "terminated", "2024-12-31"),
    ("new.hire@acme.example", "active", ""),
];

/// The orphans world for `seed`.
pub(crate) fn world(seed: u64) -> World {
    let mut tenant = demo();
    add_zia_extras(&mut tenant);

    let mut zpa = seed_zpa();
    zpa.insert_seed_user(DEPARTED, "Departed Employee", "Marketing");
    zpa.insert_seed_user(ZPA_ONLY_LEAVER, "Former Zpauser", "Sales");
    zpa.insert_seed_user(EXTERNAL_ID_LEAVER.0, "Zed Oldname", "Sales");
    let external_id = zpa
        .users
        .values()
        .find(|u| u.user_name == EXTERNAL_ID_LEAVER.0)
        .and_then(|u| u.external_id.clone())
        .unwrap_or_default();

    let leavers = pick_leavers(&tenant, seed);
    let hr = hr_export(&tenant, &leavers, &external_id);
    World {
        tenant,
        zpa,
        zid: crate::sim::zidentity::seed(),
        hr_export: Some(hr),
        duplicates: vec![(70002, 70007)],
    }
}

fn add_zia_extras(t: &mut Tenant) {
    let mut next = t.users.keys().next_back().map_or(1, |id| id + 1);
    let users: Vec<User> = EXTRA_ZIA
        .iter()
        .map(|(email, name, dept, groups)| {
            let id = next;
            next += 1;
            User {
                id,
                name: name.to_string(),
                email: email.to_string(),
                department: dept_id(t, dept),
                groups: groups.iter().filter_map(|g| group_id(t, g)).collect(),
                comments: None,
                admin_user: false,
                user_type: None,
                temp_auth_email: None,
            }
        })
        .collect();
    t.users.extend(users.into_iter().map(|u| (u.id, u)));
}

/// Emails of the users terminated in HR but still in ZIA, with their end dates: the fixed
/// [`DEPARTED`] and [`SEEDED_LEAVERS`] generated users the seed picks.
fn pick_leavers(t: &Tenant, seed: u64) -> BTreeMap<String, String> {
    let mut leavers = BTreeMap::from([(DEPARTED.to_string(), "2025-09-30".to_string())]);
    let generated: Vec<&User> = t
        .users
        .values()
        .filter(|u| u.id >= super::FIRST_USER_ID + super::FIXED.len() as u64)
        .filter(|u| u.email.ends_with("@acme.example") || u.email.ends_with("@acme-labs.example"))
        .filter(|u| !EXTRA_ZIA.iter().any(|(e, ..)| *e == u.email))
        .collect();
    let mut rng = SeedRng::new(seed);
    while leavers.len() < 1 + SEEDED_LEAVERS.min(generated.len()) {
        let u = generated[rng.below(generated.len())];
        let date = format!("2025-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28));
        leavers.entry(u.email.to_lowercase()).or_insert(date);
    }
    leavers
}

/// The HR export: one row per employee with a ZIA account in a registered domain (minus the
/// accounts HR does not know), in id order, then the rows matched by alias and externalId,
/// then the HR-only rows. `external_id` is the ZPA externalId of [`EXTERNAL_ID_LEAVER`].
fn hr_export(t: &Tenant, leavers: &BTreeMap<String, String>, external_id: &str) -> String {
    let mut csv = format!("{HR_HEADER}\n");
    for u in t.users.values() {
        let email = u.email.to_lowercase();
        let registered = email
            .rsplit_once('@')
            .is_some_and(|(_, d)| t.domains.contains(d));
        if !registered
            || email == GHOST
            || NOT_IN_HR.contains(&email.as_str())
            || email == ALIAS_LEAVER.0
            || email == ALIAS_ACTIVE.0
        {
            continue;
        }
        let _ = match leavers.get(&email) {
            Some(date) => writeln!(csv, "{},terminated,{date},,,", u.email),
            None => writeln!(csv, "{},active,,,,", u.email),
        };
    }
    let _ = writeln!(
        csv,
        "{},terminated,2025-06-30,{},,Mia Manager",
        ALIAS_LEAVER.1, ALIAS_LEAVER.0
    );
    let _ = writeln!(
        csv,
        "{},active,,{};m.name@acme.example,,",
        ALIAS_ACTIVE.1, ALIAS_ACTIVE.0
    );
    let _ = writeln!(
        csv,
        "{},terminated,2025-08-15,,{external_id},",
        EXTERNAL_ID_LEAVER.1
    );
    for (email, status, date) in HR_ONLY {
        let _ = writeln!(csv, "{email},{status},{date},,,");
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(csv: &str) -> BTreeMap<String, (String, String)> {
        csv.lines()
            .skip(1)
            .filter_map(|l| {
                let mut c = l.split(',');
                Some((
                    c.next()?.to_string(),
                    (c.next()?.to_string(), c.next()?.to_string()),
                ))
            })
            .collect()
    }

    #[test]
    fn orphans_world_has_the_drift_cases() {
        let w = world(7);
        let t = &w.tenant;
        let by_email = |e: &str| t.find_by_email(e).cloned();
        assert!(by_email("ex.employee@acquired-corp.example").is_some());
        assert!(!t.domains.contains("acquired-corp.example"));
        assert_eq!(
            by_email("intern.summer@acme.example").map(|u| u.groups.len()),
            Some(0)
        );
        let csv = w.hr_export.expect("orphans has an HR export");
        assert!(csv.starts_with("work_email,status,end_date,aliases,external_id,manager\n"));
        let hr = rows(&csv);
        assert!(csv.lines().all(|l| l.split(',').count() == 6));
        assert!(by_email(GHOST).is_some() && !hr.contains_key(GHOST));
        assert_eq!(hr[DEPARTED], ("terminated".into(), "2025-09-30".into()));
        assert_eq!(hr["jane.doe@acme.example"].0, "active");
        let terminated_in_zia = hr
            .iter()
            .filter(|(e, (s, d))| s == "terminated" && !d.is_empty() && by_email(e).is_some())
            .count();
        assert_eq!(terminated_in_zia, 1 + SEEDED_LEAVERS);
        // Alias and externalId cases: the ZIA/ZPA accounts are not HR primaries.
        assert!(by_email(ALIAS_LEAVER.0).is_some() && !hr.contains_key(ALIAS_LEAVER.0));
        assert_eq!(hr[ALIAS_LEAVER.1].0, "terminated");
        assert!(csv.contains(&format!(",{},", ALIAS_LEAVER.0)));
        let ext = w
            .zpa
            .users
            .values()
            .find(|u| u.user_name == EXTERNAL_ID_LEAVER.0)
            .and_then(|u| u.external_id.clone())
            .expect("ZPA account with an externalId");
        assert!(csv.contains(&format!(
            "{},terminated,2025-08-15,,{ext},",
            EXTERNAL_ID_LEAVER.1
        )));
        // ZPA drift both ways.
        let zpa_has = |e: &str| w.zpa.users.values().any(|u| u.user_name == e);
        assert!(zpa_has(ZPA_ONLY_LEAVER) && by_email(ZPA_ONLY_LEAVER).is_none());
        assert!(zpa_has("zpa.only@acme.example"));
        assert!(zpa_has(DEPARTED) && !zpa_has(GHOST));
    }

    #[test]
    fn orphans_are_deterministic_per_seed() {
        assert_eq!(world(3).hr_export, world(3).hr_export);
        let differ = (4..8).any(|s| world(s).hr_export != world(3).hr_export);
        assert!(differ);
    }
}
