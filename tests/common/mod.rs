//! Shared harness: the real binary, a real MCP client over its stdio, and a simulator process
//! on 127.0.0.1 that tests can inspect through its /__sim endpoints.
#![allow(dead_code)]

pub mod raw;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use rmcp::model::ProtocolVersion;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, ErrorData, Implementation,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, RequestContext, RoleClient, RunningService,
};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

pub const BIN: &str = env!("CARGO_BIN_EXE_zscaler-lifecycle-mcp");

/// How the test client answers a confirmation request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Human {
    /// The client declares no elicitation capability (like many CLI clients).
    Absent,
    Accepts,
    Declines,
    Cancels,
}

pub struct TestClient {
    pub human: Human,
    pub asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        let caps = if self.human == Human::Absent {
            ClientCapabilities::default()
        } else {
            ClientCapabilities::builder().enable_elicitation().build()
        };
        ClientConfig::new(caps, Implementation::new("e2e-test-client", "1.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            self.asked.lock().expect("lock").push(message.clone());
        }
        Ok(match self.human {
            Human::Accepts => {
                ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true}))
            }
            Human::Declines => ElicitResult::new(ElicitationAction::Decline),
            _ => ElicitResult::new(ElicitationAction::Cancel),
        })
    }
}

/// A simulator process.
pub struct SimProc {
    pub url: String,
    pub username: String,
    pub password: String,
    pub api_key: String,
    /// The simulator's ZPA SCIM endpoint and its bearer token.
    pub zpa_scim_url: String,
    pub zpa_scim_token: String,
    _child: tokio::process::Child,
}

impl SimProc {
    pub async fn start() -> SimProc {
        Self::start_args(&[]).await
    }

