//! End to end over stdio: a real MCP client drives the real binary, whose real ZIA adapter talks
//! HTTP to a simulator process on 127.0.0.1. Every state change is asserted on the simulator.

mod common;

use common::{Env, Human};
use serde_json::{Value, json};

#[tokio::test]
async fn demo_mode_serves_tools_prompts_and_users_without_config() {
    let env = Env::demo();
    let client = env.connect(Human::Absent).await;
    let info = client.service.peer_info().expect("initialized");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("zscaler-lifecycle-mcp")
    );
    assert!(
        info.instructions
            .as_deref()
            .unwrap_or_default()
            .contains("DEMO MODE")
    );

    let tools = client.service.list_all_tools().await.expect("tools/list");
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "activate_changes",
            "add_to_group",
            "audit_orphans",
            "create_user",
            "deactivate",
            "get_user",
            "list_groups",
            "list_users",
            "pending_changes",
            "reconcile",
            "remove_from_group",
            "restore_user",
            "update_user"
        ]
    );
    for t in &tools {
        assert!(
            t.output_schema.is_some(),
            "{} lacks an output schema",
            t.name
        );
        let ann = t.annotations.as_ref().expect("annotations");
        let destructive = [
            "deactivate",
            "remove_from_group",
            "activate_changes",
            "reconcile",
            "update_user",
        ]
        .contains(&t.name.as_ref());
        assert_eq!(
            ann.destructive_hint.unwrap_or(false),
            destructive,
            "{}",
            t.name
        );
    }
    let prompts = client
        .service
        .list_all_prompts()
        .await
        .expect("prompts/list");
    assert_eq!(prompts.len(), 5);

    let page = client
        .ok("list_users", json!({"email_prefix": "jane.doe@"}))
        .await;
    let users = page["users"].as_array().expect("users");
    assert_eq!(users.len(), 1, "{page}");
    assert_eq!(users[0]["email"], "jane.doe@acme.example");
    assert_eq!(page["connection"], "demo");

    // Every structured result matches the output schema the tool publishes.
    let schema_of = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).expect("tool listed");
        serde_json::Value::Object((**tool.output_schema.as_ref().expect("schema")).clone())
    };
    let calls = [
        ("list_users", json!({"limit": 5})),
        ("get_user", json!({"user": "jane.doe@acme.example"})),
        ("list_groups", json!({})),
        ("pending_changes", json!({})),
        ("audit_orphans", json!({})),
        (
            "add_to_group",
            json!({"user": "jane.doe@acme.example", "groups": ["Finance"]}),
        ),
        ("deactivate", json!({"user": "john.smith@acme.example"})),
        ("activate_changes", json!({})),
    ];
    let strict = jsonschema::validator_for(&schema_of("list_users")).expect("schema compiles");
    assert!(
        !strict.is_valid(&json!({"connection": "demo", "users": 5})),
        "validation is not vacuous"
    );
    for (name, args) in calls {
        let out = client.ok(name, args).await;
        let schema = schema_of(name);
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let errors: Vec<String> = validator.iter_errors(&out).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{name} result violates its schema: {errors:?}\n{out}"
        );
    }
    client.close().await;
}

#[tokio::test]
async fn paging_returns_every_user_once() {
    let env = Env::with_sim().await;
    let client = env.connect(Human::Absent).await;
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .ok("list_users", json!({"limit": 100, "cursor": cursor}))
            .await;
        for u in page["users"].as_array().expect("users") {
            assert!(
                seen.insert(u["id"].as_str().expect("id").to_string()),
                "duplicate {u}"
            );
        }
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
        assert!(pages < 100, "paging does not end");
    }
    assert!(seen.len() > 250, "only {} users", seen.len());
    let sim_count = env.sim().get("/__sim/status").await["draft_users"]
        .as_u64()
        .expect("count");
    assert_eq!(seen.len() as u64, sim_count);
    client.close().await;
}

