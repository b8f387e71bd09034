//! `cargo bench --bench floor`: each operation of a lifecycle session against a 100,000-user
//! tenant with the documented ZIA limits on (`sim --scenario large --limits`), through the
//! release binary over stdio: the tenant requests it made against its floor (the fewest the API
//! allows), its wall time against the floor's wall time (the per-second limits, each weight
//! paced on its own, the first call of a weight at once), and the server's peak RSS after
//! listing every user. Prints a markdown table. Not a test: it asserts nothing.
//!
//! Each operation starts on a rested budget (the bench waits 1.1 s between operations), so its
//! wall time is its own.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Server, Sim};
use serde_json::{Value, json};

/// Tenant requests by route since `before` (logins excluded: no limit counts them).
fn delta(before: &Value, after: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Some(routes) = after["by_route"].as_object() {
        for (route, n) in routes {
            if route.contains("authenticatedSession") {
                continue;
            }
            let d = n.as_u64().unwrap_or(0) - before["by_route"][route].as_u64().unwrap_or(0);
            if d > 0 {
                out.insert(route.clone(), d);
            }
        }
    }
    out
}

/// The per-second limits' floor for `gets` GETs and `writes` POST/PUTs.
fn wall_floor(gets: u64, writes: u64) -> Duration {
    let get = gets.saturating_sub(1) as f64 * 0.5;
    let write = writes.saturating_sub(1) as f64;
    Duration::from_secs_f64(get.max(write))
}

struct Row {
    operation: &'static str,
    requests: BTreeMap<String, u64>,
    floor: &'static str,
    floor_gets: u64,
    floor_writes: u64,
    wall: Duration,
}

fn describe(requests: &BTreeMap<String, u64>) -> String {
    if requests.is_empty() {
        return "none".into();
    }
    requests
        .iter()
        .map(|(route, n)| format!("{n} {}", route.replace("/api/v1", "")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `f` on a rested budget and records its requests and wall time.
fn measure(
    sim: &Sim,
    rows: &mut Vec<Row>,
    operation: &'static str,
    (floor, floor_gets, floor_writes): (&'static str, u64, u64),
    f: impl FnOnce(),
) {
    std::thread::sleep(Duration::from_millis(1100));
    let before = sim.requests();
    let t = Instant::now();
    f();
    let wall = t.elapsed();
    let requests = delta(&before, &sim.requests());
    rows.push(Row {
        operation,
        requests,
        floor,
        floor_gets,
        floor_writes,
        wall,
    });
}

fn main() {
    let dir = tempfile::tempdir().expect("dir");
    let sim = Sim::spawn(&["--scenario", "large", "--limits"]);
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[connections.large]\nkind = \"zia\"\nbase_url = \"{}\"\nregistered_domains = [\"acme.example\", \"acme-labs.example\"]\n",
            sim.url
        ),
    )
    .expect("config");
    let cfg = config.to_string_lossy().to_string();
    let creds = sim.credentials();
    let env: Vec<(&str, &str)> = creds
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut rows = Vec::new();

    // A fresh server: a prefix that matches nothing, then every user 500 at a time.
    let mut a = Server::spawn_with(&dir.path().join("a"), &["--config", &cfg], &env);
    a.initialize();
    a.call("list_groups", json!({})); // log in and read groups outside the figures
    let rss_before = a.peak_rss_kb();
    measure(
        &sim,
        &mut rows,
        "list_users, name prefix matching nothing (cold)",
        ("1 GET (the tenant's name filter)", 1, 0),
        || {
            a.call("list_users", json!({"name_prefix": "Zzzyx"}));
        },
    );
    let mut listed = 0;
    measure(
        &sim,
        &mut rows,
        "list_users, every user by 500 (cold)",
        ("11 GETs (10 full pages + the empty one)", 11, 0),
        || {
            let mut cursor = String::new();
            loop {
                let page = a.call("list_users", json!({"limit": 500, "cursor": cursor}));
                listed += page["users"].as_array().map_or(0, Vec::len);
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = c.to_string(),
                    None => break,
                }
            }
        },
    );
    let rss_listed = a.peak_rss_kb();
    drop(a);
    // The next server paces on its own: let the first one's last second of GETs pass.
    std::thread::sleep(Duration::from_millis(1100));

    // Another fresh server: a session of lookups and writes.
    let mut b = Server::spawn_with(&dir.path().join("b"), &["--config", &cfg], &env);
    b.initialize();
    b.call("list_groups", json!({}));
    measure(
        &sim,
        &mut rows,
        "get_user by email, first in the session",
        ("11 GETs (no email filter: every page once)", 11, 0),
        || {
            b.call("get_user", json!({"user": "jane.doe@acme.example"}));
        },
    );
    measure(
        &sim,
        &mut rows,
        "get_user by email, second in the session",
        ("1–2 requests", 1, 0),
        || {
            b.call("get_user", json!({"user": "john.smith@acme.example"}));
        },
    );
    measure(
        &sim,
        &mut rows,
        "list_users, email prefix matching nothing (warm)",
        ("0 (the directory is cached)", 0, 0),
        || {
            b.call("list_users", json!({"email_prefix": "nobody.at.all"}));
        },
    );
    b.call(
        "create_user",
        json!({"name": "Warm Up", "email": "warm.up@acme.example", "department": "Sales", "groups": ["Sales"]}),
    );
    measure(
        &sim,
        &mut rows,
        "create_user on a warm session",
        ("2 (POST + read-back)", 1, 1),
        || {
            b.call(
                "create_user",
                json!({"name": "Bench Person", "email": "bench.person@acme.example", "department": "Engineering", "groups": ["Engineering"]}),
            );
        },
    );
    measure(
        &sim,
        &mut rows,
        "add_to_group by email (warm)",
        ("3 (GET by id + PUT + read-back)", 2, 1),
        || {
            b.call(
                "add_to_group",
                json!({"user": "jane.doe@acme.example", "groups": ["Finance"]}),
            );
        },
    );
    let log = sim.requests();
    drop(b);
    drop(sim);

    println!("| operation | requests made | floor | wall | floor wall | wall / floor |");
    println!("|---|---|---|---:|---:|---:|");
    for r in &rows {
        let fw = wall_floor(r.floor_gets, r.floor_writes);
        let ratio = if fw.is_zero() {
            "–".to_string()
        } else {
            format!("{:.2}", r.wall.as_secs_f64() / fw.as_secs_f64())
        };
        println!(
            "| {} | {} | {} | {:.2} s | {:.2} s | {ratio} |",
            r.operation,
            describe(&r.requests),
            r.floor,
            r.wall.as_secs_f64(),
            fw.as_secs_f64()
        );
    }
    println!(
        "\nUsers listed: {listed}. Server peak RSS: {:.1} MB before the listing, {:.1} MB after listing every user (target < 60 MB). 429s received: {}.",
        rss_before as f64 / 1024.0,
        rss_listed as f64 / 1024.0,
        log["by_status"]["429"].as_u64().unwrap_or(0)
    );
}
