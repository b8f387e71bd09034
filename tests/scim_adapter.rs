//! The real SCIM adapter (both flavours) against the simulator's SCIM endpoints over loopback.

use std::time::Duration;

use serde_json::{Value, json};
use zscaler_lifecycle_mcp::model::{GroupRef, NewUser, PageRequest, UserFilter};
use zscaler_lifecycle_mcp::provider::scim::{PatchMode, ScimConfig, ScimFlavor, ScimProvider};
use zscaler_lifecycle_mcp::provider::{Provider, ProviderError};
use zscaler_lifecycle_mcp::secret::Secret;
use zscaler_lifecycle_mcp::sim::{
    ScimOptions, Sim, SimOptions, ZIA_SCIM_DEMO_TOKEN, ZPA_SCIM_DEMO_TOKEN,
};

async fn sim_with(scim: ScimOptions) -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Sim::start(SimOptions {
        scim,
        ..SimOptions::default()
    })
    .await
    .expect("sim")
}

fn provider(sim: &Sim, flavor: ScimFlavor, token: &str, rps: Option<u32>) -> ScimProvider {
    let base_url = match flavor {
        ScimFlavor::Zia => sim.zia_scim_url(),
        ScimFlavor::Zpa => sim.zpa_scim_url(),
    };
    ScimProvider::new(ScimConfig {
        flavor,
        base_url,
        token: Secret::new(token),
        timeout: Duration::from_secs(10),
        requests_per_second: rps,
        patch: PatchMode::Auto,
    })
    .expect("provider")
}

fn zpa(sim: &Sim) -> ScimProvider {
    provider(sim, ScimFlavor::Zpa, ZPA_SCIM_DEMO_TOKEN, Some(5))
}

async fn sim_json(sim: &Sim, path: &str) -> Value {
    reqwest::get(format!("{}{path}", sim.base_url()))
        .await
        .expect("sim")
        .json()
        .await
        .expect("json")
}

