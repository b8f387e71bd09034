//! `cargo bench --bench stdio`: the serving figures DESIGN.md sets targets for, printed as a
//! markdown table. Talks newline-delimited JSON-RPC to the release binary over stdio, against
//! the embedded demo tenant (127.0.0.1 only). Not a test: it asserts nothing and only measures.

mod common;

use std::time::{Duration, Instant};

use common::{BIN, Server, Sim, median, ms, p95};

const RUNS: usize = 20;
const PINGS: usize = 2_000;

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    // `cargo bench` passes harness flags such as --bench; nothing to parse.
    let state = tempfile::tempdir().expect("state dir");
    let mut init = Vec::new();
    let mut list = Vec::new();
    let mut list_bytes = 0;
    for _ in 0..RUNS {
        let t0 = Instant::now();
        let mut s = Server::spawn(state.path());
        s.initialize();
        init.push(t0.elapsed());
        let t1 = Instant::now();
        list_bytes = s.request("tools/list", serde_json::json!({})).len();
        list.push(t1.elapsed());
    }
    // The 2026-07-28 lifecycle: no handshake; `server/discover`, then requests that carry the
    // protocol version and client capabilities in `_meta`.
    let meta = serde_json::json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}});
    let mut discover = Vec::new();
    let mut list_2026 = 0;
    for _ in 0..RUNS {
        let t0 = Instant::now();
        let mut s = Server::spawn(state.path());
        let answer = s.request("server/discover", meta.clone());
        discover.push(t0.elapsed());
        assert!(answer.contains("supportedVersions"), "{answer}");
        list_2026 = s.request("tools/list", meta.clone()).len();
    }
    let mut s = Server::spawn(state.path());
    s.initialize();
    s.request("tools/list", serde_json::json!({}));
    std::thread::sleep(Duration::from_millis(200));
    let rss_idle = s.peak_rss_kb();
    let mut calls = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        s.request(
            "tools/call",
            serde_json::json!({"name": "list_users", "arguments": {"limit": 500}}),
        );
        calls.push(t.elapsed());
    }
    // Per-message cost of the stdio transport (the frame gate included): a ping does no work.
    let mut pings = Vec::new();
    for _ in 0..PINGS {
        let t = Instant::now();
        s.request("ping", serde_json::json!({}));
        pings.push(t.elapsed());
    }
    let t = Instant::now();
    s.request(
        "tools/call",
        serde_json::json!({"name": "audit_orphans", "arguments": {}}),
    );
    let audit = t.elapsed();
    let rss_busy = s.peak_rss_kb();
    let size = std::fs::metadata(BIN).map(|m| m.len()).unwrap_or(0);

    println!("| metric | value | DESIGN target |");
    println!("|---|---|---|");
    println!(
        "| spawn→initialize (stdio, demo tenant embedded), median / p95 of {RUNS} | {} / {} | < 20 ms |",
        ms(median(init.clone())),
        ms(p95(init))
    );
    println!(
        "| spawn→server/discover (stdio, 2026-07-28 lifecycle), median / p95 of {RUNS} | {} / {} | < 20 ms |",
        ms(median(discover.clone())),
        ms(p95(discover))
    );
    println!("| first tools/list, median | {} | – |", ms(median(list)));
    println!(
        "| tools/list response bytes (2025-11-25 / 2026-07-28) | {list_bytes} / {list_2026} | < 15,000 |"
    );
    println!(
        "| peak RSS idle | {:.1} MB | < 15 MB |",
        rss_idle as f64 / 1024.0
    );
    println!(
        "| list_users limit 500 (1 API page via the real adapter), median of {RUNS} | {} | – |",
        ms(median(calls))
    );
    println!(
        "| ping round trip (stdio transport and frame gate), median / p95 of {PINGS} | {} / {} | – |",
        us(median(pings.clone())),
        us(p95(pings))
    );
    println!(
        "| audit_orphans over the demo tenant (308 users) | {} | – |",
        ms(audit)
    );
    println!(
        "| peak RSS after those calls | {:.1} MB | – |",
        rss_busy as f64 / 1024.0
    );
    println!("| binary size | {:.1} MB | – |", size as f64 / 1_048_576.0);
    large_tenant(state.path());
}

/// The `large` scenario (100,000 users, 2,000 groups) with the documented ZIA rate limits on:
/// what a big tenant costs in API calls, 429s, wall time and memory.
fn large_tenant(state: &std::path::Path) {
    let sim = Sim::spawn(&["--scenario", "large", "--limits"]);
    let url = sim.url.clone();
    let config = state.join("large.toml");
    std::fs::write(
        &config,
        format!(
            "[connections.large]\nkind = \"zia\"\nbase_url = \"{url}\"\nregistered_domains = [\"acme.example\", \"acme-labs.example\"]\n"
        ),
    )
    .expect("config");
    let cfg = config.to_string_lossy().to_string();
    let creds = sim.credentials();
    let env: Vec<(&str, &str)> = creds
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut s = Server::spawn_with(state, &["--config", &cfg], &env);
    s.initialize();
    let timed = |s: &mut Server, name: &str, args: serde_json::Value| {
        let t = Instant::now();
        let answer = s.request(
            "tools/call",
            serde_json::json!({"name": name, "arguments": args}),
        );
        (t.elapsed(), answer.len())
    };
    let (first_page, _) = timed(&mut s, "list_users", serde_json::json!({"limit": 500}));
    let (by_email, _) = timed(
        &mut s,
        "get_user",
        serde_json::json!({"user": "jane.doe@acme.example"}),
    );
    let (audit, _) = timed(&mut s, "audit_orphans", serde_json::json!({}));
    let rss = s.peak_rss_kb();
    let log = sim.requests();
    drop(sim);
    println!();
    println!(
        "| `large` scenario (100,000 users, 2,000 groups), documented ZIA limits on | value |"
    );
    println!("|---|---|");
    println!(
        "| list_users limit 500 (first call: login + 1 page of 10,000) | {} |",
        ms(first_page)
    );
    println!(
        "| get_user by email (reads the 10 pages the listing had not, then the index) | {} |",
        ms(by_email)
    );
    println!(
        "| audit_orphans over 100,000 users (pages and groups from the directory cache) | {} |",
        ms(audit)
    );
    println!(
        "| peak RSS of the server after the audit | {:.1} MB |",
        rss as f64 / 1024.0
    );
    println!(
        "| API calls made / 429s received | {} / {} |",
        log["total"],
        log["by_status"]
            .get("429")
            .cloned()
            .unwrap_or(serde_json::json!(0))
    );
    println!("| calls per route | {} |", log["by_route"]);
}
