//! The real ZIA adapter against the simulator over loopback: call counts and session handling.

use serde_json::Value;
use zscaler_lifecycle_mcp::model::{GroupRef, PageRequest, UserFilter};
use zscaler_lifecycle_mcp::provider::zia::{ZiaAuth, ZiaConfig, ZiaProvider};
use zscaler_lifecycle_mcp::provider::{Provider, ProviderError};
use zscaler_lifecycle_mcp::secret::Secret;
use zscaler_lifecycle_mcp::sim::{Sim, SimOptions};

async fn setup() -> (Sim, ZiaProvider, reqwest::Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Sim::start(SimOptions::default()).await.expect("sim");
    let p = session_provider(&sim);
    (sim, p, reqwest::Client::new())
}

async fn counters(sim: &Sim, http: &reqwest::Client) -> Value {
    http.get(format!("{}/__sim/requests", sim.base_url()))
        .send()
        .await
        .expect("sim")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn listing_every_user_costs_one_login_and_one_page() {
    let (sim, p, http) = setup().await;
    let page = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: None,
                limit: 10_000,
            },
        )
        .await
        .expect("list");
    assert_eq!(page.items.len(), 308);
    assert!(page.next_cursor.is_none());
    let c = counters(&sim, &http).await;
    assert_eq!(c["by_route"]["GET /api/v1/users"], 1, "{c}");
    assert_eq!(c["by_route"]["POST /api/v1/authenticatedSession"], 1, "{c}");
    assert_eq!(c["total"], 2, "no validation GET before calls: {c}");
    // Exact, case-insensitive email lookup through the list endpoint.
    let found = p
        .find_users_by_email("JANE.DOE@acme.example")
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "Jane Doe");
}

#[tokio::test]
async fn expired_session_relogs_in_transparently_and_reports_activated_staged_changes() {
    let (sim, p, http) = setup().await;
    let jane = p
        .find_users_by_email("jane.doe@acme.example")
        .await
        .expect("find")
        .remove(0);
    let finance = p
        .list_groups()
        .await
        .expect("groups")
        .into_iter()
        .find(|g| g.name == "Finance")
        .expect("finance");
    let after = p
        .change_groups(
            &jane.id,
            &[GroupRef {
                id: finance.id.clone(),
                name: finance.name.clone(),
            }],
            &[],
        )
        .await
        .expect("change");
    assert_eq!(after.groups.len(), 3, "other groups kept");
    assert!(p.take_notices().is_empty());

    // The tenant ends the session (idle timeout): that activates the staged change.
    http.post(format!("{}/__sim/expire-sessions", sim.base_url()))
        .send()
        .await
        .expect("expire");
    let status = p
        .activation_status()
        .await
        .expect("re-login is transparent");
    assert_eq!(
        status,
        zscaler_lifecycle_mcp::model::ActivationState::Active
    );
    let notices = p.take_notices();
    assert_eq!(
        notices.len(),
        1,
        "the re-login must be surfaced: {notices:?}"
    );
    assert!(notices[0].contains("activates pending changes"));
    let c = counters(&sim, &http).await;
    assert_eq!(c["by_route"]["POST /api/v1/authenticatedSession"], 2, "{c}");
}

