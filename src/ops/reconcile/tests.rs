//! The diff's rules, without a tenant.

use std::path::Path;

use super::diff::{self, Kind, Scope, Source, Target, Tenant};
use crate::config::PolicyConfig;
use crate::guard::policy::Policy;
use crate::model::{Department, DepartmentRef, Group, GroupRef, User};
use crate::orphans::source::{SourceConfig, SourceIndex, SourceMapping};
use crate::provider::Capabilities;

fn index(dir: &Path, csv: &str) -> SourceIndex {
    let path = dir.join("hr.csv");
    std::fs::write(&path, csv).expect("write the export");
    let mut cfg: SourceConfig = toml::from_str(&format!(
        "path = {:?}\nemail = \"email\"\nstatus = \"status\"\n",
        path.display().to_string()
    ))
    .expect("source config");
    cfg.mapping = Some(mapping());
    cfg.load().expect("the export loads")
}

fn mapping() -> SourceMapping {
    SourceMapping {
        name: Some("name".into()),
        department: Some("department".into()),
        groups: Some("groups".into()),
        default_group: Some("All Staff".into()),
        deactivate_absent: false,
    }
}

fn group(id: &str, name: &str) -> Group {
    Group {
        id: id.into(),
        name: name.into(),
        comments: None,
        system_defined: false,
    }
}

fn gref(id: &str, name: &str) -> GroupRef {
    GroupRef {
        id: id.into(),
        name: name.into(),
    }
}

fn user(id: &str, email: &str, dept: (&str, &str), groups: &[GroupRef]) -> User {
    User {
        id: id.into(),
        name: email.into(),
        email: email.into(),
        department: Some(DepartmentRef {
            id: dept.0.into(),
            name: dept.1.into(),
        }),
        groups: groups.to_vec(),
        ..User::default()
    }
}

fn zia() -> Capabilities {
    Capabilities {
        staged_changes: true,
        disable: false,
        delete: true,
        create: true,
        departments: true,
        create_needs_group: true,
        disable_may_delete: false,
        page_size: 10_000,
        bulk_delete_max: 500,
        lookup_scans_pages: true,
        comments: true,
    }
}

fn policy(protected: &[&str]) -> Policy {
    Policy::new(&PolicyConfig {
        protected_accounts: protected.iter().map(|s| s.to_string()).collect(),
        ..PolicyConfig::default()
    })
    .expect("policy")
}

const HR: &str = "email,status,name,department,groups\n\
    stay@acme.example,active,Stay Put,Sales,Sales Team\n\
    mover@acme.example,active,Mo Ver,Engineering,Engineers\n\
    gone@acme.example,terminated,Gone Away,Sales,\n\
    new@acme.example,active,New Person,Engineering,Engineers\n";

fn tenant_parts() -> (Vec<User>, Vec<Group>, Vec<Department>) {
    let all = gref("g1", "All Staff");
    let sales = gref("g2", "Sales Team");
    let users = vec![
        user(
            "1",
            "stay@acme.example",
            ("d1", "Sales"),
            &[all.clone(), sales.clone()],
        ),
        user(
            "2",
            "mover@acme.example",
            ("d1", "Sales"),
            &[all.clone(), sales.clone()],
        ),
        user(
            "3",
            "gone@acme.example",
            ("d1", "Sales"),
            std::slice::from_ref(&all),
        ),
        user("4", "svc@acme.example", ("d1", "Sales"), &[]),
    ];
    let groups = vec![
        group("g1", "All Staff"),
        group("g2", "Sales Team"),
        group("g3", "Engineers"),
    ];
    let departments = vec![
        Department {
            id: "d1".into(),
            name: "Sales".into(),
            comments: None,
        },
        Department {
            id: "d2".into(),
            name: "Engineering".into(),
            comments: None,
        },
    ];
    (users, groups, departments)
}

fn compute(
    csv: &str,
    protected: &[&str],
    scope: Scope,
) -> Result<diff::Diff, crate::ops::ToolError> {
    let dir = tempfile::tempdir().expect("dir");
    let idx = index(dir.path(), csv);
    let m = mapping();
    let (users, groups, departments) = tenant_parts();
    let target = Target {
        name: "zia",
        caps: zia(),
        registered_domains: &[],
        quarantine_group: None,
    };
    let source = Source {
        name: "hr",
        index: &idx,
        mapping: &m,
    };
    let tenant = Tenant {
        users: &users,
        groups: &groups,
        departments: &departments,
    };
    diff::compute(&target, &policy(protected), &source, scope, &tenant)
}

#[test]
fn joiners_movers_and_leavers_are_found_and_the_rest_left_alone() {
    let d = compute(HR, &[], Scope::ALL).expect("a plan");
    let kinds: Vec<(Kind, &str)> = d
        .changes
        .iter()
        .map(|c| (c.kind, c.email.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Kind::Leaver, "gone@acme.example"),
            (Kind::Mover, "mover@acme.example"),
            (Kind::Joiner, "new@acme.example"),
        ]
    );
    assert_eq!(d.unchanged, 1, "stay@ is as the source says");
    let mover = &d.changes[1];
    assert_eq!(mover.department.as_ref().map(|d| d.id.as_str()), Some("d2"));
    assert_eq!(mover.add, vec![gref("g3", "Engineers")]);
    assert_eq!(mover.remove, vec![gref("g2", "Sales Team")]);
    let joiner = d.changes[2].new.as_ref().expect("an account to create");
    assert_eq!(joiner.name, "New Person");
    assert_eq!(
        joiner.department.as_ref().map(|d| d.id.as_str()),
        Some("d2")
    );
    let mut ids: Vec<&str> = joiner.groups.iter().map(|g| g.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["g1", "g3"]);
}

#[test]
fn scope_limits_the_kinds_planned() {
    let d = compute(
        HR,
        &[],
        Scope {
            joiners: false,
            movers: false,
            leavers: true,
        },
    )
    .expect("a plan");
    assert_eq!(d.changes.len(), 1);
    assert_eq!(d.count(Kind::Leaver), 1);
}

#[test]
fn an_unmapped_department_refuses_the_whole_plan_naming_it_and_its_row() {
    let csv = format!("{HR}late@acme.example,active,Late,Marketing,Engineers\n");
    let err = compute(&csv, &[], Scope::ALL)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("\"Marketing\""), "{err}");
    assert!(err.contains("line 6"), "{err}");
    assert!(err.contains("nothing was planned"), "{err}");
}

#[test]
fn a_protected_account_the_source_would_change_refuses_the_whole_plan() {
    let err = compute(HR, &["gone@acme.example"], Scope::ALL)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("gone@acme.example"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("protected"), "{err}");
}

#[test]
fn the_fingerprint_binds_the_changes() {
    let a = compute(HR, &[], Scope::ALL).expect("a plan");
    let csv = HR.replace("Mo Ver,Engineering", "Mo Ver,Sales");
    let b = compute(&csv, &[], Scope::ALL).expect("a plan");
    assert_ne!(
        diff::fingerprint(&a.changes, "delete"),
        diff::fingerprint(&b.changes, "delete")
    );
    assert_ne!(
        diff::fingerprint(&a.changes, "delete"),
        diff::fingerprint(&a.changes, "disable")
    );
}

#[test]
fn names_come_from_emails_when_the_source_maps_none() {
    assert_eq!(diff::name_from_email("jane.doe@x.example"), "Jane Doe");
}
