//! `cargo bench --bench reconcile`: one reconcile of N joiners + N movers (department change) +
//! N leavers on the 100,000-user simulated tenant with the documented ZIA limits on
//! (`sim --scenario large --limits`), through the release binary over stdio, confirmed once:
//! the tenant requests it made against the floor (the fewest the API allows) and its wall
//! time against the floor's wall time under the same limits. Prints a markdown table. Not a
//! test: it asserts nothing.
//!
//! The documented limits allow 400 writes an hour, so the size (N = 1,000: 2,002
//! writes) needs about four hours whatever the client does. `RECONCILE_BENCH_N` sets N
//! (default 20); `RECONCILE_BENCH_SCALE` runs the same shape of limits that many times faster
//! (`sim --limits-scale`, and the connection paced to match), e.g. `RECONCILE_BENCH_N=1000
//! RECONCILE_BENCH_SCALE=20`. The table also gives the floor at N = 1,000 under the documented
//! limits, worked out from the same formula.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::{Server, Sim, http_get};
use serde_json::{Value, json};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

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

/// Wall-time floor of `gets` GETs and `writes` POST/PUTs under the documented limits scaled by
/// `scale` (GET 2/s and 1,000/h, POST/PUT 1/s and 400/h; each weight paced on its own): a full
/// hourly window is waited out each time the hourly budget is spent.
fn wall_floor(gets: u64, writes: u64, scale: u64) -> Duration {
    let weight = |n: u64, per_sec: u64, per_hour: u64| -> f64 {
        if n == 0 {
            return 0.0;
        }
        let (per_sec, per_hour) = (per_sec * scale, per_hour * scale);
        let full_hours = (n - 1) / per_hour;
        let rest = (n - 1) % per_hour;
        full_hours as f64 * 3600.0 + rest as f64 / per_sec as f64
    };
    Duration::from_secs_f64(weight(gets, 2, 1000).max(weight(writes, 1, 400)))
}

