//! The real ZIdentity adapter against the simulator's ZIdentity API over loopback: paging,
//! filters, errors, 429s, token renewal, every write and its read-back.

use std::time::Duration;

use serde_json::{Value, json};
use zscaler_lifecycle_mcp::model::{DepartmentRef, GroupRef, NewUser, PageRequest, UserFilter};
use zscaler_lifecycle_mcp::provider::oneapi::{OneApiCredential, OneApiCredentials};
use zscaler_lifecycle_mcp::provider::zidentity::{
    ZidentityConfig, ZidentityLimits, ZidentityProvider, api_root,
};
use zscaler_lifecycle_mcp::provider::{Provider, ProviderError};
use zscaler_lifecycle_mcp::secret::Secret;
use zscaler_lifecycle_mcp::sim::{
    ONEAPI_DEMO_CLIENT_ID, ONEAPI_DEMO_CLIENT_SECRET, Sim, SimOptions, ZidLimits,
};

/// Users the simulator seeds into its ZIdentity directory.
const SEEDED: usize = 260;

async fn sim_with(opts: SimOptions) -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Sim::start(opts).await.expect("sim")
}

async fn sim() -> Sim {
    sim_with(SimOptions::default()).await
}

fn config(sim: &Sim, credential: OneApiCredential) -> ZidentityConfig {
    ZidentityConfig {
        api_url: api_root(&sim.base_url()),
        credentials: OneApiCredentials {
            token_url: format!("{}/oauth2/v1/token", sim.base_url()),
            client_id: Secret::new(ONEAPI_DEMO_CLIENT_ID),
            credential,
        },
        timeout: Duration::from_secs(10),
        rate_limits: None,
        page_size: 100,
    }
}

fn secret() -> OneApiCredential {
    OneApiCredential::ClientSecret(Secret::new(ONEAPI_DEMO_CLIENT_SECRET))
}

fn provider(sim: &Sim) -> ZidentityProvider {
    ZidentityProvider::new(config(sim, secret())).expect("provider")
}

async fn sim_json(sim: &Sim, path: &str) -> Value {
    reqwest::get(format!("{}{path}", sim.base_url()))
        .await
        .expect("sim")
        .json()
        .await
        .expect("json")
}

async fn requests(sim: &Sim, route: &str) -> u64 {
    sim_json(sim, "/__sim/requests").await["by_route"][route]
        .as_u64()
        .unwrap_or(0)
}

/// The simulator's own view of one user (no adapter involved).
async fn sim_user(sim: &Sim, login: &str) -> Option<Value> {
    sim_json(sim, &format!("/__sim/zidentity/users?login={login}"))
        .await
        .as_array()
        .and_then(|a| a.first().cloned())
}

async fn fault(sim: &Sim, spec: Value) {
    reqwest::Client::new()
        .post(format!("{}/__sim/faults", sim.base_url()))
        .json(&spec)
        .send()
        .await
        .expect("fault queued");
}

fn group(groups: &[zscaler_lifecycle_mcp::model::Group], name: &str) -> GroupRef {
    let g = groups.iter().find(|g| g.name == name).expect(name);
    GroupRef {
        id: g.id.clone(),
        name: g.name.clone(),
    }
}

