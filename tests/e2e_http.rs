//! Remote serving end to end: the real binary on Streamable HTTP, rmcp's HTTP client, the real
//! adapter against a simulator process, and raw HTTP for the security edges.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::Env;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const TOKEN: &str = "s3cret-token-for-tests-0123";
/// A second, equally valid caller.
const OTHER_TOKEN: &str = "another-callers-token-4567";

struct HttpServer {
    url: String,
    _child: tokio::process::Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

async fn start(env: &Env, extra: &[&str]) -> HttpServer {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--transport", "http", "--bind", &bind];
    args.extend_from_slice(extra);
    let child = env
        .command(&args)
        .env(
            "ZSCALER_LIFECYCLE_MCP_TOKENS",
            format!("ops-bot:{TOKEN},other-bot:{OTHER_TOKEN}"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let url = format!("http://{bind}");
    let http = client();
    for _ in 0..200 {
        if http
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return HttpServer { url, _child: child };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("HTTP server did not come up on {url}");
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn mcp_client(server: &HttpServer) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", server.url))
            .auth_header(TOKEN),
    );
    ().serve(transport).await.expect("initialize over HTTP")
}

/// An HTTP client whose human accepts every confirmation, and the plans it was shown.
async fn accepting_client(
    server: &HttpServer,
) -> (
    rmcp::service::RunningService<rmcp::RoleClient, common::TestClient>,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", server.url))
            .auth_header(TOKEN),
    );
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let c = common::TestClient {
        human: common::Human::Accepts,
        asked: asked.clone(),
    }
    .serve(transport)
    .await
    .expect("initialize over HTTP");
    (c, asked)
}

async fn call(
    c: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    tool: &str,
    args: Value,
) -> (bool, Value, String) {
    let Value::Object(map) = args else {
        panic!("object")
    };
    let r = c
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .expect("call");
    let text = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<String>();
    (
        r.is_error.unwrap_or(false),
        r.structured_content.unwrap_or(Value::Null),
        text,
    )
}

#[tokio::test]
async fn tools_work_over_http_and_writes_still_need_a_human() {
    let env = Env::with_sim().await;
    let server = start(&env, &[]).await;
    let c = mcp_client(&server).await;
    let tools = c.list_all_tools().await.expect("tools/list");
    assert_eq!(
        tools.len(),
        zscaler_lifecycle_mcp::ops::catalog::TOOLS.len()
    );
    let (err, page, text) = call(&c, "list_users", json!({"email_prefix": "jane.doe@"})).await;
    assert!(!err, "{text}");
    assert_eq!(page["users"][0]["email"], "jane.doe@acme.example");

    // No elicitation on this client: the plan waits for a human, nothing is deleted.
    let (err, r, text) = call(&c, "deactivate", json!({"user": "jane.doe@acme.example"})).await;
    assert!(!err, "{text}");
    assert_eq!(r["status"], "awaiting_approval");
    assert!(
        env.sim()
            .user("jane.doe@acme.example", "draft")
            .await
            .is_some()
    );
    let journal = std::fs::read_to_string(env.journal()).expect("journal");
    assert!(
        journal.contains("via token ops-bot"),
        "the token's name is the caller: {journal}"
    );
    assert!(!journal.contains(TOKEN), "never the token itself");
    let _ = c.cancel().await;
}

#[tokio::test]
async fn stateless_mode_answers_each_request_on_its_own() {
    let env = Env::with_sim().await;
    let server = start(&env, &["--stateless"]).await;
    let c = mcp_client(&server).await;
    let (err, page, text) = call(&c, "list_users", json!({"limit": 3})).await;
    assert!(!err, "{text}");
    assert_eq!(page["users"].as_array().expect("users").len(), 3);
    let _ = c.cancel().await;
}

#[tokio::test]
async fn auth_origin_host_and_size_are_enforced() {
    let env = Env::demo();
    let server = start(&env, &[]).await;
    let http = client();
    let mcp = format!("{}/mcp", server.url);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
    let post = |auth: Option<&str>| {
        let mut r = http
            .post(&mcp)
            .header("Accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        r
    };
    assert_eq!(post(None).send().await.expect("answered").status(), 401);
    let wrong = post(Some("Bearer not-the-token-at-all-xx"))
        .send()
        .await
        .expect("answered");
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.headers()["www-authenticate"], "Bearer");
    let ok = post(Some(&format!("Bearer {TOKEN}")))
        .send()
        .await
        .expect("answered");
    assert!(ok.status().is_success(), "{}", ok.status());
    let evil_origin = post(Some(&format!("Bearer {TOKEN}")))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .expect("answered");
    assert_eq!(evil_origin.status(), 403);
    let evil_host = post(Some(&format!("Bearer {TOKEN}")))
        .header("Host", "evil.example")
        .send()
        .await
        .expect("answered");
    assert_eq!(evil_host.status(), 403);
    // Just over the 1 MiB limit, on its own connection: the server answers 413 from the
    // Content-Length without reading the body.
    let big = client()
        .post(&mcp)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body(format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"pad\":\"{}\"}}",
            "x".repeat((1 << 20) + 1024)
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(big.status(), 413);
    let health = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .expect("answered");
    assert_eq!(health.status(), 200, "health needs no token");
    assert_eq!(
        health.headers()["x-request-id"].len(),
        16,
        "every answer carries a request id"
    );
    let traced = http
        .get(format!("{}/healthz", server.url))
        .header("x-request-id", "proxy-abc-123")
        .send()
        .await
        .expect("answered");
    assert_eq!(traced.headers()["x-request-id"], "proxy-abc-123");
    let ready = http
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .expect("answered");
    assert_eq!(ready.status(), 200, "the plan store answers");
}

#[tokio::test]
async fn a_public_bind_without_tokens_is_refused() {
    let env = Env::demo();
    let out = env
        .command(&["serve", "--transport", "http", "--bind", "0.0.0.0:0"])
        .env_remove("ZSCALER_LIFECYCLE_MCP_TOKENS")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without authentication"));
}

#[tokio::test]
async fn confirmation_by_elicitation_works_over_stateful_http() {
    let env = Env::with_sim().await;
    let server = start(&env, &[]).await;
    let (c, asked) = accepting_client(&server).await;
    let Value::Object(map) = json!({"user": "john.smith@acme.example"}) else {
        unreachable!()
    };
    let r = c
        .call_tool(CallToolRequestParams::new("deactivate").with_arguments(map))
        .await
        .expect("call");
    let out = r.structured_content.expect("structured");
    assert_eq!(out["status"], "executed", "{out}");
    assert_eq!(out["confirmation"]["channel"], "elicitation");
    assert!(
        asked.lock().expect("lock")[0].contains("john.smith@acme.example"),
        "the human saw the plan"
    );
    assert!(
        env.sim()
            .user("john.smith@acme.example", "draft")
            .await
            .is_none()
    );
    let _ = c.cancel().await;
}

#[tokio::test]
async fn stateless_mode_falls_back_to_approval_when_it_cannot_ask() {
    let env = Env::with_sim().await;
    let server = start(&env, &["--stateless"]).await;
    let (c, asked) = accepting_client(&server).await;
    let Value::Object(map) = json!({"user": "john.smith@acme.example"}) else {
        unreachable!()
    };
    let r = c
        .call_tool(CallToolRequestParams::new("deactivate").with_arguments(map))
        .await
        .expect("call");
    let out = r.structured_content.expect("structured");
    assert_eq!(out["status"], "awaiting_approval", "{out}");
    assert!(
        asked.lock().expect("lock").is_empty(),
        "a stateless server cannot reach the human inline"
    );
    assert!(
        env.sim()
            .user("john.smith@acme.example", "draft")
            .await
            .is_some(),
        "nothing executed"
    );
    let _ = c.cancel().await;
}

#[tokio::test]
async fn each_caller_is_rate_limited() {
    let env = Env::demo();
    let server = start(&env, &["--per-caller-rps", "1"]).await;
    let http = client();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = http
            .post(format!("{}/mcp", server.url))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}))
            .send()
            .await
            .expect("answered");
        statuses.push(r.status().as_u16());
    }
    assert!(
        statuses[0] == 200 && statuses[1] == 200,
        "burst of two allowed: {statuses:?}"
    );
    assert!(statuses.contains(&429), "then 429: {statuses:?}");
}

