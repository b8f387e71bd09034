//! `cargo bench --bench journal`: appends per second to the audit journal on this machine's
//! disk (every append is written and fsynced before it returns), one writer and two threads
//! sharing one chain. Prints a markdown table. Not a test: it asserts nothing and only measures.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use zscaler_lifecycle_mcp::guard::journal::Journal;

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
    println!("| {name} | {n} | {:.0} | {mean_us:.0} |", per_sec);
}

fn main() {
    println!("| journal | appends | appends/s | mean µs |\n|---|---|---|---|");
    let dir = tempfile::tempdir().expect("tempdir");
    let j = Journal::new(dir.path().join("one.jsonl"));
    let t = Instant::now();
    for n in 0..APPENDS {
        j.append(event(n)).expect("append");
    }
    row("one writer", APPENDS, t.elapsed());

    let j = Journal::new(dir.path().join("two.jsonl"));
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
}
