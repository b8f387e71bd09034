//! The journal end to end, over the binary: `journal verify` as a child process catches a cut
//! tail, an emptied file, a missing segment, a re-chained file, a head that does not match (the
//! file's, or Redis's), a missing key and an unanchored legacy journal; a torn tail is repaired
//! when `serve` or `call` starts and the chain goes on; an append that cannot be written (a
//! read-only file, a copy that is down) fails; every record reaches the syslog socket and the
//! copy command.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Env, Human, SimProc};
use serde_json::{Map, Value, json};
use zscaler_lifecycle_mcp::guard::journal::{Journal, JournalKey};

/// One journal record through the binary: a deactivation plan that waits for approval.
async fn propose(env: &Env) -> String {
    let out = env
        .run(&[
            "call",
            "deactivate",
            "--args",
            r#"{"user": "john.smith@acme.example"}"#,
        ])
        .await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&text).expect("call prints JSON");
    v["plan"]["id"].as_str().expect("a plan").to_string()
}

/// `journal verify`: whether it passed, and what it printed.
async fn verify(env: &Env) -> (bool, String) {
    let out = env.run(&["journal", "verify"]).await;
    let code = out.status.code();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        matches!(code, Some(0) | Some(2)),
        "exit {code:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code == Some(0), text)
}

async fn broken(env: &Env) -> String {
    let (ok, text) = verify(env).await;
    assert!(!ok && text.contains("BROKEN"), "must be broken: {text}");
    text
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").expect("write");
}

/// A demo-tenant environment with `n` records in its journal, verified intact.
async fn demo_with(n: usize) -> Env {
    let env = Env::demo();
    for _ in 0..n {
        propose(&env).await;
    }
    let (ok, text) = verify(&env).await;
    assert!(
        ok && text.contains(&format!(
            "{n} record{}, chain intact, head matches (file)",
            if n == 1 { "" } else { "s" }
        )),
        "{text}"
    );
    env
}

fn key_of(env: &Env) -> JournalKey {
    JournalKey::existing(None, &env.state_dir()).expect("the state directory's key")
}

