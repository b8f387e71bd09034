//! `cargo bench --bench http`: Streamable HTTP latency, stateful (a session, answers as SSE)
//! beside stateless (one JSON answer per request), printed as a markdown table. The release
//! binary serves the embedded demo tenant on 127.0.0.1; one client sends requests one after
//! another on a kept-alive connection, as an agent does. Not a test: it only measures.

mod common;

use std::time::{Duration, Instant};

use common::{BIN, median, ms, p95};

const RUNS: usize = 200;
const WARMUP: usize = 10;

/// A server process on a free loopback port, killed on drop.
struct HttpServer {
    child: std::process::Child,
    url: String,
}

impl HttpServer {
    fn spawn(state: &std::path::Path, stateless: bool) -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let bind = format!("127.0.0.1:{port}");
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["serve", "--transport", "http", "--bind", &bind])
            .args(["--per-caller-rps", "100000"])
            .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", state)
            .env("RUST_LOG", "error")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if stateless {
            cmd.arg("--stateless");
        }
        // Killed and waited for on drop, including when it never comes up.
        let server = HttpServer {
            child: cmd.spawn().expect("spawn server"),
            url: format!("http://{bind}"),
        };
        for _ in 0..400 {
            if std::net::TcpStream::connect(&bind).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("server did not listen on {bind}");
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One MCP client over HTTP: a session when the server keeps them, or (2026-07-28) none, with
/// the protocol metadata on every request.
struct Client {
    http: reqwest::Client,
    url: String,
    session: Option<String>,
    modern: bool,
    next_id: u64,
}

impl Client {
    /// A 2026-07-28 client: no handshake, no session.
    fn modern(server: &HttpServer) -> Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client {
            http: reqwest::Client::new(),
            url: format!("{}/mcp", server.url),
            session: None,
            modern: true,
            next_id: 1,
        }
    }

    async fn connect(server: &HttpServer) -> Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut c = Client {
            http: reqwest::Client::new(),
            url: format!("{}/mcp", server.url),
            session: None,
            modern: false,
            next_id: 1,
        };
        let (session, _) = c
            .post(
                serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "bench", "version": "1"}}}),
            )
            .await;
        c.session = session;
        c.post(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        c
    }

    /// POSTs one message; the session id the server set and the whole body.
    async fn post(&self, mut body: serde_json::Value) -> (Option<String>, String) {
        let version = if self.modern {
            "2026-07-28"
        } else {
            "2025-11-25"
        };
        let mut req = self
            .http
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", version);
        if self.modern {
            let method = body["method"].as_str().unwrap_or_default().to_string();
            req = req.header("Mcp-Method", method);
            if let Some(name) = body["params"]["name"].as_str() {
                req = req.header("Mcp-Name", name.to_string());
            }
            body["params"]["_meta"] = serde_json::json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"}});
        }
        let mut req = req.json(&body);
        if let Some(s) = &self.session {
            req = req.header("Mcp-Session-Id", s);
        }
        let resp = req.send().await.expect("answered");
        let session = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.expect("body");
        (session, text)
    }

    async fn request(&mut self, method: &str, params: serde_json::Value) -> String {
        let id = self.next_id;
        self.next_id += 1;
        let (_, text) = self
            .post(
                serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
            )
            .await;
        assert!(text.contains("\"result\""), "{method}: {text}");
        text
    }
}

/// Latencies of `RUNS` requests after a warm-up.
async fn measure(c: &mut Client, method: &str, params: serde_json::Value) -> Vec<Duration> {
    for _ in 0..WARMUP {
        c.request(method, params.clone()).await;
    }
    let mut out = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        c.request(method, params.clone()).await;
        out.push(t.elapsed());
    }
    out
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let state = tempfile::tempdir().expect("state dir");
        let call = serde_json::json!({"name": "list_users", "arguments": {"limit": 5}});
        let mut rows = Vec::new();
        for (mode, stateless, modern) in [
            ("stateful, 2025-11-25 session", false, false),
            ("--stateless, 2025-11-25 session", true, false),
            (
                "--stateless, 2026-07-28 (no session, JSON answers)",
                true,
                true,
            ),
        ] {
            let server = HttpServer::spawn(state.path(), stateless);
            let mut c = if modern {
                Client::modern(&server)
            } else {
                Client::connect(&server).await
            };
            let list = measure(&mut c, "tools/list", serde_json::json!({})).await;
            let calls = measure(&mut c, "tools/call", call.clone()).await;
            rows.push((mode, list, calls));
        }
        println!("| Streamable HTTP, {RUNS} sequential requests, loopback | p50 | p95 |");
        println!("|---|---|---|");
        for (mode, list, calls) in rows {
            println!(
                "| {mode}: tools/list | {} | {} |",
                ms(median(list.clone())),
                ms(p95(list))
            );
            println!(
                "| {mode}: tools/call list_users limit 5 | {} | {} |",
                ms(median(calls.clone())),
                ms(p95(calls))
            );
        }
    });
}
