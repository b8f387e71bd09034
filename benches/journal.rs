//! `cargo bench --bench journal`: appends per second to the audit journal on this machine's
//! disk. Every append is written and fsynced, then its head is checkpointed (a small file
//! written, fsynced and renamed) before it returns; rows with copies also send each record to a
//! syslog socket (bound here) or a copy command, and the Redis row (with
//! `ZSCALER_LIFECYCLE_MCP_TEST_REDIS` set) also moves the head in Redis. `TMPDIR=/dev/shm`
//! takes the disk out (fsync costs nothing on tmpfs): what remains is the CPU cost. Prints a
//! markdown table. Not a test: it asserts nothing and only measures.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use zscaler_lifecycle_mcp::guard::journal::{CopyTarget, Journal, JournalKey};

const APPENDS: usize = 2000;

/// A record of the usual size: an executed deactivation with its snapshot.
fn event(n: usize) -> Map<String, Value> {
    match json!({
        "tool": "deactivate", "connection": "zia-prod", "client": "bench/1.0",
        "outcome": "executed", "mode": "delete", "verification": "verified",
        "plan_id": format!("p-{n:08x}"),
        "before": {"id": 1000 + n, "email": format!("user{n}@acme.example"),
                   "name": format!("User {n}"), "department": "Sales",
                   "groups": ["Sales", "VPN users", "All staff"]},
    }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn row(name: &str, n: usize, took: Duration) {
    let per_sec = n as f64 / took.as_secs_f64();
    let mean_us = took.as_secs_f64() * 1e6 / n as f64;
    println!("| {name} | {n} | {per_sec:.0} | {mean_us:.0} |");
}

fn one_writer(name: &str, j: &Journal) {
    let t = Instant::now();
    for n in 0..APPENDS {
        j.append(event(n)).expect("append");
    }
    row(name, APPENDS, t.elapsed());
    assert_eq!(j.verify().expect("intact").records, APPENDS as u64);
}

fn main() {
    println!("| journal | appends | appends/s | mean µs |\n|---|---|---|---|");
    let dir = tempfile::tempdir().expect("tempdir");
    let key = || JournalKey::for_server(None, dir.path()).expect("key");

    one_writer(
        "one writer",
        &Journal::new(dir.path().join("one.jsonl"), key()),
    );

    let j = Journal::new(dir.path().join("two.jsonl"), key());
    let t = Instant::now();
    std::thread::scope(|s| {
        for w in 0..2 {
            let j = j.clone();
            s.spawn(move || {
                for n in 0..APPENDS / 2 {
                    j.append(event(w * APPENDS + n)).expect("append");
                }
            });
        }
    });
    row("two threads, one chain", APPENDS, t.elapsed());

    // A syslog socket of our own, drained by a thread as a daemon would.
    let sock = dir.path().join("log.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&sock).expect("bind");
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while listener.recv(&mut buf).is_ok() {}
    });
    one_writer(
        "one writer + syslog copy",
        &Journal::new(dir.path().join("syslog.jsonl"), key())
            .with_copies(vec![CopyTarget::Syslog(sock)]),
    );
    one_writer(
        "one writer + copy command (`cat > /dev/null`)",
        &Journal::new(dir.path().join("command.jsonl"), key()).with_copies(vec![
            CopyTarget::Command(vec!["sh".into(), "-c".into(), "cat > /dev/null".into()]),
        ]),
    );

    match std::env::var("ZSCALER_LIFECYCLE_MCP_TEST_REDIS") {
        Ok(url) if !url.trim().is_empty() => {
            let n: u64 = rand::random();
            let state = zscaler_lifecycle_mcp::state::RedisState::new(
                &zscaler_lifecycle_mcp::secret::Secret::new(url.trim()),
                &format!("zlm-bench-{n:016x}:"),
                Duration::from_secs(2),
            )
            .expect("redis url");
            one_writer(
                "one writer + head in Redis",
                &Journal::for_replica(dir.path(), "bench", key()).with_redis_head(state),
            );
        }
        _ => println!(
            "\n(Redis row skipped: set ZSCALER_LIFECYCLE_MCP_TEST_REDIS=redis://127.0.0.1:PORT)"
        ),
    }
}