fn event(n: u64) -> Map<String, Value> {
    match json!({"tool": "deactivate", "outcome": "awaiting_approval", "n": n}) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_cut_tail_is_caught() {
    let env = demo_with(4).await;
    let l = lines(&env.journal());
    write_lines(&env.journal(), &l[..2]);
    let text = broken(&env).await;
    assert!(
        text.contains("cut tail") && text.contains("says seq 4") && text.contains("ends at seq 2"),
        "{text}"
    );
}

#[tokio::test]
async fn an_emptied_or_removed_live_file_is_caught() {
    let env = demo_with(2).await;
    std::fs::write(env.journal(), "").expect("empty");
    let text = broken(&env).await;
    assert!(
        text.contains("cut tail") && text.contains("journal.jsonl is empty"),
        "{text}"
    );
    std::fs::remove_file(env.journal()).expect("remove");
    let text = broken(&env).await;
    assert!(
        text.contains("cut tail") && text.contains("journal.jsonl is missing"),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_or_emptied_segment_is_caught() {
    let env = demo_with(1).await;
    // More records, rotated every few hundred bytes, by the library on the same chain and key.
    let j = Journal::new(env.journal(), key_of(&env)).with_max_bytes(400);
    for n in 0..6 {
        j.append(event(n)).expect("append");
    }
    let (ok, text) = verify(&env).await;
    assert!(ok && text.contains("7 records, chain intact"), "{text}");
    let mut segments: Vec<PathBuf> = std::fs::read_dir(env.state_dir())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains("journal.jsonl."))
        .collect();
    segments.sort();
    assert!(segments.len() >= 3, "{segments:?}");
    let saved = std::fs::read(&segments[1]).expect("read");
    std::fs::remove_file(&segments[1]).expect("remove a segment");
    let text = broken(&env).await;
    assert!(text.contains("are missing"), "{text}");
    std::fs::write(&segments[1], "").expect("empty the segment");
    let text = broken(&env).await;
    assert!(
        text.contains("is empty: its records were removed"),
        "{text}"
    );
    std::fs::write(&segments[1], saved).expect("restore");
    assert!(verify(&env).await.0);
}

#[tokio::test]
async fn a_rechained_file_fails_on_its_mac() {
    let env = demo_with(4).await;
    let mut l = lines(&env.journal());
    l.remove(1);
    // What someone without the key can do: renumber and recompute every SHA-256 link.
    let mut prev = "0".repeat(64);
    for (i, line) in l.iter_mut().enumerate() {
        let mut m: Map<String, Value> = serde_json::from_str(line).expect("json");
        m.remove("hash");
        let mac = m.remove("mac").expect("records carry a mac");
        m.insert("seq".into(), json!(i + 1));
        m.insert("prev".into(), json!(prev));
        let body = serde_json::to_string(&m).expect("json");
        prev = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(prev.as_bytes());
            h.update(b"\n");
            h.update(body.as_bytes());
            hex::encode(h.finalize())
        };
        m.insert("hash".into(), json!(prev));
        m.insert("mac".into(), mac);
        *line = serde_json::to_string(&m).expect("json");
    }
    write_lines(&env.journal(), &l);
    let text = broken(&env).await;
    assert!(text.contains("seq 2: MAC mismatch"), "{text}");
}

#[tokio::test]
async fn a_head_that_does_not_match_is_caught() {
    let env = demo_with(3).await;
    // Another chain in the same directory, same key, same length: its head is valid, but not
    // this chain's.
    let other = Journal::for_replica(&env.state_dir(), "other", key_of(&env));
    for n in 0..3 {
        other.append(event(n)).expect("append");
    }
    let head = env.state_dir().join("journal.head");
    std::fs::copy(env.state_dir().join("journal-other.head"), &head).expect("swap");
    let text = broken(&env).await;
    assert!(
        text.contains("journal.jsonl: BROKEN: head mismatch")
            && text.contains("journal-other.jsonl: 3 records, chain intact"),
        "{text}"
    );
    // A head edited by hand fails its MAC; a head removed is missing.
    let edited = std::fs::read_to_string(&head)
        .expect("head")
        .replace("\"seq\":3", "\"seq\":9");
    std::fs::write(&head, edited).expect("edit");
    assert!(broken(&env).await.contains("invalid MAC"));
    std::fs::remove_file(&head).expect("remove");
    let text = broken(&env).await;
    assert!(
        text.contains("head file") && text.contains("journal.head is missing"),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_key_fails_verify() {
    let env = demo_with(1).await;
    std::fs::remove_file(env.state_dir().join("journal.key")).expect("remove");
    let text = broken(&env).await;
    assert!(
        text.contains("cannot check the MACs") && text.contains("journal.key"),
        "{text}"
    );
}

#[tokio::test]
async fn a_torn_tail_is_repaired_when_serve_starts_and_the_chain_goes_on() {
    let env = demo_with(2).await;
    let torn = br#"{"client":"zscaler-lifecycle-mcp-cli/0.1.0","connection":"de"#;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(env.journal())
        .expect("open");
    f.write_all(torn).expect("tear");
    drop(f);
    let text = broken(&env).await;
    assert!(
        text.contains(&format!("{} torn bytes after seq 2", torn.len()))
            && text.contains("not yet repaired"),
        "{text}"
    );

    // `serve` repairs it at start, before any tool call.
    let client = env.connect(Human::Absent).await;
    client.close().await;
    let (ok, text) = verify(&env).await;
    let repair = format!(
        "1 repair: segment journal.jsonl.000000000002 had {} torn bytes, recorded at seq 3",
        torn.len()
    );
    assert!(
        ok && text.contains("3 records, chain intact") && text.contains(&repair),
        "{text}"
    );
    let segment = std::fs::read(env.state_dir().join("journal.jsonl.000000000002")).expect("seg");
    assert!(
        segment.ends_with(torn),
        "the torn bytes are kept as they were"
    );

    // Records continue after the repair; a torn tail again is repaired by `call`.
    propose(&env).await;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(env.journal())
        .expect("open");
    f.write_all(b"{\"seq\":5").expect("tear");
    drop(f);
    propose(&env).await;
    let (ok, text) = verify(&env).await;
    assert!(
        ok && text.contains("6 records, chain intact") && text.contains("2 repairs: "),
        "{text}"
    );
    let last: Value =
        serde_json::from_str(lines(&env.journal()).last().expect("a record")).expect("json");
    assert_eq!(
        (last["seq"].as_u64(), last["outcome"].as_str()),
        (Some(6), Some("awaiting_approval"))
    );
}

#[tokio::test]
async fn a_journal_from_before_anchoring_is_refused_until_the_server_anchors_it() {
    let env = Env::demo();
    // Three records in the old format: SHA-256 links, no MAC, no head.
    let mut prev = "0".repeat(64);
    let mut out = Vec::new();
    for n in 1..=3u64 {
        let mut m = event(n);
        m.insert("seq".into(), json!(n));
        m.insert("prev".into(), json!(prev));
        let body = serde_json::to_string(&m).expect("json");
        prev = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(prev.as_bytes());
            h.update(b"\n");
            h.update(body.as_bytes());
            hex::encode(h.finalize())
        };
        m.insert("hash".into(), json!(prev));
        out.push(serde_json::to_string(&m).expect("json"));
    }
    std::fs::create_dir_all(env.state_dir()).expect("dir");
    write_lines(&env.journal(), &out);
    // No key yet either: verify never makes one.
    assert!(broken(&env).await.contains("cannot check the MACs"));
    propose(&env).await;
    let (ok, text) = verify(&env).await;
    assert!(
        ok && text.contains("4 records, chain intact") && text.contains("3 legacy record(s)"),
        "{text}"
    );
}

/// A config for a simulator with extra `[server]` lines.
fn config_with_server(dir: &Path, sim: &SimProc, server: &str) -> String {
    let _ = dir;
    format!(
        "[connections.zia-test]\nkind = \"zia\"\nbase_url = \"{}\"\nregistered_domains = [\"acme.example\"]\n\n[server]\n{server}\n",
        sim.url
    )
}

#[tokio::test]
async fn a_read_only_journal_fails_the_append() {
    let env = demo_with(1).await;
    let plan = propose(&env).await;
    let _ro = ReadOnly::new(&env.journal());
    let out = env.approve(&plan, &plan).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("journal.jsonl") && text.contains("cannot open it for appending"),
        "{text}"
    );
    assert_eq!(lines(&env.journal()).len(), 2, "nothing appended");
}

/// Makes a file unwritable, for root too (`chattr +i`, where `chmod` is not enough).
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn new(path: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        let writable = || std::fs::OpenOptions::new().append(true).open(path).is_ok();
        if writable() {
            let ok = std::process::Command::new("chattr")
                .arg("+i")
                .arg(path)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "running as root: `chattr +i` is needed to make a read-only file"
            );
        }
        assert!(!writable(), "the file is read-only");
        Self(path.to_path_buf())
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

/// Reads what arrives on a datagram socket until `n` messages or a generous deadline.
fn receive(socket: &std::os::unix::net::UnixDatagram, n: usize) -> Vec<String> {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while got.len() < n && Instant::now() < deadline {
        if let Ok(len) = socket.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..len]).to_string());
        }
    }
    got
}