#[tokio::test]
async fn errors_are_classified() {
    let (_sim, p, _http) = setup().await;
    assert!(matches!(
        p.get_user("99999999").await,
        Err(ProviderError::NotFound { .. })
    ));
    assert!(matches!(
        p.get_user("abc").await,
        Err(ProviderError::Invalid { .. })
    ));
    let bad = ZiaProvider::new(ZiaConfig {
        base_url: _sim.base_url(),
        auth: ZiaAuth::Session {
            username: "admin@acme.example".into(),
            password: Secret::new("wrong"),
            api_key: Secret::new("DemoKey12345"),
        },
        timeout: std::time::Duration::from_secs(10),
        rate_limits: Some(zscaler_lifecycle_mcp::provider::zia::RateBudget::documented()),
        session_timeout: zscaler_lifecycle_mcp::provider::zia::DEFAULT_SESSION_TIMEOUT,
    })
    .expect("provider");
    match bad.list_groups().await {
        Err(ProviderError::Auth { message }) => {
            assert!(!message.contains("wrong"), "no secret in errors: {message}")
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    let closed = ZiaProvider::new(ZiaConfig {
        base_url: "http://127.0.0.1:9".into(),
        auth: ZiaAuth::Session {
            username: "u".into(),
            password: Secret::new("p"),
            api_key: Secret::new("DemoKey12345"),
        },
        timeout: std::time::Duration::from_secs(2),
        rate_limits: Some(zscaler_lifecycle_mcp::provider::zia::RateBudget::documented()),
        session_timeout: zscaler_lifecycle_mcp::provider::zia::DEFAULT_SESSION_TIMEOUT,
    })
    .expect("provider");
    assert!(matches!(
        closed.list_groups().await,
        Err(ProviderError::Transport { .. })
    ));
}

async fn inject(sim: &Sim, http: &reqwest::Client, faults: Value) {
    let r = http
        .post(format!("{}/__sim/faults", sim.base_url()))
        .json(&faults)
        .send()
        .await
        .expect("sim");
    assert!(r.status().is_success());
}

#[tokio::test]
async fn rate_limits_and_edit_locks_are_waited_out() {
    let (sim, p, http) = setup().await;
    inject(
        &sim,
        &http,
        serde_json::json!([
            {"route": "GET /api/v1/groups", "status": 429, "code": "TOO_MANY_REQUESTS", "retry_after_header": "0 seconds"},
            {"route": "GET /api/v1/groups", "status": 429, "code": "TOO_MANY_REQUESTS", "retry_after_body": "0 seconds"},
            {"route": "GET /api/v1/departments", "status": 503},
            {"route": "PUT /api/v1/users/{id}", "status": 409, "code": "EDIT_LOCK_NOT_AVAILABLE", "count": 2}
        ]),
    )
    .await;
    let groups = p.list_groups().await.expect("429s waited out");
    assert_eq!(groups.len(), 15);
    assert_eq!(
        p.list_departments()
            .await
            .expect("503 on a read retried")
            .len(),
        10
    );
    let jane = p
        .find_users_by_email("jane.doe@acme.example")
        .await
        .expect("find")
        .remove(0);
    let hr = groups.iter().find(|g| g.name == "HR").expect("hr");
    let after = p
        .change_groups(
            &jane.id,
            &[GroupRef {
                id: hr.id.clone(),
                name: hr.name.clone(),
            }],
            &[],
        )
        .await
        .expect("edit lock waited out");
    assert_eq!(after.groups.len(), 3);
    let c = counters(&sim, &http).await;
    assert_eq!(c["by_route"]["GET /api/v1/groups"], 3, "{c}");
    assert_eq!(c["by_route"]["PUT /api/v1/users/{id}"], 3, "{c}");
    assert_eq!(c["by_status"]["429"], 2, "{c}");
}

#[tokio::test]
async fn long_waits_fail_fast_and_unknown_write_outcomes_are_not_retried() {
    let (sim, p, http) = setup().await;
    inject(
        &sim,
        &http,
        serde_json::json!([
            {"route": "GET /api/v1/groups", "status": 429, "retry_after_header": "3600"},
            {"route": "POST /api/v1/users", "status": 502}
        ]),
    )
    .await;
    match p.list_groups().await {
        Err(ProviderError::RateLimited {
            retry_after,
            message,
        }) => {
            assert_eq!(retry_after, Some(std::time::Duration::from_secs(3600)));
            assert!(message.contains("3600"), "{message}");
        }
        other => panic!("expected fail-fast, got {other:?}"),
    }
    let new = zscaler_lifecycle_mcp::model::NewUser {
        name: "Unknown Outcome".into(),
        email: "unknown.outcome@acme.example".into(),
        department: Some(zscaler_lifecycle_mcp::model::DepartmentRef {
            id: "77001".into(),
            name: "Sales".into(),
        }),
        groups: vec![],
        comments: None,
        password: None,
    };
    assert!(matches!(
        p.create_user(&new).await,
        Err(ProviderError::OutcomeUnknown { .. })
    ));
    let c = counters(&sim, &http).await;
    assert_eq!(
        c["by_route"]["POST /api/v1/users"], 1,
        "a write with an unknown outcome is never resent: {c}"
    );
}

#[tokio::test]
async fn the_tenants_own_rate_headers_are_honoured() {
    let (sim, p, http) = setup().await;
    inject(
        &sim,
        &http,
        serde_json::json!({"route": "GET /api/v1/groups", "status": 429,
            "headers": {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "3600"}}),
    )
    .await;
    match p.list_groups().await {
        Err(ProviderError::RateLimited {
            message,
            retry_after: Some(w),
        }) => {
            // The 429's own x-ratelimit-reset is its retry hint: past the ceiling, fail fast.
            assert!(message.contains("3600"), "{message}");
            assert!(w > std::time::Duration::from_secs(3500));
        }
        other => panic!("expected a fail-fast on the reported reset, got {other:?}"),
    }
    // The next call is not even sent into the used-up window.
    match p.list_groups().await {
        Err(ProviderError::RateLimited {
            message,
            retry_after: Some(w),
        }) => {
            assert!(message.contains("rate window"), "{message}");
            assert!(w > std::time::Duration::from_secs(3500));
        }
        other => panic!("expected the reported window to be respected, got {other:?}"),
    }
    let c = counters(&sim, &http).await;
    assert_eq!(
        c["by_route"]["GET /api/v1/groups"], 1,
        "no request sent into a used-up window: {c}"
    );
}

fn session_provider(sim: &Sim) -> ZiaProvider {
    let c = sim.credentials().clone();
    ZiaProvider::new(ZiaConfig {
        base_url: sim.base_url(),
        auth: ZiaAuth::Session {
            username: c.username,
            password: Secret::new(c.password),
            api_key: Secret::new(c.api_key),
        },
        timeout: std::time::Duration::from_secs(10),
        rate_limits: Some(zscaler_lifecycle_mcp::provider::zia::RateBudget::documented()),
        session_timeout: zscaler_lifecycle_mcp::provider::zia::DEFAULT_SESSION_TIMEOUT,
    })
    .expect("provider")
}

fn oneapi_provider(sim: &Sim, secret: &str) -> ZiaProvider {
    ZiaProvider::new(ZiaConfig {
        base_url: sim.base_url(),
        auth: ZiaAuth::OneApi(
            zscaler_lifecycle_mcp::provider::zia::oneapi::OneApiCredentials {
                token_url: format!("{}/oauth2/v1/token", sim.base_url()),
                client_id: Secret::new(zscaler_lifecycle_mcp::sim::ONEAPI_DEMO_CLIENT_ID),
                credential:
                    zscaler_lifecycle_mcp::provider::zia::oneapi::OneApiCredential::ClientSecret(
                        Secret::new(secret),
                    ),
            },
        ),
        timeout: std::time::Duration::from_secs(10),
        rate_limits: Some(zscaler_lifecycle_mcp::provider::zia::RateBudget::documented()),
        session_timeout: zscaler_lifecycle_mcp::provider::zia::DEFAULT_SESSION_TIMEOUT,
    })
    .expect("provider")
}

#[tokio::test]
async fn oneapi_tokens_reach_the_gateway_and_are_renewed_when_refused() {
    let (sim, _legacy, http) = setup().await;
    let p = oneapi_provider(&sim, zscaler_lifecycle_mcp::sim::ONEAPI_DEMO_CLIENT_SECRET);
    let all = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: None,
                limit: 10_000,
            },
        )
        .await
        .expect("list through the gateway");
    assert_eq!(all.items.len(), 308);
    // The tenant ends the token's session: the next call fetches a new token by itself.
    http.post(format!("{}/__sim/expire-sessions", sim.base_url()))
        .send()
        .await
        .expect("expire");
    let jane = p.get_user("70002").await.expect("renewed token");
    assert_eq!(jane.email, "jane.doe@acme.example");
    let c = counters(&sim, &http).await;
    // Refused once (the old token), answered after one fresh token.
    assert_eq!(c["by_status"]["401"], 1, "{c}");
    assert_eq!(c["by_route"]["GET /api/v1/users/{id}"], 2, "{c}");
    assert!(
        c["by_route"]
            .get("POST /api/v1/authenticatedSession")
            .is_none(),
        "no legacy login: {c}"
    );

    let wrong = oneapi_provider(&sim, "not-the-secret");
    match wrong.list_groups().await {
        Err(ProviderError::Auth { message }) => {
            assert!(message.contains("ZIdentity"), "{message}");
            assert!(!message.contains("not-the-secret"), "secret never echoed");
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
}

#[tokio::test]
async fn zidentity_encoded_reads_never_write_encoded_names_back() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Sim::start(SimOptions {
        zidentity_encoded_get: true,
        ..SimOptions::default()
    })
    .await
    .expect("sim");
    let http = reqwest::Client::new();
    let raw: Value = http
        .get(format!("{}/__sim/users/70002", sim.base_url()))
        .send()
        .await
        .expect("sim")
        .json()
        .await
        .expect("json");
    assert_eq!(raw["email"], "jane.doe@acme.example");
    let p = session_provider(&sim);
    let jane = p.get_user("70002").await.expect("get");
    assert_eq!(jane.email, "jane.doe@acme.example", "plain, not encoded");
    assert_eq!(jane.name, "Jane Doe");
    let after = p
        .change_groups(
            "70002",
            &[GroupRef {
                id: "88003".into(),
                name: "Sales".into(),
            }],
            &[],
        )
        .await
        .expect("membership");
    assert!(after.groups.iter().any(|g| g.id == "88003"));
    let stored: Value = http
        .get(format!("{}/__sim/users/70002", sim.base_url()))
        .send()
        .await
        .expect("sim")
        .json()
        .await
        .expect("json");
    assert_eq!(stored["name"], "Jane Doe", "{stored}");
    assert_eq!(stored["email"], "jane.doe@acme.example", "{stored}");
}

#[tokio::test]
async fn a_paced_batch_under_documented_limits_meets_no_429() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Sim::start(SimOptions {
        zia_limits: Some(zscaler_lifecycle_mcp::sim::ZiaLimits::documented()),
        ..SimOptions::default()
    })
    .await
    .expect("sim");
    let http = reqwest::Client::new();
    let p = session_provider(&sim);
    for (i, gid) in ["88003", "88004", "88005"].iter().enumerate() {
        p.change_groups(
            &format!("{}", 70010 + i),
            &[GroupRef {
                id: (*gid).into(),
                name: String::new(),
            }],
            &[],
        )
        .await
        .expect("paced write");
    }
    let c = counters(&sim, &http).await;
    assert!(c["by_status"].get("429").is_none(), "paced: {c}");
    assert!(
        c["by_route"]["PUT /api/v1/users/{id}"].as_u64() == Some(3),
        "{c}"
    );
}

