//! End to end over the real binary: what happens to staged ZIA changes when the admin session
//! ends (idle timeout) or the server stops, and what `check` says about rate headroom. Every
//! test asserts on the simulator's own state, not only on what the server claims.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{Client, Env, Human, SimProc, TestClient};
use rmcp::ServiceExt;
use serde_json::json;
use tokio::io::AsyncReadExt;

/// A simulator started with `sim_args` and a config with one native ZIA connection
/// (`zia-test`) to it, with `conn_extra` lines in the connection's table.
async fn env_with(sim_args: &[&str], conn_extra: &str) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = SimProc::start_args(sim_args).await;
    let config = format!(
        r#"
[connections.zia-test]
kind = "zia"
base_url = "{}"
registered_domains = ["acme.example"]
{conn_extra}
"#,
        sim.url
    );
    Env::with_config(dir, sim, &config)
}

fn notices(v: &serde_json::Value) -> Vec<String> {
    v["notices"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

const ADA: &str = "ada.lovelace@acme.example";

#[tokio::test]
async fn an_idle_session_activating_staged_changes_is_told_in_the_next_result_and_the_ledger() {
    // The tenant ends sessions idle for 1 s (and activates what they staged); the connection
    // is configured with the same timeout, as an admin would copy it from the tenant.
    let env = env_with(
        &["--session-idle-timeout-secs", "1"],
        "session_timeout_secs = 1",
    )
    .await;
    let sim = env.sim();
    let client = env.connect(Human::Absent).await;

    let created = client
        .ok(
            "create_user",
            json!({"name": "Ada Lovelace", "email": ADA, "department": "engineering", "groups": ["Engineering"]}),
        )
        .await;
    assert_eq!(created["status"], "executed");
    assert_eq!(created["staged"], true);
    assert!(notices(&created).is_empty(), "{created}");
    assert!(sim.user(ADA, "draft").await.is_some());
    assert!(sim.user(ADA, "live").await.is_none(), "staged, not live");
    assert_eq!(sim.status().await, "PENDING");

    // Longer than the idle timeout: the tenant ends the session, which activates the change.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(
        sim.user(ADA, "live").await.is_some(),
        "the tenant activated the staged change when the session idled out"
    );
    assert_eq!(sim.status().await, "ACTIVE");

    // The very next tool result, a read, says so.
    let read = client.ok("get_user", json!({"user": ADA})).await;
    let told = notices(&read);
    assert_eq!(told.len(), 1, "one notice in the next result: {read}");
    assert!(
        told[0].contains("session ended while 1 staged change(s) were pending")
            && told[0].contains("now active"),
        "{}",
        told[0]
    );

    // pending_changes: nothing left staged, and the ledger note says what went live.
    let pending = client.ok("pending_changes", json!({})).await;
    assert_eq!(pending["tenant_status"], "ACTIVE");
    assert_eq!(
        pending["staged_by_this_server"].as_array().map(Vec::len),
        Some(0),
        "{pending}"
    );
    let note = pending["note"].as_str().expect("note");
    assert!(
        note.contains("the admin session ended while 1 staged change(s) were pending")
            && note.contains("now active")
            && note.contains(ADA),
        "{note}"
    );
    assert!(
        notices(&pending).is_empty(),
        "told once, not twice: {pending}"
    );

    // Said once: the next look is quiet.
    let again = client.ok("pending_changes", json!({})).await;
    let note = again["note"].as_str().expect("note");
    assert!(!note.contains("session ended"), "{note}");
    assert_eq!(note, "Nothing is pending on the tenant.");
    client.close().await;
}

#[tokio::test]
async fn check_reports_rate_headroom_and_never_prints_a_secret() {
    // A tenant that reports its own counters in x-ratelimit-* headers.
    let env = env_with(&["--limits", "--rate-headers"], "").await;
    let out = env.run(&["check"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("ok    zia-test:"))
        .unwrap_or_else(|| panic!("no ok line for zia-test: {stdout}"));
    let headroom = line
        .split_once("rate headroom: tenant reports ")
        .map(|(_, h)| h)
        .unwrap_or_else(|| panic!("no reported headroom: {line}"));
    // "N request(s) left of 2, window resets in S s" (GET: 2 per second).
    let (left, rest) = headroom.split_once(" request(s) left of ").expect(line);
    let left: u64 = left.parse().expect(line);
    assert!(left <= 2, "{line}");
    assert!(
        rest.starts_with("2, window resets in ") && rest.ends_with(" s"),
        "{line}"
    );

    // A tenant without rate headers: the configured budget (the documented limits by default).
    let plain = env_with(&["--limits"], "").await;
    let out2 = plain.run(&["check"]).await;
    let stdout2 = String::from_utf8_lossy(&out2.stdout).to_string();
    let stderr2 = String::from_utf8_lossy(&out2.stderr).to_string();
    assert!(out2.status.success(), "{stdout2}\n{stderr2}");
    assert!(
        stdout2.lines().any(|l| l.starts_with("ok    zia-test:")
            && l.contains("rate headroom: tenant sends no rate headers; pacing to GET 2/s 1000/h, POST/PUT 1/s 400/h, DELETE 1/min 4/h, activation 10/min 40/h")),
        "{stdout2}"
    );

    for (e, text) in [
        (&env, format!("{stdout}{stderr}")),
        (&plain, format!("{stdout2}{stderr2}")),
    ] {
        let sim = e.sim();
        for secret in [&sim.password, &sim.api_key, &sim.zpa_scim_token] {
            assert!(
                !text.contains(secret.as_str()),
                "a secret was printed: {text}"
            );
        }
        assert!(!text.contains("JSESSIONID"), "{text}");
    }
}

#[tokio::test]
async fn serve_stopping_with_staged_changes_warns_with_the_count() {
    let env = env_with(&[], "").await;
    let sim = env.sim();
    let mut child = env
        .command(&["serve"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn serve");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr_text = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let service = TestClient {
        human: Human::Absent,
        asked: asked.clone(),
    }
    .serve((stdout, stdin))
    .await
    .expect("initialize");
    let client = Client { service, asked };

    // Native ZIA needs a department: leaving it out is refused with what to pass.
    let refused = client
        .err(
            "create_user",
            json!({"name": "Ada Lovelace", "email": ADA, "groups": ["Engineering"]}),
        )
        .await;
    assert!(
        refused.contains("a department is required on connection zia-test")
            && refused.contains("\"Engineering\""),
        "{refused}"
    );
    let created = client
        .ok(
            "create_user",
            json!({"name": "Ada Lovelace", "email": ADA, "department": "Engineering", "groups": ["Engineering"]}),
        )
        .await;
    assert_eq!(created["staged"], true);
    let added = client
        .ok(
            "add_to_group",
            json!({"user": "jane.doe@acme.example", "groups": ["Finance"]}),
        )
        .await;
    assert_eq!(added["staged"], true);

    // The client goes away: stdin closes, and the server stops on its own.
    client.close().await;
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("serve stops when stdin closes")
        .expect("exit status");
    assert!(status.success(), "{status:?}");
    let stderr = stderr_text.await.expect("stderr read");
    assert!(
        stderr.contains("stopping with 2 staged change(s) not activated on connection zia-test")
            && stderr.contains("they will go live without activate_changes"),
        "{stderr}"
    );
    // Stopping neither activated nor dropped them: still staged on the tenant.
    assert_eq!(sim.status().await, "PENDING");
    assert!(sim.user(ADA, "draft").await.is_some());
    assert!(sim.user(ADA, "live").await.is_none());
}
