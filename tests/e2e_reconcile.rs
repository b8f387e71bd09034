//! reconcile end to end: the real binary against a simulator process on 127.0.0.1 — a source of
//! record with known joiners, movers and leavers brought onto the tenant in one confirmed plan,
//! a run cancelled half-way and finished by a re-run with no write repeated, leavers over the
//! deletion cap, and bad input refused with nothing changed.

mod common;

use std::time::Duration;

use common::{Env, Human, ProgressClient};
use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

/// The source of record: jane unchanged, john moves to Finance, two leavers, two joiners.
const HR: &str = "email,status,name,department,groups\n\
jane.doe@acme.example,active,Jane Doe,Sales,Sales\n\
john.smith@acme.example,active,John Smith,Finance,Finance\n\
temp.contractor@acme.example,terminated,Temp Contractor,Operations,\n\
old.vendor@vendor-mail.example,terminated,Old Vendor,Operations,Contractors\n\
new.hire@acme.example,active,New Hire,Marketing,Marketing\n\
second.hire@acme-labs.example,active,Second Hire,Support,Support;Contractors\n";

/// (email, department, groups) every active person of [`HR`] ends with.
const EXPECTED: [(&str, &str, &[&str]); 4] = [
    ("jane.doe@acme.example", "Sales", &["All Staff", "Sales"]),
    (
        "john.smith@acme.example",
        "Finance",
        &["All Staff", "Finance"],
    ),
    (
        "new.hire@acme.example",
        "Marketing",
        &["All Staff", "Marketing"],
    ),
    (
        "second.hire@acme-labs.example",
        "Support",
        &["All Staff", "Contractors", "Support"],
    ),
];
const LEAVERS: [&str; 2] = [
    "temp.contractor@acme.example",
    "old.vendor@vendor-mail.example",
];

/// A simulator and a config with `[sources.hr]` (mapped) pointing at `hr`.
async fn env_with(hr: &str, policy: &str) -> Env {
    let env = Env::with_sim_policy(policy).await;
    let path = env.dir.path().join("hr.csv");
    std::fs::write(&path, hr).expect("write the export");
    let config = env.config.clone().expect("config");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!(
        r#"
[sources.hr]
path = "{}"
email = "email"
status = "status"

[sources.hr.mapping]
name = "name"
department = "department"
groups = "groups"
default_group = "All Staff"
"#,
        path.display()
    ));
    std::fs::write(&config, text).expect("write config");
    env
}

async fn requests(env: &Env) -> Value {
    env.sim().get("/__sim/requests").await["by_route"].clone()
}

/// Requests that change the tenant, by route.
fn writes(by_route: &Value) -> Vec<(String, u64)> {
    by_route
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !k.starts_with("GET ") && !k.contains("authenticatedSession"))
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

fn count(by_route: &Value, route: &str) -> u64 {
    by_route[route].as_u64().unwrap_or(0)
}