// ---------------------------------------------------------------------------------------------
// Pacing to a configured budget, session idle timeout, quota and maintenance refusals.

use std::time::Duration;
use zscaler_lifecycle_mcp::model::{DepartmentRef, NewUser};
use zscaler_lifecycle_mcp::provider::zia::RateBudget;
use zscaler_lifecycle_mcp::sim::ZiaLimits;

/// The documented limits, 20 times faster on both sides: the shape is the real tenant's.
const SCALE: u32 = 20;

fn provider_with(sim: &Sim, budget: Option<RateBudget>, session_timeout: Duration) -> ZiaProvider {
    let c = sim.credentials().clone();
    ZiaProvider::new(ZiaConfig {
        base_url: sim.base_url(),
        auth: ZiaAuth::Session {
            username: c.username,
            password: Secret::new(c.password),
            api_key: Secret::new(c.api_key),
        },
        timeout: Duration::from_secs(10),
        rate_limits: budget,
        session_timeout,
    })
    .expect("provider")
}

async fn scaled_sim() -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Sim::start(SimOptions {
        zia_limits: Some(ZiaLimits::documented().scaled(SCALE)),
        ..SimOptions::default()
    })
    .await
    .expect("sim")
}

async fn sim_users_with_email(sim: &Sim, http: &reqwest::Client, email: &str) -> Vec<Value> {
    http.get(format!("{}/__sim/users", sim.base_url()))
        .query(&[("email", email)])
        .send()
        .await
        .expect("sim")
        .json()
        .await
        .expect("json")
}

/// What a batch of 50 writes did, for the assertions.
struct Batch {
    created: Vec<String>,
    updated: Vec<String>,
    finance: String,
    unknown_outcomes: usize,
}

