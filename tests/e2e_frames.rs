//! Malformed JSON-RPC frames written raw to the real binary's stdin: every request with an id
//! gets exactly one answer with the right code, nothing else is answered, and the session
//! goes on working afterwards.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::Env;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

struct Raw {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    sentinel: u32,
}

impl Raw {
    async fn start(env: &Env) -> Raw {
        let mut child = env
            .command(&["serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn serve");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut raw = Raw {
            _child: child,
            stdin,
            lines,
            sentinel: 0,
        };
        raw.write(br#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#).await;
        let (answers, _) = raw.until_id(&json!("init")).await;
        assert!(answers.is_empty(), "{answers:?}");
        raw.write(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
        raw
    }

    async fn write(&mut self, line: &[u8]) {
        self.stdin.write_all(line).await.expect("write");
        self.stdin.write_all(b"\n").await.expect("write");
        self.stdin.flush().await.expect("flush");
    }

    /// Reads answers until the one with `id`; returns those that came before it, and it.
    async fn until_id(&mut self, id: &Value) -> (Vec<Value>, Value) {
        let mut before = Vec::new();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
                .await
                .expect("the server answers in time")
                .expect("read")
                .expect("the server keeps stdout open");
            let v: Value = serde_json::from_str(&line).expect("every answer is JSON");
            if &v["id"] == id && (v.get("result").is_some() || v.get("error").is_some()) {
                assert_eq!(v["jsonrpc"], "2.0");
                return (before, v);
            }
            before.push(v);
        }
    }

    /// Sends `frame`, then a ping, and returns every answer the frame got.
    async fn answers_to(&mut self, frame: &[u8]) -> Vec<Value> {
        self.sentinel += 1;
        let id = format!("sentinel-{}", self.sentinel);
        self.write(frame).await;
        self.write(
            json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
                .to_string()
                .as_bytes(),
        )
        .await;
        self.until_id(&json!(id)).await.0
    }

    /// Asserts `frame` got exactly one error answer with this id and code.
    async fn expect_error(&mut self, frame: &[u8], id: Value, code: i64) -> String {
        let answers = self.answers_to(frame).await;
        let shown = String::from_utf8_lossy(&frame[..frame.len().min(200)]).to_string();
        assert_eq!(answers.len(), 1, "{shown}: {answers:?}");
        let a = &answers[0];
        assert_eq!(a["id"], id, "{shown}: {a}");
        assert_eq!(a["error"]["code"], code, "{shown}: {a}");
        assert!(a.get("result").is_none(), "{a}");
        a["error"]["message"].as_str().expect("message").to_string()
    }

    /// A tool call that must be answered first and without error.
    async fn call(&mut self, id: &str, tool: &str, arguments: Value) -> Value {
        let req = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}});
        self.write(req.to_string().as_bytes()).await;
        let (before, answer) = self.until_id(&json!(id)).await;
        assert!(before.is_empty(), "{before:?}");
        assert_eq!(answer["result"]["isError"], false, "{answer}");
        answer["result"]["structuredContent"].clone()
    }
}