async fn group_members(sim: &Sim, base: &str, token: &str, group_id: &str) -> Vec<String> {
    let g: Value = reqwest::Client::new()
        .get(format!("{base}/Groups/{group_id}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("sim")
        .json()
        .await
        .expect("json");
    let _ = sim;
    g["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|x| x["value"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn zpa_lists_every_page_and_reads_the_string_active_quirk() {
    let sim = sim_with(ScimOptions::default()).await;
    let p = zpa(&sim);
    let all = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: None,
                limit: 10_000,
            },
        )
        .await
        .expect("list");
    assert!(
        all.items.len() > 100,
        "more than one SCIM page: {}",
        all.items.len()
    );
    assert!(all.next_cursor.is_none());
    let mut ids: Vec<&str> = all.items.iter().map(|u| u.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.items.len(), "no user twice across pages");
    // Our own paging over theirs: 60 at a time reaches the same total.
    let mut cursor = None;
    let mut seen = 0;
    loop {
        let page = p
            .list_users(
                &UserFilter::default(),
                &PageRequest {
                    cursor: cursor.clone(),
                    limit: 60,
                },
            )
            .await
            .expect("page");
        seen += page.items.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, all.items.len());
    let jane = p
        .find_users_by_email("Jane.Doe@ACME.example")
        .await
        .expect("find");
    assert_eq!(jane.len(), 1);
    assert_eq!(jane[0].active, Some(true), "\"true\" string read as a bool");
    let names: Vec<&str> = jane[0].groups.iter().map(|g| g.name.as_str()).collect();
    assert!(names.contains(&"Engineering"), "{names:?}");
    assert!(
        p.find_users_by_email("nobody@acme.example")
            .await
            .expect("find")
            .is_empty()
    );
    let err = p.get_user("999999999").await.expect_err("absent");
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn zpa_create_membership_and_disable() {
    let sim = sim_with(ScimOptions::default()).await;
    let p = zpa(&sim);
    let groups = p.list_groups().await.expect("groups");
    let contractors = groups
        .iter()
        .find(|g| g.name == "Contractors")
        .expect("Contractors group");
    let created = p
        .create_user(&NewUser {
            name: "New Hire".into(),
            email: "new.hire@acme.example".into(),
            department: None,
            groups: vec![GroupRef {
                id: contractors.id.clone(),
                name: contractors.name.clone(),
            }],
            comments: None,
            password: None,
        })
        .await
        .expect("create");
    assert_eq!(created.email, "new.hire@acme.example");
    assert!(
        created.groups.iter().any(|g| g.id == contractors.id),
        "{created:?}"
    );
    let dup = p
        .create_user(&NewUser {
            name: "Again".into(),
            email: "NEW.HIRE@acme.example".into(),
            department: None,
            groups: vec![],
            comments: None,
            password: None,
        })
        .await
        .expect_err("duplicate userName");
    assert!(matches!(dup, ProviderError::Duplicate { .. }), "{dup:?}");

    let jane = p
        .find_users_by_email("jane.doe@acme.example")
        .await
        .expect("find")
        .remove(0);
    let eng = jane
        .groups
        .iter()
        .find(|g| g.name == "Engineering")
        .cloned()
        .expect("member of Engineering");
    let after = p
        .change_groups(
            &jane.id,
            &[GroupRef {
                id: contractors.id.clone(),
                name: contractors.name.clone(),
            }],
            std::slice::from_ref(&eng),
        )
        .await
        .expect("membership");
    assert!(after.groups.iter().any(|g| g.id == contractors.id));
    assert!(!after.groups.iter().any(|g| g.id == eng.id));
    let members = group_members(&sim, &sim.zpa_scim_url(), ZPA_SCIM_DEMO_TOKEN, &eng.id).await;
    assert!(!members.contains(&jane.id), "removed on the server too");

    let disabled = p
        .set_active(&jane.id, false)
        .await
        .expect("disable")
        .expect("ZPA keeps the user");
    assert_eq!(disabled.active, Some(false));
    let raw = sim_json(&sim, "/__sim/scim/zpa/users").await;
    let text = raw.to_string();
    assert!(text.contains("jane.doe@acme.example"), "still there");

    p.delete_user(&created.id).await.expect("delete");
    let gone = p.get_user(&created.id).await.expect_err("deleted");
    assert!(matches!(gone, ProviderError::NotFound { .. }), "{gone:?}");
    let again = p.delete_user(&created.id).await.expect_err("already gone");
    assert!(matches!(again, ProviderError::NotFound { .. }), "{again:?}");
}

#[tokio::test]
async fn zia_scim_shares_the_tenant_and_inactive_deletes() {
    let sim = sim_with(ScimOptions::default()).await;
    let p = provider(&sim, ScimFlavor::Zia, ZIA_SCIM_DEMO_TOKEN, Some(5));
    assert!(p.capabilities().disable_may_delete);
    let found = p
        .find_users_by_email("temp.contractor@acme.example")
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
    let id = found[0].id.clone();
    assert_eq!(id, "70005", "ZIA SCIM ids are the tenant's user ids");
    let gone = p.set_active(&id, false).await.expect("set inactive");
    assert!(gone.is_none(), "ZIA SCIM deleted the account: {gone:?}");
    let native = reqwest::get(format!("{}/__sim/users/{id}", sim.base_url()))
        .await
        .expect("sim");
    assert_eq!(native.status(), 404, "gone from the native API as well");
}

#[tokio::test]
async fn without_patch_memberships_fall_back_to_put() {
    let sim = sim_with(ScimOptions {
        zpa_patch_supported: false,
        ..ScimOptions::default()
    })
    .await;
    let p = zpa(&sim);
    let jane = p
        .find_users_by_email("jane.doe@acme.example")
        .await
        .expect("find")
        .remove(0);
    let groups = p.list_groups().await.expect("groups");
    let q = groups
        .iter()
        .find(|g| g.name == "Quarantine")
        .expect("Quarantine");
    let after = p
        .change_groups(
            &jane.id,
            &[GroupRef {
                id: q.id.clone(),
                name: q.name.clone(),
            }],
            &[],
        )
        .await
        .expect("PUT fallback");
    assert!(after.groups.iter().any(|g| g.id == q.id), "{after:?}");
    let members = group_members(&sim, &sim.zpa_scim_url(), ZPA_SCIM_DEMO_TOKEN, &q.id).await;
    assert!(members.contains(&jane.id));
    let disabled = p
        .set_active(&jane.id, false)
        .await
        .expect("PUT disable")
        .expect("kept");
    assert_eq!(disabled.active, Some(false));
    let counts = sim_json(&sim, "/__sim/requests").await;
    let patches = counts["by_route"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.starts_with("PATCH"))
                .map(|(_, v)| v.as_u64().unwrap_or(0))
                .sum::<u64>()
        })
        .unwrap_or(0);
    assert_eq!(
        patches, 0,
        "discovery said no PATCH, so none was sent: {counts}"
    );
}

