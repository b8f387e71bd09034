//! The protocol beyond tools/call, end to end over the real binary's stdio with raw JSON-RPC
//! lines (so every notification is seen as sent): tasks for long reads (started, polled,
//! cancelled, their result read), logging levels and the messages they let through,
//! completions from the demo tenant, resource templates, tool titles and the size of
//! tools/list in both protocol framings.

mod common;

use std::process::Stdio;

use common::Env;
use common::raw::Raw;
use serde_json::{Value, json};

const TASKS: &str = "io.modelcontextprotocol/tasks";

/// Queues simulator faults (`/__sim/faults`).
async fn faults(env: &Env, list: Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .post(format!("{}/__sim/faults", env.sim().url))
        .json(&list)
        .send()
        .await
        .expect("queue faults");
    assert!(resp.status().is_success());
}

#[tokio::test]
async fn a_long_read_becomes_a_task_that_is_polled_and_its_result_read() {
    let env = Env::with_sim().await;
    // A client without the tasks extension simply waits for the slow answer.
    faults(
        &env,
        json!([{"route": "GET /api/v1/users", "latency_ms": 1500, "count": 1}]),
    )
    .await;
    let mut plain = Raw::start(&env, json!({})).await;
    let r = plain.call("list_users", json!({"limit": 2})).await;
    assert_eq!(
        r["result"]["structuredContent"]["users"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{r}"
    );

    // A client that declared the extension gets a task once the call outlasts a second.
    faults(
        &env,
        json!([{"route": "GET /api/v1/users", "latency_ms": 2500, "count": 1}]),
    )
    .await;
    let mut raw = Raw::start(&env, json!({"extensions": {TASKS: {}}})).await;
    let started = raw.call("audit_orphans", json!({})).await;
    let created = &started["result"];
    assert_eq!(created["resultType"], "task", "{started}");
    assert_eq!(created["status"], "working", "{started}");
    let id = created["taskId"].as_str().expect("taskId").to_string();
    assert!(created["ttlMs"].as_u64().is_some() && created["pollIntervalMs"].as_u64().is_some());
    // Readable at once, and working.
    let now = raw.request("tasks/get", json!({"taskId": id})).await;
    assert_eq!(now["result"]["taskId"], id.as_str(), "{now}");
    let done = raw.settle(&id).await;
    assert_eq!(done["result"]["status"], "completed", "{done}");
    let result = &done["result"]["result"];
    assert_eq!(result["isError"], false, "{done}");
    assert!(
        result["structuredContent"]["users_scanned"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{done}"
    );
    assert!(
        result["structuredContent"]["report"]
            .as_str()
            .is_some_and(|u| u.starts_with("audit://")),
        "the report of a task run is the caller's too: {done}"
    );
    // Status notifications reached this session, the last one terminal.
    let statuses = raw.take("notifications/tasks");
    assert!(
        statuses
            .iter()
            .any(|n| n["params"]["taskId"] == id.as_str() && n["params"]["status"] == "completed"),
        "{statuses:?}"
    );
    // The 2025-11-25 draft's separate methods are gone in the extension: the result is read
    // from tasks/get.
    for method in ["tasks/result", "tasks/list"] {
        let r = raw.request(method, json!({"taskId": id})).await;
        assert_eq!(r["error"]["code"], -32601, "{method}: {r}");
    }
    let unknown = raw
        .request("tasks/get", json!({"taskId": "t-made-up"}))
        .await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    // Without the extension declared, the task methods say which capability is missing.
    let r = plain.request("tasks/get", json!({"taskId": id})).await;
    assert_eq!(r["error"]["code"], -32021, "{r}");
}

#[tokio::test]
async fn a_task_is_cancelled_and_stops() {
    let env = Env::with_sim().await;
    // The users page never comes: the audit waits until it is cancelled.
    faults(
        &env,
        json!([{"route": "GET /api/v1/users", "kind": "timeout", "latency_ms": 60000, "count": 1}]),
    )
    .await;
    let mut raw = Raw::start(&env, json!({"extensions": {TASKS: {}}})).await;
    let started = raw.call("audit_orphans", json!({})).await;
    let id = started["result"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("a task: {started}"))
        .to_string();
    let ack = raw.request("tasks/cancel", json!({"taskId": id})).await;
    assert!(ack["error"].is_null(), "{ack}");
    let settled = raw.settle(&id).await;
    assert_eq!(settled["result"]["status"], "cancelled", "{settled}");
    // Cancelling again is acknowledged, the task stays cancelled.
    let again = raw.request("tasks/cancel", json!({"taskId": id})).await;
    assert!(again["error"].is_null(), "{again}");
}

#[tokio::test]
async fn set_level_decides_which_messages_reach_the_client() {
    let env = Env::with_sim().await;
    let throttle = || json!([{"route": "GET /api/v1/users", "status": 429, "retry_after_header": "1", "count": 1}]);
    let mut raw = Raw::start(&env, json!({})).await;
    // By default a session hears warnings: a tenant that rate limits is one.
    faults(&env, throttle()).await;
    let r = raw.call("list_users", json!({"limit": 1})).await;
    assert!(r["result"]["isError"] == false, "{r}");
    let heard = raw.take("notifications/message");
    assert!(
        heard.iter().any(|n| n["params"]["level"] == "warning"
            && n["params"]["data"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("rate limiting"))),
        "{heard:?}"
    );
    assert!(
        heard.iter().all(|n| n["params"]["level"] != "debug"),
        "{heard:?}"
    );
    // At error, the same throttling is not sent.
    let r = raw
        .request("logging/setLevel", json!({"level": "error"}))
        .await;
    assert_eq!(r["result"], json!({}), "{r}");
    faults(&env, throttle()).await;
    raw.call("list_users", json!({"limit": 1})).await;
    assert!(raw.take("notifications/message").is_empty());
    // At debug, the call's tenant requests are visible too (the activation status is never
    // served from the directory cache).
    raw.request("logging/setLevel", json!({"level": "debug"}))
        .await;
    raw.call("pending_changes", json!({})).await;
    let heard = raw.take("notifications/message");
    assert!(
        heard.iter().any(|n| n["params"]["level"] == "debug"),
        "{heard:?}"
    );
    let text = serde_json::to_string(&heard).expect("json");
    assert!(
        !text.contains(&env.sim().password) && !text.contains(&env.sim().api_key),
        "never a secret: {text}"
    );
}

#[tokio::test]
async fn completions_answer_from_the_demo_tenant() {
    let env = Env::demo();
    let mut raw = Raw::start(&env, json!({})).await;
    let complete = |prompt: &str, arg: &str, value: &str| json!({"ref": {"type": "ref/prompt", "name": prompt}, "argument": {"name": arg, "value": value}});
    let values = |r: &Value| -> Vec<String> {
        r["result"]["completion"]["values"]
            .as_array()
            .unwrap_or_else(|| panic!("values: {r}"))
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let r = raw
        .request(
            "completion/complete",
            complete("offboard_user", "user", "jane.d"),
        )
        .await;
    assert!(
        values(&r).contains(&"jane.doe@acme.example".to_string()),
        "{r}"
    );
    let r = raw
        .request(
            "completion/complete",
            complete("onboard_user", "groups", "Sales, Eng"),
        )
        .await;
    assert_eq!(values(&r), ["Sales, Engineering"], "{r}");
    let r = raw
        .request(
            "completion/complete",
            complete("onboard_user", "department", "fin"),
        )
        .await;
    assert_eq!(values(&r), ["Finance"], "{r}");
    let r = raw
        .request(
            "completion/complete",
            complete("access_review", "connection", ""),
        )
        .await;
    assert_eq!(values(&r), ["demo", "demo-zpa"], "{r}");
    let r = raw
        .request("completion/complete", complete("no_such_prompt", "x", ""))
        .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    // Report ids complete the audit report template, once there is a report.
    let audit = raw.call("audit_orphans", json!({})).await;
    let uri = audit["result"]["structuredContent"]["report"]
        .as_str()
        .expect("report")
        .to_string();
    let id = uri
        .trim_start_matches("audit://")
        .trim_end_matches(".csv")
        .to_string();
    let r = raw
        .request(
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "audit://{id}.csv"}, "argument": {"name": "id", "value": ""}}),
        )
        .await;
    assert_eq!(values(&r), [id], "{r}");
    let templates = raw.request("resources/templates/list", json!({})).await;
    assert_eq!(
        templates["result"]["resourceTemplates"][0]["uriTemplate"], "audit://{id}.csv",
        "{templates}"
    );
    let missing = raw
        .request("resources/read", json!({"uri": "audit://nope.csv"}))
        .await;
    assert_eq!(missing["error"]["code"], -32002, "{missing}");
    assert_eq!(missing["error"]["data"]["uri"], "audit://nope.csv");
}