#[tokio::test]
async fn every_malformed_request_gets_one_answer_and_the_session_goes_on() {
    let env = Env::demo();
    let mut raw = Raw::start(&env).await;
    let cases: Vec<(&[u8], Value, i64)> = vec![
        (
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[]}"#,
            json!(1),
            -32602,
        ),
        (
            br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":["list_users",{}]}"#,
            json!(2),
            -32602,
        ),
        (br#"{"jsonrpc":"2.0","id":2.5,"method":"ping"}"#, json!(2.5), -32600),
        (
            br#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
            json!({"a": 1}),
            -32600,
        ),
        (br#"{"id":3,"method":"ping"}"#, json!(3), -32600),
        (br#"{"jsonrpc":"1.0","id":4,"method":"ping"}"#, json!(4), -32600),
        (br#"{"jsonrpc":2,"id":5,"method":"ping"}"#, json!(5), -32600),
        (br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, Value::Null, -32600),
        (br#"{"jsonrpc":"2.0","id":6}"#, json!(6), -32600),
        (br#"{"jsonrpc":"2.0","id":7,"method":["ping"]}"#, json!(7), -32600),
        (
            br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":5,"arguments":{}}}"#,
            json!(8),
            -32602,
        ),
        (
            br#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"get_user","arguments":{"user":"a\ud800b"}}}"#,
            json!(9),
            -32602,
        ),
        (b"not json at all", Value::Null, -32700),
        (br#"{"jsonrpc":"2.0","id":10,"method":"ping""#, Value::Null, -32700),
        (b"\"a string\"", Value::Null, -32600),
        (
            br#"[{"jsonrpc":"2.0","id":11,"method":"ping"}]"#,
            json!(11),
            -32600,
        ),
    ];
    for (frame, id, code) in cases {
        raw.expect_error(frame, id, code).await;
    }
    // Bytes that are not UTF-8 inside a string: answered like a lone surrogate.
    let mut frame = br#"{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"get_user","arguments":{"user":""#.to_vec();
    frame.extend_from_slice(b"\xed\xa0\x80\"}}}");
    raw.expect_error(&frame, json!(12), -32602).await;
    // An id too large for 64 bits is echoed as sent.
    let huge = br#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}"#;
    raw.write(huge).await;
    raw.write(br#"{"jsonrpc":"2.0","id":"after-huge","method":"ping"}"#)
        .await;
    let line = tokio::time::timeout(Duration::from_secs(30), raw.lines.next_line())
        .await
        .expect("answered in time")
        .expect("read")
        .expect("open");
    assert!(
        line.contains(r#""id":123456789012345678901234567890,"#) && line.contains("-32600"),
        "{line}"
    );
    assert!(raw.until_id(&json!("after-huge")).await.0.is_empty());

    // Malformed notifications and responses are never answered.
    for frame in [
        &br#"{"jsonrpc":"1.0","method":"notifications/initialized"}"#[..],
        br#"{"method":"notifications/progress","params":[1]}"#,
        br#"{"jsonrpc":"2.0","id":1.5,"result":{}}"#,
        b"   ",
    ] {
        let answers = raw.answers_to(frame).await;
        assert!(answers.is_empty(), "{frame:?}: {answers:?}");
    }

    // A well-formed request for a method nobody serves is still rmcp's to answer (rmcp serves
    // requests concurrently, so its answer may come after a later one's).
    raw.write(br#"{"jsonrpc":"2.0","id":13,"method":"vendor/nothing"}"#)
        .await;
    let (_, answer) = raw.until_id(&json!(13)).await;
    assert_eq!(answer["error"]["code"], -32601, "{answer}");

    // The session still works: a real tool call is served.
    let users = raw.call("real", "list_users", json!({"limit": 2})).await;
    assert_eq!(users["users"].as_array().map(Vec::len), Some(2), "{users}");
}

#[tokio::test]
async fn a_line_over_the_size_cap_is_answered_with_its_id_without_being_kept() {
    let env = Env::demo();
    let mut raw = Raw::start(&env).await;
    // 5 MiB of arguments, the id last (as some SDKs serialise it).
    let filler = "x".repeat(5 * 1024 * 1024);
    let frame = format!(
        r#"{{"jsonrpc":"2.0","method":"tools/call","params":{{"name":"get_user","arguments":{{"user":"{filler}"}}}},"id":"big"}}"#
    );
    let message = raw
        .expect_error(frame.as_bytes(), json!("big"), -32600)
        .await;
    assert!(message.contains("longer than"), "{message}");
    // With the id first, and with no id at all.
    let frame =
        format!(r#"{{"jsonrpc":"2.0","id":77,"method":"ping","params":{{"p":"{filler}"}}}}"#);
    raw.expect_error(frame.as_bytes(), json!(77), -32600).await;
    let frame = format!(r#"{{"jsonrpc":"2.0","method":"ping","params":{{"p":"{filler}"}}}}"#);
    raw.expect_error(frame.as_bytes(), Value::Null, -32600)
        .await;
    // And the session goes on.
    let groups = raw.call("after", "list_groups", json!({})).await;
    assert!(
        groups["groups"].as_array().is_some_and(|g| !g.is_empty()),
        "{groups}"
    );
}
