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
    let c = sim.credentials().clone();
    let p = ZiaProvider::new(ZiaConfig {
        base_url: sim.base_url(),
        auth: ZiaAuth::Session {
            username: c.username,
            password: Secret::new(c.password),
            api_key: Secret::new(c.api_key),
        },
        timeout: std::time::Duration::from_secs(10),
        rate_limits: true,
    })
    .expect("provider");
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
        rate_limits: true,
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
        rate_limits: true,
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