#[tokio::test]
async fn a_session_belongs_to_the_token_that_opened_it() {
    let env = Env::demo();
    let server = start(&env, &[]).await;
    let http = client();
    let mcp = format!("{}/mcp", server.url);
    let send = |token: &str, session: Option<&str>, body: Value| {
        let mut r = http
            .post(&mcp)
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-11-25")
            .json(&body);
        if let Some(s) = session {
            r = r.header("Mcp-Session-Id", s);
        }
        r.send()
    };
    let init = send(
        TOKEN,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}),
    )
    .await
    .expect("answered");
    assert!(init.status().is_success(), "{}", init.status());
    let sid = init.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    drop(init);
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ok = send(TOKEN, Some(&sid), initialized.clone())
        .await
        .expect("answered");
    assert!(ok.status().is_success(), "{}", ok.status());
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let hijack = send(OTHER_TOKEN, Some(&sid), list.clone())
        .await
        .expect("answered");
    assert_eq!(
        hijack.status(),
        404,
        "another token must not use this session"
    );
    let own = send(TOKEN, Some(&sid), list).await.expect("answered");
    assert!(own.status().is_success(), "{}", own.status());
    let text = own.text().await.expect("body");
    assert!(text.contains("deactivate"), "{text}");
}

/// Reads server-sent events from a streaming response.
struct SseReader {
    resp: reqwest::Response,
    buf: String,
}