#[tokio::test]
async fn every_tool_has_a_title_and_tools_list_stays_small_in_both_framings() {
    let env = Env::demo();
    let mut raw = Raw::start(&env, json!({})).await;
    let list = raw.request("tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().expect("tools");
    let every_tool = zscaler_lifecycle_mcp::ops::catalog::TOOLS.len();
    assert_eq!(tools.len(), every_tool);
    for t in tools {
        assert!(
            t["title"].as_str().is_some_and(|s| !s.is_empty()),
            "no top-level title: {}",
            t["name"]
        );
    }
    let legacy_bytes = raw.last_bytes;
    // The 2026-07-28 framing: no handshake, metadata on every request.
    let mut modern = Raw::spawn(&env);
    let meta = json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "1"}}});
    let found = modern.request("server/discover", meta.clone()).await;
    assert!(found["result"]["supportedVersions"].is_array(), "{found}");
    let list = modern.request("tools/list", meta).await;
    assert_eq!(
        list["result"]["tools"].as_array().map(Vec::len),
        Some(every_tool)
    );
    let modern_bytes = modern.last_bytes;
    eprintln!("tools/list: {every_tool} tools, {legacy_bytes} / {modern_bytes} bytes");
    assert!(
        legacy_bytes < 15_000 && modern_bytes < 15_000,
        "tools/list must stay under 15 KB: {legacy_bytes} / {modern_bytes} bytes"
    );
}