/// The tenant (draft view) equals the source: every active person with the mapped department
/// and exactly the mapped groups plus the default one; every leaver gone.
async fn assert_tenant_equals_source(env: &Env) {
    for (email, dept, groups) in EXPECTED {
        let u = env
            .sim()
            .user(email, "draft")
            .await
            .unwrap_or_else(|| panic!("{email} exists"));
        assert_eq!(u["department"]["name"], dept, "{email}: {u}");
        let mut got: Vec<String> = u["groups"]
            .as_array()
            .map(|g| {
                g.iter()
                    .filter_map(|g| g["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        got.sort();
        assert_eq!(got, groups, "{email}: {u}");
    }
    for email in LEAVERS {
        assert!(
            env.sim().user(email, "draft").await.is_none(),
            "{email} is gone"
        );
    }
}

#[tokio::test]
async fn joiners_movers_and_leavers_reach_the_tenant_in_one_confirmed_plan() {
    let env = env_with(HR, "").await;
    let client = env.connect(Human::Accepts).await;
    let done = client
        .ok("reconcile", json!({"source_of_record": "hr"}))
        .await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["verification"], "verified", "{done}");
    let c = &done["counts"];
    assert_eq!(
        (&c["joiners"], &c["movers"], &c["leavers"], &c["deferred"]),
        (&json!(2), &json!(1), &json!(2), &json!(0)),
        "{done}"
    );
    assert_eq!(c["outcomes"]["verified"], 5, "{done}");
    assert_eq!(
        client.asked.lock().expect("lock").len(),
        1,
        "one confirmation"
    );
    let changes = done["plan"]["changes"].to_string();
    assert!(
        changes.contains("john.smith@acme.example") && changes.contains("Finance"),
        "{changes}"
    );
    assert_tenant_equals_source(&env).await;
    let log = requests(&env).await;
    assert_eq!(count(&log, "POST /api/v1/users/bulkDelete"), 1, "{log}");
    assert_eq!(count(&log, "POST /api/v1/users"), 2, "{log}");
    assert_eq!(count(&log, "PUT /api/v1/users/{id}"), 1, "{log}");

    // Every outcome is in the report resource, as CSV.
    let uri = done["report"].as_str().expect("report").to_string();
    let read = client
        .service
        .read_resource(rmcp::model::ReadResourceRequestParams::new(uri))
        .await
        .expect("resources/read");
    let csv = match &read.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("text: {other:?}"),
    };
    assert!(csv.starts_with("connection,kind,email,user_id,change,outcome,detail"));
    assert_eq!(csv.matches(",verified,").count(), 5, "{csv}");

    // The journal holds each change and the run's summary.
    let journal = std::fs::read_to_string(env.journal()).expect("journal");
    assert!(journal.contains("\"update_user\""), "mover journaled");
    assert!(journal.contains("\"reconciled\""), "summary journaled");

    // Reconciling again finds nothing to do.
    let again = client
        .ok("reconcile", json!({"source_of_record": "hr"}))
        .await;
    assert_eq!(again["status"], "no_change", "{again}");
    client.close().await;
}

/// Slows every write the simulator answers, so a cancellation lands while the run is going.
async fn slow_writes(env: &Env) {
    let faults: Vec<Value> = ["POST /api/v1/users", "PUT /api/v1/users/{id}"]
        .iter()
        .map(|r| json!({"route": r, "latency_ms": 400, "count": 10}))
        .collect();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .post(format!("{}/__sim/faults", env.sim().url))
        .json(&faults)
        .send()
        .await
        .expect("queue faults");
    assert!(resp.status().is_success());
}

/// Plans, has a person approve at the terminal, and returns the plan id.
async fn approved_plan(env: &Env, client: &common::Client) -> String {
    let planned = client
        .ok("reconcile", json!({"source_of_record": "hr"}))
        .await;
    assert_eq!(planned["status"], "awaiting_approval", "{planned}");
    let id = planned["plan"]["id"].as_str().expect("plan id").to_string();
    let approved = env.approve(&id, &id).await;
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stdout)
    );
    id
}