#[tokio::test]
async fn bad_token_rate_limits_and_garbage_are_clear_errors() {
    let sim = sim_with(ScimOptions::default()).await;
    let wrong = provider(&sim, ScimFlavor::Zpa, "not-the-token", Some(5));
    let err = wrong.list_groups().await.expect_err("refused");
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");

    // Unpaced against the 5 req/s limit: every call still succeeds by honouring Retry-After.
    let unpaced = provider(&sim, ScimFlavor::Zpa, ZPA_SCIM_DEMO_TOKEN, None);
    for _ in 0..12 {
        unpaced.get_user("200001").await.expect("retried after 429");
    }
    let counts = sim_json(&sim, "/__sim/requests").await;
    assert!(
        counts["by_status"]["429"].as_u64().unwrap_or(0) > 0,
        "the burst did meet the limit: {counts}"
    );

    let http = reqwest::Client::new();
    let fault = json!({"route": "GET /scim/1/144118148382065427/v2/Users/{id}", "status": 200,
        "body_text": "This API is available only through Zscaler OneAPI", "count": 1});
    http.post(format!("{}/__sim/faults", sim.base_url()))
        .json(&fault)
        .send()
        .await
        .expect("fault set");
    let err = unpaced.get_user("200001").await.expect_err("not JSON");
    match err {
        ProviderError::Decode { message } => assert!(message.contains("OneAPI"), "{message}"),
        other => panic!("{other:?}"),
    }
    let fault = json!({"route": "GET /scim/1/144118148382065427/v2/Users/{id}", "status": 200,
        "body_text": "{\"id\": {\"nested\": true}, \"active\": [1]}", "count": 1});
    http.post(format!("{}/__sim/faults", sim.base_url()))
        .json(&fault)
        .send()
        .await
        .expect("fault set");
    let err = unpaced.get_user("200001").await.expect_err("malformed");
    assert!(matches!(err, ProviderError::Decode { .. }), "{err:?}");
}

/// Requests by route since `before`.
fn grew(before: &Value, after: &Value, route: &str) -> u64 {
    after["by_route"][route].as_u64().unwrap_or(0) - before["by_route"][route].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_name_prefix_is_filtered_by_the_server_when_it_says_it_filters() {
    let sim = sim_with(ScimOptions::default()).await;
    let p = zpa(&sim);
    let users = format!(
        "GET {}/Users",
        zscaler_lifecycle_mcp::sim::ZPA_SCIM_BASE_PATH
    );
    let spc = format!(
        "GET {}/ServiceProviderConfig",
        zscaler_lifecycle_mcp::sim::ZPA_SCIM_BASE_PATH
    );
    let before = sim_json(&sim, "/__sim/requests").await;
    let filter = UserFilter {
        name_prefix: Some("jane".into()),
        ..UserFilter::default()
    };
    let page = p
        .list_users(
            &filter,
            &PageRequest {
                cursor: None,
                limit: 50,
            },
        )
        .await
        .expect("list");
    assert!(!page.items.is_empty());
    assert!(
        page.items
            .iter()
            .all(|u| u.name.to_lowercase().starts_with("jane")),
        "{:?}",
        page.items
    );
    let after = sim_json(&sim, "/__sim/requests").await;
    // One page of matches instead of every page of users, after asking once what it supports.
    assert_eq!(grew(&before, &after, &users), 1, "{after}");
    assert_eq!(grew(&before, &after, &spc), 1, "{after}");
    // A prefix nobody has: still one request.
    let none = p
        .list_users(
            &UserFilter {
                name_prefix: Some("Zzzyx".into()),
                ..UserFilter::default()
            },
            &PageRequest {
                cursor: None,
                limit: 50,
            },
        )
        .await
        .expect("list");
    assert!(none.items.is_empty() && none.next_cursor.is_none());
    let again = sim_json(&sim, "/__sim/requests").await;
    assert_eq!(grew(&after, &again, &users), 1, "{again}");
    assert_eq!(grew(&after, &again, &spc), 0, "asked once: {again}");
}

#[tokio::test]
async fn a_server_ignoring_start_index_is_refused_not_read_for_ever() {
    let sim = sim_with(ScimOptions::default()).await;
    let route = format!(
        "GET {}/Users",
        zscaler_lifecycle_mcp::sim::ZPA_SCIM_BASE_PATH
    );
    let r = reqwest::Client::new()
        .post(format!("{}/__sim/faults", sim.base_url()))
        .json(&json!({"route": route, "kind": "ignore_paging", "count": 100}))
        .send()
        .await
        .expect("sim");
    assert!(r.status().is_success());
    let p = zpa(&sim);
    let err = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: None,
                limit: 10_000,
            },
        )
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("ignores startIndex"), "{err}");
    let counts = sim_json(&sim, "/__sim/requests").await;
    assert_eq!(counts["by_route"][&route], 2, "{counts}");
}

