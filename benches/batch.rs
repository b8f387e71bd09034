//! `cargo bench --bench batch`: a rate-limited batch of 100 users — create, add to a group,
//! deactivate (one plan, bulkDelete) and activate — against the simulator with the documented ZIA
//! limits on, through the release binary over stdio. Prints, per phase, the API calls made, the
//! 429s received, the wall time and the floor the limits allow at best, as a markdown table.
//! Not a test: it asserts nothing and only measures. Takes about four minutes by design.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Server, Sim};
use serde_json::{Value, json};

const USERS: usize = 100;

/// Calls per rate-limit weight from the simulator's counters (login and logout excluded: the
/// documented limits are for the API calls).
fn by_weight(log: &Value) -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    if let Some(routes) = log["by_route"].as_object() {
        for (route, n) in routes {
            if route.contains("authenticatedSession") {
                continue;
            }
            let weight = match route.split_whitespace().next().unwrap_or_default() {
                "GET" => "GET",
                _ if route.contains("/status/activate") => "activate",
                "POST" | "PUT" => "POST/PUT",
                "DELETE" => "DELETE",
                _ => "other",
            };
            *out.entry(weight).or_default() += n.as_u64().unwrap_or(0);
        }
    }
    out
}

fn too_many(log: &Value) -> u64 {
    log["by_status"]["429"].as_u64().unwrap_or(0)
}

/// The shortest time the documented per-second limits allow for these calls, each weight
/// paced on its own (GET 2/s, POST/PUT 1/s, DELETE 1/min, activation 10/min); the first call of
/// a weight goes at once. No phase here reaches an hourly limit.
fn floor(calls: &BTreeMap<&str, u64>) -> Duration {
    let per = |w: &str, secs: f64| {
        calls
            .get(w)
            .map_or(0.0, |n| n.saturating_sub(1) as f64 * secs)
    };
    Duration::from_secs_f64(
        per("GET", 0.5)
            .max(per("POST/PUT", 1.0))
            .max(per("DELETE", 60.0))
            .max(per("activate", 6.0)),
    )
}

struct Phase {
    name: String,
    wall: Duration,
    calls: BTreeMap<&'static str, u64>,
    throttled: u64,
    failures: usize,
}

fn main() {
    let state = tempfile::tempdir().expect("state dir");
    let sim = Sim::spawn(&["--limits"]);
    let config = state.path().join("batch.toml");
    std::fs::write(
        &config,
        format!(
            "[connections.zia]\nkind = \"zia\"\nbase_url = \"{}\"\nregistered_domains = [\"acme.example\", \"acme-labs.example\"]\n\n[policy]\nmax_targets_per_call = {USERS}\nmax_deletions_per_hour = {USERS}\n",
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
    let mut s = Server::spawn_with(state.path(), &["--config", &cfg], &env);
    s.initialize_with(json!({"elicitation": {"form": {}}}));
    // Log in before measuring, so every phase pays only for its own calls.
    s.call("list_groups", json!({}));

    let emails: Vec<String> = (0..USERS)
        .map(|i| format!("bench.user{i:03}@acme.example"))
        .collect();
    let mut phases = Vec::new();
    let mut before = sim.requests();
    let mut run = |name: String, s: &mut Server, f: &mut dyn FnMut(&mut Server) -> usize| {
        let t = Instant::now();
        let failures = f(s);
        let wall = t.elapsed();
        let after = sim.requests();
        let (b, a) = (by_weight(&before), by_weight(&after));
        let calls = a
            .iter()
            .map(|(k, n)| (*k, n - b.get(k).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        phases.push(Phase {
            name,
            wall,
            calls,
            throttled: too_many(&after) - too_many(&before),
            failures,
        });
        before = after;
    };
    let failed = |v: &Value| usize::from(v.is_string());
    run(
        format!("create_user × {USERS}"),
        &mut s,
        &mut |s: &mut Server| {
            emails
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    failed(&s.call(
                        "create_user",
                        json!({"name": format!("Bench User {i:03}"), "email": e,
                               "department": "Engineering", "groups": ["All Staff"]}),
                    ))
                })
                .sum()
        },
    );
    run(
        format!("add_to_group × {USERS}"),
        &mut s,
        &mut |s: &mut Server| {
            emails
                .iter()
                .map(|e| {
                    failed(&s.call(
                        "add_to_group",
                        json!({"user": e, "groups": ["Engineering"]}),
                    ))
                })
                .sum()
        },
    );
    run(
        format!("deactivate users: [{USERS}] (one plan)"),
        &mut s,
        &mut |s: &mut Server| {
            let r = s.call("deactivate", json!({"users": emails, "mode": "delete"}));
            if r["status"] == "executed" {
                0
            } else {
                eprintln!("{r}");
                USERS
            }
        },
    );
    run("activate_changes".into(), &mut s, &mut |s: &mut Server| {
        failed(&s.call("activate_changes", json!({})))
    });
    let rss = s.peak_rss_kb();
    drop(s);

    println!();
    println!(
        "| phase (demo tenant, documented ZIA limits on) | API calls by weight | 429s | wall time | floor the limits allow | wall / floor | failed calls |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let (mut wall, mut fl) = (Duration::ZERO, Duration::ZERO);
    for p in &phases {
        let f = floor(&p.calls);
        wall += p.wall;
        fl += f;
        let calls = p
            .calls
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let ratio = if f.is_zero() {
            "–".to_string()
        } else {
            format!("{:.3}", p.wall.as_secs_f64() / f.as_secs_f64())
        };
        println!(
            "| {} | {calls} | {} | {:.2} s | {:.2} s | {ratio} | {} |",
            p.name,
            p.throttled,
            p.wall.as_secs_f64(),
            f.as_secs_f64(),
            p.failures
        );
    }
    println!(
        "| **total** | | {} | {:.2} s | {:.2} s | {:.3} | |",
        phases.iter().map(|p| p.throttled).sum::<u64>(),
        wall.as_secs_f64(),
        fl.as_secs_f64(),
        wall.as_secs_f64() / fl.as_secs_f64().max(f64::MIN_POSITIVE)
    );
    println!("\npeak RSS of the server: {:.1} MB", rss as f64 / 1024.0);
    let log = sim.requests();
    if too_many(&log) > 0 {
        println!(
            "429s by weight (the simulator's sliding windows): {}",
            log["rate_limited"]
        );
    }
}