#[tokio::test]
async fn a_run_cancelled_half_way_and_run_again_ends_as_the_source_with_no_write_repeated() {
    let env = env_with(HR, "").await;
    let plain = env.connect(Human::Absent).await;
    let plan_id = approved_plan(&env, &plain).await;
    slow_writes(&env).await;

    let handler = ProgressClient::default();
    let client = handler.clone().connect(&env).await;
    let args = json!({"source_of_record": "hr", "plan_id": plan_id});
    let Value::Object(map) = args else {
        unreachable!()
    };
    let handle = client
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(
                CallToolRequestParams::new("reconcile").with_arguments(map),
            )),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("sent");
    let token = handle.progress_token.clone();
    // Cancel once the first write is reported done.
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let notified = handler.notify.notified();
            if handler.seen.lock().expect("lock").iter().any(|p| {
                p.progress_token == token
                    && p.message
                        .as_deref()
                        .is_some_and(|m| m.contains("leavers on"))
                    && p.message.as_deref().is_some_and(|m| m.contains("done"))
            }) {
                break;
            }
            notified.await;
        }
    })
    .await
    .expect("progress of the run");
    handle
        .cancel(Some("the test cancels".into()))
        .await
        .expect("cancel sent");
    // The run settles the write in flight and journals its summary.
    let summary = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let journal = std::fs::read_to_string(env.journal()).unwrap_or_default();
            if let Some(line) = journal.lines().find(|l| l.contains("\"reconciled\"")) {
                return line.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the run's summary is journaled");
    assert!(summary.contains("\"cancelled\":true"), "{summary}");
    let first = requests(&env).await;
    let created = count(&first, "POST /api/v1/users");
    assert!(created < 2, "cancelled before both joiners: {first}");
    assert!(
        summary.contains("\"skipped\":[{") && summary.contains("hire@"),
        "what was never sent is journaled: {summary}"
    );
    let _ = client.cancel().await;

    // Run again: a new plan of what is left only, approved, carried out.
    let rest = plain
        .ok("reconcile", json!({"source_of_record": "hr"}))
        .await;
    assert_eq!(rest["status"], "awaiting_approval", "{rest}");
    assert_eq!(rest["counts"]["leavers"], 0, "leavers were done: {rest}");
    assert_eq!(
        rest["counts"]["joiners"],
        2 - created,
        "only the joiners not created: {rest}"
    );
    let id = rest["plan"]["id"].as_str().expect("plan id").to_string();
    assert!(env.approve(&id, &id).await.status.success());
    let done = plain
        .ok(
            "reconcile",
            json!({"source_of_record": "hr", "plan_id": id}),
        )
        .await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_tenant_equals_source(&env).await;

    // Every write happened exactly once over both runs.
    let log = requests(&env).await;
    assert_eq!(count(&log, "POST /api/v1/users/bulkDelete"), 1, "{log}");
    assert_eq!(count(&log, "POST /api/v1/users"), 2, "{log}");
    assert_eq!(count(&log, "PUT /api/v1/users/{id}"), 1, "{log}");
    plain.close().await;
}

#[tokio::test]
async fn leavers_over_the_deletion_cap_are_deferred_and_said_so() {
    let env = env_with(HR, "max_deletions_per_hour = 1").await;
    let client = env.connect(Human::Accepts).await;
    let done = client
        .ok(
            "reconcile",
            json!({"source_of_record": "hr", "scope": ["leavers"]}),
        )
        .await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["counts"]["leavers"], 1, "{done}");
    assert_eq!(done["counts"]["deferred"], 1, "{done}");
    let changes = done["plan"]["changes"].to_string();
    assert!(
        changes.contains("max_deletions_per_hour") && changes.contains("deferred"),
        "{changes}"
    );
    assert!(done["summary"].to_string().contains("deferred"), "{done}");
    let gone = {
        let mut n = 0;
        for e in LEAVERS {
            if env.sim().user(e, "draft").await.is_none() {
                n += 1;
            }
        }
        n
    };
    assert_eq!(gone, 1, "the leaver that fits is gone, the other waits");
    client.close().await;
}

/// Calls reconcile with a source, insists on a tool error of `kind`, and returns its text.
async fn refusal(client: &common::Client, source: &str, kind: &str) -> String {
    let o = client
        .call("reconcile", json!({"source_of_record": source}))
        .await;
    assert!(o.is_error, "should have failed: {}", o.structured);
    assert_eq!(o.structured["kind"], kind, "{}", o.text);
    o.text
}

