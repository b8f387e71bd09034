//! Tool errors keep their kind to the edge: a real MCP client against the real binary and a
//! simulator reads `kind` from the error's structured content (the message stays the text),
//! and the journal's refusal records carry it as `error_kind`.

mod common;

use common::{Env, Human};
use serde_json::{Value, json};

/// Calls a tool that must fail; returns its structured error, after checking that it carries
/// the same message as its text.
async fn error(c: &common::Client, tool: &str, args: Value) -> Value {
    let o = c.call(tool, args.clone()).await;
    assert!(o.is_error, "{tool} {args} should fail: {}", o.structured);
    assert_eq!(o.structured["message"], json!(o.text), "{}", o.structured);
    o.structured
}

#[tokio::test]
async fn not_found_refused_ambiguous_and_invalid_input_reach_the_client() {
    let env = Env::with_sim().await;
    let c = env.connect(Human::Absent).await;

    let e = error(&c, "get_user", json!({"user": "nobody@acme.example"})).await;
    assert_eq!(e["kind"], "not_found", "{e}");
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains("no user")),
        "{e}"
    );

    // Protected by policy.protected_accounts: refused before any plan, nothing changed.
    let e = error(&c, "deactivate", json!({"user": "breakglass@acme.example"})).await;
    assert_eq!(e["kind"], "refused", "{e}");
    let e = error(
        &c,
        "remove_from_group",
        json!({"user": "svc-scanner@acme.example", "groups": ["Service Accounts"]}),
    )
    .await;
    assert_eq!(e["kind"], "refused", "{e}");
    assert!(
        env.sim()
            .user("breakglass@acme.example", "draft")
            .await
            .is_some()
    );

    // Two accounts are named "Jane Doe": the key is ambiguous, never guessed.
    let e = error(&c, "get_user", json!({"user": "Jane Doe"})).await;
    assert_eq!(e["kind"], "ambiguous", "{e}");
    // A batch looks up emails and ids only: an unknown key there is not found.
    let e = error(
        &c,
        "deactivate",
        json!({"users": ["gone@acme.example", "john.smith@acme.example"]}),
    )
    .await;
    assert_eq!(e["kind"], "not_found", "{e}");

    // Native ZIA declares that a new account needs a group.
    let e = error(
        &c,
        "create_user",
        json!({"name": "Nia Newcomer", "email": "nia.newcomer@acme.example", "department": "Sales", "groups": []}),
    )
    .await;
    assert_eq!(e["kind"], "invalid_input", "{e}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("needs at least one group")),
        "{e}"
    );
    assert!(
        env.sim()
            .user("nia.newcomer@acme.example", "draft")
            .await
            .is_none()
    );

    let e = error(&c, "list_users", json!({"limit": 0})).await;
    assert_eq!(e["kind"], "invalid_input", "{e}");
    let e = error(
        &c,
        "get_user",
        json!({"user": "x@acme.example", "connection": "nope"}),
    )
    .await;
    assert_eq!(e["kind"], "not_found", "{e}");
    c.close().await;
}

#[tokio::test]
async fn a_refused_plan_is_journaled_with_its_kind() {
    let env = Env::with_sim().await;
    let c = env.connect(Human::Absent).await;
    let e = error(
        &c,
        "deactivate",
        json!({"user": "john.smith@acme.example", "plan_id": "p-does-not-exist"}),
    )
    .await;
    assert_eq!(e["kind"], "not_found", "{e}");
    c.close().await;
    let records: Vec<Value> = std::fs::read_to_string(env.journal())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let refusal = records
        .iter()
        .find(|r| r["outcome"] == "refused" && r["plan_id"] == "p-does-not-exist")
        .unwrap_or_else(|| panic!("no refusal record in {records:?}"));
    assert_eq!(refusal["error_kind"], "not_found", "{refusal}");
    assert_eq!(refusal["reason"], e["message"], "{refusal}");
}