#[tokio::test]
async fn lists_every_page_with_memberships_and_keeps_the_listing_consistent() {
    let sim = sim().await;
    let p = provider(&sim);
    let caps = p.capabilities();
    assert!(caps.disable && caps.delete && caps.create && !caps.staged_changes);
    assert!(!caps.departments && !caps.disable_may_delete);
    assert_eq!((caps.bulk_delete_max, caps.lookup_scans_pages), (0, false));
    let mut all = Vec::new();
    let mut cursor = None;
    let mut slices = 0;
    loop {
        let page = p
            .list_users(
                &UserFilter::default(),
                &PageRequest {
                    cursor: cursor.clone(),
                    limit: 70,
                },
            )
            .await
            .expect("page");
        slices += 1;
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(slices, 4, "260 users in slices of 70");
    assert_eq!(all.len(), SEEDED);
    let ids: std::collections::HashSet<&str> = all.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids.len(), SEEDED, "no user twice across pages");
    // One page read per slice, from the slice's own offset, and the memberships read once for
    // the whole listing.
    assert_eq!(requests(&sim, "GET /admin/api/v1/users").await, 4);
    assert_eq!(requests(&sim, "GET /admin/api/v1/groups").await, 1);
    let jane = all
        .iter()
        .find(|u| u.email == "jane.doe@acme.example")
        .expect("jane");
    let names: Vec<&str> = jane.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&"All Staff") && names.contains(&"Sales"),
        "{names:?}"
    );
    assert_eq!(jane.active, Some(true));
    assert_eq!(
        jane.department.as_ref().map(|d| d.name.as_str()),
        Some("Sales")
    );
    let former = all
        .iter()
        .find(|u| u.email == "former.staff@acme.example")
        .expect("disabled user listed");
    assert_eq!(former.active, Some(false));
    let bg = all
        .iter()
        .find(|u| u.email == "breakglass@acme.example")
        .expect("bg");
    assert!(bg.admin, "member of a group with admin entitlements");
}

#[tokio::test]
async fn a_short_listing_reads_its_rows_groups_instead_of_every_group() {
    let sim = sim().await;
    let p = provider(&sim);
    let page = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: None,
                limit: 5,
            },
        )
        .await
        .expect("page");
    assert_eq!(page.items.len(), 5);
    // Fewer rows than groups (16): five per-user reads, no group's member list.
    assert_eq!(
        requests(&sim, "GET /admin/api/v1/users/{id}/groups").await,
        5
    );
    assert_eq!(
        requests(&sim, "GET /admin/api/v1/groups/{id}/users").await,
        0
    );
    assert!(page.items.iter().any(|u| !u.groups.is_empty()));
    let bg = p
        .list_users(
            &UserFilter {
                email_prefix: Some("breakglass@".into()),
                ..UserFilter::default()
            },
            &PageRequest {
                cursor: None,
                limit: 1,
            },
        )
        .await
        .expect("breakglass")
        .items
        .remove(0);
    assert_eq!(bg.groups.len(), 1);
    assert_eq!(bg.groups[0].name, "Admins");
    assert!(bg.admin);
    let next = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: page.next_cursor.clone(),
                limit: 5,
            },
        )
        .await
        .expect("next");
    assert_eq!(next.items.len(), 5);
    assert!(
        next.items
            .iter()
            .all(|u| !page.items.iter().any(|x| x.id == u.id)),
        "the next slice starts after the first"
    );
    // The same rows whichever way their groups were read.
    let long = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: None,
                limit: 10,
            },
        )
        .await
        .expect("long");
    let mut short: Vec<_> = page.items.into_iter().chain(next.items).collect();
    let mut long = long.items;
    for v in [&mut short, &mut long] {
        for u in v.iter_mut() {
            u.groups.sort_by(|a, b| a.id.cmp(&b.id));
        }
    }
    assert_eq!(short, long);
}