#[tokio::test]
async fn bad_input_is_a_clear_error_and_changes_nothing() {
    // An unknown source.
    let env = env_with(HR, "").await;
    let client = env.connect(Human::Accepts).await;
    let err = refusal(&client, "payroll", "not_found").await;
    assert!(
        err.contains("'payroll' is not configured") && err.contains("hr"),
        "{err}"
    );
    assert!(writes(&requests(&env).await).is_empty());
    client.close().await;

    // A department the tenant lacks.
    let hr = format!("{HR}late.hire@acme.example,active,Late Hire,Astrology,\n");
    let env = env_with(&hr, "").await;
    let client = env.connect(Human::Accepts).await;
    let err = refusal(&client, "hr", "invalid_input").await;
    assert!(
        err.contains("\"Astrology\"")
            && err.contains("line 8")
            && err.contains("nothing was planned"),
        "{err}"
    );
    assert!(writes(&requests(&env).await).is_empty());
    client.close().await;

    // A protected account the source says left.
    let hr = format!("{HR}breakglass@acme.example,terminated,Break Glass,IT,\n");
    let env = env_with(&hr, "").await;
    let client = env.connect(Human::Accepts).await;
    let err = refusal(&client, "hr", "refused").await;
    assert!(
        err.contains("breakglass@acme.example") && err.contains("protected"),
        "{err}"
    );
    assert!(writes(&requests(&env).await).is_empty());
    assert!(
        env.sim()
            .user("temp.contractor@acme.example", "draft")
            .await
            .is_some()
    );
    assert!(
        client.asked.lock().expect("lock").is_empty(),
        "no one was asked"
    );
    client.close().await;
}

#[tokio::test]
async fn the_demo_reconciles_with_its_built_in_hr_source_without_config() {
    let env = Env::demo();
    let client = env.connect(Human::Absent).await;
    // Both demo connections, one plan.
    let planned = client
        .ok(
            "reconcile",
            json!({"source_of_record": "hr", "connection": "all"}),
        )
        .await;
    assert_eq!(planned["status"], "awaiting_approval", "{planned}");
    let args = &planned["plan"]["arguments"]["connections"];
    assert_eq!(args["demo"]["mode"], "delete", "{planned}");
    assert_eq!(args["demo-zpa"]["mode"], "disable", "{planned}");
    let changes = planned["plan"]["changes"].to_string();
    assert!(
        changes.contains("Reconcile connection demo with source 'hr': 1 joiners to create, 1 movers to update, 2 leavers"),
        "{changes}"
    );
    // The audit reads the same source.
    let audit = client
        .ok("audit_orphans", json!({"source_of_record": "hr"}))
        .await;
    assert!(
        audit["findings"]
            .to_string()
            .contains("temp.contractor@acme.example"),
        "{audit}"
    );
    client.close().await;

    // With a human who accepts, the demo tenant (the default connection) ends as HR says.
    let client = env.connect(Human::Accepts).await;
    let done = client
        .ok("reconcile", json!({"source_of_record": "hr"}))
        .await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["counts"]["outcomes"]["verified"], 4, "{done}");
    let john = client
        .ok("get_user", json!({"user": "john.smith@acme.example"}))
        .await;
    assert_eq!(john["user"]["department"]["name"], "Finance", "{john}");
    client.close().await;
}

#[tokio::test]
async fn call_reconcile_with_csv_writes_the_plan_then_every_outcome() {
    let env = env_with(HR, "").await;
    let csv = env.dir.path().join("out.csv");
    let csv_arg = csv.display().to_string();
    let out = env
        .run(&[
            "call",
            "reconcile",
            "--args",
            r#"{"source_of_record":"hr"}"#,
            "--csv",
            &csv_arg,
        ])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let planned: Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    assert_eq!(planned["status"], "awaiting_approval", "{planned}");
    let plan = std::fs::read_to_string(&csv).expect("plan CSV");
    assert_eq!(plan.matches(",planned,").count(), 5, "{plan}");
    let id = planned["plan"]["id"].as_str().expect("plan id").to_string();
    assert!(env.approve(&id, &id).await.status.success());
    let args = json!({"source_of_record": "hr", "plan_id": id}).to_string();
    let out = env
        .run(&["call", "reconcile", "--args", &args, "--csv", &csv_arg])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcomes = std::fs::read_to_string(&csv).expect("outcome CSV");
    assert!(outcomes.starts_with("connection,kind,email,user_id,change,outcome,detail"));
    assert_eq!(outcomes.matches(",verified,").count(), 5, "{outcomes}");
    assert!(outcomes.contains("new.hire@acme.example"), "{outcomes}");
    assert_tenant_equals_source(&env).await;
}

