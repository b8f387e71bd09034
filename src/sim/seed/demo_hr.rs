//! The demo's built-in HR export: the source of record `reconcile` and `audit_orphans` use with
//! no config. It lists the demo tenant's people as they are, except for a few known changes, so
//! a reconcile of the demo has a small, readable plan: one mover, two leavers, one joiner.

use super::Tenant;

/// Header of the demo HR export; `[sources.hr.mapping]` of the demo names these columns.
pub const HEADER: &str = "email,status,name,department,groups";
/// The person who changed department: Engineering → Finance.
pub const MOVER: (&str, &str) = ("john.smith@acme.example", "Finance");
/// People the export says left.
pub const LEAVERS: [&str; 2] = [
    "temp.contractor@acme.example",
    "old.vendor@vendor-mail.example",
];
/// A person HR lists who has no account yet: (email, name, department).
pub const JOINER: (&str, &str, &str) = ("new.hire@acme.example", "New Hire", "Marketing");
/// The group every person is in (the mapping's `default_group`), left out of `groups`.
pub const DEFAULT_GROUP: &str = "All Staff";

fn cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The export as CSV. Accounts in unregistered domains other than the leavers, and protected
/// ones (break-glass, service accounts), are not people HR knows.
pub(crate) fn csv() -> String {
    csv_of(&super::demo())
}

fn csv_of(t: &Tenant) -> String {
    let mut out = format!("{HEADER}\n");
    for u in t.users.values() {
        let email = u.email.to_lowercase();
        let leaver = LEAVERS.contains(&email.as_str());
        let registered = email
            .rsplit_once('@')
            .is_some_and(|(_, d)| t.domains.contains(d));
        if (!registered && !leaver) || u.admin_user || email.starts_with("svc-") {
            continue;
        }
        let dept = u
            .department
            .and_then(|d| t.departments.get(&d))
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let mut groups: Vec<String> = u
            .groups
            .iter()
            .filter_map(|g| t.groups.get(g))
            .map(|g| g.name.clone())
            .filter(|n| n != DEFAULT_GROUP)
            .collect();
        let (status, dept) = if leaver {
            ("terminated", dept)
        } else if email == MOVER.0 {
            groups = vec![MOVER.1.to_string()];
            ("active", MOVER.1.to_string())
        } else {
            ("active", dept)
        };
        out.push_str(&format!(
            "{},{status},{},{},{}\n",
            cell(&u.email),
            cell(&u.name),
            cell(&dept),
            cell(&groups.join(";"))
        ));
    }
    let (email, name, dept) = JOINER;
    out.push_str(&format!("{email},active,{name},{dept},{dept}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_people_with_the_known_changes_only() {
        let csv = csv();
        assert!(csv.starts_with(HEADER));
        assert!(csv.contains("jane.doe@acme.example,active,Jane Doe,Sales,Sales\n"));
        assert!(csv.contains("john.smith@acme.example,active,John Smith,Finance,Finance\n"));
        assert!(csv.contains("temp.contractor@acme.example,terminated,"));
        assert!(csv.contains("new.hire@acme.example,active,New Hire,Marketing,Marketing\n"));
        assert!(!csv.contains("breakglass@") && !csv.contains("svc-scanner@"));
        assert_eq!(csv, super::csv(), "deterministic");
    }
}
