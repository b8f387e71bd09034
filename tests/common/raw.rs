//! A JSON-RPC client on the server's stdio that sends and reads raw lines, so a test sees
//! every notification as sent and can use protocol features rmcp's client does not model.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::Env;

/// A JSON-RPC client on the server's stdio that keeps every notification it reads.
pub struct Raw {
    _child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    next_id: u64,
    notes: Vec<Value>,
    /// Bytes of the last line read, as sent.
    pub last_bytes: usize,
}

impl Raw {
    pub fn spawn(env: &Env) -> Raw {
        let mut child = env
            .command(&["serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn server");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Raw {
            _child: child,
            stdin,
            lines,
            next_id: 1,
            notes: Vec::new(),
            last_bytes: 0,
        }
    }

    /// A 2025-11-25 session with these client capabilities.
    pub async fn start(env: &Env, capabilities: Value) -> Raw {
        let mut raw = Self::spawn(env);
        let hello = raw
            .request(
                "initialize",
                json!({"protocolVersion": "2025-11-25", "capabilities": capabilities,
                       "clientInfo": {"name": "raw-test", "version": "1"}}),
            )
            .await;
        assert!(hello["result"]["capabilities"].is_object(), "{hello}");
        raw.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        raw
    }

    pub async fn send(&mut self, v: &Value) {
        self.stdin
            .write_all(format!("{v}\n").as_bytes())
            .await
            .expect("write");
        self.stdin.flush().await.expect("flush");
    }

    pub async fn read(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .expect("the server answers in time")
            .expect("readable")
            .expect("the server is still running");
        self.last_bytes = line.len();
        serde_json::from_str(&line).expect("a JSON-RPC line")
    }

    /// Sends a request; returns its answer (result or error), keeping notifications read on
    /// the way.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let msg = self.read().await;
            if msg["id"] == json!(id) && msg.get("method").is_none() {
                return msg;
            }
            self.notes.push(msg);
        }
    }

    pub async fn call(&mut self, name: &str, args: Value) -> Value {
        self.request("tools/call", json!({"name": name, "arguments": args}))
            .await
    }

    /// Notifications of this method seen so far, taken out.
    pub fn take(&mut self, method: &str) -> Vec<Value> {
        let (taken, kept) = std::mem::take(&mut self.notes)
            .into_iter()
            .partition(|n| n["method"] == method);
        self.notes = kept;
        taken
    }

    /// Polls tasks/get until the task is in a terminal status; returns that answer.
    pub async fn settle(&mut self, task_id: &str) -> Value {
        for _ in 0..300 {
            let got = self.request("tasks/get", json!({"taskId": task_id})).await;
            let status = got["result"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            assert!(got["error"].is_null(), "{got}");
            if ["completed", "failed", "cancelled"].contains(&status.as_str()) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("task {task_id} never settled");
    }
}
