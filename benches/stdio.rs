//! `cargo bench --bench stdio`: the serving figures DESIGN.md sets targets for, printed as a
//! markdown table. Talks newline-delimited JSON-RPC to the release binary over stdio, against
//! the embedded demo tenant (127.0.0.1 only). Not a test: it asserts nothing and only measures.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_zscaler-lifecycle-mcp");
const RUNS: usize = 20;

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Server {
    fn spawn(state: &std::path::Path) -> Server {
        Self::spawn_with(state, &[], &[])
    }

    fn spawn_with(state: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(BIN)
            .args(args)
            .arg("serve")
            .envs(env.iter().copied())
            .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", state)
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Server {
            child,
            stdin,
            stdout,
            next_id: 1,
        }
    }

    fn request(&mut self, method: &str, params: serde_json::Value) -> String {
        let id = self.next_id;
        self.next_id += 1;
        let msg =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{msg}").expect("write");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        loop {
            line.clear();
            self.stdout.read_line(&mut line).expect("read");
            // Skip notifications; return this request's answer.
            if line.contains(&format!("\"id\":{id}")) {
                return line.clone();
            }
            assert!(!line.is_empty(), "server closed stdout");
        }
    }

    fn initialize(&mut self) {
        self.request(
            "initialize",
            serde_json::json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
        );
        writeln!(
            self.stdin,
            r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
        )
        .expect("write");
    }

    fn peak_rss_kb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p95(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 95 / 100).min(v.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes harness flags such as --bench; nothing to parse.
    let state = tempfile::tempdir().expect("state dir");
    let mut init = Vec::new();
    let mut list = Vec::new();
    let mut list_bytes = 0;
    for _ in 0..RUNS {
        let t0 = Instant::now();
        let mut s = Server::spawn(state.path());
        s.initialize();
        init.push(t0.elapsed());
        let t1 = Instant::now();
        list_bytes = s.request("tools/list", serde_json::json!({})).len();
        list.push(t1.elapsed());
    }
    let mut s = Server::spawn(state.path());
    s.initialize();
    s.request("tools/list", serde_json::json!({}));
    std::thread::sleep(Duration::from_millis(200));
    let rss_idle = s.peak_rss_kb();
    let mut calls = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        s.request(
            "tools/call",
            serde_json::json!({"name": "list_users", "arguments": {"limit": 500}}),
        );
        calls.push(t.elapsed());
    }
    let t = Instant::now();
    s.request(
        "tools/call",
        serde_json::json!({"name": "audit_orphans", "arguments": {}}),
    );
    let audit = t.elapsed();
    let rss_busy = s.peak_rss_kb();
    let size = std::fs::metadata(BIN).map(|m| m.len()).unwrap_or(0);

    println!("| metric | value | DESIGN target |");
    println!("|---|---|---|");
    println!(
        "| spawn→initialize (stdio, demo tenant embedded), median / p95 of {RUNS} | {} / {} | < 20 ms |",
        ms(median(init.clone())),
        ms(p95(init))
    );
    println!("| first tools/list, median | {} | – |", ms(median(list)));
    println!("| tools/list response bytes | {list_bytes} | < 15,000 |");
    println!(
        "| peak RSS idle | {:.1} MB | < 15 MB |",
        rss_idle as f64 / 1024.0
    );
    println!(
        "| list_users limit 500 (1 API page via the real adapter), median of {RUNS} | {} | – |",
        ms(median(calls))
    );
    println!(
        "| audit_orphans over the demo tenant (308 users) | {} | – |",
        ms(audit)
    );
    println!(
        "| peak RSS after those calls | {:.1} MB | – |",
        rss_busy as f64 / 1024.0
    );
    println!("| binary size | {:.1} MB | – |", size as f64 / 1_048_576.0);
    large_tenant(state.path());
}

/// A plain HTTP GET on loopback (the simulator's introspection), without a client library.
fn http_get(url: &str) -> serde_json::Value {
    use std::io::Read;
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut conn = std::net::TcpStream::connect(host).expect("connect to simulator");
    write!(
        conn,
        "GET /{path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    conn.read_to_string(&mut text).expect("read");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// The `large` scenario (100,000 users, 2,000 groups) with the documented ZIA rate limits on:
/// what a big tenant costs in API calls, 429s, wall time and memory.
fn large_tenant(state: &std::path::Path) {
    let mut sim = Command::new(BIN)
        .args([
            "sim",
            "--scenario",
            "large",
            "--limits",
            "--bind",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn simulator");
    let mut line = String::new();
    BufReader::new(sim.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("simulator line");
    let info: serde_json::Value = serde_json::from_str(&line).expect("simulator JSON line");
    let url = info["url"].as_str().expect("url").to_string();
    let config = state.join("large.toml");
    std::fs::write(
        &config,
        format!(
            "[connections.large]\nkind = \"zia\"\nbase_url = \"{url}\"\nregistered_domains = [\"acme.example\", \"acme-labs.example\"]\n"
        ),
    )
    .expect("config");
    let cfg = config.to_string_lossy().to_string();
    let creds: Vec<(String, String)> = [
        ("ZIA_USERNAME", "username"),
        ("ZIA_PASSWORD", "password"),
        ("ZIA_API_KEY", "api_key"),
    ]
    .iter()
    .map(|(k, f)| {
        (
            k.to_string(),
            info[*f].as_str().unwrap_or_default().to_string(),
        )
    })
    .collect();
    let env: Vec<(&str, &str)> = creds
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut s = Server::spawn_with(state, &["--config", &cfg], &env);
    s.initialize();
    let timed = |s: &mut Server, name: &str, args: serde_json::Value| {
        let t = Instant::now();
        let answer = s.request(
            "tools/call",
            serde_json::json!({"name": name, "arguments": args}),
        );
        (t.elapsed(), answer.len())
    };
    let (first_page, _) = timed(&mut s, "list_users", serde_json::json!({"limit": 500}));
    let (by_email, _) = timed(
        &mut s,
        "get_user",
        serde_json::json!({"user": "jane.doe@acme.example"}),
    );
    let (audit, _) = timed(&mut s, "audit_orphans", serde_json::json!({}));
    let rss = s.peak_rss_kb();
    let log = http_get(&format!("{url}/__sim/requests"));
    let _ = sim.kill();
    let _ = sim.wait();
    println!();
    println!(
        "| `large` scenario (100,000 users, 2,000 groups), documented ZIA limits on | value |"
    );
    println!("|---|---|");
    println!(
        "| list_users limit 500 (first call: login + 1 page of 10,000) | {} |",
        ms(first_page)
    );
    println!(
        "| get_user by email (exact match over every page) | {} |",
        ms(by_email)
    );
    println!(
        "| audit_orphans over 100,000 users (all pages + groups) | {} |",
        ms(audit)
    );
    println!(
        "| peak RSS of the server after the audit | {:.1} MB |",
        rss as f64 / 1024.0
    );
    println!(
        "| API calls made / 429s received | {} / {} |",
        log["total"],
        log["by_status"]
            .get("429")
            .cloned()
            .unwrap_or(serde_json::json!(0))
    );
    println!("| calls per route | {} |", log["by_route"]);
}
