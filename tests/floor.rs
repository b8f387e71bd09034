//! Every operation at its API-call floor on a 100,000-user tenant, counted by the simulator
//! (`sim --scenario large`), through the real binary over stdio: what each tool call costs in
//! tenant requests once the connection's directory cache is warm, and that a tenant ignoring
//! `page` is refused instead of read for ever.

mod common;

use common::{Env, Human, SimProc};
use serde_json::{Value, json};

/// A `large` simulator and a server configured for it; `extra` goes into the connection table.
async fn large(extra: &str) -> Env {
    let sim = SimProc::start_args(&["--scenario", "large"]).await;
    let config = format!(
        "[connections.big]\nkind = \"zia\"\nbase_url = \"{}\"\nregistered_domains = [\"acme.example\", \"acme-labs.example\"]\nrate_limits = false\n{extra}\n[policy]\nprotected_accounts = [\"breakglass@*\", \"svc-*\"]\nprotected_groups = [\"Admins\"]\n",
        sim.url
    );
    Env::with_config(tempfile::tempdir().expect("tempdir"), sim, &config)
}

/// Requests the tenant has answered so far, by route.
async fn requests(env: &Env) -> Value {
    env.sim().get("/__sim/requests").await["by_route"].clone()
}

/// The requests made between two readings of the counters, without the sessions' logins.
fn delta(before: &Value, after: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = after
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(route, _)| !route.contains("authenticatedSession"))
                .filter_map(|(route, n)| {
                    let d = n.as_u64()? - before[route].as_u64().unwrap_or(0);
                    (d > 0).then(|| (route.clone(), d))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn count(d: &[(String, u64)]) -> u64 {
    d.iter().map(|(_, n)| n).sum()
}

async fn post_fault(env: &Env, fault: Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .post(format!("{}/__sim/faults", env.sim().url))
        .json(&fault)
        .send()
        .await
        .expect("sim reachable");
    assert!(r.status().is_success());
}

#[tokio::test]
async fn listing_100000_users_500_at_a_time_reads_each_page_once() {
    let env = large("").await;
    let c = env.connect(Human::Absent).await;
    let before = requests(&env).await;
    let mut cursor = String::new();
    let mut seen = 0usize;
    let mut calls = 0;
    loop {
        let page = c
            .ok("list_users", json!({"limit": 500, "cursor": cursor}))
            .await;
        calls += 1;
        seen += page["users"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, 100_000);
    // 200 full answers, and (the tenant giving no total) one empty one after the last full page.
    assert!((200..=201).contains(&calls), "{calls}");
    let d = delta(&before, &requests(&env).await);
    // Ten full pages of 10,000 and the empty eleventh that says the list ended (no total).
    assert_eq!(d, [("GET /api/v1/users".to_string(), 11)], "{d:?}");
    c.close().await;
}

#[tokio::test]
async fn warm_lookups_creates_and_membership_changes_cost_their_floor() {
    let env = large("").await;
    let c = env.connect(Human::Absent).await;

    // First lookup by email: the whole directory once (10 full pages + 1 empty).
    let before = requests(&env).await;
    let jane = c
        .ok(
            "get_user",
            json!({"user": "jane.doe@acme.example", "connection": "big"}),
        )
        .await;
    assert_eq!(jane["user"]["email"], "jane.doe@acme.example");
    let d = delta(&before, &requests(&env).await);
    assert_eq!(d, [("GET /api/v1/users".to_string(), 11)], "{d:?}");

    // Second lookup: the index gives the id; one read by id gives the account as it is now.
    let before = requests(&env).await;
    let again = c
        .ok("get_user", json!({"user": "JANE.DOE@acme.example"}))
        .await;
    assert_eq!(again["user"]["id"], jane["user"]["id"]);
    let d = delta(&before, &requests(&env).await);
    assert_eq!(d, [("GET /api/v1/users/{id}".to_string(), 1)], "{d:?}");

    // create_user: groups and departments once per TTL; then POST + one read-back.
    c.ok(
        "create_user",
        json!({"name": "Warm Up", "email": "warm.up@acme.example", "department": "Sales", "groups": ["Sales"]}),
    )
    .await;
    let before = requests(&env).await;
    let created = c
        .ok(
            "create_user",
            json!({"name": "Floor Test", "email": "floor.test@acme.example", "department": "Engineering", "groups": ["Engineering"]}),
        )
        .await;
    assert_eq!(created["verification"], "verified", "{created}");
    let d = delta(&before, &requests(&env).await);
    assert_eq!(
        d,
        [
            ("GET /api/v1/users/{id}".to_string(), 1),
            ("POST /api/v1/users".to_string(), 1)
        ],
        "{d:?}"
    );

    // The cache learned the create: looking the new account up costs one read by id.
    let before = requests(&env).await;
    c.ok("get_user", json!({"user": "floor.test@acme.example"}))
        .await;
    assert_eq!(count(&delta(&before, &requests(&env).await)), 1);

    // add_to_group by email: one GET by id, the PUT built from it, one read-back.
    let before = requests(&env).await;
    let added = c
        .ok(
            "add_to_group",
            json!({"user": "jane.doe@acme.example", "groups": ["Finance"]}),
        )
        .await;
    assert_eq!(added["verification"], "verified", "{added}");
    let d = delta(&before, &requests(&env).await);
    assert_eq!(
        d,
        [
            ("GET /api/v1/users/{id}".to_string(), 2),
            ("PUT /api/v1/users/{id}".to_string(), 1)
        ],
        "{d:?}"
    );
    let live = env
        .sim()
        .user("jane.doe@acme.example", "draft")
        .await
        .expect("jane");
    let groups: Vec<&str> = live["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert!(groups.contains(&"Finance"), "{live}");
    assert!(groups.len() >= 2, "the other memberships are kept: {live}");
    c.close().await;
}

#[tokio::test]
async fn a_prefix_that_matches_nothing_costs_what_the_tenant_filter_needs() {
    let env = large("").await;
    let c = env.connect(Human::Absent).await;
    let before = requests(&env).await;
    let none = c
        .ok("list_users", json!({"name_prefix": "Zzzyx", "limit": 50}))
        .await;
    assert_eq!(none["users"], json!([]));
    let d = delta(&before, &requests(&env).await);
    assert_eq!(d, [("GET /api/v1/users".to_string(), 1)], "{d:?}");

    // ZIA has no email filter: an email prefix reads the directory once, then never again.
    let before = requests(&env).await;
    c.ok(
        "list_users",
        json!({"email_prefix": "nobody.", "limit": 50}),
    )
    .await;
    c.ok(
        "list_users",
        json!({"email_prefix": "nobody.", "limit": 50}),
    )
    .await;
    c.ok("list_users", json!({"name_prefix": "Qqq", "limit": 50}))
        .await;
    let d = delta(&before, &requests(&env).await);
    assert_eq!(d, [("GET /api/v1/users".to_string(), 11)], "{d:?}");
    c.close().await;
}

#[tokio::test]
async fn with_the_cache_off_every_lookup_reads_the_tenant() {
    let env = large("cache_ttl_secs = 0").await;
    let c = env.connect(Human::Absent).await;
    for _ in 0..2 {
        let before = requests(&env).await;
        c.ok("get_user", json!({"user": "jane.doe@acme.example"}))
            .await;
        let d = delta(&before, &requests(&env).await);
        assert_eq!(d, [("GET /api/v1/users".to_string(), 11)], "{d:?}");
    }
    c.close().await;
}

#[tokio::test]
async fn a_tenant_that_ignores_page_is_refused_not_read_for_ever() {
    let env = large("").await;
    post_fault(
        &env,
        json!({"route": "GET /api/v1/users", "kind": "ignore_paging", "count": 1000}),
    )
    .await;
    let c = env.connect(Human::Absent).await;
    let before = requests(&env).await;
    let err = c
        .err("get_user", json!({"user": "nobody.here@acme.example"}))
        .await;
    assert!(err.contains("connection big"), "{err}");
    assert!(err.contains("ignores the page parameter"), "{err}");
    let d = delta(&before, &requests(&env).await);
    assert_eq!(d, [("GET /api/v1/users".to_string(), 2)], "{d:?}");

    // Paging by cursor meets the same answer on its second API page.
    let first = c.ok("list_users", json!({"limit": 500})).await;
    let mut cursor = first["next_cursor"].as_str().expect("more").to_string();
    let mut error = None;
    for _ in 0..40 {
        let o = c
            .call("list_users", json!({"limit": 500, "cursor": cursor}))
            .await;
        if o.is_error {
            error = Some(o.text);
            break;
        }
        cursor = o.structured["next_cursor"]
            .as_str()
            .expect("more")
            .to_string();
    }
    let error = error.expect("the walk is refused within the first pages");
    assert!(error.contains("ignores the page parameter"), "{error}");
    c.close().await;
}

#[tokio::test]
async fn a_display_name_finds_the_account_through_the_tenant_filter_or_the_index() {
    let env = large("").await;
    let c = env.connect(Human::Absent).await;
    // Cold: the tenant's name filter, one request; two accounts answer to "Jane Doe".
    let before = requests(&env).await;
    let err = c.err("get_user", json!({"user": "Jane Doe"})).await;
    assert!(err.contains("70002") && err.contains("70007"), "{err}");
    let d = delta(&before, &requests(&env).await);
    assert_eq!(d, [("GET /api/v1/users".to_string(), 1)], "{d:?}");
    // A common name is ambiguous on a real-sized tenant: dozens of John Smiths.
    let err = c.err("get_user", json!({"user": "John Smith"})).await;
    assert!(err.contains("answer to"), "{err}");
    let one = c.ok("get_user", json!({"user": "temp contractor"})).await;
    assert_eq!(
        one["user"]["email"], "temp.contractor@acme.example",
        "{one}"
    );
    // Warm: the index, then a read by id of the one account.
    c.ok("get_user", json!({"user": "jane.doe@acme.example"}))
        .await;
    let before = requests(&env).await;
    let again = c.ok("get_user", json!({"user": "TEMP contractor"})).await;
    assert_eq!(again["user"]["id"], one["user"]["id"]);
    let d = delta(&before, &requests(&env).await);
    assert_eq!(d, [("GET /api/v1/users/{id}".to_string(), 1)], "{d:?}");
    c.close().await;
}