#[tokio::test]
async fn call_is_quiet_on_a_terminal_and_json_logs_are_unchanged() {
    let env = Env::demo();
    // A terminal, as a person runs it (`script` gives the command one): warnings and the
    // result, not rmcp's INFO lines with whole peer-info dumps.
    let inner = format!("'{}' call list_users --args '{{\"limit\":1}}'", common::BIN);
    let out = tokio::process::Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", env.state_dir())
        .env_remove("RUST_LOG")
        .env_remove("ZIA_CLOUD")
        .env_remove("ZIA_BASE_URL")
        .env_remove("ZSCALER_CLIENT_ID")
        .env_remove("ZSCALER_VANITY_DOMAIN")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("script runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"users\""), "the result is shown: {text}");
    assert!(text.contains("DEMO MODE"), "warnings are shown: {text}");
    assert!(
        !text.contains("INFO") && !text.contains("peer_info"),
        "no INFO lines on a terminal: {text}"
    );
    // --log-format json keeps every INFO line, as log pipelines expect.
    let out = env
        .command(&[
            "--log-format",
            "json",
            "call",
            "list_users",
            "--args",
            "{\"limit\":1}",
        ])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("call runs");
    assert!(out.status.success());
    let logs = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON log line: {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["level"] == "INFO"), "{logs}");
}