#[tokio::test]
async fn each_filter_narrows_on_the_server_and_matches_exactly_here() {
    let sim = sim().await;
    let p = provider(&sim);
    let list = |f: UserFilter| {
        let p = &p;
        async move {
            p.list_users(
                &f,
                &PageRequest {
                    cursor: None,
                    limit: 500,
                },
            )
            .await
            .expect("list")
            .items
        }
    };
    let before = requests(&sim, "GET /admin/api/v1/users").await;
    let svc = list(UserFilter {
        email_prefix: Some("SVC-".into()),
        ..UserFilter::default()
    })
    .await;
    assert_eq!(svc.len(), 1);
    assert_eq!(svc[0].email, "svc-scanner@acme.example");
    assert_eq!(
        requests(&sim, "GET /admin/api/v1/users").await - before,
        1,
        "loginName[like] pushed to the server: one page, not three"
    );
    let janes = list(UserFilter {
        name_prefix: Some("jane".into()),
        ..UserFilter::default()
    })
    .await;
    assert_eq!(janes.len(), 1);
    assert_eq!(janes[0].name, "Jane Doe");
    // `[like]` is a contains match on the server; the prefix is enforced here.
    let doe = list(UserFilter {
        name_prefix: Some("Doe".into()),
        ..UserFilter::default()
    })
    .await;
    assert!(doe.is_empty(), "{doe:?}");
    let admins = list(UserFilter {
        group: Some("admins".into()),
        ..UserFilter::default()
    })
    .await;
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0].email, "breakglass@acme.example");
    let ops = list(UserFilter {
        department: Some("Operations".into()),
        ..UserFilter::default()
    })
    .await;
    assert!(
        ops.iter()
            .any(|u| u.email == "temp.contractor@acme.example")
    );
    assert!(ops.iter().all(|u| {
        u.department
            .as_ref()
            .is_some_and(|d| d.name == "Operations")
    }));
}

#[tokio::test]
async fn finds_by_login_name_then_primary_email_with_groups_and_admin_flags() {
    let sim = sim().await;
    let p = provider(&sim);
    let jane = p
        .find_users_by_email(" Jane.Doe@ACME.example ")
        .await
        .expect("find");
    assert_eq!(jane.len(), 1);
    assert_eq!(jane[0].groups.len(), 2);
    assert!(!jane[0].admin);
    let iris = p
        .find_users_by_email("iris.admin@acme.example")
        .await
        .expect("find");
    assert!(iris[0].admin, "admin entitlements of her own");
    assert!(
        p.find_users_by_email("nobody@acme.example")
            .await
            .expect("find")
            .is_empty()
    );
    // A person whose primary email differs from the login name is found by either.
    let created = p
        .create_user(&NewUser {
            name: "Alias Person".into(),
            email: "a.person@acme.example".into(),
            department: None,
            groups: vec![],
            comments: None,
            password: None,
        })
        .await
        .expect("create");
    let token = token(&sim).await;
    let http = reqwest::Client::new();
    let url = format!("{}/users/{}", sim.zidentity_url(), created.id);
    let mut rec: Value = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    rec["primaryEmail"] = json!("alias.person@acme.example");
    let put = http
        .put(&url)
        .bearer_auth(&token)
        .json(&rec)
        .send()
        .await
        .expect("put");
    assert!(put.status().is_success());
    let by_mail = p
        .find_users_by_email("alias.person@acme.example")
        .await
        .expect("find");
    assert_eq!(by_mail.len(), 1);
    assert_eq!(by_mail[0].id, created.id);
    assert_eq!(
        by_mail[0].email, "a.person@acme.example",
        "email is the login name"
    );
}

