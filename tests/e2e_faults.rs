//! Outcomes as the tenant shows them, under faults: the real binary against a simulator that
//! applies a write and then loses or spoils its answer, or fails the read-back. Each result and
//! journal record must say what happened — executed, not applied, or unknown — and uncertain
//! staged writes must be listed in pending_changes.

mod common;

use common::{Env, Human};
use serde_json::{Value, json};

async fn faults(env: &Env, list: Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .post(format!("{}/__sim/faults", env.sim().url))
        .json(&list)
        .send()
        .await
        .expect("queue faults");
    assert!(resp.status().is_success(), "{}", resp.status());
}

/// The journal's records for `tool`, oldest first.
fn records(env: &Env, tool: &str) -> Vec<Value> {
    std::fs::read_to_string(env.journal())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["tool"] == tool)
        .collect()
}

/// The outcome recorded after the last intent of `tool`.
fn last_outcome(env: &Env, tool: &str) -> Value {
    records(env, tool)
        .into_iter()
        .rev()
        .find(|r| r["outcome"] != "intent")
        .unwrap_or(Value::Null)
}

const NEW: &str = "lost.answer@acme.example";

fn new_user() -> Value {
    json!({"name": "Lost Answer", "email": NEW, "department": "Sales", "groups": ["Sales"]})
}

#[tokio::test]
async fn writes_whose_answer_is_lost_are_read_back_and_reported_as_they_happened() {
    let env = Env::with_sim().await;
    let sim = env.sim();
    let client = env.connect(Human::Accepts).await;
    client.ok("list_users", json!({"limit": 1})).await;

    // create_user: the tenant creates the account, then answers HTML.
    faults(
        &env,
        json!([{"route": "POST /api/v1/users", "kind": "apply_then_html"}]),
    )
    .await;
    let r = client.ok("create_user", new_user()).await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["verification"], "verified", "{r}");
    assert!(r["notices"].to_string().contains("answer was lost"), "{r}");
    assert!(sim.user(NEW, "draft").await.is_some());
    let rec = last_outcome(&env, "create_user");
    assert_eq!(rec["outcome"], "executed", "{rec}");
    assert!(
        rec["intent"].is_string(),
        "the outcome points at its intent: {rec}"
    );

    // add_to_group: the PUT is applied, then the connection resets.
    faults(
        &env,
        json!([{"route": "PUT /api/v1/users/{id}", "kind": "apply_then_reset"}]),
    )
    .await;
    let r = client
        .ok(
            "add_to_group",
            json!({"user": "jane.doe@acme.example", "groups": ["Engineering"]}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["verification"], "verified", "{r}");
    assert_eq!(last_outcome(&env, "add_to_group")["outcome"], "executed");

    // deactivate (delete): applied, then half an answer.
    faults(
        &env,
        json!([{"route": "DELETE /api/v1/users/{id}", "kind": "apply_then_cut", "status": 200}]),
    )
    .await;
    let r = client
        .ok("deactivate", json!({"user": "john.smith@acme.example"}))
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["verification"], "verified", "{r}");
    assert!(sim.user("john.smith@acme.example", "draft").await.is_none());
    assert_eq!(last_outcome(&env, "deactivate")["outcome"], "executed");

    // Every one of them waits for activation, and pending_changes lists it.
    let pending = client.ok("pending_changes", json!({})).await.to_string();
    for who in [NEW, "jane.doe@acme.example", "john.smith@acme.example"] {
        assert!(pending.contains(who), "{who} missing from {pending}");
    }
    client.close().await;
}

#[tokio::test]
async fn a_lost_answer_to_a_write_that_did_not_happen_is_reported_as_not_applied() {
    let env = Env::with_sim().await;
    let sim = env.sim();
    let client = env.connect(Human::Accepts).await;
    // The connection drops before the tenant handles the request.
    faults(
        &env,
        json!([{"route": "POST /api/v1/users", "kind": "reset"}]),
    )
    .await;
    let msg = client.err("create_user", new_user()).await;
    assert!(msg.contains("did not happen"), "{msg}");
    assert!(sim.user(NEW, "draft").await.is_none());
    let failed = last_outcome(&env, "create_user");
    assert_eq!(failed["outcome"], "failed", "{failed}");
    assert_eq!(failed["error_kind"], "upstream", "{failed}");
    // Nothing is listed as staged.
    let pending = client.ok("pending_changes", json!({})).await.to_string();
    assert!(!pending.contains(NEW), "{pending}");
    client.close().await;
}

#[tokio::test]
async fn a_write_that_cannot_be_read_back_is_unknown_and_listed_as_possibly_staged() {
    let env = Env::with_sim().await;
    let client = env.connect(Human::Accepts).await;
    client.ok("list_users", json!({"limit": 1})).await;
    // Created, answer lost, and every read of the users fails for a while.
    faults(
        &env,
        json!([
            {"route": "POST /api/v1/users", "kind": "apply_then_empty", "status": 200},
            {"route": "GET /api/v1/users", "status": 500, "count": 20},
        ]),
    )
    .await;
    let r = client.ok("create_user", new_user()).await;
    assert_eq!(r["status"], "outcome_unknown", "{r}");
    assert_eq!(r["verification"], "unknown", "{r}");
    assert!(r["notices"].to_string().contains("unknown"), "{r}");
    assert_eq!(last_outcome(&env, "create_user")["outcome"], "unknown");
    // Clear what is left of the read faults, then look.
    faults(&env, json!([])).await;
    let pending = client.ok("pending_changes", json!({})).await.to_string();
    assert!(pending.contains("possibly"), "{pending}");
    client.close().await;
}

#[tokio::test]
async fn a_batch_whose_read_back_fails_reports_every_account_unknown() {
    let env = Env::with_sim_policy("[policy.token_mode]\nenabled = true\n").await;
    let sim = env.sim();
    let client = env.connect(Human::Absent).await;
    let who = ["jane.doe@acme.example", "john.smith@acme.example"];
    let args = json!({"users": who, "mode": "delete"});
    let plan = client.ok("deactivate", args.clone()).await;
    let echo = plan["plan_id_with_token"]
        .as_str()
        .expect("token")
        .to_string();
    // Deleted, answer lost, and the read-back cannot read the tenant.
    faults(
        &env,
        json!([
            {"route": "POST /api/v1/users/bulkDelete", "kind": "apply_then_html", "status": 200},
            {"route": "GET /api/v1/users", "status": 500, "count": 50},
        ]),
    )
    .await;
    let mut with = args.clone();
    with["plan_id"] = json!(echo);
    let r = client.ok("deactivate", with).await;
    assert_eq!(r["status"], "outcome_unknown", "{r}");
    assert_eq!(r["verification"], "unknown", "{r}");
    let outcomes = r["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 2);
    assert!(outcomes.iter().all(|o| o["outcome"] == "unknown"), "{r}");
    assert!(
        r["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("2 unknown"),
        "{r}"
    );
    let unknown = records(&env, "deactivate")
        .into_iter()
        .filter(|r| r["outcome"] == "unknown")
        .count();
    assert_eq!(unknown, 2, "one unknown record per account");
    for w in who {
        assert!(
            sim.user(w, "draft").await.is_none(),
            "{w} was deleted after all"
        );
    }
    client.close().await;
}
