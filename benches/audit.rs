//! `cargo bench --bench audit`: audit_orphans over 100,000 accounts against a 100,000-row HR
//! export, printed as a markdown table. Runs the real release binary: a simulator
//! (`sim --scenario large`, rate limits off) and `serve` over stdio, both on 127.0.0.1. Measures
//! the server process's CPU time (utime + stime from /proc/PID/stat, before and after the call),
//! its peak RSS (VmHWM) and the call's wall time; and, in process, the HR export's load alone.
//! Not a test: it asserts nothing and only measures.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_zscaler-lifecycle-mcp");
const HR_ROWS: usize = 100_000;
const RUNS: usize = 3;

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Server {
    fn spawn(
        config: &std::path::Path,
        state: &std::path::Path,
        creds: &serde_json::Value,
    ) -> Server {
        let s = |k: &str| creds[k].as_str().unwrap_or_default().to_string();
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", state)
            .env("ZIA_USERNAME", s("username"))
            .env("ZIA_PASSWORD", s("password"))
            .env("ZIA_API_KEY", s("api_key"))
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut s = Server {
            child,
            stdin,
            stdout,
            next_id: 1,
        };
        s.request(
            "initialize",
            serde_json::json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
        );
        writeln!(
            s.stdin,
            r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
        )
        .expect("write");
        s
    }

    /// Sends a request and returns its answer, counting the notifications before it.
    fn request(&mut self, method: &str, params: serde_json::Value) -> (String, usize) {
        let id = self.next_id;
        self.next_id += 1;
        let msg =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{msg}").expect("write");
        self.stdin.flush().expect("flush");
        let mut notes = 0;
        let mut line = String::new();
        loop {
            line.clear();
            self.stdout.read_line(&mut line).expect("read");
            assert!(!line.is_empty(), "server closed stdout");
            if line.contains(&format!("\"id\":{id}")) {
                return (line.clone(), notes);
            }
            notes += 1;
        }
    }

    fn status(&self, key: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(key))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// utime + stime of the server process, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
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
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A plain HTTP GET on loopback (the simulator's introspection), without a client library.
fn http_get(url: &str) -> serde_json::Value {
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

/// A 100,000-row HR export for the tenant: every 50th person terminated, every 100th person
/// listed under a new primary address with the tenant's address as an alias, 1% of the tenant
/// missing, and HR-only people to make up the row count.
fn hr_export(emails: &[String]) -> String {
    let mut csv = String::from("work_email,status,end_date,aliases,external_id,manager\n");
    let mut rows = 0;
    for (i, e) in emails.iter().enumerate() {
        if rows == HR_ROWS {
            break;
        }
        match i % 100 {
            7 => continue,
            13 => csv.push_str(&format!("renamed.{i}@acme.example,active,,{e},,\n")),
            _ if i % 50 == 0 => {
                csv.push_str(&format!("{e},terminated,2026-01-31,,E{i},M{}\n", i / 10))
            }
            _ => csv.push_str(&format!("{e},active,,,E{i},M{}\n", i / 10)),
        }
        rows += 1;
    }
    let mut extra = 0;
    while rows < HR_ROWS {
        csv.push_str(&format!("hr.only.{extra}@acme.example,active,,,,\n"));
        extra += 1;
        rows += 1;
    }
    csv
}

fn main() {
    let dir = tempfile::tempdir().expect("dir");
    let mut sim = Command::new(BIN)
        .args(["sim", "--scenario", "large", "--bind", "127.0.0.1:0"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn simulator");
    let mut line = String::new();
    BufReader::new(sim.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("simulator prints its URL");
    let creds: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
    let url = creds["url"].as_str().expect("url").to_string();
    let emails: Vec<String> = http_get(&format!("{url}/__sim/users"))
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["email"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let hr = dir.path().join("hr.csv");
    std::fs::write(&hr, hr_export(&emails)).expect("write HR export");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[connections.zia]\nkind = \"zia\"\nbase_url = \"{url}\"\nregistered_domains = [\"acme.example\", \"acme-labs.example\"]\n\n\
             [policy]\nprotected_accounts = [\"breakglass@*\", \"svc-*\"]\n\n\
             [sources.hr]\npath = \"{}\"\nemail = \"work_email\"\nstatus = \"status\"\ntermination_date = \"end_date\"\naliases = \"aliases\"\nexternal_id = \"external_id\"\nmanager = \"manager\"\n",
            hr.display()
        ),
    )
    .expect("write config");

    // In process: the HR export's load and index alone.
    let source = zscaler_lifecycle_mcp::orphans::source::SourceConfig {
        path: hr.clone(),
        email: "work_email".into(),
        status: Some("status".into()),
        terminated_values: vec!["terminated".into()],
        termination_date: Some("end_date".into()),
        employee_id: Some("external_id".into()),
        aliases: Some("aliases".into()),
        external_id: Some("external_id".into()),
        manager: Some("manager".into()),
    };
    let t = Instant::now();
    let index = source.load().expect("HR export loads");
    let load = t.elapsed();
    let people = index.len();
    drop(index);

    let tck = clock_ticks_per_sec();
    let mut rows = Vec::new();
    for run in 0..RUNS {
        let state = dir.path().join(format!("state-{run}"));
        let mut s = Server::spawn(&config, &state, &creds);
        // Log in and warm up with one small call, so the audit's figures are its own.
        s.request(
            "tools/call",
            serde_json::json!({"name": "list_groups", "arguments": {}}),
        );
        let rss_before = s.status("VmHWM");
        let cpu0 = s.cpu_ticks();
        let t = Instant::now();
        let (answer, notes) = s.request(
            "tools/call",
            serde_json::json!({"name": "audit_orphans", "arguments": {"source_of_record": "hr", "max_findings": 50},
                               "_meta": {"progressToken": "bench"}}),
        );
        let wall = t.elapsed();
        let cpu = (s.cpu_ticks() - cpu0) as f64 / tck;
        let rss = s.status("VmHWM");
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        let result = &v["result"]["structuredContent"];
        let findings: u64 = result["summary"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["count"].as_u64()).sum())
            .unwrap_or(0);
        rows.push((
            wall,
            cpu,
            rss_before,
            rss,
            result["users_scanned"].as_u64().unwrap_or(0),
            findings,
            notes,
        ));
    }
    let _ = sim.kill();
    let _ = sim.wait();

    println!(
        "| run | users | HR rows | findings | progress notes | wall | server CPU | peak RSS before → after |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, (wall, cpu, before, after, users, findings, notes)) in rows.iter().enumerate() {
        println!(
            "| {} | {users} | {people} | {findings} | {notes} | {:.2} s | {cpu:.2} s | {:.1} → {:.1} MB |",
            i + 1,
            wall.as_secs_f64(),
            *before as f64 / 1024.0,
            *after as f64 / 1024.0
        );
    }
    println!(
        "\nIn process: loading and indexing the {people}-row HR export took {:.0} ms.",
        load.as_secs_f64() * 1000.0
    );
}