/// A fault on `route` that applies the write and then loses or spoils its answer; a timeout
/// holds the answer past the client's 1 s timeout.
fn spoil(route: &str, kind: &str, status: Option<u16>) -> Value {
    let mut f = json!({"route": route, "kind": kind});
    if kind == "apply_then_timeout" {
        f["latency_ms"] = 3_000.into();
    }
    if let Some(s) = status {
        f["status"] = s.into();
    }
    f
}

async fn inject(sim: &Sim, fault: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/__sim/faults", sim.base_url()))
        .json(&fault)
        .send()
        .await
        .expect("sim");
    assert!(r.status().is_success());
}

fn assert_unknown<T: std::fmt::Debug>(what: &str, r: Result<T, ProviderError>) {
    match r {
        Err(ProviderError::OutcomeUnknown { message }) => {
            assert!(
                message.contains(" /"),
                "{what}: the message names the request: {message}"
            )
        }
        other => panic!("{what}: expected OutcomeUnknown, got {other:?}"),
    }
}

async fn zpa_user(sim: &Sim, email: &str) -> Option<Value> {
    sim_json(sim, "/__sim/scim/zpa/users")
        .await
        .as_array()
        .and_then(|a| a.iter().find(|u| u["userName"] == email).cloned())
}

/// Every fault that applies a write and then loses or spoils its answer.
const SPOILT: [&str; 7] = [
    "apply_then_reset",
    "apply_then_timeout",
    "apply_then_cut",
    "apply_then_html",
    "apply_then_empty",
    "apply_then_truncated",
    "apply_then_error_body",
];

#[tokio::test]
async fn scim_writes_whose_answer_is_lost_or_unreadable_are_unknown_yet_applied() {
    // No rate limit: a 429 hidden under a spoilt answer would be a write that did not apply.
    let sim = sim_with(ScimOptions {
        rate_limit_per_sec: None,
        ..ScimOptions::default()
    })
    .await;
    let p = ScimProvider::new(ScimConfig {
        flavor: ScimFlavor::Zpa,
        base_url: sim.zpa_scim_url(),
        token: Secret::new(ZPA_SCIM_DEMO_TOKEN),
        timeout: Duration::from_secs(1),
        requests_per_second: None,
        patch: PatchMode::Patch,
    })
    .expect("provider");
    let base = url::Url::parse(&sim.zpa_scim_url())
        .expect("url")
        .path()
        .trim_end_matches('/')
        .to_string();
    let groups = p.list_groups().await.expect("groups");

    // POST /Users: the account exists.
    for (i, kind) in SPOILT.iter().enumerate() {
        inject(&sim, spoil(&format!("POST {base}/Users"), kind, None)).await;
        let email = format!("lost.scim.{i}@acme.example");
        let r = p
            .create_user(&NewUser {
                name: format!("Lost Scim {i}"),
                email: email.clone(),
                department: None,
                groups: vec![],
                comments: None,
                password: None,
            })
            .await;
        assert_unknown(kind, r);
        assert!(
            zpa_user(&sim, &email).await.is_some(),
            "{kind}: the simulator applied the create"
        );
    }
    let counts = sim_json(&sim, "/__sim/requests").await;
    assert_eq!(
        counts["by_route"][format!("POST {base}/Users")],
        SPOILT.len(),
        "never resent: {counts}"
    );

    // PATCH /Groups/{id}: the member was added.
    let new_hire = zpa_user(&sim, "lost.scim.0@acme.example")
        .await
        .expect("created");
    let id = new_hire["id"].as_str().expect("id").to_string();
    for (kind, g) in SPOILT.iter().zip(&groups) {
        inject(
            &sim,
            spoil(&format!("PATCH {base}/Groups/{{id}}"), kind, None),
        )
        .await;
        let r = p
            .change_groups(
                &id,
                &[GroupRef {
                    id: g.id.clone(),
                    name: g.name.clone(),
                }],
                &[],
            )
            .await;
        assert_unknown(kind, r);
        // (Read through the simulator's introspection, which its rate limit does not count.)
        let now = zpa_user(&sim, "lost.scim.0@acme.example")
            .await
            .expect("created");
        assert!(
            now["groups"]
                .as_array()
                .is_some_and(|a| a.iter().any(|m| m["value"] == g.id.as_str())),
            "{kind}: the simulator applied the change: {now}"
        );
    }

    // PATCH /Users/{id} (disable): the account is inactive.
    for (i, kind) in SPOILT.iter().enumerate() {
        let email = format!("lost.scim.{i}@acme.example");
        let user = zpa_user(&sim, &email).await.expect("created");
        let uid = user["id"].as_str().expect("id").to_string();
        inject(
            &sim,
            spoil(&format!("PATCH {base}/Users/{{id}}"), kind, None),
        )
        .await;
        assert_unknown(kind, p.set_active(&uid, false).await);
        let now = zpa_user(&sim, &email).await.expect("kept");
        assert!(
            now["active"] == false || now["active"] == "false",
            "{kind}: the simulator applied the disable: {now}"
        );
    }

    // DELETE /Users/{id} answers 204: the body-spoiling faults get a 200.
    for (i, (kind, status)) in [
        ("apply_then_reset", None),
        ("apply_then_timeout", None),
        ("apply_then_cut", Some(200)),
        ("apply_then_html", Some(200)),
        ("apply_then_error_body", Some(200)),
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("lost.scim.{i}@acme.example");
        let user = zpa_user(&sim, &email).await.expect("created");
        let uid = user["id"].as_str().expect("id").to_string();
        inject(
            &sim,
            spoil(&format!("DELETE {base}/Users/{{id}}"), kind, status),
        )
        .await;
        assert_unknown(kind, p.delete_user(&uid).await);
        assert!(
            zpa_user(&sim, &email).await.is_none(),
            "{kind}: the simulator applied the delete"
        );
    }
}