/// 25 creates and 25 membership changes, interleaved. `during(i)` runs before write `i` (to
/// inject faults part-way). A create whose outcome is unknown is settled the way a careful
/// caller does: read back by email, and create again only if it is absent.
async fn fifty_writes<F, Fut>(
    p: &ZiaProvider,
    sim: &Sim,
    http: &reqwest::Client,
    mut during: F,
) -> Batch
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let groups = p.list_groups().await.expect("groups");
    let finance = groups
        .iter()
        .find(|g| g.name == "Finance")
        .expect("finance")
        .clone();
    let all = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: None,
                limit: 10_000,
            },
        )
        .await
        .expect("users");
    let mut targets = all
        .items
        .iter()
        .filter(|u| {
            !u.admin
                && u.email.ends_with("@acme.example")
                && !u.groups.iter().any(|g| g.id == finance.id)
        })
        .map(|u| u.id.clone());
    let finance_ref = GroupRef {
        id: finance.id.clone(),
        name: finance.name.clone(),
    };
    let mut batch = Batch {
        created: vec![],
        updated: vec![],
        finance: finance.id.clone(),
        unknown_outcomes: 0,
    };
    for i in 0..50 {
        during(i).await;
        if i % 2 == 0 {
            let email = format!("paced.{i}@acme.example");
            let new = NewUser {
                name: format!("Paced User {i}"),
                email: email.clone(),
                department: Some(DepartmentRef {
                    id: "77001".into(),
                    name: "Sales".into(),
                }),
                groups: vec![finance_ref.clone()],
                comments: None,
                password: None,
            };
            match p.create_user(&new).await {
                Ok(u) => assert_eq!(u.email, email),
                Err(ProviderError::OutcomeUnknown { message }) => {
                    batch.unknown_outcomes += 1;
                    // Not retried by the adapter: the tenant holds no such user yet.
                    assert!(
                        sim_users_with_email(sim, http, &email).await.is_empty(),
                        "an unknown outcome must not be resent: {message}"
                    );
                    if p.find_users_by_email(&email)
                        .await
                        .expect("read back")
                        .is_empty()
                    {
                        p.create_user(&new).await.expect("create after read-back");
                    }
                }
                Err(e) => panic!("create {i}: {e:?}"),
            }
            batch.created.push(email);
        } else {
            let id = targets.next().expect("enough users");
            let after = p
                .change_groups(&id, std::slice::from_ref(&finance_ref), &[])
                .await
                .unwrap_or_else(|e| panic!("update {i}: {e:?}"));
            assert!(after.groups.iter().any(|g| g.id == finance.id));
            batch.updated.push(id);
        }
    }
    batch
}

/// Every write landed exactly once on the tenant.
async fn assert_done_once(sim: &Sim, http: &reqwest::Client, b: &Batch) {
    for email in &b.created {
        assert_eq!(
            sim_users_with_email(sim, http, email).await.len(),
            1,
            "{email} exactly once"
        );
    }
    for id in &b.updated {
        let u: Value = http
            .get(format!("{}/__sim/users/{id}", sim.base_url()))
            .send()
            .await
            .expect("sim")
            .json()
            .await
            .expect("json");
        let n = u["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .filter(|g| {
                g["id"].as_i64().map(|n| n.to_string()).as_deref() == Some(b.finance.as_str())
            })
            .count();
        assert_eq!(n, 1, "user {id} in Finance once: {u}");
    }
}

#[tokio::test]
async fn fifty_paced_writes_under_scaled_limits_meet_zero_429s() {
    let sim = scaled_sim().await;
    let http = reqwest::Client::new();
    let p = provider_with(
        &sim,
        Some(RateBudget::documented().scaled(SCALE)),
        Duration::from_secs(300),
    );
    let b = fifty_writes(&p, &sim, &http, |_| async {}).await;
    assert_eq!(b.unknown_outcomes, 0);
    assert_done_once(&sim, &http, &b).await;
    let c = counters(&sim, &http).await;
    assert!(c["by_status"].get("429").is_none(), "paced: {c}");
    for w in ["get", "write", "delete", "activate"] {
        assert_eq!(c["rate_limited"][w], 0, "{w}: {c}");
    }
    assert_eq!(c["by_route"]["POST /api/v1/users"], 25, "{c}");
    assert_eq!(c["by_route"]["PUT /api/v1/users/{id}"], 25, "{c}");
}

#[tokio::test]
async fn fifty_writes_survive_429_edit_lock_and_5xx_each_done_exactly_once() {
    let sim = scaled_sim().await;
    let http = reqwest::Client::new();
    let p = provider_with(
        &sim,
        Some(RateBudget::documented().scaled(SCALE)),
        Duration::from_secs(300),
    );
    let (s, h) = (&sim, &http);
    let b = fifty_writes(&p, s, h, |i| async move {
        let spec = match i {
            0 => serde_json::json!([
                {"route": "POST /api/v1/users", "status": 429, "code": "TOO_MANY_REQUESTS", "retry_after_header": "1"},
                {"route": "PUT /api/v1/users/{id}", "status": 409, "code": "EDIT_LOCK_NOT_AVAILABLE"}
            ]),
            20 => serde_json::json!([
                {"route": "POST /api/v1/users", "status": 429, "code": "TOO_MANY_REQUESTS", "retry_after_body": "0 seconds"},
                {"route": "PUT /api/v1/users/{id}", "status": 409, "code": "EDIT_LOCK_NOT_AVAILABLE"}
            ]),
            30 => serde_json::json!({"route": "POST /api/v1/users", "status": 500}),
            _ => return,
        };
        inject(s, h, spec).await;
    })
    .await;
    assert_eq!(
        b.unknown_outcomes, 1,
        "the 500 on a create is an unknown outcome"
    );
    assert_done_once(&sim, &http, &b).await;
    let c = counters(&sim, &http).await;
    assert_eq!(c["by_status"]["429"], 2, "only the injected 429s: {c}");
    assert_eq!(c["by_status"]["409"], 2, "{c}");
    assert_eq!(c["by_status"]["500"], 1, "{c}");
    for w in ["get", "write", "delete", "activate"] {
        assert_eq!(c["rate_limited"][w], 0, "{w}: {c}");
    }
    // 25 creates, 2 refused with 429 and resent, 1 answered 500 and created again after the
    // read-back found nothing.
    assert_eq!(c["by_route"]["POST /api/v1/users"], 28, "{c}");
    assert_eq!(c["by_route"]["PUT /api/v1/users/{id}"], 27, "{c}");
}