fn describe(requests: &BTreeMap<String, u64>) -> String {
    requests
        .iter()
        .map(|(route, n)| format!("{n} {}", route.replace("/api/v1", "")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The HR export: every ordinary account as it is, except the first `n` (leavers) and the next
/// `n` (movers: another department), plus `n` joiners (in an existing department and group).
fn hr_export(users: &[Value], departments: &[String], n: usize) -> String {
    let mut csv = String::from("email,status,department,groups\n");
    let mut ordinary = users
        .iter()
        .filter(|u| u["adminUser"] != true && u["department"]["name"].is_string());
    let mut row = |u: &Value, status: &str, dept: &str| {
        let groups: Vec<&str> = u["groups"]
            .as_array()
            .map(|g| g.iter().filter_map(|g| g["name"].as_str()).collect())
            .unwrap_or_default();
        let _ = writeln!(
            csv,
            "{},{status},{},{}",
            csv_cell(u["email"].as_str().unwrap_or_default()),
            csv_cell(dept),
            csv_cell(&groups.join(";"))
        );
    };
    for u in ordinary.by_ref().take(n) {
        row(
            u,
            "terminated",
            u["department"]["name"].as_str().unwrap_or_default(),
        );
    }
    for u in ordinary.by_ref().take(n) {
        let now = u["department"]["name"].as_str().unwrap_or_default();
        let other = departments
            .iter()
            .find(|d| d.as_str() != now)
            .expect("another department");
        row(u, "active", other);
    }
    for u in ordinary {
        row(
            u,
            "active",
            u["department"]["name"].as_str().unwrap_or_default(),
        );
    }
    let dept = &departments[0];
    let group = users
        .iter()
        .find_map(|u| u["groups"][0]["name"].as_str())
        .expect("a group");
    for i in 0..n {
        let _ = writeln!(
            csv,
            "bench.joiner{i}@acme.example,active,{dept},{}",
            csv_cell(group)
        );
    }
    csv
}

fn main() {
    let n = env_u64("RECONCILE_BENCH_N", 20) as usize;
    let scale = env_u64("RECONCILE_BENCH_SCALE", 1);
    let dir = tempfile::tempdir().expect("dir");
    let scale_arg = scale.to_string();
    let sim_args: Vec<&str> = if scale == 1 {
        vec!["--scenario", "large", "--limits"]
    } else {
        vec!["--scenario", "large", "--limits-scale", &scale_arg]
    };
    let sim = Sim::spawn(&sim_args);

    let users = http_get(&format!("{}/__sim/users", sim.url));
    let users = users.as_array().cloned().unwrap_or_default();
    let mut departments: Vec<String> = users
        .iter()
        .filter_map(|u| u["department"]["name"].as_str().map(str::to_string))
        .collect();
    departments.sort();
    departments.dedup();
    let hr = dir.path().join("hr.csv");
    std::fs::write(&hr, hr_export(&users, &departments, n)).expect("HR export");

    let limits = if scale == 1 {
        String::new()
    } else {
        let s = scale;
        format!(
            "[connections.large.rate_limits]\nget_per_second = {}\nget_per_hour = {}\nwrite_per_second = {}\nwrite_per_hour = {}\ndelete_per_minute = {}\ndelete_per_hour = {}\nactivate_per_minute = {}\nactivate_per_hour = {}\n",
            2 * s,
            1000 * s,
            s,
            400 * s,
            s,
            4 * s,
            10 * s,
            40 * s
        )
    };
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[connections.large]\nkind = \"zia\"\nbase_url = \"{}\"\nregistered_domains = [\"acme.example\", \"acme-labs.example\"]\n{limits}\n[policy]\nmax_deletions_per_hour = {}\n\n[sources.hr]\npath = {:?}\nemail = \"email\"\nstatus = \"status\"\n\n[sources.hr.mapping]\ndepartment = \"department\"\ngroups = \"groups\"\n",
            sim.url,
            n.max(1),
            hr.display().to_string()
        ),
    )
    .expect("config");
    let cfg = config.to_string_lossy().to_string();
    let creds = sim.credentials();
    let env: Vec<(&str, &str)> = creds
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut s = Server::spawn_with(&dir.path().join("state"), &["--config", &cfg], &env);
    s.initialize_with(json!({"elicitation": {"form": {}}}));
    // Let the listing above pass out of the burst window.
    std::thread::sleep(Duration::from_millis(1100));

    let before = sim.requests();
    let t = Instant::now();
    let done = s.call("reconcile", json!({"source_of_record": "hr"}));
    let wall = t.elapsed();
    let requests = delta(&before, &sim.requests());
    let log = sim.requests();
    drop(s);
    drop(sim);

    let gets: u64 = requests
        .iter()
        .filter(|(r, _)| r.starts_with("GET "))
        .map(|(_, n)| n)
        .sum();
    let writes: u64 = requests
        .iter()
        .filter(|(r, _)| !r.starts_with("GET "))
        .map(|(_, n)| n)
        .sum();
    let nn = n as u64;
    // The floor: read the tenant once (10 pages of 10,000 + the empty one, groups,
    // departments), then one POST per joiner, one PUT per mover, one bulkDelete per 500
    // leavers; no read-back.
    let floor_requests = |n: u64| (13, 2 * n + n.div_ceil(500));
    let (floor_gets, floor_writes) = floor_requests(nn);
    let fw = wall_floor(floor_gets, floor_writes, scale);
    let (g1000, w1000) = floor_requests(1000);

    println!(
        "| reconcile ({n} joiners + {n} movers + {n} leavers, 100,000 users, limits ×{scale}) | requests made | floor | wall | floor wall | wall / floor |"
    );
    println!("|---|---|---|---:|---:|---:|");
    println!(
        "| one confirmed plan, carried out | {} ({gets} GET, {writes} writes) | {} ({floor_gets} GET, {floor_writes} writes) | {:.1} s | {:.1} s | {:.2} |",
        describe(&requests),
        floor_gets + floor_writes,
        wall.as_secs_f64(),
        fw.as_secs_f64(),
        wall.as_secs_f64() / fw.as_secs_f64().max(0.001)
    );
    println!(
        "\nStatus: {}; counts: {}. 429s received: {}.",
        done["status"],
        done["counts"],
        log["by_status"]["429"].as_u64().unwrap_or(0)
    );
    println!(
        "Floor at 1,000 + 1,000 + 1,000 under the documented limits (×1): {g1000} GET + {w1000} writes → {:.0} s ({:.2} h), set by the 400 writes/hour budget.",
        wall_floor(g1000, w1000, 1).as_secs_f64(),
        wall_floor(g1000, w1000, 1).as_secs_f64() / 3600.0
    );
}