#[tokio::test]
async fn a_mover_on_scim_patches_or_puts_the_user_and_changes_memberships_on_groups() {
    use zscaler_lifecycle_mcp::model::{DepartmentRef, UserUpdate};
    for patch in [true, false] {
        let sim = sim_with(ScimOptions {
            zpa_patch_supported: patch,
            ..ScimOptions::default()
        })
        .await;
        let p = zpa(&sim);
        let jane = p
            .find_users_by_email("jane.doe@acme.example")
            .await
            .expect("find")
            .remove(0);
        let groups = p.list_groups().await.expect("groups");
        let group = |name: &str| {
            let g = groups.iter().find(|g| g.name == name).expect(name);
            GroupRef {
                id: g.id.clone(),
                name: g.name.clone(),
            }
        };
        let update = UserUpdate {
            name: Some("Jane Moved".into()),
            department: Some(DepartmentRef {
                id: "Finance".into(),
                name: "Finance".into(),
            }),
            add_groups: vec![group("Contractors")],
            remove_groups: vec![group("Engineering")],
            comments: None,
        };
        let after = p.update_user(&jane.id, &update).await.expect("update");
        assert!(update.shown_by(&after), "patch={patch}: {after:?}");
        assert!(after.groups.iter().any(|g| g.name == "All Staff"));
        let stored = zpa_user(&sim, "jane.doe@acme.example").await.expect("kept");
        assert_eq!(stored["displayName"], "Jane Moved", "{stored}");
        assert_eq!(
            stored["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "Finance",
            "{stored}"
        );
        // ZPA answers `"active": "true"`; still active either way.
        assert!(
            [json!(true), json!("true")].contains(&stored["active"]),
            "{stored}"
        );
        let contractors = group("Contractors");
        let engineering = group("Engineering");
        let base = sim.zpa_scim_url();
        assert!(
            group_members(&sim, &base, ZPA_SCIM_DEMO_TOKEN, &contractors.id)
                .await
                .contains(&jane.id)
        );
        assert!(
            !group_members(&sim, &base, ZPA_SCIM_DEMO_TOKEN, &engineering.id)
                .await
                .contains(&jane.id)
        );
        let counts = sim_json(&sim, "/__sim/requests").await;
        let sent = |method: &str| {
            counts["by_route"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| k.starts_with(method) && k.contains("/Users/"))
                        .map(|(_, v)| v.as_u64().unwrap_or(0))
                        .sum::<u64>()
                })
                .unwrap_or(0)
        };
        if patch {
            assert_eq!((sent("PATCH"), sent("PUT")), (1, 0), "{counts}");
        } else {
            assert_eq!((sent("PATCH"), sent("PUT")), (0, 1), "{counts}");
        }
        // SCIM has no comments: refused before anything is sent.
        let e = p
            .update_user(
                &jane.id,
                &UserUpdate {
                    comments: Some("x".into()),
                    ..UserUpdate::default()
                },
            )
            .await
            .expect_err("no comments on SCIM");
        assert!(matches!(e, ProviderError::Invalid { .. }), "{e:?}");
    }
}