    /// A simulator started with extra `sim` arguments (`--scenario orphans`, …).
    pub async fn start_args(extra: &[&str]) -> SimProc {
        let mut child = tokio::process::Command::new(BIN)
            .args(["sim", "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sim");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .expect("sim prints its URL");
        let v: Value = serde_json::from_str(&line).expect("sim line is JSON");
        let s = |k: &str| v[k].as_str().expect(k).to_string();
        SimProc {
            url: s("url"),
            username: s("username"),
            password: s("password"),
            api_key: s("api_key"),
            zpa_scim_url: s("zpa_scim_url"),
            zpa_scim_token: s("zpa_scim_token"),
            _child: child,
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let resp = reqwest::get(format!("{}{}", self.url, path))
            .await
            .expect("sim reachable");
        resp.json().await.unwrap_or(Value::Null)
    }

    /// The user with this email in the draft (what admins see) or live (activated) view.
    pub async fn user(&self, email: &str, view: &str) -> Option<Value> {
        let v = self
            .get(&format!("/__sim/users?email={email}&view={view}"))
            .await;
        v.as_array().and_then(|a| a.first().cloned())
    }

    pub async fn status(&self) -> String {
        self.get("/__sim/status").await["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A temporary state directory plus a config pointing at a simulator.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: Option<PathBuf>,
    pub sim: Option<SimProc>,
}

impl Env {
    /// A separate simulator process and a config for it.
    pub async fn with_sim() -> Env {
        Self::with_sim_policy("").await
    }

    /// Like `with_sim`, with extra lines in the `[policy]` table.
    pub async fn with_sim_policy(extra_policy: &str) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = SimProc::start().await;
        let config = format!(
            r#"
[connections.zia-test]
kind = "zia"
base_url = "{}"
registered_domains = ["acme.example", "acme-labs.example"]

[policy]
protected_accounts = ["breakglass@*", "svc-*"]
protected_groups = ["Admins"]
{extra_policy}
"#,
            sim.url
        );
        Self::with_config(dir, sim, &config)
    }

    /// A running simulator and a config text for it, written into `dir`.
    pub fn with_config(dir: tempfile::TempDir, sim: SimProc, text: &str) -> Env {
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).expect("write config");
        Env {
            dir,
            config: Some(config),
            sim: Some(sim),
        }
    }

    /// A simulator with two connections to it: native ZIA (`zia-test`) and ZPA SCIM
    /// (`zpa-test`), as a company provisioning both products would configure.
    pub async fn with_sim_and_zpa() -> Env {
        let env = Self::with_sim().await;
        let config = env.config.clone().expect("config");
        let mut text = std::fs::read_to_string(&config).expect("config");
        text.push_str(&format!(
            "\n[connections.zpa-test]\nkind = \"zpa-scim\"\nbase_url = \"{}\"\nquarantine_group = \"Quarantine\"\n",
            env.sim().zpa_scim_url
        ));
        std::fs::write(&config, text).expect("write config");
        env
    }

    /// All users the simulator's ZPA SCIM store holds.
    pub async fn zpa_users(&self) -> Vec<Value> {
        self.sim()
            .get("/__sim/scim/zpa/users")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// No config: the server embeds the demo tenant.
    pub fn demo() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            config: None,
            sim: None,
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn sim(&self) -> &SimProc {
        self.sim.as_ref().expect("env has a sim")
    }

    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(BIN);
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        // Never let a developer's real tenant settings leak into a test.
        cmd.env_remove("ZIA_CLOUD")
            .env_remove("ZIA_BASE_URL")
            .env_remove("ZSCALER_CLIENT_ID")
            .env_remove("ZSCALER_VANITY_DOMAIN")
            .env_remove("ZPA_SCIM_URL");
        cmd.args(args)
            .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", self.state_dir())
            .env("RUST_LOG", "warn");
        if let Some(sim) = &self.sim {
            cmd.env("ZIA_USERNAME", &sim.username)
                .env("ZIA_PASSWORD", &sim.password)
                .env("ZIA_API_KEY", &sim.api_key)
                .env("ZPA_SCIM_TOKEN", &sim.zpa_scim_token);
        }
        cmd
    }

    /// Starts `serve` and connects an MCP client to it.
    pub async fn connect(&self, human: Human) -> Client {
        self.connect_with(human, false).await
    }

    /// Starts `serve` with `RUST_LOG` set to `filter`, its stderr kept in a file under the env's
    /// directory (returned), and connects an MCP client to it.
    pub async fn connect_logging(&self, human: Human, filter: &str) -> (Client, PathBuf) {
        let log = self.dir.path().join(format!("serve-{}.log", rand_suffix()));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = self.command(&["serve"]);
        cmd.env("RUST_LOG", filter);
        let cmd = cmd.configure(|_| {});
        let (transport, _stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn server");
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = TestClient {
            human,
            asked: asked.clone(),
        };
        let service = handler.serve(transport).await.expect("initialize");
        (Client { service, asked }, log)
    }

    /// Starts `serve --transport http` on a free loopback port with `tokens`
    /// (`name:token,...`) and waits until it answers.
    pub async fn serve_http(&self, tokens: &str, extra: &[&str]) -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let bind = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--transport", "http", "--bind", &bind];
        args.extend_from_slice(extra);
        let child = self
            .command(&args)
            .env("ZSCALER_LIFECYCLE_MCP_TOKENS", tokens)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn");
        let url = format!("http://{bind}");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        for _ in 0..400 {
            if http
                .get(format!("{url}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return HttpServer { url, _child: child };
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("HTTP server did not come up on {url}");
    }

    /// Starts `serve` and connects a protocol 2026-07-28 client (`server/discover`, MRTR).
    pub async fn connect_modern(&self, human: Human) -> Client {
        self.connect_with(human, true).await
    }

    async fn connect_with(&self, human: Human, modern: bool) -> Client {
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let cmd = self.command(&["serve"]).configure(|_| {});
        let (transport, _stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let handler = TestClient {
            human,
            asked: asked.clone(),
        };
        let service = if modern {
            handler
                .serve_with_lifecycle(
                    transport,
                    ClientLifecycleMode::Discover {
                        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                    },
                )
                .await
                .expect("discover")
        } else {
            handler.serve(transport).await.expect("initialize")
        };
        Client { service, asked }
    }

    /// Runs `approve PLAN_ID` under a pseudo-terminal, typing `answer`, as a person would.
    pub async fn approve(&self, plan_id: &str, answer: &str) -> std::process::Output {
        let mut inner = format!("'{BIN}'");
        if let Some(c) = &self.config {
            inner.push_str(&format!(" --config '{}'", c.display()));
        }
        inner.push_str(&format!(" approve {plan_id}"));
        let mut child = tokio::process::Command::new("script")
            .args(["-qec", &inner, "/dev/null"])
            .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", self.state_dir())
            .env("USER", "test-approver")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn script");
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().expect("stdin");
        // Give the prompt a moment to appear, then type like a person.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stdin
            .write_all(format!("{answer}\n").as_bytes())
            .await
            .expect("type");
        drop(stdin);
        child.wait_with_output().await.expect("approve finishes")
    }

    /// Starts `approve --web --once` (with `USER=test-approver`, which must not name the approver)
    /// and reads its URL line.
    pub async fn approve_web(&self) -> WebApproval {
        let mut child = self
            .command(&["approve", "--web", "--once"])
            .env("USER", "test-approver")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn approve --web");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("approve --web prints its URL in time")
        .expect("read the URL line");
        let url = url::Url::parse(line.trim()).expect("the line is a URL");
        let secret = url
            .query_pairs()
            .find(|(k, _)| k == "k")
            .map(|(_, v)| v.into_owned())
            .expect("the URL carries the secret");
        let origin = url.origin().ascii_serialization();
        WebApproval {
            url: url.to_string(),
            origin,
            port: url.port().expect("the URL has a port"),
            secret,
            child,
        }
    }

    /// Runs a CLI subcommand without a terminal.
    pub async fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run")
    }

    pub fn journal(&self) -> PathBuf {
        self.state_dir().join("journal.jsonl")
    }
}

pub struct Client {
    pub service: RunningService<RoleClient, TestClient>,
    pub asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// A tool result reduced to what tests check.
#[derive(Debug)]
pub struct Outcome {
    pub is_error: bool,
    pub text: String,
    pub structured: Value,
}

impl Client {
    pub async fn call(&self, tool: &str, args: Value) -> Outcome {
        let Value::Object(map) = args else {
            panic!("args must be an object")
        };
        let r: CallToolResult = self
            .service
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
            .await
            .expect("tools/call answered");
        let text = r
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n");
        Outcome {
            is_error: r.is_error.unwrap_or(false),
            text,
            structured: r.structured_content.unwrap_or(Value::Null),
        }
    }

    /// Calls and insists on success.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let o = self.call(tool, args.clone()).await;
        assert!(!o.is_error, "{tool} {args} failed: {}", o.text);
        o.structured
    }

    /// Calls and insists on a tool error; returns its text.
    pub async fn err(&self, tool: &str, args: Value) -> String {
        let o = self.call(tool, args.clone()).await;
        assert!(
            o.is_error,
            "{tool} {args} should have failed but returned {}",
            o.structured
        );
        o.text
    }

    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }

    /// The first call of a confirmed tool the 2026-07-28 way (no elicitation): the sealed
    /// request state its confirmation question carries.
    pub async fn sealed_state(&self, tool: &str, args: &Value) -> String {
        let Value::Object(map) = args.clone() else {
            panic!("args must be an object")
        };
        let first = self
            .service
            .call_tool_once(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
            .await
            .expect("first call");
        let rmcp::model::CallToolResponse::InputRequired(ir) = first else {
            panic!("expected an InputRequiredResult")
        };
        ir.request_state.expect("sealed state")
    }
}

/// The call that answers a confirmation question with a human's acceptance, carrying `state`.
pub fn accepted(tool: &str, args: &Value, state: String) -> CallToolRequestParams {
    let Value::Object(map) = args.clone() else {
        panic!("args must be an object")
    };
    let accept: rmcp::model::InputResponses = [(
        "confirm".to_string(),
        json!({"action": "accept", "content": {"confirm": true}}),
    )]
    .into_iter()
    .collect();
    CallToolRequestParams::new(tool.to_string())
        .with_arguments(map)
        .with_input_responses(accept)
        .with_request_state(state)
}

/// The OS account the tests run as, as `approve` records it (`NAME (uid N)`), from `id`
/// rather than the environment.
pub fn os_account() -> String {
    let id = |flag: &str| {
        let out = std::process::Command::new("id")
            .arg(flag)
            .output()
            .expect("run id");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    format!("{} (uid {})", id("-un"), id("-u"))
}

/// A running `serve --transport http`.
pub struct HttpServer {
    pub url: String,
    _child: tokio::process::Child,
}

impl HttpServer {
    /// An MCP client over Streamable HTTP with `token`; `modern` speaks protocol 2026-07-28.
    pub async fn connect(&self, token: &str, human: Human, modern: bool) -> Client {
        use rmcp::transport::StreamableHttpClientTransport;
        use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", self.url))
                .auth_header(token.to_string()),
        );
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = TestClient {
            human,
            asked: asked.clone(),
        };
        let service = if modern {
            handler
                .serve_with_lifecycle(
                    transport,
                    ClientLifecycleMode::Discover {
                        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                    },
                )
                .await
                .expect("discover over HTTP")
        } else {
            handler
                .serve(transport)
                .await
                .expect("initialize over HTTP")
        };
        Client { service, asked }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Sends a SCIM request to the simulator's ZPA SCIM endpoint, as an IdP would.
pub async fn zpa_scim(sim: &SimProc, method: reqwest::Method, path: &str, body: Value) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.zpa_scim_url))
        .bearer_auth(&sim.zpa_scim_token)
        .header("content-type", "application/scim+json")
        .json(&body)
        .send()
        .await
        .expect("ZPA SCIM reachable");
    assert!(resp.status().is_success(), "SCIM {path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// A running `approve --web` process.
pub struct WebApproval {
    /// The full URL it printed, secret included.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    pub port: u16,
    pub secret: String,
    pub child: tokio::process::Child,
}

/// One protocol 2026-07-28 request over Streamable HTTP (no session: the metadata travels with
/// the request), as raw HTTP; returns the JSON-RPC answer, sent as JSON or as server-sent
/// events. `tasks` declares the tasks extension in the request's client capabilities.
pub async fn post_modern(
    url: &str,
    token: &str,
    method: &str,
    params: Value,
    tasks: bool,
) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let caps = if tasks {
        json!({"extensions": {"io.modelcontextprotocol/tasks": {}}})
    } else {
        json!({})
    };
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": caps,
        "io.modelcontextprotocol/clientInfo": {"name": "modern-test", "version": "1"}});
    let mut req = reqwest::Client::new()
        .post(url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", method);
    if let Some(name) = ["name", "uri", "taskId"]
        .iter()
        .find_map(|k| params[*k].as_str())
    {
        req = req.header("Mcp-Name", name);
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let text = req
        .json(&body)
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("body");
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        return v;
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v["id"] == json!(1))
        .unwrap_or_else(|| panic!("no answer in {text}"))
}

/// The id of the plan a tool answered with.
pub fn plan_id(r: &Value) -> String {
    r["plan"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no plan in {r}"))
        .to_string()
}

/// The same arguments, carrying a plan id.
pub fn with(args: &Value, plan_id: &str) -> Value {
    let mut a = args.clone();
    a["plan_id"] = json!(plan_id);
    a
}

/// A client without elicitation that records the progress notifications it receives.
#[derive(Clone, Default)]
pub struct ProgressClient {
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<rmcp::model::ProgressNotificationParam>>>,
    pub notify: std::sync::Arc<tokio::sync::Notify>,
}

impl ClientHandler for ProgressClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("progress-test-client", "1.0"),
        )
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _ctx: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.seen.lock().expect("lock").push(params);
        self.notify.notify_waiters();
    }
}

impl ProgressClient {
    /// Starts `serve` on the env's config and connects this client to it.
    pub async fn connect(self, env: &Env) -> RunningService<RoleClient, ProgressClient> {
        let cmd = env.command(&["serve"]).configure(|_| {});
        let (transport, _stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        self.serve(transport).await.expect("initialize")
    }
}