#[tokio::test]
async fn an_idle_session_with_staged_changes_is_reported_as_activated() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Sim::start(SimOptions {
        session_idle_timeout: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await
    .expect("sim");
    let http = reqwest::Client::new();
    let p = provider_with(&sim, None, Duration::from_secs(1));
    let after = p
        .change_groups(
            "70002",
            &[GroupRef {
                id: "88003".into(),
                name: "Sales".into(),
            }],
            &[],
        )
        .await
        .expect("staged");
    assert!(after.groups.iter().any(|g| g.id == "88003"));
    let live = |http: reqwest::Client, url: String| async move {
        let u: Value = http
            .get(url)
            .send()
            .await
            .expect("sim")
            .json()
            .await
            .expect("json");
        u["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .any(|g| g["id"] == 88003)
    };
    let url = format!("{}/__sim/users/70002?view=live", sim.base_url());
    assert!(
        !live(http.clone(), url.clone()).await,
        "staged, not live yet"
    );
    assert!(p.take_notices().is_empty());

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = p
        .activation_status()
        .await
        .expect("a new session, transparently");
    assert_eq!(
        status,
        zscaler_lifecycle_mcp::model::ActivationState::Active
    );
    let notices = p.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("session ended while 1 staged change(s) were pending")
            && notices[0].contains("so they are now active"),
        "{}",
        notices[0]
    );
    assert_eq!(
        p.take_activated_by_session_end(),
        1,
        "the ledger learns it too"
    );
    assert!(
        live(http.clone(), url).await,
        "the tenant activated it when the session ended"
    );
    let c = counters(&sim, &http).await;
    assert_eq!(c["by_route"]["POST /api/v1/authenticatedSession"], 2, "{c}");
    assert!(
        c["by_status"].get("401").is_none(),
        "expired session not even tried: {c}"
    );
}

#[tokio::test]
async fn a_nearly_idle_session_without_staged_changes_is_refreshed_silently() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Sim::start(SimOptions {
        session_idle_timeout: Duration::from_secs(2),
        ..SimOptions::default()
    })
    .await
    .expect("sim");
    let http = reqwest::Client::new();
    let p = provider_with(&sim, None, Duration::from_secs(2));
    p.list_groups().await.expect("groups");
    // Within the refresh margin (a tenth of the timeout) but before the tenant's timeout.
    tokio::time::sleep(Duration::from_millis(1850)).await;
    // Not list_groups again: the directory cache would answer it without a request.
    p.activation_status()
        .await
        .expect("a read that reaches the tenant");
    let c = counters(&sim, &http).await;
    assert_eq!(
        c["by_route"]["POST /api/v1/authenticatedSession"], 2,
        "refreshed: {c}"
    );
    assert!(c["by_status"].get("401").is_none(), "{c}");
    assert!(
        p.take_notices().is_empty(),
        "nothing was staged: nothing to report"
    );
    assert_eq!(p.take_activated_by_session_end(), 0);
}