#[tokio::test]
async fn four_eyes_counts_the_changes_of_the_plan() {
    let env = env_with(HR, "four_eyes_over_targets = 3").await;
    let config = env.config.clone().expect("config");
    let mut text = std::fs::read_to_string(&config).expect("config");
    for name in ["jane", "bob"] {
        let hash = zscaler_lifecycle_mcp::guard::approvers::hash_secret(
            &zscaler_lifecycle_mcp::secret::Secret::new(format!("{name} secret for the test")),
        )
        .expect("hash");
        text.push_str(&format!("\n[approvers.{name}]\nsecret_hash = \"{hash}\"\n"));
    }
    std::fs::write(&config, text).expect("config");
    let client = env.connect(Human::Absent).await;
    // Five changes on one connection (one plan target): over the threshold.
    let all = client
        .ok("reconcile", json!({"source_of_record": "hr"}))
        .await;
    assert_eq!(all["status"], "awaiting_approval", "{all}");
    assert_eq!(all["plan"]["approvals_required"], 2, "{all}");
    // One change: a single approver.
    let movers = client
        .ok(
            "reconcile",
            json!({"source_of_record": "hr", "scope": ["movers"]}),
        )
        .await;
    assert_eq!(movers["status"], "awaiting_approval", "{movers}");
    assert_eq!(
        movers["plan"]["approvals_required"].as_u64().unwrap_or(1),
        1,
        "{movers}"
    );
    assert!(writes(&requests(&env).await).is_empty());
    client.close().await;
}

/// Carrying out an approved plan can take minutes at a tenant's limits: for a client that
/// declared the tasks extension it becomes a task, polled to its result, while planning (which
/// may still have to ask a human) answers within the call.
#[tokio::test]
async fn an_approved_reconcile_runs_as_a_task_for_a_client_that_declared_tasks() {
    let env = env_with(HR, "").await;
    let mut raw = common::raw::Raw::start(
        &env,
        json!({"extensions": {"io.modelcontextprotocol/tasks": {}}}),
    )
    .await;
    let planned = raw
        .call("reconcile", json!({"source_of_record": "hr"}))
        .await;
    let plan = &planned["result"]["structuredContent"];
    assert_eq!(plan["status"], "awaiting_approval", "{planned}");
    let id = plan["plan"]["id"].as_str().expect("plan id").to_string();
    let approved = env.approve(&id, &id).await;
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stdout)
    );
    // Writes slow enough that the run outlasts the second a call answers inline.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .post(format!("{}/__sim/faults", env.sim().url))
        .json(&json!([{"route": "POST /api/v1/users", "latency_ms": 900, "count": 2}]))
        .send()
        .await
        .expect("queue faults");
    assert!(resp.status().is_success());
    let started = raw
        .call(
            "reconcile",
            json!({"source_of_record": "hr", "plan_id": id}),
        )
        .await;
    assert_eq!(started["result"]["resultType"], "task", "{started}");
    let task = started["result"]["taskId"]
        .as_str()
        .expect("taskId")
        .to_string();
    let done = raw.settle(&task).await;
    assert_eq!(done["result"]["status"], "completed", "{done}");
    let result = &done["result"]["result"];
    assert_eq!(result["isError"], false, "{done}");
    assert_eq!(result["structuredContent"]["status"], "executed", "{done}");
    assert_tenant_equals_source(&env).await;
}