#[tokio::test]
async fn create_then_read_back_through_the_simulator() {
    let env = Env::with_sim().await;
    let sim = env.sim();
    let client = env.connect(Human::Absent).await;
    let r = client
        .ok("create_user", json!({"name": "Ada Lovelace", "email": "ada.lovelace@acme.example", "department": "engineering", "groups": ["Engineering", "all staff"]}))
        .await;
    assert_eq!(r["status"], "executed");
    assert_eq!(r["verification"], "verified");
    assert_eq!(r["staged"], true);
    let stored = sim
        .user("ada.lovelace@acme.example", "draft")
        .await
        .expect("created on the tenant");
    assert_eq!(stored["name"], "Ada Lovelace");
    assert_eq!(stored["department"]["name"], "Engineering");
    let mut groups: Vec<&str> = stored["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    groups.sort_unstable();
    assert_eq!(groups, ["All Staff", "Engineering"]);
    // Staged, not live, until activation.
    assert!(
        sim.user("ada.lovelace@acme.example", "live")
            .await
            .is_none()
    );
    assert_eq!(sim.status().await, "PENDING");
    let pending = client.ok("pending_changes", json!({})).await;
    assert_eq!(pending["tenant_status"], "PENDING");
    assert_eq!(
        pending["staged_by_this_server"]
            .as_array()
            .expect("ledger")
            .len(),
        1
    );
    client.close().await;
}

#[tokio::test]
async fn add_to_group_keeps_other_groups() {
    let env = Env::with_sim().await;
    let sim = env.sim();
    let client = env.connect(Human::Absent).await;
    let r = client
        .ok(
            "add_to_group",
            json!({"user": "JANE.DOE@acme.example", "groups": ["Finance"]}),
        )
        .await;
    assert_eq!(r["verification"], "verified");
    let stored = sim
        .user("jane.doe@acme.example", "draft")
        .await
        .expect("jane");
    let mut groups: Vec<&str> = stored["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    groups.sort_unstable();
    assert_eq!(groups, ["All Staff", "Finance", "Sales"]);
    assert_eq!(stored["department"]["name"], "Sales", "department kept");
    // Asking again changes nothing.
    let again = client
        .ok(
            "add_to_group",
            json!({"user": "jane.doe@acme.example", "groups": ["finance"]}),
        )
        .await;
    assert_eq!(again["status"], "no_change");
    client.close().await;
}

#[tokio::test]
async fn deactivate_without_confirmation_changes_nothing_then_approval_executes_once() {
    let env = Env::with_sim().await;
    let sim = env.sim();
    let client = env.connect(Human::Absent).await;
    let args = json!({"user": "john.smith@acme.example"});
    let first = client.ok("deactivate", args.clone()).await;
    assert_eq!(first["status"], "awaiting_approval");
    let plan_id = first["plan"]["id"].as_str().expect("plan id").to_string();
    let changes = first["plan"]["changes"].to_string();
    assert!(
        changes.contains("john.smith@acme.example") && changes.contains("Delete"),
        "{changes}"
    );
    assert!(
        first["next_step"]
            .as_str()
            .expect("next step")
            .contains(&format!("approve {plan_id}"))
    );
    assert!(
        sim.user("john.smith@acme.example", "draft").await.is_some(),
        "nothing deleted before approval"
    );

    // Calling back with the plan but without a human's approval is refused.
    let mut with_plan = args.clone();
    with_plan["plan_id"] = json!(plan_id);
    let refused = client.err("deactivate", with_plan.clone()).await;
    assert!(refused.contains("not been approved"), "{refused}");
    assert!(sim.user("john.smith@acme.example", "draft").await.is_some());

    // A plan may not be redeemed for another user.
    let other = client
        .err(
            "deactivate",
            json!({"user": "jane.doe@acme.example", "plan_id": plan_id}),
        )
        .await;
    assert!(other.contains("was made for"), "{other}");

    // The agent's own attempt to approve without a terminal fails.
    let no_tty = env.run(&["approve", &plan_id]).await;
    assert!(!no_tty.status.success());
    assert!(String::from_utf8_lossy(&no_tty.stderr).contains("terminal"));

    // A wrong answer at the prompt approves nothing.
    let wrong = env.approve(&plan_id, "yes").await;
    assert!(
        !wrong.status.success(),
        "{}",
        String::from_utf8_lossy(&wrong.stdout)
    );

    let approved = env.approve(&plan_id, &plan_id).await;
    assert!(
        approved.status.success(),
        "approve failed: {}",
        String::from_utf8_lossy(&approved.stdout)
    );

    let done = client.ok("deactivate", with_plan.clone()).await;
    assert_eq!(done["status"], "executed");
    assert_eq!(done["verification"], "verified");
    assert_eq!(done["confirmation"]["channel"], "approve-cli");
    assert_eq!(done["confirmation"]["approver"], common::os_account());
    assert!(
        sim.user("john.smith@acme.example", "draft").await.is_none(),
        "deleted after approval"
    );

    // Replay is refused.
    let replay = client.err("deactivate", with_plan).await;
    assert!(replay.contains("already used"), "{replay}");

    let verify = env.run(&["journal", "verify"]).await;
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let journal = std::fs::read_to_string(env.journal()).expect("journal");
    for outcome in ["awaiting_approval", "refused", "approved", "executed"] {
        assert!(
            journal.contains(&format!("\"outcome\":\"{outcome}\"")),
            "journal lacks {outcome}"
        );
    }
    assert!(
        !journal.contains(&sim.password) && !journal.contains(&sim.api_key),
        "secrets in the journal"
    );
    client.close().await;
}

#[tokio::test]
async fn plan_is_refused_when_the_target_changed_after_approval() {
    let env = Env::with_sim().await;
    let client = env.connect(Human::Absent).await;
    let first = client
        .ok(
            "remove_from_group",
            json!({"user": "jane.doe@acme.example", "groups": ["Sales"]}),
        )
        .await;
    assert_eq!(first["status"], "awaiting_approval");
    let plan_id = first["plan"]["id"].as_str().expect("plan id").to_string();
    assert!(env.approve(&plan_id, &plan_id).await.status.success());
    // Someone changes Jane in between.
    client
        .ok(
            "add_to_group",
            json!({"user": "jane.doe@acme.example", "groups": ["Finance"]}),
        )
        .await;
    let refused = client
        .err(
            "remove_from_group",
            json!({"user": "jane.doe@acme.example", "groups": ["Sales"], "plan_id": plan_id}),
        )
        .await;
    assert!(refused.contains("changed since the plan"), "{refused}");
    let jane = env
        .sim()
        .user("jane.doe@acme.example", "draft")
        .await
        .expect("jane");
    assert!(jane["groups"].to_string().contains("Sales"), "Sales kept");
    client.close().await;
}

#[tokio::test]
async fn elicitation_accept_executes_and_decline_or_cancel_changes_nothing() {
    let env = Env::with_sim().await;
    let sim = env.sim();

    let declining = env.connect(Human::Declines).await;
    let r = declining
        .ok("deactivate", json!({"user": "john.smith@acme.example"}))
        .await;
    assert_eq!(r["status"], "declined");
    assert!(declining.asked.lock().expect("lock")[0].contains("john.smith@acme.example"));
    declining.close().await;
    let cancelling = env.connect(Human::Cancels).await;
    let r = cancelling
        .ok(
            "remove_from_group",
            json!({"user": "john.smith@acme.example", "groups": ["Engineering"]}),
        )
        .await;
    assert_eq!(r["status"], "declined");
    cancelling.close().await;
    let john = sim
        .user("john.smith@acme.example", "draft")
        .await
        .expect("john still there");
    assert!(john["groups"].to_string().contains("Engineering"));

    let accepting = env.connect(Human::Accepts).await;
    let r = accepting
        .ok(
            "remove_from_group",
            json!({"user": "john.smith@acme.example", "groups": ["Engineering"]}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["confirmation"]["channel"], "elicitation");
    let john = sim
        .user("john.smith@acme.example", "draft")
        .await
        .expect("john");
    let groups = john["groups"].to_string();
    assert!(
        !groups.contains("Engineering") && groups.contains("All Staff"),
        "{groups}"
    );

    // activate_changes moves the tenant from PENDING to ACTIVE, after confirmation.
    assert_eq!(sim.status().await, "PENDING");
    assert!(
        sim.user("john.smith@acme.example", "live")
            .await
            .expect("live john")["groups"]
            .to_string()
            .contains("Engineering")
    );
    let r = accepting.ok("activate_changes", json!({})).await;
    assert_eq!(r["status"], "executed", "{r}");
    assert!(
        r["plan"]["changes"].to_string().contains("removed"),
        "plan lists the ledger: {r}"
    );
    assert_eq!(sim.status().await, "ACTIVE");
    assert!(
        !sim.user("john.smith@acme.example", "live")
            .await
            .expect("live john")["groups"]
            .to_string()
            .contains("Engineering")
    );
    accepting.close().await;
}

#[tokio::test]
async fn protected_accounts_and_groups_are_refused_however_named() {
    let env = Env::with_sim().await;
    let client = env.connect(Human::Accepts).await;
    let msg = client
        .err("deactivate", json!({"user": "BreakGlass@ACME.example"}))
        .await;
    assert!(msg.contains("protected"), "{msg}");
    let id = env
        .sim()
        .user("breakglass@acme.example", "draft")
        .await
        .expect("bg")["id"]
        .to_string();
    let msg = client.err("deactivate", json!({"user": id})).await;
    assert!(msg.contains("protected"), "{msg}");
    let msg = client
        .err(
            "remove_from_group",
            json!({"user": "svc-scanner@acme.example", "groups": ["Service Accounts"]}),
        )
        .await;
    assert!(msg.contains("protected"), "{msg}");
    let msg = client
        .err(
            "add_to_group",
            json!({"user": "jane.doe@acme.example", "groups": ["admins"]}),
        )
        .await;
    assert!(msg.contains("protected"), "{msg}");
    assert!(
        client.asked.lock().expect("lock").is_empty(),
        "no human was asked about a refused change"
    );
    assert!(
        env.sim()
            .user("breakglass@acme.example", "draft")
            .await
            .is_some()
    );
    client.close().await;
}

#[tokio::test]
async fn bad_input_gets_actionable_errors_and_changes_nothing() {
    let env = Env::with_sim().await;
    let client = env.connect(Human::Absent).await;
    let cases = [
        (
            "get_user",
            json!({"user": "nobody@acme.example"}),
            "list_users",
        ),
        ("get_user", json!({"user": "99999999"}), "no user with id"),
        (
            "add_to_group",
            json!({"user": "jane.doe@acme.example", "groups": ["Salez"]}),
            "list_groups",
        ),
        (
            "create_user",
            json!({"name": "X Y", "email": "x.y@acme.example", "department": "Nowhere", "groups": ["Sales"]}),
            "available departments",
        ),
        (
            "create_user",
            json!({"name": "X Y", "email": "not-an-email", "department": "Sales", "groups": ["Sales"]}),
            "not valid",
        ),
        (
            "create_user",
            json!({"name": "X Y", "email": "x.y@gmail.example", "department": "Sales", "groups": ["Sales"]}),
            "not registered",
        ),
        (
            "create_user",
            json!({"name": "Jane Doe", "email": "Jane.Doe@acme.example", "department": "Sales", "groups": ["Sales"]}),
            "already exists",
        ),
        (
            "create_user",
            json!({"name": "N".repeat(128), "email": "long.name@acme.example", "department": "Sales", "groups": ["Sales"]}),
            "127",
        ),
        (
            "create_user",
            json!({"name": "X Y", "email": "x.y@acme.example", "department": "Sales", "groups": []}),
            "list_groups",
        ),
        (
            "list_users",
            json!({"connection": "zia-prod"}),
            "configured connections: zia-test",
        ),
        (
            "list_users",
            json!({"group": "No Such Group"}),
            "list_groups",
        ),
        ("list_users", json!({"limit": 0}), "1 to 500"),
        ("list_users", json!({"cursor": "garbage!"}), "cursor"),
        (
            "remove_from_group",
            json!({"user": "jane.doe@acme.example", "groups": ["Finance"]}),
            "not a member",
        ),
        (
            "deactivate",
            json!({"user": "jane.doe@acme.example", "mode": "disable"}),
            "mode \"delete\"",
        ),
        (
            "deactivate",
            json!({"email": "jane.doe@acme.example"}),
            "unknown field",
        ),
    ];
    for (tool, args, needle) in cases {
        let msg = client.err(tool, args.clone()).await;
        assert!(
            msg.to_lowercase().contains(&needle.to_lowercase()),
            "{tool} {args}: {msg}"
        );
    }
    assert_eq!(
        env.sim().status().await,
        "ACTIVE",
        "no bad input wrote anything"
    );
    client.close().await;
}

#[tokio::test]
async fn audit_names_its_rules_and_excludes_protected_accounts() {
    let env = Env::with_sim().await;
    let client = env.connect(Human::Absent).await;
    let r = client
        .ok("audit_orphans", json!({"max_findings": 500}))
        .await;
    let findings = r["findings"].as_array().expect("findings");
    let has = |rule: &str, label: &str| {
        findings
            .iter()
            .any(|f| f["rule"] == rule && f["label"] == label)
    };
    assert!(
        has("no_group_or_department", "temp.contractor@acme.example"),
        "{r}"
    );
    assert!(has("no_group_or_department", "no.dept@acme-labs.example"));
    assert!(has(
        "unregistered_or_external_domain",
        "old.vendor@vendor-mail.example"
    ));
    assert!(
        has("duplicate_identity", "jdoe@acme.example")
            && has("duplicate_identity", "jane.doe@acme.example")
    );
    assert!(has("empty_group", "Legacy VPN Users"));
    let excluded = r["excluded"].to_string();
    assert!(
        excluded.contains("breakglass@acme.example")
            && excluded.contains("svc-scanner@acme.example")
    );
    assert!(
        !findings
            .iter()
            .any(|f| f["label"] == "breakglass@acme.example")
    );
    for f in findings {
        assert!(f["suggested_call"]["tool"].is_string(), "{f}");
    }
    client.close().await;
}

#[tokio::test]
async fn mrtr_clients_confirm_through_input_required_results() {
    use rmcp::model::CallToolResponse;

    let env = Env::with_sim().await;
    let sim = env.sim();

    let declining = env.connect_modern(Human::Declines).await;
    let r = declining
        .ok("deactivate", json!({"user": "john.smith@acme.example"}))
        .await;
    assert_eq!(r["status"], "declined", "{r}");
    assert!(declining.asked.lock().expect("lock")[0].contains("john.smith@acme.example"));
    declining.close().await;
    assert!(sim.user("john.smith@acme.example", "draft").await.is_some());

    // A tampered requestState is refused and changes nothing.
    let raw = env.connect_modern(Human::Accepts).await;
    let args = json!({"user": "john.smith@acme.example"});
    let state = raw.sealed_state("deactivate", &args).await;
    let mut tampered = state.clone();
    tampered.insert(tampered.len() / 2, 'x');
    let forged = raw
        .service
        .call_tool_once(common::accepted("deactivate", &args, tampered))
        .await
        .expect("forged call answered");
    let CallToolResponse::Complete(forged) = forged else {
        panic!("expected a final result")
    };
    assert_eq!(forged.is_error, Some(true));
    assert!(
        sim.user("john.smith@acme.example", "draft").await.is_some(),
        "forged state changed nothing"
    );

    // The genuine answer executes once; replaying it does not execute again.
    let genuine = common::accepted("deactivate", &args, state);
    let done = raw
        .service
        .call_tool_once(genuine.clone())
        .await
        .expect("genuine");
    let CallToolResponse::Complete(done) = done else {
        panic!("expected a final result")
    };
    let done = done.structured_content.expect("structured");
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["confirmation"]["channel"], "mrtr");
    assert!(sim.user("john.smith@acme.example", "draft").await.is_none());
    let replay = raw
        .service
        .call_tool_once(genuine)
        .await
        .expect("replay answered");
    let CallToolResponse::Complete(replay) = replay else {
        panic!("expected a final result")
    };
    assert!(
        replay.is_error == Some(true)
            || replay
                .structured_content
                .map(|v| v["status"] != "executed")
                .unwrap_or(true)
    );
    raw.close().await;

    // The client's own MRTR loop (rmcp fulfils input requests through the handler) works too.
    let accepting = env.connect_modern(Human::Accepts).await;
    let r = accepting
        .ok(
            "remove_from_group",
            json!({"user": "jane.doe@acme.example", "groups": ["Sales"]}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    accepting.close().await;
    assert!(
        !sim.user("jane.doe@acme.example", "draft")
            .await
            .expect("jane")["groups"]
            .to_string()
            .contains("\"Sales\"")
    );
}

#[tokio::test]
async fn call_command_runs_tools_and_never_confirms_without_a_terminal() {
    let env = Env::with_sim().await;
    let out = env
        .run(&["call", "list_users", "--args", r#"{"name_prefix":"Jane"}"#])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["users"].as_array().expect("users").len(), 2);

    let out = env
        .run(&[
            "call",
            "deactivate",
            "--args",
            r#"{"user":"jane.doe@acme.example"}"#,
        ])
        .await;
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["status"], "awaiting_approval");
    assert!(
        env.sim()
            .user("jane.doe@acme.example", "draft")
            .await
            .is_some()
    );

    let out = env
        .run(&[
            "call",
            "get_user",
            "--args",
            r#"{"user":"nobody@acme.example"}"#,
        ])
        .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("list_users"));
    let out = env.run(&["call", "get_user", "--args", "[1]"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JSON object"));
}

#[tokio::test]
async fn deletion_caps_refuse_before_anything_changes() {
    // read_only (write tools not offered at all) is proven in e2e_guard.rs.
    let env = Env::with_sim_policy("max_deletions_per_hour = 1").await;
    let client = env.connect(Human::Accepts).await;
    let r = client
        .ok("deactivate", json!({"user": "john.smith@acme.example"}))
        .await;
    assert_eq!(r["status"], "executed");
    let msg = client
        .err("deactivate", json!({"user": "jane.doe@acme.example"}))
        .await;
    assert!(msg.contains("max_deletions_per_hour"), "{msg}");
    assert_eq!(
        client.asked.lock().expect("lock").len(),
        1,
        "nobody is asked to approve a capped deletion"
    );
    assert!(
        env.sim()
            .user("jane.doe@acme.example", "draft")
            .await
            .is_some()
    );
    client.close().await;
}

#[tokio::test]
async fn check_logs_in_to_every_connection_without_printing_secrets() {
    let env = Env::with_sim().await;
    let out = env.run(&["check"]).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("ok    zia-test") && text.contains("Active"),
        "{text}"
    );

    let mut cmd = tokio::process::Command::new(common::BIN);
    let out = cmd
        .args([
            "--config",
            &common::path_str(env.config.as_ref().expect("config")),
            "check",
        ])
        .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", env.state_dir())
        .env("ZIA_USERNAME", &env.sim().username)
        .env("ZIA_PASSWORD", "wrong-password-xyz")
        .env("ZIA_API_KEY", &env.sim().api_key)
        .output()
        .await
        .expect("run");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(
        all.contains("FAIL  zia-test") && all.contains("login refused"),
        "{all}"
    );
    assert!(
        !all.contains("wrong-password-xyz") && !all.contains(&env.sim().api_key),
        "secret printed: {all}"
    );

    let out = tokio::process::Command::new(common::BIN)
        .args([
            "--config",
            &common::path_str(env.config.as_ref().expect("config")),
            "check",
        ])
        .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", env.state_dir())
        .env_remove("ZIA_USERNAME")
        .env_remove("ZIA_PASSWORD")
        .env_remove("ZIA_API_KEY")
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ZIA_USERNAME is not set"));
}

#[tokio::test]
async fn disabled_tools_are_not_offered() {
    let env = Env::with_sim_policy(r#"disabled_tools = ["deactivate", "activate_changes"]"#).await;
    let client = env.connect(Human::Accepts).await;
    let tools = client.service.list_all_tools().await.expect("tools/list");
    let every_tool = zscaler_lifecycle_mcp::ops::catalog::TOOLS.len();
    assert_eq!(tools.len(), every_tool - 2);
    assert!(!tools.iter().any(|t| t.name == "deactivate"));
    let Value::Object(args) = json!({"user": "jane.doe@acme.example"}) else {
        unreachable!()
    };
    let refused = client
        .service
        .call_tool(rmcp::model::CallToolRequestParams::new("deactivate").with_arguments(args))
        .await;
    assert!(refused.is_err(), "a disabled tool cannot be called");
    assert!(
        env.sim()
            .user("jane.doe@acme.example", "draft")
            .await
            .is_some()
    );
    client.close().await;

    let env = Env::with_sim_policy(r#"disabled_tools = ["delete_everyone"]"#).await;
    let out = env.run(&["check"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tool 'delete_everyone'"));
}

#[tokio::test]
async fn audit_against_an_hr_export_finds_leavers_and_unknown_accounts() {
    let env = Env::with_sim().await;
    let users = env.sim().get("/__sim/users").await;
    let mut csv = String::from("employee_id,work_email,status,end_date\n");
    for (i, u) in users.as_array().expect("users").iter().enumerate() {
        let email = u["email"].as_str().expect("email");
        match email {
            "temp.contractor@acme.example" => continue,
            "john.smith@acme.example" => {
                csv.push_str(&format!("E{i},{email},Terminated,2026-10-31\n"))
            }
            _ => csv.push_str(&format!("E{i},{},active,\n", email.to_uppercase())),
        }
    }
    let hr = env.dir.path().join("hr.csv");
    std::fs::write(&hr, csv).expect("write hr");
    let config = env.config.as_ref().expect("config");
    let mut text = std::fs::read_to_string(config).expect("read config");
    text.push_str(&format!(
        "\n[sources.hr]\npath = \"{}\"\nemail = \"work_email\"\nstatus = \"status\"\ntermination_date = \"end_date\"\nemployee_id = \"employee_id\"\n",
        hr.display()
    ));
    std::fs::write(config, text).expect("write config");

    let client = env.connect(Human::Absent).await;
    let r = client
        .ok("audit_orphans", json!({"source_of_record": "hr", "rules": ["terminated_but_present", "not_in_source_of_record"], "max_findings": 500}))
        .await;
    let findings = r["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 2, "exactly the planted cases: {r}");
    let john = findings
        .iter()
        .find(|f| f["rule"] == "terminated_but_present")
        .expect("leaver");
    assert_eq!(john["label"], "john.smith@acme.example");
    assert!(
        john["evidence"]
            .as_str()
            .expect("evidence")
            .contains("2026-10-31")
    );
    assert_eq!(john["suggested_call"]["tool"], "deactivate");
    let unknown = findings
        .iter()
        .find(|f| f["rule"] == "not_in_source_of_record")
        .expect("unknown");
    assert_eq!(unknown["label"], "temp.contractor@acme.example");

    let msg = client
        .err("audit_orphans", json!({"source_of_record": "payroll"}))
        .await;
    assert!(msg.contains("configured sources: hr"), "{msg}");
    std::fs::write(&hr, "employee_id,work_email,status,end_date\nE1,a@acme.example,active,\nE2,A@acme.example,active,\n").expect("write");
    let msg = client
        .err("audit_orphans", json!({"source_of_record": "hr"}))
        .await;
    assert!(msg.contains("line 3"), "{msg}");
    client.close().await;
}

#[tokio::test]
async fn packaging_commands_version_init_completions_and_json_logs() {
    let env = Env::demo();
    let out = env.run(&["--version"]).await;
    let version = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        version.contains(env!("CARGO_PKG_VERSION")) && version.contains('('),
        "{version}"
    );

    let out = env.run(&["completions", "bash"]).await;
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains("zscaler-lifecycle-mcp")
    );

    let target = env.dir.path().join("init.toml");
    let out = env
        .run(&["init", "--output", &common::path_str(&target)])
        .await;
    assert!(out.status.success());
    let text = std::fs::read_to_string(&target).expect("written");
    assert!(text.contains("{ env = \"ZIA_API_KEY\" }"));
    let again = env
        .run(&["init", "--output", &common::path_str(&target)])
        .await;
    assert!(
        !again.status.success(),
        "init never overwrites without --force"
    );

    // JSON logs: every stderr line of a demo `check` is one JSON object.
    let out = env.run(&["--log-format", "json", "check"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}

#[tokio::test]
async fn sdk_environment_variables_configure_a_connection_without_a_file() {
    let env = Env::with_sim().await;
    let sim = env.sim();
    let out = tokio::process::Command::new(common::BIN)
        .arg("check")
        .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", env.state_dir())
        .env_remove("ZSCALER_LIFECYCLE_MCP_CONFIG")
        .env_remove("ZIA_CLOUD")
        .env("ZIA_BASE_URL", &sim.url)
        .env("ZIA_USERNAME", &sim.username)
        .env("ZIA_PASSWORD", &sim.password)
        .env("ZIA_API_KEY", &sim.api_key)
        .output()
        .await
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ok    zia:"), "{text}");
}

/// The person's record in the simulator's ZPA SCIM store.
fn zpa_user<'a>(users: &'a [Value], email: &str) -> Option<&'a Value> {
    users.iter().find(|u| u["userName"] == email)
}

#[tokio::test]
async fn offboarding_everywhere_is_one_plan_one_confirmation_and_per_connection_outcomes() {
    let env = Env::with_sim_and_zpa().await;
    let sim = env.sim();
    let client = env.connect(Human::Accepts).await;

    let where_ = client
        .ok(
            "get_user",
            json!({"user": "jane.doe@acme.example", "connection": "all"}),
        )
        .await;
    let conns: Vec<&str> = where_["accounts"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["connection"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(conns, ["zia-test", "zpa-test"], "{where_}");
    let lab = client
        .ok(
            "get_user",
            json!({"user": "lab.tech@acme-labs.example", "connection": "all"}),
        )
        .await;
    assert_eq!(lab["not_found_on"], json!(["zia-test"]), "{lab}");

    let err = client
        .err("deactivate", json!({"user": "70002", "connection": "all"}))
        .await;
    assert!(err.contains("email"), "ids differ per connection: {err}");

    let r = client
        .ok(
            "deactivate",
            json!({"user": "Jane.Doe@acme.example", "connection": "all"}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["connection"], "all");
    let asked = client.asked.lock().expect("lock").clone();
    assert_eq!(
        asked.len(),
        1,
        "one confirmation for both tenants: {asked:?}"
    );
    assert!(
        asked[0].contains("zia-test") && asked[0].contains("zpa-test"),
        "{}",
        asked[0]
    );
    let outcomes = r["outcomes"].as_array().expect("outcomes");
    let by_conn = |name: &str| {
        outcomes
            .iter()
            .find(|o| o["connection"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(by_conn("zia-test")["outcome"], "executed", "{r}");
    assert_eq!(by_conn("zia-test")["verification"], "verified", "{r}");
    assert_eq!(by_conn("zpa-test")["outcome"], "executed", "{r}");
    assert_eq!(by_conn("zpa-test")["verification"], "verified", "{r}");
    assert_eq!(r["staged"], true, "native ZIA stages the deletion");
    assert!(
        r["next_step"]
            .as_str()
            .unwrap_or_default()
            .contains("zia-test")
    );

    // The tenants agree: deleted (staged) on ZIA, disabled and kept on ZPA.
    assert!(sim.user("jane.doe@acme.example", "draft").await.is_none());
    let zpa = env.zpa_users().await;
    let jane = zpa_user(&zpa, "jane.doe@acme.example").expect("ZPA keeps the account");
    assert_eq!(jane["active"], "false", "{jane}");

    // The journal holds one executed event per connection, under the same plan.
    let journal = std::fs::read_to_string(env.journal()).expect("journal");
    let events: Vec<Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &Value| e["tool"] == "deactivate" && e["outcome"] == "executed")
        .collect();
    assert_eq!(events.len(), 2, "{journal}");
    assert_eq!(events[0]["plan_id"], events[1]["plan_id"]);
    let conns: Vec<&str> = events
        .iter()
        .filter_map(|e| e["connection"].as_str())
        .collect();
    assert!(conns.contains(&"zia-test") && conns.contains(&"zpa-test"));

    // Someone only ZPA knows: the plan says where they were not found.
    let r = client
        .ok(
            "deactivate",
            json!({"user": "lab.tech@acme-labs.example", "connection": "all"}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    let outcomes = r["outcomes"].to_string();
    assert!(outcomes.contains("not_found"), "{outcomes}");
    let plan_text = r["plan"]["changes"].to_string();
    assert!(plan_text.contains("Not found on: zia-test"), "{plan_text}");
    client.close().await;

    // A client that cannot ask: the same single plan is approved out of band, then executed.
    let cli = env.connect(Human::Absent).await;
    let args = json!({"user": "john.smith@acme.example", "connection": "all"});
    let r = cli.ok("deactivate", args.clone()).await;
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    let plan_id = r["plan"]["id"].as_str().expect("plan id").to_string();
    assert!(sim.user("john.smith@acme.example", "draft").await.is_some());
    let out = env.approve(&plan_id, &plan_id).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut again = args;
    again["plan_id"] = json!(plan_id);
    let r = cli.ok("deactivate", again).await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["confirmation"]["channel"], "approve-cli");
    assert!(sim.user("john.smith@acme.example", "draft").await.is_none());
    let zpa = env.zpa_users().await;
    assert_eq!(
        zpa_user(&zpa, "john.smith@acme.example").expect("kept")["active"],
        "false"
    );
    cli.close().await;
}

#[tokio::test]
async fn cross_product_drift_finds_zpa_accounts_of_people_gone_from_zia() {
    let env = Env::with_sim_and_zpa().await;
    let client = env.connect(Human::Accepts).await;
    let audit_args = json!({"connection": "zpa-test", "reference_connection": "zia-test",
                   "rules": ["cross_product_drift"], "max_findings": 500});
    let before = client.ok("audit_orphans", audit_args.clone()).await;
    let flagged = |r: &Value| -> Vec<String> {
        r["findings"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(|x| x["label"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let first = flagged(&before);
    assert!(
        first.contains(&"zpa.only@acme.example".to_string()),
        "{before}"
    );
    assert!(!first.contains(&"jane.doe@acme.example".to_string()));
    // Offboard jane from ZIA only: the audit now flags her ZPA account, with the fix to call.
    let r = client
        .ok(
            "deactivate",
            json!({"user": "jane.doe@acme.example", "connection": "zia-test"}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    let after = client.ok("audit_orphans", audit_args).await;
    let finding = after["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|x| x["label"] == "jane.doe@acme.example"))
        .cloned()
        .unwrap_or_else(|| panic!("jane flagged: {after}"));
    assert_eq!(finding["rule"], "cross_product_drift");
    assert!(
        finding["evidence"]
            .as_str()
            .unwrap_or_default()
            .contains("zia-test")
    );
    assert_eq!(
        finding["suggested_call"]["arguments"]["connection"],
        "zpa-test"
    );
    let err = client
        .err(
            "audit_orphans",
            json!({"connection": "zpa-test", "reference_connection": "zpa-test"}),
        )
        .await;
    assert!(err.contains("another connection"), "{err}");
    client.close().await;
}

#[tokio::test]
async fn scim_connections_create_and_change_memberships_without_staging() {
    let env = Env::with_sim_and_zpa().await;
    let client = env.connect(Human::Accepts).await;
    let r = client
        .ok(
            "create_user",
            json!({"name": "Nia Newcomer", "email": "nia.newcomer@acme.example",
                   "groups": ["Contractors"], "department": "Research", "connection": "zpa-test"}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["verification"], "verified", "{r}");
    assert_eq!(r["staged"], false, "SCIM applies at once");
    let zpa = env.zpa_users().await;
    let nia = zpa_user(&zpa, "nia.newcomer@acme.example").expect("created on ZPA");
    assert_eq!(nia["active"], "true");

    let r = client
        .ok(
            "add_to_group",
            json!({"user": "nia.newcomer@acme.example", "groups": ["Engineering"], "connection": "zpa-test"}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    let groups = r["user"]["groups"].to_string();
    assert!(
        groups.contains("Engineering") && groups.contains("Contractors"),
        "{groups}"
    );
    let r = client
        .ok(
            "deactivate",
            json!({"user": "nia.newcomer@acme.example", "connection": "zpa-test"}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["verification"], "verified", "{r}");
    assert!(
        r["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("Disabled"),
        "{r}"
    );
    let err = client
        .err("activate_changes", json!({"connection": "zpa-test"}))
        .await;
    assert!(err.contains("immediately"), "{err}");

    // Quarantine keeps the account but leaves it only in the quarantine group.
    let r = client
        .ok(
            "deactivate",
            json!({"user": "jane.doe@acme.example", "connection": "zpa-test", "mode": "quarantine"}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["verification"], "verified", "{r}");
    let zpa = env.zpa_users().await;
    let jane = zpa_user(&zpa, "jane.doe@acme.example").expect("kept");
    assert_eq!(jane["active"], "true", "{jane}");
    let groups: Vec<&str> = jane["groups"]
        .as_array()
        .map(|g| g.iter().filter_map(|x| x["display"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(groups, ["Quarantine"], "{jane}");
    let err = client
        .err(
            "deactivate",
            json!({"user": "john.smith@acme.example", "connection": "zia-test", "mode": "quarantine"}),
        )
        .await;
    assert!(err.contains("quarantine_group"), "{err}");
    client.close().await;
}

#[tokio::test]
async fn policy_caps_domains_confirmation_and_connection_allow_lists() {
    let env = Env::with_sim_policy(
        r#"max_targets_per_call = 2
allowed_create_domains = ["acme.example"]
confirm_tools = ["add_to_group"]
tool_connections = { remove_from_group = [] }"#,
    )
    .await;
    let sim = env.sim();
    let absent = env.connect(Human::Absent).await;
    let err = absent
        .err(
            "add_to_group",
            json!({"user": "john.smith@acme.example", "groups": ["Sales", "Marketing", "Finance"]}),
        )
        .await;
    assert!(err.contains("max_targets_per_call"), "{err}");
    let err = absent
        .err(
            "create_user",
            json!({"name": "Lab Person", "email": "lab.person@acme-labs.example",
                   "department": "Engineering", "groups": ["Engineering"]}),
        )
        .await;
    assert!(err.contains("allowed_create_domains"), "{err}");
    let err = absent
        .err(
            "remove_from_group",
            json!({"user": "john.smith@acme.example", "groups": ["Engineering"]}),
        )
        .await;
    assert!(err.contains("not allowed on connection zia-test"), "{err}");

    // add_to_group is put behind confirmation: nothing changes without a human.
    let r = absent
        .ok(
            "add_to_group",
            json!({"user": "john.smith@acme.example", "groups": ["Sales"]}),
        )
        .await;
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    let john = sim
        .user("john.smith@acme.example", "draft")
        .await
        .expect("john");
    assert!(!john["groups"].to_string().contains("Sales"), "{john}");
    absent.close().await;
    let accepting = env.connect(Human::Accepts).await;
    let r = accepting
        .ok(
            "add_to_group",
            json!({"user": "john.smith@acme.example", "groups": ["Sales"]}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["confirmation"]["channel"], "elicitation", "{r}");
    let john = sim
        .user("john.smith@acme.example", "draft")
        .await
        .expect("john");
    assert!(john["groups"].to_string().contains("Sales"), "{john}");
    accepting.close().await;

    let bad = Env::with_sim_policy(r#"confirm_tools = ["list_users"]"#).await;
    let out = bad.run(&["check"]).await;
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("confirm_tools"), "{text}");
}