#[tokio::test]
async fn quota_exhaustion_and_maintenance_are_reported_as_such_and_not_retried() {
    let (sim, p, http) = setup().await;
    inject(
        &sim,
        &http,
        serde_json::json!([
            {"route": "GET /api/v1/groups", "status": 403, "code": "LIMIT_EXCEEDED",
             "message": "Hourly API limit exceeded", "headers": {"x-ratelimit-reset": "1800"}},
            {"route": "GET /api/v1/departments", "status": 403, "code": "LIMIT_EXCEEDED"},
            {"route": "PUT /api/v1/users/{id}", "status": 403, "code": "MAINTENANCE_MODE",
             "message": "The service is in maintenance mode for a scheduled upgrade"}
        ]),
    )
    .await;
    match p.list_groups().await {
        Err(e @ ProviderError::QuotaExhausted { .. }) => {
            let text = e.to_string();
            assert!(text.starts_with("hourly quota exhausted"), "{text}");
            assert!(text.contains("retry after 1800 s"), "{text}");
            assert!(
                matches!(e, ProviderError::QuotaExhausted { retry_after: Some(d), .. } if d == Duration::from_secs(1800))
            );
        }
        other => panic!("expected QuotaExhausted, got {other:?}"),
    }
    match p.list_departments().await {
        Err(
            e @ ProviderError::QuotaExhausted {
                retry_after: None, ..
            },
        ) => {
            assert!(e.to_string().contains("hourly window resets"), "{e}")
        }
        other => panic!("expected QuotaExhausted, got {other:?}"),
    }
    match p
        .change_groups(
            "70002",
            &[GroupRef {
                id: "88003".into(),
                name: "Sales".into(),
            }],
            &[],
        )
        .await
    {
        Err(e @ ProviderError::Maintenance { .. }) => {
            assert!(
                e.to_string()
                    .starts_with("tenant in maintenance; writes refused, retry later"),
                "{e}"
            )
        }
        other => panic!("expected Maintenance, got {other:?}"),
    }
    let c = counters(&sim, &http).await;
    assert_eq!(c["by_route"]["GET /api/v1/groups"], 1, "not retried: {c}");
    assert_eq!(
        c["by_route"]["GET /api/v1/departments"], 1,
        "not retried: {c}"
    );
    assert_eq!(
        c["by_route"]["PUT /api/v1/users/{id}"], 1,
        "not retried: {c}"
    );
    let u: Value = http
        .get(format!("{}/__sim/users/70002", sim.base_url()))
        .send()
        .await
        .expect("sim")
        .json()
        .await
        .expect("json");
    assert!(
        !u["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .any(|g| g["id"] == 88003),
        "nothing changed"
    );
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("test-only key fixture")
}

fn private_key_provider(sim: &Sim, pem: &str) -> ZiaProvider {
    use zscaler_lifecycle_mcp::provider::zia::oneapi::{OneApiCredential, OneApiCredentials};
    ZiaProvider::new(ZiaConfig {
        base_url: sim.base_url(),
        auth: ZiaAuth::OneApi(OneApiCredentials {
            token_url: format!("{}/oauth2/v1/token", sim.base_url()),
            client_id: Secret::new(zscaler_lifecycle_mcp::sim::ONEAPI_DEMO_CLIENT_ID),
            credential: OneApiCredential::PrivateKey(Secret::new(pem)),
        }),
        timeout: Duration::from_secs(10),
        rate_limits: None,
        session_timeout: Duration::from_secs(300),
    })
    .expect("provider")
}

#[tokio::test]
async fn oneapi_private_key_assertion_logs_in_and_a_wrong_key_is_refused_clearly() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Sim::start(SimOptions {
        oneapi_public_key_pem: Some(fixture("test-only-oneapi-public-key.pem")),
        ..SimOptions::default()
    })
    .await
    .expect("sim");
    let http = reqwest::Client::new();
    let key = fixture("test-only-oneapi-private-key.pem");
    let p = private_key_provider(&sim, &key);
    assert_eq!(
        p.list_groups()
            .await
            .expect("signed assertion accepted")
            .len(),
        15
    );
    let c = counters(&sim, &http).await;
    assert_eq!(c["by_route"]["GET /api/v1/groups"], 1, "{c}");

    let other = fixture("test-only-unregistered-private-key.pem");
    let wrong = private_key_provider(&sim, &other);
    let err = wrong.list_groups().await.expect_err("unregistered key");
    let text = format!("{err} {err:?}");
    assert!(matches!(err, ProviderError::Auth { .. }), "{text}");
    assert!(text.contains("private-key assertion"), "{text}");
    assert!(text.contains("invalid_client"), "{text}");
    // No line of either key in errors or Debug output.
    for pem in [&key, &other] {
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!text.contains(line), "key material leaked: {text}");
        }
    }
    assert!(!text.contains("PRIVATE KEY"), "{text}");

    let garbage = private_key_provider(
        &sim,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    );
    match garbage.list_groups().await {
        Err(ProviderError::Auth { message }) => {
            assert!(message.contains("not a usable RSA key"), "{message}")
        }
        other => panic!("expected a clear key error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_oneapi_token_renewed_while_changes_are_staged_is_reported_as_activating_them() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Tokens announce 61 s; the client renews 60 s early, so after 1 s here. The tenant ends
    // idle sessions (a token is one) after 2 s, activating what they staged.
    let sim = Sim::start(SimOptions {
        session_idle_timeout: Duration::from_secs(2),
        oneapi_token_lifetime: Duration::from_secs(61),
        ..SimOptions::default()
    })
    .await
    .expect("sim");
    let http = reqwest::Client::new();
    let p = ZiaProvider::new(ZiaConfig {
        base_url: sim.base_url(),
        auth: ZiaAuth::OneApi(
            zscaler_lifecycle_mcp::provider::zia::oneapi::OneApiCredentials {
                token_url: format!("{}/oauth2/v1/token", sim.base_url()),
                client_id: Secret::new(zscaler_lifecycle_mcp::sim::ONEAPI_DEMO_CLIENT_ID),
                credential:
                    zscaler_lifecycle_mcp::provider::zia::oneapi::OneApiCredential::ClientSecret(
                        Secret::new(zscaler_lifecycle_mcp::sim::ONEAPI_DEMO_CLIENT_SECRET),
                    ),
            },
        ),
        timeout: Duration::from_secs(10),
        rate_limits: None,
        session_timeout: Duration::from_secs(2),
    })
    .expect("provider");
    p.change_groups(
        "70002",
        &[GroupRef {
            id: "88003".into(),
            name: "Sales".into(),
        }],
        &[],
    )
    .await
    .expect("staged");
    let live = || {
        let http = http.clone();
        let url = format!("{}/__sim/users/70002?view=live", sim.base_url());
        async move {
            let u: Value = http
                .get(url)
                .send()
                .await
                .expect("sim")
                .json()
                .await
                .expect("json");
            u["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .any(|g| g["id"] == 88003)
        }
    };
    assert!(!live().await, "staged, not live yet");
    assert!(p.take_notices().is_empty());

    // The token is due for renewal while its session, still alive, holds the staged change.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let status = p.activation_status().await.expect("a renewed token");
    assert_eq!(
        status,
        zscaler_lifecycle_mcp::model::ActivationState::Pending,
        "the old session has not timed out yet"
    );
    let notices = p.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("session replaced while 1 staged change(s) were pending")
            && notices[0].contains("within 2 s")
            && notices[0].contains("treat them as live"),
        "{}",
        notices[0]
    );
    assert_eq!(
        p.take_activated_by_session_end(),
        1,
        "the ledger learns it too"
    );
    let sessions = |http: reqwest::Client| {
        let url = format!("{}/__sim/status", sim.base_url());
        async move {
            let s: Value = http
                .get(url)
                .send()
                .await
                .expect("sim")
                .json()
                .await
                .expect("json");
            s["sessions"].as_u64().expect("sessions")
        }
    };
    assert_eq!(
        sessions(http.clone()).await,
        2,
        "a second token; the first is still alive"
    );
    let c = counters(&sim, &http).await;
    assert!(
        c["by_status"].get("401").is_none(),
        "renewed before refused: {c}"
    );

    // What the notice promised: the old session idles out and the tenant activates it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(live().await, "activated when the replaced session ended");
    assert_eq!(sessions(http.clone()).await, 1, "only the renewed token's");
    assert!(p.take_notices().is_empty(), "told once");
}

/// The simulator faults that apply a write and then lose or spoil its answer.
const SPOILT_ANSWERS: [&str; 7] = [
    "apply_then_reset",
    "apply_then_timeout",
    "apply_then_cut",
    "apply_then_html",
    "apply_then_empty",
    "apply_then_truncated",
    "apply_then_error_body",
];

/// A fault on `route` of `kind`: a timeout holds the answer past the client's 1 s timeout.
fn spoil(route: &str, kind: &str, status: Option<u16>) -> Value {
    let mut f = serde_json::json!({"route": route, "kind": kind});
    if kind == "apply_then_timeout" {
        f["latency_ms"] = 3_000.into();
    }
    if let Some(s) = status {
        f["status"] = s.into();
    }
    f
}

/// Unpaced, with a 1 s request timeout: the timeouts of the spoilt-answer faults stay short.
fn impatient_provider(sim: &Sim) -> ZiaProvider {
    let c = sim.credentials().clone();
    ZiaProvider::new(ZiaConfig {
        base_url: sim.base_url(),
        auth: ZiaAuth::Session {
            username: c.username,
            password: Secret::new(c.password),
            api_key: Secret::new(c.api_key),
        },
        timeout: Duration::from_secs(1),
        rate_limits: None,
        session_timeout: zscaler_lifecycle_mcp::provider::zia::DEFAULT_SESSION_TIMEOUT,
    })
    .expect("provider")
}

async fn draft_user(sim: &Sim, http: &reqwest::Client, id: &str) -> Option<Value> {
    let r = http
        .get(format!("{}/__sim/users/{id}", sim.base_url()))
        .send()
        .await
        .expect("sim");
    if r.status() == 404 {
        return None;
    }
    Some(r.json().await.expect("json"))
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

#[tokio::test]
async fn writes_whose_answer_is_lost_or_unreadable_are_unknown_yet_applied_and_never_resent() {
    let (sim, _, http) = setup().await;
    let p = impatient_provider(&sim);
    let sales = DepartmentRef {
        id: "77001".into(),
        name: "Sales".into(),
    };
    let post_users = |c: &Value| c["by_route"]["POST /api/v1/users"].as_u64().unwrap_or(0);

    // POST /users: the account exists although the answer never said so.
    for (i, kind) in SPOILT_ANSWERS.iter().enumerate() {
        inject(&sim, &http, spoil("POST /api/v1/users", kind, None)).await;
        let before = post_users(&counters(&sim, &http).await);
        let email = format!("lost.answer.{i}@acme.example");
        let r = p
            .create_user(&NewUser {
                name: format!("Lost Answer {i}"),
                email: email.clone(),
                department: Some(sales.clone()),
                groups: vec![],
                comments: None,
                password: None,
            })
            .await;
        assert_unknown(kind, r);
        assert_eq!(
            sim_users_with_email(&sim, &http, &email).await.len(),
            1,
            "{kind}: the simulator applied the create"
        );
        assert_eq!(
            post_users(&counters(&sim, &http).await),
            before + 1,
            "{kind}: a write with an unknown outcome is never resent"
        );
    }

    // PUT /users/{id}: the membership changed.
    let groups = p.list_groups().await.expect("groups");
    let jane = p
        .find_users_by_email("jane.doe@acme.example")
        .await
        .expect("find")
        .remove(0);
    let others: Vec<_> = groups
        .iter()
        .filter(|g| !jane.groups.iter().any(|m| m.id == g.id))
        .collect();
    for (kind, g) in SPOILT_ANSWERS.iter().zip(&others) {
        inject(&sim, &http, spoil("PUT /api/v1/users/{id}", kind, None)).await;
        let r = p
            .change_groups(
                &jane.id,
                &[GroupRef {
                    id: g.id.clone(),
                    name: g.name.clone(),
                }],
                &[],
            )
            .await;
        assert_unknown(kind, r);
        let now = draft_user(&sim, &http, &jane.id).await.expect("jane");
        assert!(
            now["groups"].as_array().is_some_and(|a| a
                .iter()
                .any(|x| x["id"].as_i64().is_some_and(|n| n.to_string() == g.id))),
            "{kind}: the simulator applied the change: {now}"
        );
    }

    // DELETE /users/{id} answers 204: the faults that spoil a body are given a 200.
    let victims = p
        .list_users(
            &UserFilter::default(),
            &PageRequest {
                cursor: None,
                limit: 10_000,
            },
        )
        .await
        .expect("list")
        .items;
    let mut victims = victims
        .into_iter()
        .filter(|u| u.email.starts_with("lost.answer."))
        .map(|u| u.id);
    for (kind, status) in [
        ("apply_then_reset", None),
        ("apply_then_timeout", None),
        ("apply_then_cut", Some(200)),
        ("apply_then_html", Some(200)),
        ("apply_then_error_body", Some(200)),
    ] {
        let id = victims.next().expect("a user to delete");
        inject(
            &sim,
            &http,
            spoil("DELETE /api/v1/users/{id}", kind, status),
        )
        .await;
        assert_unknown(kind, p.delete_user(&id).await);
        assert!(
            draft_user(&sim, &http, &id).await.is_none(),
            "{kind}: the simulator applied the delete"
        );
    }

    // POST /users/bulkDelete answers {"ids": [...]}.
    let mut rest: Vec<String> = victims.collect();
    for (i, kind) in SPOILT_ANSWERS.iter().enumerate() {
        let email = format!("bulk.victim.{i}@acme.example");
        let u = p
            .create_user(&NewUser {
                name: format!("Bulk Victim {i}"),
                email,
                department: Some(sales.clone()),
                groups: vec![],
                comments: None,
                password: None,
            })
            .await
            .expect("create");
        rest.push(u.id.clone());
        inject(
            &sim,
            &http,
            spoil("POST /api/v1/users/bulkDelete", kind, None),
        )
        .await;
        assert_unknown(kind, p.delete_users(std::slice::from_ref(&u.id)).await);
        assert!(
            draft_user(&sim, &http, &u.id).await.is_none(),
            "{kind}: the simulator applied the bulk delete"
        );
    }

    // POST /status/activate: the staged changes went live.
    for kind in SPOILT_ANSWERS {
        let email = format!("activated.{kind}@acme.example");
        p.create_user(&NewUser {
            name: "Staged".into(),
            email: email.clone(),
            department: Some(sales.clone()),
            groups: vec![],
            comments: None,
            password: None,
        })
        .await
        .expect("create");
        inject(
            &sim,
            &http,
            spoil("POST /api/v1/status/activate", kind, None),
        )
        .await;
        assert_unknown(kind, p.activate().await);
        let live = http
            .get(format!("{}/__sim/users", sim.base_url()))
            .query(&[("email", email.as_str()), ("view", "live")])
            .send()
            .await
            .expect("sim")
            .json::<Value>()
            .await
            .expect("json");
        assert_eq!(
            live.as_array().map(Vec::len),
            Some(1),
            "{kind}: the simulator activated"
        );
    }
}

#[tokio::test]
async fn a_mover_is_one_put_that_keeps_every_other_field() {
    use zscaler_lifecycle_mcp::model::{DepartmentRef, UserUpdate};
    let (sim, p, http) = setup().await;
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
    let finance = p
        .list_departments()
        .await
        .expect("departments")
        .into_iter()
        .find(|d| d.name == "Finance")
        .expect("Finance");
    let before = counters(&sim, &http).await;
    let puts = |c: &Value| {
        c["by_route"]["PUT /api/v1/users/{id}"]
            .as_u64()
            .unwrap_or(0)
    };
    let update = UserUpdate {
        name: Some("Jane Doe-Moved".into()),
        department: Some(DepartmentRef {
            id: finance.id.clone(),
            name: finance.name.clone(),
        }),
        add_groups: vec![group("Finance")],
        remove_groups: vec![group("Sales")],
        comments: Some("moved to Finance".into()),
    };
    let after = p.update_user(&jane.id, &update).await.expect("update");
    assert!(update.shown_by(&after), "{after:?}");
    assert!(
        after.groups.iter().any(|g| g.name == "All Staff"),
        "kept: {after:?}"
    );
    let c = counters(&sim, &http).await;
    assert_eq!(puts(&c) - puts(&before), 1, "one PUT: {c}");
    // The tenant itself holds the change (the draft, staged until activation).
    let stored = draft_user(&sim, &http, &jane.id)
        .await
        .expect("still there");
    assert_eq!(stored["name"], "Jane Doe-Moved", "{stored}");
    assert_eq!(stored["department"]["name"], "Finance", "{stored}");
    assert_eq!(stored["comments"], "moved to Finance", "{stored}");
    assert_eq!(stored["email"], "jane.doe@acme.example", "{stored}");
    let names: Vec<&str> = stored["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{stored}");
    assert!(
        names.contains(&"All Staff") && names.contains(&"Finance"),
        "{stored}"
    );

    // A department id that is not a number is refused before anything is sent.
    let bad = UserUpdate {
        department: Some(DepartmentRef {
            id: "Sales".into(),
            name: "Sales".into(),
        }),
        ..UserUpdate::default()
    };
    let sent = counters(&sim, &http).await["total"].as_u64();
    let e = p.update_user(&jane.id, &bad).await.expect_err("refused");
    assert!(matches!(e, ProviderError::Invalid { .. }), "{e:?}");
    assert_eq!(counters(&sim, &http).await["total"].as_u64(), sent);
}

/// A listener on loopback that counts the connections made to it: where a redirect would lead.
async fn elsewhere() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = hits.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, hits)
}