async fn token(sim: &Sim) -> String {
    let v: Value = reqwest::Client::new()
        .post(format!("{}/oauth2/v1/token", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={ONEAPI_DEMO_CLIENT_ID}&client_secret={ONEAPI_DEMO_CLIENT_SECRET}&audience=https%3A%2F%2Fapi.zscaler.com"
        ))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    v["access_token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn create_disable_restore_and_delete_each_read_back() {
    let sim = sim().await;
    let p = provider(&sim);
    let groups = p.list_groups().await.expect("groups");
    assert_eq!(groups.len(), 16);
    assert!(
        groups
            .iter()
            .find(|g| g.name == "Engineering (dynamic)")
            .is_some_and(|g| g.system_defined),
        "dynamic groups cannot be edited member by member"
    );
    let new = NewUser {
        name: "New Hire".into(),
        email: "new.hire@acme.example".into(),
        department: Some(DepartmentRef {
            id: "Sales".into(),
            name: "Sales".into(),
        }),
        groups: vec![group(&groups, "All Staff"), group(&groups, "Sales")],
        comments: None,
        password: None,
    };
    let u = p.create_user(&new).await.expect("create");
    assert_eq!(u.email, "new.hire@acme.example");
    assert_eq!(u.name, "New Hire");
    assert_eq!(u.active, Some(true));
    assert_eq!(u.department.as_ref().map(|d| d.id.as_str()), Some("Sales"));
    let mut got: Vec<&str> = u.groups.iter().map(|g| g.name.as_str()).collect();
    got.sort_unstable();
    assert_eq!(got, vec!["All Staff", "Sales"]);
    let stored = sim_user(&sim, "new.hire@acme.example")
        .await
        .expect("stored");
    assert_eq!(stored["source"], "API");
    assert_eq!(stored["primaryEmail"], "new.hire@acme.example");

    let dup = p.create_user(&new).await.expect_err("duplicate");
    assert!(matches!(dup, ProviderError::Duplicate { .. }), "{dup:?}");
    let foreign = p
        .create_user(&NewUser {
            email: "x@elsewhere.example".into(),
            groups: vec![],
            ..new.clone()
        })
        .await
        .expect_err("foreign domain");
    assert!(
        matches!(foreign, ProviderError::Invalid { .. }),
        "{foreign:?}"
    );
    let with_comments = p
        .create_user(&NewUser {
            email: "c@acme.example".into(),
            comments: Some("x".into()),
            ..new.clone()
        })
        .await
        .expect_err("no comments field");
    assert!(format!("{with_comments}").contains("comments"));
    assert!(
        sim_user(&sim, "c@acme.example").await.is_none(),
        "nothing sent"
    );

    let off = p
        .set_active(&u.id, false)
        .await
        .expect("disable")
        .expect("kept");
    assert_eq!(off.active, Some(false));
    assert_eq!(off.groups.len(), 2, "memberships kept");
    let stored = sim_user(&sim, "new.hire@acme.example")
        .await
        .expect("stored");
    assert_eq!(stored["status"], false);
    assert_eq!(
        stored["department"]["name"], "Sales",
        "the whole record was sent back"
    );
    let on = p
        .set_active(&u.id, true)
        .await
        .expect("restore")
        .expect("kept");
    assert_eq!(on.active, Some(true));

    p.delete_user(&u.id).await.expect("delete");
    let gone = p.get_user(&u.id).await.expect_err("deleted");
    assert!(matches!(gone, ProviderError::NotFound { .. }), "{gone:?}");
    assert!(sim_user(&sim, "new.hire@acme.example").await.is_none());
}

#[tokio::test]
async fn membership_changes_add_and_remove_and_stop_with_what_was_done() {
    let sim = sim().await;
    let p = provider(&sim);
    let groups = p.list_groups().await.expect("groups");
    let jane = p
        .find_users_by_email("jane.doe@acme.example")
        .await
        .expect("find")
        .remove(0);
    let after = p
        .change_groups(
            &jane.id,
            &[group(&groups, "Contractors")],
            &[group(&groups, "Sales")],
        )
        .await
        .expect("change");
    let mut names: Vec<&str> = after.groups.iter().map(|g| g.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, vec!["All Staff", "Contractors"]);
    let stored = sim_user(&sim, "jane.doe@acme.example").await.expect("jane");
    let mut stored: Vec<&str> = stored["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, vec!["All Staff", "Contractors"]);
    let err = p
        .change_groups(
            &jane.id,
            &[
                group(&groups, "Legal"),
                group(&groups, "Engineering (dynamic)"),
            ],
            &[],
        )
        .await
        .expect_err("dynamic group");
    match err {
        ProviderError::Partial { message } => {
            assert!(message.contains("added to 'Legal'"), "{message}");
            assert!(message.contains("dynamic"), "{message}");
        }
        other => panic!("expected a partial result, got {other:?}"),
    }
    let first = p
        .change_groups(&jane.id, &[group(&groups, "Engineering (dynamic)")], &[])
        .await
        .expect_err("dynamic group");
    assert!(matches!(first, ProviderError::Invalid { .. }), "{first:?}");
    let missing = p
        .change_groups("i000000000000", &[group(&groups, "Legal")], &[])
        .await
        .expect_err("unknown user");
    assert!(
        matches!(missing, ProviderError::Invalid { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn errors_are_classified_with_the_tenants_words() {
    let sim = sim().await;
    let p = provider(&sim);
    let nf = p.get_user("i000000000000").await.expect_err("404");
    assert!(matches!(nf, ProviderError::NotFound { .. }), "{nf:?}");
    let cursor = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: Some("zia1.2.0".into()),
                limit: 10,
            },
        )
        .await
        .expect_err("foreign cursor");
    assert!(format!("{cursor}").contains("next_cursor"), "{cursor}");
    let wrong = ZidentityProvider::new(config(
        &sim,
        OneApiCredential::ClientSecret(Secret::new("wrong-secret")),
    ))
    .expect("provider");
    let auth = wrong.list_groups().await.expect_err("refused");
    assert!(matches!(auth, ProviderError::Auth { .. }), "{auth:?}");
    assert!(!format!("{auth:?}").contains("wrong-secret"));
    fault(
        &sim,
        json!({"route": "GET /admin/api/v1/groups", "status": 403, "code": "FORBIDDEN", "message": "the API client has no ZIdentity admin scope"}),
    )
    .await;
    match p.list_groups().await {
        Err(ProviderError::Api {
            status: 403,
            code,
            message,
        }) => {
            assert_eq!(code.as_deref(), Some("FORBIDDEN"));
            assert!(message.contains("scope"), "{message}");
        }
        other => panic!("expected a 403, got {other:?}"),
    }
}

#[tokio::test]
async fn answers_429_with_retry_after_are_waited_out_even_for_writes() {
    let sim = sim().await;
    let p = provider(&sim);
    fault(
        &sim,
        json!({"route": "GET /admin/api/v1/groups", "status": 429, "retry_after_header": "1", "count": 2}),
    )
    .await;
    assert_eq!(
        p.list_groups().await.expect("read after two 429s").len(),
        16
    );
    assert_eq!(requests(&sim, "GET /admin/api/v1/groups").await, 3);
    fault(
        &sim,
        json!({"route": "POST /admin/api/v1/users", "status": 429, "retry_after_header": "1", "count": 1}),
    )
    .await;
    let u = p
        .create_user(&NewUser {
            name: "Retry Hire".into(),
            email: "retry.hire@acme.example".into(),
            department: None,
            groups: vec![],
            comments: None,
            password: None,
        })
        .await
        .expect("a 429 was not processed: the POST is sent again");
    assert_eq!(u.email, "retry.hire@acme.example");
    assert_eq!(requests(&sim, "POST /admin/api/v1/users").await, 2);
    let stored = sim_json(&sim, "/__sim/zidentity/users?login=retry.hire@acme.example").await;
    assert_eq!(stored.as_array().map(Vec::len), Some(1), "created once");
}

#[tokio::test]
async fn the_tenants_rate_headers_and_the_pacing_keep_the_client_under_the_limit() {
    let sim = sim_with(SimOptions {
        zidentity_limits: Some(ZidLimits {
            per_second: 4,
            per_minute: 10_000,
        }),
        ..SimOptions::default()
    })
    .await;
    let refused = |v: Value| v["rate_limited"].as_u64();
    // No client-side pacing: `x-ratelimit-remaining: 0` makes the client wait for the
    // window's reset instead of sending into a 429.
    let p = provider(&sim);
    for _ in 0..10 {
        assert_eq!(p.list_groups().await.expect("read").len(), 16);
    }
    assert_eq!(
        refused(sim_json(&sim, "/__sim/zidentity/status").await),
        Some(0)
    );
    // The limit the tenant enforces is real: a burst that ignores it is refused.
    let token = token(&sim).await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            http.get(format!("{}/groups", sim.zidentity_url()))
                .bearer_auth(&token)
                .send()
                .await
                .expect("send")
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = refused(sim_json(&sim, "/__sim/zidentity/status").await);
    // Client-side pacing under the tenant's limit.
    let paced = ZidentityProvider::new(ZidentityConfig {
        rate_limits: Some(ZidentityLimits {
            per_second: 3,
            per_minute: 10_000,
        }),
        ..config(&sim, secret())
    })
    .expect("provider");
    for _ in 0..6 {
        paced.list_groups().await.expect("paced");
    }
    assert_eq!(
        refused(sim_json(&sim, "/__sim/zidentity/status").await),
        before,
        "no 429 while paced"
    );
    let probe = paced.probe().await.expect("probe");
    assert!(probe.contains("tenant reports"), "{probe}");
}

#[tokio::test]
async fn a_429_asking_for_longer_than_the_ceiling_fails_fast_with_the_wait() {
    let sim = sim().await;
    let p = provider(&sim);
    fault(
        &sim,
        json!({"route": "GET /admin/api/v1/groups", "status": 429, "retry_after_header": "3600"}),
    )
    .await;
    match p.list_groups().await {
        Err(ProviderError::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3600)))
        }
        other => panic!("expected a rate-limit error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_is_renewed_after_a_401_and_before_it_expires() {
    let sim = sim().await;
    let p = provider(&sim);
    p.list_groups().await.expect("first token");
    let issued = |v: Value| v["tokens_issued"].as_u64().unwrap_or(0);
    assert_eq!(issued(sim_json(&sim, "/__sim/zidentity/status").await), 1);
    p.list_groups().await.expect("same token");
    assert_eq!(issued(sim_json(&sim, "/__sim/zidentity/status").await), 1);
    reqwest::Client::new()
        .post(format!("{}/__sim/zidentity/expire-tokens", sim.base_url()))
        .send()
        .await
        .expect("expire");
    p.list_groups().await.expect("renewed after the 401");
    assert_eq!(issued(sim_json(&sim, "/__sim/zidentity/status").await), 2);
    assert_eq!(
        sim_json(&sim, "/__sim/requests").await["by_status"]["401"],
        1
    );

    // Tokens that live 1 s are renewed before every use (the client renews 60 s early).
    let short = sim_with(SimOptions {
        oneapi_token_lifetime: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await;
    let p = provider(&short);
    for _ in 0..3 {
        p.list_groups().await.expect("read");
    }
    let st = sim_json(&short, "/__sim/zidentity/status").await;
    assert_eq!(issued(st), 3);
    assert!(
        sim_json(&short, "/__sim/requests").await["by_status"]
            .get("401")
            .is_none(),
        "never sent an expired token"
    );
}

#[tokio::test]
async fn a_private_key_assertion_gets_the_token() {
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture")
    };
    let sim = sim_with(SimOptions {
        oneapi_public_key_pem: Some(fixture("test-only-oneapi-public-key.pem")),
        ..SimOptions::default()
    })
    .await;
    let p = ZidentityProvider::new(config(
        &sim,
        OneApiCredential::PrivateKey(Secret::new(fixture("test-only-oneapi-private-key.pem"))),
    ))
    .expect("provider");
    assert_eq!(p.list_groups().await.expect("signed assertion").len(), 16);
}

#[tokio::test]
async fn the_gateway_prefix_works_the_same() {
    let sim = sim().await;
    let p = ZidentityProvider::new(ZidentityConfig {
        api_url: api_root(&format!("{}/ziam", sim.base_url())),
        ..config(&sim, secret())
    })
    .expect("provider");
    let all = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: None,
                limit: 500,
            },
        )
        .await
        .expect("list");
    assert_eq!(all.items.len(), SEEDED);
    assert!(all.next_cursor.is_none());
    let log = sim_json(&sim, "/__sim/requests").await;
    assert_eq!(log["by_route"]["GET /admin/api/v1/users"], 3);
}

#[tokio::test]
async fn outcomes_stay_honest_under_faults_and_redirects_are_not_followed() {
    let sim = sim().await;
    let p = provider(&sim);
    let jane = p
        .find_users_by_email("jane.doe@acme.example")
        .await
        .expect("find")
        .remove(0);
    // A read that fails with 503 is read again.
    fault(
        &sim,
        json!({"route": "GET /admin/api/v1/groups", "status": 503, "count": 1}),
    )
    .await;
    assert_eq!(p.list_groups().await.expect("retried").len(), 16);
    // A write answered 500 may have happened: unknown, not failed, and not sent twice.
    fault(
        &sim,
        json!({"route": "PUT /admin/api/v1/users/{id}", "status": 500}),
    )
    .await;
    let e = p.set_active(&jane.id, false).await.expect_err("500");
    assert!(matches!(e, ProviderError::OutcomeUnknown { .. }), "{e:?}");
    assert_eq!(requests(&sim, "PUT /admin/api/v1/users/{id}").await, 1);
    // A write whose connection is dropped is unknown too.
    fault(
        &sim,
        json!({"route": "DELETE /admin/api/v1/users/{id}", "kind": "reset"}),
    )
    .await;
    let e = p.delete_user(&jane.id).await.expect_err("reset");
    assert!(matches!(e, ProviderError::OutcomeUnknown { .. }), "{e:?}");
    // A redirect could carry the bearer token elsewhere: it is an error, never followed.
    fault(
        &sim,
        json!({"route": "GET /admin/api/v1/groups", "status": 302, "headers": {"location": format!("{}/__sim/zidentity/status", sim.base_url())}}),
    )
    .await;
    match p.list_groups().await {
        Err(ProviderError::Api { status: 302, .. }) => {}
        other => panic!("expected the redirect as an error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_mover_writes_the_record_back_and_changes_memberships() {
    use zscaler_lifecycle_mcp::model::UserUpdate;
    let sim = sim().await;
    let p = provider(&sim);
    let jane = p
        .find_users_by_email("jane.doe@acme.example")
        .await
        .expect("find")
        .remove(0);
    let groups = p.list_groups().await.expect("groups");
    let update = UserUpdate {
        name: Some("Jane Moved".into()),
        department: Some(DepartmentRef {
            id: "Finance".into(),
            name: "Finance".into(),
        }),
        add_groups: vec![group(&groups, "Contractors")],
        remove_groups: vec![group(&groups, "Sales")],
        comments: None,
    };
    let after = p.update_user(&jane.id, &update).await.expect("update");
    assert!(update.shown_by(&after), "{after:?}");
    assert_eq!(after.active, Some(true));
    let stored = sim_user(&sim, "jane.doe@acme.example").await.expect("jane");
    assert_eq!(stored["displayName"], "Jane Moved", "{stored}");
    assert_eq!(stored["department"]["name"], "Finance", "{stored}");
    assert_eq!(stored["primaryEmail"], "jane.doe@acme.example", "{stored}");
    let mut names: Vec<&str> = stored["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(names, vec!["All Staff", "Contractors"]);
    assert_eq!(requests(&sim, "PUT /admin/api/v1/users/{id}").await, 1);
    let e = p
        .update_user(
            &jane.id,
            &UserUpdate {
                comments: Some("x".into()),
                ..UserUpdate::default()
            },
        )
        .await
        .expect_err("no comments on ZIdentity");
    assert!(matches!(e, ProviderError::Invalid { .. }), "{e:?}");
}