/// Waits until a file has `n` lines (the copy command writes in its own time).
async fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let l = lines(path);
        if l.len() >= n || Instant::now() > deadline {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_record_reaches_syslog_and_the_copy_command_and_a_dead_copy_fails_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = SimProc::start().await;
    let sock = dir.path().join("log.sock");
    let copy = dir.path().join("copy.jsonl");
    let socket = std::os::unix::net::UnixDatagram::bind(&sock).expect("bind");
    let q = |p: &Path| Value::from(p.display().to_string()).to_string();
    let server = format!(
        "journal_syslog = true\njournal_syslog_socket = {}\njournal_command = [\"sh\", \"-c\", {}]\n",
        q(&sock),
        Value::from(format!("cat >> '{}'", copy.display()))
    );
    let text = config_with_server(dir.path(), &sim, &server);
    let env = Env::with_config(dir, sim, &text);
    propose(&env).await;
    let plan = propose(&env).await;
    let chain = lines(&env.journal());
    assert_eq!(chain.len(), 2);

    let got = receive(&socket, 2);
    assert_eq!(got.len(), 2, "{got:?}");
    for (datagram, line) in got.iter().zip(&chain) {
        assert!(
            datagram.starts_with("<86>")
                && datagram.contains(" zlm-journal[")
                && datagram.ends_with(&format!("]: {line}")),
            "{datagram}"
        );
    }
    assert_eq!(wait_lines(&copy, 2).await, chain, "the same JSON lines");

    // Syslog goes down: the approval cannot be recorded everywhere, so it fails.
    drop(socket);
    let out = env.approve(&plan, &plan).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("record seq 3 is in the chain, but its copy failed")
            && text.contains("log.sock"),
        "{text}"
    );
    assert!(verify(&env).await.0, "the chain itself is intact");
}