#[tokio::test]
async fn a_redirect_is_never_followed_with_the_credentials_or_the_session() {
    let (sim, p, http) = setup().await;
    let (url, hits) = elsewhere().await;
    // A 307 keeps the method and body: followed, the login would post the password there.
    inject(
        &sim,
        &http,
        serde_json::json!([
            {"route": "POST /api/v1/authenticatedSession", "status": 307,
             "headers": {"Location": format!("{url}/api/v1/authenticatedSession")}},
        ]),
    )
    .await;
    match p.list_groups().await {
        Err(ProviderError::Auth { message }) => {
            assert!(
                message.contains("307"),
                "the redirect is the answer: {message}"
            )
        }
        other => panic!("expected the login to be refused, got {other:?}"),
    }
    // With a session, a redirected read would carry its cookie.
    p.list_groups().await.expect("logs in");
    inject(
        &sim,
        &http,
        serde_json::json!([
            {"route": "GET /api/v1/groups", "status": 302,
             "headers": {"Location": format!("{url}/api/v1/groups")}},
        ]),
    )
    .await;
    p.forget_cached();
    match p.list_groups().await {
        Err(ProviderError::Api { status: 302, .. }) => {}
        other => panic!("expected the 302 as an error, got {other:?}"),
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing was sent where the redirects pointed"
    );
}
