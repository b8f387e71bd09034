//! Arguments the tenant must never see, over the real binary: oversized ones are refused before
//! any tenant call (they used to cost half a minute of retries and end in "the tenant could
//! not be reached"), and emails or lookup keys with invisible or direction-changing characters
//! are refused with an error that names the character, instead of a confusing "not found".

mod common;

use common::{Env, Human};
use serde_json::{Value, json};

/// Requests the simulator has handled so far.
async fn tenant_requests(env: &Env) -> u64 {
    env.sim().get("/__sim/requests").await["total"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn oversized_arguments_are_refused_before_any_tenant_call() {
    let env = Env::with_sim().await;
    let client = env.connect(Human::Absent).await;
    let huge_email = format!("{}@acme.example", "a".repeat(100_000));
    let many: Vec<Value> = (0..501)
        .map(|i| json!(format!("u{i}@acme.example")))
        .collect();
    let cases = [
        (
            "get_user",
            json!({"user": huge_email}),
            "over the 254 allowed",
        ),
        (
            "deactivate",
            json!({"user": huge_email}),
            "over the 254 allowed",
        ),
        ("deactivate", json!({"users": many}), "over the 500 allowed"),
        (
            "add_to_group",
            json!({"user": "jane.doe@acme.example", "groups": ["G".repeat(500)]}),
            "over the 127 allowed",
        ),
        (
            "add_to_group",
            json!({"user": "jane.doe@acme.example", "groups": vec!["Sales"; 129]}),
            "over the 128 allowed",
        ),
        (
            "list_users",
            json!({"email_prefix": "x".repeat(300)}),
            "over the 254 allowed",
        ),
        (
            "create_user",
            json!({"name": "X Y", "email": huge_email, "department": "Sales", "groups": ["Sales"]}),
            "over the 127 allowed",
        ),
        (
            "list_groups",
            json!({"connection": "c".repeat(1_000)}),
            "over the 128 allowed",
        ),
    ];
    let before = tenant_requests(&env).await;
    for (tool, args, needle) in cases {
        let msg = client.err(tool, args.clone()).await;
        assert!(msg.contains(needle), "{tool}: {msg}");
        assert!(
            !msg.contains("could not be reached"),
            "{tool}: one cause, named once: {msg}"
        );
        assert!(
            msg.len() < 1_000,
            "{tool}: the argument is not echoed whole"
        );
    }
    assert_eq!(
        tenant_requests(&env).await,
        before,
        "no oversized argument reached the tenant"
    );
    client.close().await;
}

#[tokio::test]
async fn emails_and_keys_with_hidden_characters_are_refused_by_name() {
    let env = Env::with_sim().await;
    let client = env.connect(Human::Absent).await;
    let rlo = "jane.doe\u{202E}@acme.example";
    let zwsp = "jane.doe\u{200B}@acme.example";
    let cases = [
        (
            "create_user",
            json!({"name": "Eve", "email": "eve\u{202E}elpmaxe.emca@acme.example", "department": "Sales", "groups": ["Sales"]}),
            "U+202E (right-to-left override)",
        ),
        (
            "create_user",
            json!({"name": "Eve", "email": "eve\u{2066}@acme.example", "department": "Sales", "groups": ["Sales"]}),
            "U+2066 (left-to-right isolate)",
        ),
        (
            "create_user",
            json!({"name": "Eve", "email": "eve\u{200D}@acme.example", "department": "Sales", "groups": ["Sales"]}),
            "U+200D (zero-width joiner)",
        ),
        (
            "create_user",
            json!({"name": "Eve \u{202E}Doe", "email": "eve@acme.example", "department": "Sales", "groups": ["Sales"]}),
            "U+202E",
        ),
        (
            "get_user",
            json!({"user": rlo}),
            "U+202E (right-to-left override)",
        ),
        (
            "get_user",
            json!({"user": zwsp}),
            "U+200B (zero-width space)",
        ),
        (
            "get_user",
            json!({"user": zwsp, "connection": "all"}),
            "U+200B",
        ),
        ("deactivate", json!({"user": rlo}), "U+202E"),
        (
            "deactivate",
            json!({"users": ["john.smith@acme.example", zwsp]}),
            "U+200B",
        ),
        (
            "remove_from_group",
            json!({"user": "jane.doe@acme.example\u{FEFF}", "groups": ["Sales"]}),
            "U+FEFF",
        ),
    ];
    for (tool, args, needle) in cases {
        let msg = client.err(tool, args.clone()).await;
        assert!(msg.contains(needle), "{tool} {args}: {msg}");
        assert!(
            !msg.contains("no user with") && !msg.contains('\u{202E}') && !msg.contains('\u{200B}'),
            "{tool}: a clear error, the character escaped: {msg}"
        );
    }
    assert!(
        env.sim().user("eve@acme.example", "draft").await.is_none(),
        "nothing was created"
    );
    assert!(
        env.sim()
            .user("jane.doe@acme.example", "draft")
            .await
            .is_some()
    );
    assert_eq!(env.sim().status().await, "ACTIVE", "nothing was staged");
    // The same keys typed cleanly work.
    let found = client
        .ok("get_user", json!({"user": "jane.doe@acme.example"}))
        .await;
    assert_eq!(found["user"]["email"], "jane.doe@acme.example");
    client.close().await;
}