impl SseReader {
    /// The next event with data, as (event name, data); comments and keep-alives are skipped.
    async fn next(&mut self) -> (String, String) {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let mut event = "message".to_string();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.trim_start().to_string());
                    }
                }
                if !data.is_empty() {
                    return (event, data.join("\n"));
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.resp.chunk())
                .await
                .expect("an event in time")
                .expect("stream readable")
                .expect("stream still open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next JSON-RPC message with this id.
    async fn response(&mut self, id: u64) -> Value {
        loop {
            let (event, data) = self.next().await;
            if event != "message" {
                continue;
            }
            let v: Value = serde_json::from_str(&data).expect("JSON message");
            if v["id"] == json!(id) {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn legacy_sse_clients_get_the_same_tools_and_guardrails() {
    let env = Env::with_sim().await;
    let server = start(&env, &[]).await;
    let http = client();
    let sse_url = format!("{}/sse", server.url);
    assert_eq!(
        http.get(&sse_url).send().await.expect("answered").status(),
        401,
        "the legacy endpoint needs a token too"
    );
    let evil_host = http
        .get(&sse_url)
        .bearer_auth(TOKEN)
        .header("Host", "evil.example")
        .send()
        .await
        .expect("answered");
    assert_eq!(evil_host.status(), 403);
    let resp = http
        .get(&sse_url)
        .bearer_auth(TOKEN)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 200);
    let mut events = SseReader {
        resp,
        buf: String::new(),
    };
    let (event, endpoint) = events.next().await;
    assert_eq!(event, "endpoint");
    assert!(endpoint.starts_with("/message?sessionId="), "{endpoint}");
    let post_url = format!("{}{endpoint}", server.url);
    let post = |token: &'static str, body: Value| {
        http.post(&post_url).bearer_auth(token).json(&body).send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old-sse-client", "version": "0.9"}}});
    assert_eq!(
        post(OTHER_TOKEN, init.clone())
            .await
            .expect("answered")
            .status(),
        404,
        "another token cannot post into this session"
    );
    assert_eq!(post(TOKEN, init).await.expect("answered").status(), 202);
    let hello = events.response(1).await;
    assert_eq!(hello["result"]["protocolVersion"], "2024-11-05", "{hello}");
    let bad = http
        .post(&post_url)
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(bad.status(), 400);
    post(
        TOKEN,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await
    .expect("answered");
    let call = |id: u64, name: &str, args: Value| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": args}});
    post(
        TOKEN,
        call(2, "get_user", json!({"user": "jane.doe@acme.example"})),
    )
    .await
    .expect("answered");
    let got = events.response(2).await;
    assert_eq!(
        got["result"]["structuredContent"]["user"]["email"], "jane.doe@acme.example",
        "{got}"
    );
    // No elicitation on this client: a deactivation waits for a human, exactly as on stdio.
    post(
        TOKEN,
        call(
            3,
            "deactivate",
            json!({"user": "jane.doe@acme.example", "mode": "delete"}),
        ),
    )
    .await
    .expect("answered");
    let planned = events.response(3).await;
    assert_eq!(
        planned["result"]["structuredContent"]["status"], "awaiting_approval",
        "{planned}"
    );
    let user = env.sim().user("jane.doe@acme.example", "draft").await;
    assert!(user.is_some(), "nothing was deleted without approval");
}

/// A raw `POST /mcp` with a body as given and an optional session.
async fn raw_post(
    server: &HttpServer,
    auth: &str,
    session: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut r = client()
        .post(format!("{}/mcp", server.url))
        .header("Authorization", auth)
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .header("MCP-Protocol-Version", "2025-11-25")
        .body(body.to_string());
    if let Some(s) = session {
        r = r.header("Mcp-Session-Id", s);
    }
    r.send().await.expect("answered")
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

fn session_of(resp: &reqwest::Response) -> String {
    resp.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_string()
}

#[tokio::test]
async fn http_answers_what_every_client_library_expects() {
    let env = Env::demo();
    let server = start(&env, &["--allowed-host", "mcp.example.com"]).await;
    // The scheme of Authorization is case-insensitive.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = raw_post(&server, &format!("{scheme} {TOKEN}"), None, INIT).await;
        assert!(r.status().is_success(), "{scheme}: {}", r.status());
    }
    // Not JSON: 400 with a JSON-RPC parse error.
    let r = raw_post(&server, &format!("Bearer {TOKEN}"), None, "{\"jsonrpc\": ").await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("a JSON-RPC error body");
    assert_eq!(body["error"]["code"], -32700, "{body}");
    assert_eq!(body["id"], Value::Null);
    // A batch: 400 saying batches are not supported.
    let r = raw_post(
        &server,
        &format!("Bearer {TOKEN}"),
        None,
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("a JSON-RPC error body");
    assert_eq!(body["error"]["code"], -32600, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("batches are not supported")),
        "{body}"
    );
    // DELETE of a session: 204, and the session is gone.
    let init = raw_post(&server, &format!("Bearer {TOKEN}"), None, INIT).await;
    let sid = session_of(&init);
    drop(init);
    let deleted = client()
        .delete(format!("{}/mcp", server.url))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Mcp-Session-Id", &sid)
        .header("MCP-Protocol-Version", "2025-11-25")
        .send()
        .await
        .expect("answered");
    assert_eq!(deleted.status(), 204);
    let after = raw_post(
        &server,
        &format!("Bearer {TOKEN}"),
        Some(&sid),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    )
    .await;
    assert_eq!(after.status(), 404, "a deleted session is gone");
    // --allowed-host adds to the loopback names.
    for host in ["mcp.example.com", "localhost", "127.0.0.1"] {
        let r = client()
            .post(format!("{}/mcp", server.url))
            .header("Host", host)
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .body(INIT)
            .send()
            .await
            .expect("answered");
        assert!(r.status().is_success(), "{host}: {}", r.status());
    }
    let r = client()
        .post(format!("{}/mcp", server.url))
        .header("Host", "evil.example")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .body(INIT)
        .send()
        .await
        .expect("answered");
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn stateless_mode_refuses_legacy_sse_and_says_why() {
    let env = Env::demo();
    let server = start(&env, &["--stateless"]).await;
    let r = client()
        .get(format!("{}/sse", server.url))
        .bearer_auth(TOKEN)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .expect("answered");
    assert_eq!(r.status(), 501);
    let text = r.text().await.expect("body");
    assert!(
        text.contains("--stateless") && text.contains("/mcp"),
        "{text}"
    );
}

#[tokio::test]
async fn sessions_are_capped_and_idle_ones_expire() {
    let env = Env::demo();
    let server = start(
        &env,
        &["--max-sessions", "2", "--session-idle-timeout-secs", "1"],
    )
    .await;
    let auth = format!("Bearer {TOKEN}");
    let first = raw_post(&server, &auth, None, INIT).await;
    assert!(first.status().is_success());
    let first_sid = session_of(&first);
    drop(first);
    let second = raw_post(&server, &auth, None, INIT).await;
    assert!(second.status().is_success());
    drop(second);
    let refused = raw_post(&server, &auth, None, INIT).await;
    assert_eq!(refused.status(), 503, "a third session is over the cap");
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.expect("JSON-RPC error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--max-sessions")),
        "{body}"
    );
    // Idle sessions are closed, which makes room again.
    let mut reopened = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = raw_post(&server, &auth, None, INIT).await;
        if r.status().is_success() {
            reopened = Some(r);
            break;
        }
        assert_eq!(r.status(), 503);
    }
    assert!(reopened.is_some(), "idle sessions never expired");
    let old = raw_post(
        &server,
        &auth,
        Some(&first_sid),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    )
    .await;
    assert_eq!(old.status(), 404, "an expired session is gone");
}

#[tokio::test]
async fn tasks_and_audit_reports_belong_to_the_caller_that_made_them() {
    let env = Env::with_sim().await;
    let server = start(&env, &["--stateless"]).await;
    let mcp = format!("{}/mcp", server.url);
    let alice = |method: &'static str, params: Value, tasks: bool| {
        common::post_modern(&mcp, TOKEN, method, params, tasks)
    };
    let bob = |method: &'static str, params: Value| {
        common::post_modern(&mcp, OTHER_TOKEN, method, params, true)
    };
    // An audit report is listed and read by the caller that ran the audit, and no other.
    let audit = alice(
        "tools/call",
        json!({"name": "audit_orphans", "arguments": {}}),
        false,
    )
    .await;
    let uri = audit["result"]["structuredContent"]["report"]
        .as_str()
        .unwrap_or_else(|| panic!("a report: {audit}"))
        .to_string();
    let listed = alice("resources/list", json!({}), false).await;
    assert!(listed.to_string().contains(&uri), "{listed}");
    let listed = bob("resources/list", json!({})).await;
    assert!(!listed.to_string().contains(&uri), "{listed}");
    let refused = bob("resources/read", json!({"uri": uri})).await;
    assert_eq!(
        refused["error"]["code"], -32602,
        "not found (2026-07-28 code): {refused}"
    );
    assert_eq!(refused["error"]["data"]["uri"], uri.as_str());
    let read = alice("resources/read", json!({"uri": uri}), false).await;
    assert!(
        read["result"]["contents"][0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("rule,severity")),
        "{read}"
    );

    // A task is seen and cancelled only by its creator.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .post(format!("{}/__sim/faults", env.sim().url))
        .json(&json!([{"route": "GET /api/v1/users", "kind": "timeout", "latency_ms": 60000, "count": 1}]))
        .send()
        .await
        .expect("queue a fault");
    let started = alice(
        "tools/call",
        json!({"name": "audit_orphans", "arguments": {}}),
        true,
    )
    .await;
    assert_eq!(started["result"]["resultType"], "task", "{started}");
    let id = started["result"]["taskId"]
        .as_str()
        .expect("taskId")
        .to_string();
    for method in ["tasks/get", "tasks/cancel"] {
        let r = bob(method, json!({"taskId": id})).await;
        assert_eq!(
            r["error"]["code"], -32602,
            "{method} by another caller: {r}"
        );
    }
    let mine = alice("tasks/get", json!({"taskId": id}), true).await;
    assert_eq!(mine["result"]["status"], "working", "{mine}");
    let ack = alice("tasks/cancel", json!({"taskId": id}), true).await;
    assert!(ack["error"].is_null(), "{ack}");
    let mut status = String::new();
    for _ in 0..100 {
        let r = alice("tasks/get", json!({"taskId": id}), true).await;
        status = r["result"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if status == "cancelled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "cancelled");
}