#[tokio::test]
async fn a_copy_command_that_cannot_start_fails_the_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = SimProc::start().await;
    let text = config_with_server(
        dir.path(),
        &sim,
        "journal_command = [\"/nonexistent/zlm-copy\"]",
    );
    let env = Env::with_config(dir, sim, &text);
    let out = env
        .run(&[
            "call",
            "deactivate",
            "--args",
            r#"{"user": "john.smith@acme.example"}"#,
        ])
        .await;
    // The append fails (logged, or the tool's error once writes wait for the journal).
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("record seq 1 is in the chain, but its copy failed")
            && said.contains("copy command `/nonexistent/zlm-copy`: cannot start it"),
        "{said}"
    );
}

#[tokio::test]
async fn a_configured_key_outside_the_state_directory_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = SimProc::start().await;
    let key_file = dir.path().join("secret-journal.key");
    std::fs::write(&key_file, format!("{}\n", "ab".repeat(32))).expect("key");
    let server = format!(
        "journal_key = {{ file = {} }}",
        Value::from(key_file.display().to_string())
    );
    let text = config_with_server(dir.path(), &sim, &server);
    let env = Env::with_config(dir, sim, &text);
    propose(&env).await;
    assert!(!env.state_dir().join("journal.key").exists(), "no key made");
    let (ok, text) = verify(&env).await;
    assert!(ok && text.contains("1 record, chain intact"), "{text}");
    std::fs::write(&key_file, "cd".repeat(32)).expect("another key");
    let text = broken(&env).await;
    assert!(text.contains("another journal key"), "{text}");
}

const REDIS_ENV: &str = "ZSCALER_LIFECYCLE_MCP_TEST_REDIS";

#[tokio::test]
async fn the_head_in_redis_catches_a_cut_hidden_by_an_old_head_file() {
    let url = match std::env::var(REDIS_ENV) {
        Ok(u) if !u.trim().is_empty() => u.trim().to_string(),
        _ => {
            println!(
                "SKIPPED the_head_in_redis_catches_a_cut_hidden_by_an_old_head_file: set {REDIS_ENV}=redis://127.0.0.1:PORT"
            );
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = SimProc::start().await;
    let prefix = format!("zlm-test-{:016x}:", rand::random::<u64>());
    let text = format!(
        "{}\n[state]\nbackend = \"redis\"\nurl = {}\nkey_prefix = \"{prefix}\"\nreplica_id = \"r1\"\n",
        config_with_server(dir.path(), &sim, ""),
        Value::from(url)
    );
    let env = Env::with_config(dir, sim, &text);
    let chain = env.state_dir().join("journal-r1.jsonl");
    let head = env.state_dir().join("journal-r1.head");
    propose(&env).await;
    propose(&env).await;
    let (old_chain, old_head) = (
        std::fs::read(&chain).expect("chain"),
        std::fs::read(&head).expect("head"),
    );
    propose(&env).await;
    propose(&env).await;
    let (ok, text) = verify(&env).await;
    assert!(
        ok && text.contains("4 records, chain intact, head matches (file, redis)"),
        "{text}"
    );
    // Cut back to two records and put back the head of that time: the files agree.
    std::fs::write(&chain, old_chain).expect("cut");
    std::fs::write(&head, old_head).expect("old head");
    let text = broken(&env).await;
    assert!(
        text.contains("cut tail") && text.contains("head in redis") && text.contains("says seq 4"),
        "{text}"
    );
    // And the server refuses to append to it.
    let plan_out = env
        .run(&[
            "call",
            "deactivate",
            "--args",
            r#"{"user": "jane.doe@acme.example"}"#,
        ])
        .await;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&plan_out.stdout),
        String::from_utf8_lossy(&plan_out.stderr)
    );
    assert!(
        said.contains("says seq 4, but the local chain ends at seq 2"),
        "{said}"
    );
    assert_eq!(lines(&chain).len(), 2);
}
