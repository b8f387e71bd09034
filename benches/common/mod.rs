//! What the benches share: a newline-delimited JSON-RPC client for the release binary over
//! stdio, the simulator as a child process, and the figures' formatting. Loopback only.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_zscaler-lifecycle-mcp");

pub struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Server {
    pub fn spawn(state: &std::path::Path) -> Server {
        Self::spawn_with(state, &[], &[])
    }

    pub fn spawn_with(state: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Server {
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

    fn send(&mut self, msg: &serde_json::Value) {
        writeln!(self.stdin, "{msg}").expect("write");
        self.stdin.flush().expect("flush");
    }

    /// Sends a request and returns its answer line. A confirmation the server asks for on the
    /// way (`elicitation/create`) is accepted, as a human ticking the box would.
    pub fn request(&mut self, method: &str, params: serde_json::Value) -> String {
        self.request_counting(method, params).0
    }

    /// [`Self::request`], also counting the notifications (e.g. progress) that came before the
    /// answer.
    pub fn request_counting(&mut self, method: &str, params: serde_json::Value) -> (String, usize) {
        let mut notes = 0;
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            &serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        );
        let mut line = String::new();
        loop {
            line.clear();
            self.stdout.read_line(&mut line).expect("read");
            assert!(!line.is_empty(), "server closed stdout");
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if msg["method"] == "elicitation/create" {
                let answer = serde_json::json!({"jsonrpc": "2.0", "id": msg["id"],
                    "result": {"action": "accept", "content": {"confirm": true}}});
                self.send(&answer);
                continue;
            }
            // Count notifications; return this request's answer.
            if msg["id"] == id && msg.get("method").is_none() {
                return (line.clone(), notes);
            }
            notes += 1;
        }
    }

    pub fn initialize(&mut self) {
        self.initialize_with(serde_json::json!({}));
    }

    pub fn initialize_with(&mut self, capabilities: serde_json::Value) {
        self.request(
            "initialize",
            serde_json::json!({"protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": {"name": "bench", "version": "1"}}),
        );
        self.send(&serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    }

    /// A tools/call; the structured result, or the error text as a string value.
    pub fn call(&mut self, name: &str, args: serde_json::Value) -> serde_json::Value {
        let line = self.request(
            "tools/call",
            serde_json::json!({"name": name, "arguments": args}),
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let r = &v["result"];
        if r["isError"] == true || r.is_null() {
            return serde_json::Value::String(format!("{name} failed: {line}"));
        }
        r["structuredContent"].clone()
    }

    pub fn peak_rss_kb(&self) -> u64 {
        self.status_kb("VmHWM")
    }

    /// utime + stime of the server process, in clock ticks (see [`clock_ticks_per_sec`]).
    pub fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        // rest[0] is field 3 (state); utime is field 14, stime field 15.
        let get = |i: usize| {
            f.get(i - 3)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        get(14) + get(15)
    }

    pub fn status_kb(&self, key: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(key))
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

/// The simulator as a child process, killed on drop.
pub struct Sim {
    child: Child,
    pub url: String,
    info: serde_json::Value,
}

impl Sim {
    pub fn spawn(args: &[&str]) -> Sim {
        let mut child = Command::new(BIN)
            .arg("sim")
            .args(args)
            .args(["--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn simulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("simulator line");
        let info: serde_json::Value = serde_json::from_str(&line).expect("simulator JSON line");
        let url = info["url"].as_str().expect("url").to_string();
        Sim { child, url, info }
    }

    /// The environment a server needs to log in to this simulator's native ZIA API.
    pub fn credentials(&self) -> Vec<(String, String)> {
        [
            ("ZIA_USERNAME", "username"),
            ("ZIA_PASSWORD", "password"),
            ("ZIA_API_KEY", "api_key"),
        ]
        .iter()
        .map(|(k, f)| {
            (
                k.to_string(),
                self.info[*f].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
    }

    /// The simulator's request counters (`/__sim/requests`).
    pub fn requests(&self) -> serde_json::Value {
        http_get(&format!("{}/__sim/requests", self.url))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP GET on loopback (the simulator's introspection), without a client library.
pub fn http_get(url: &str) -> serde_json::Value {
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

pub fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn p95(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 95 / 100).min(v.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
