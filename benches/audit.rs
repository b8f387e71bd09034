//! `cargo bench --bench audit`: audit_orphans over 100,000 accounts against a 100,000-row HR
//! export, printed as a markdown table. Runs the real release binary: a simulator
//! (`sim --scenario large`, rate limits off) and `serve` over stdio, both on 127.0.0.1. Measures
//! the server process's CPU time (utime + stime from /proc/PID/stat, before and after the call),
//! its peak RSS (VmHWM) and the call's wall time; and, in process, the HR export's load alone.
//! Scores duplicate_identity against the scenario's planted second accounts
//! (`/__sim/truth/duplicates`): precision and recall over accounts, read from the full report
//! (`resources/read`), and the report's size on disk against the CSV it serves.
//! Not a test: it asserts nothing and only measures.

mod common;

use std::collections::HashSet;
use std::time::Instant;

use common::{Server, Sim, clock_ticks_per_sec, http_get};

const HR_ROWS: usize = 100_000;
const RUNS: usize = 3;

/// An HR export of every tenant account plus HR-only people: leavers, an alias-renamed person,
/// people missing from HR, up to [`HR_ROWS`] rows.
fn hr_export(emails: &[String]) -> String {
    let mut csv = String::from("work_email,status,end_date,aliases,external_id,manager\n");
    let mut rows = 0;
    for (i, e) in emails.iter().enumerate() {
        if rows == HR_ROWS {
            break;
        }
        match i % 100 {
            7 => continue,
            13 => csv.push_str(&format!("renamed.{i}@acme.example,active,,{e},,\n")),
            _ if i % 50 == 0 => {
                csv.push_str(&format!("{e},terminated,2026-01-31,,E{i},M{}\n", i / 10))
            }
            _ => csv.push_str(&format!("{e},active,,,E{i},M{}\n", i / 10)),
        }
        rows += 1;
    }
    let mut extra = 0;
    while rows < HR_ROWS {
        csv.push_str(&format!("hr.only.{extra}@acme.example,active,,,,\n"));
        extra += 1;
        rows += 1;
    }
    csv
}

fn main() {
    let dir = tempfile::tempdir().expect("dir");
    let sim = Sim::spawn(&["--scenario", "large"]);
    let url = sim.url.clone();
    let creds = sim.credentials();
    let env: Vec<(&str, &str)> = creds
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let emails: Vec<String> = http_get(&format!("{url}/__sim/users"))
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["email"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let hr = dir.path().join("hr.csv");
    std::fs::write(&hr, hr_export(&emails)).expect("write HR export");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[connections.zia]\nkind = \"zia\"\nbase_url = \"{url}\"\nregistered_domains = [\"acme.example\", \"acme-labs.example\"]\n\n\
             [policy]\nprotected_accounts = [\"breakglass@*\", \"svc-*\"]\n\n\
             [sources.hr]\npath = \"{}\"\nemail = \"work_email\"\nstatus = \"status\"\ntermination_date = \"end_date\"\naliases = \"aliases\"\nexternal_id = \"external_id\"\nmanager = \"manager\"\n",
            hr.display()
        ),
    )
    .expect("write config");
    // The same without client-side pacing (the simulator here enforces no limits): the
    // audit's own time, not the 2 GETs/s a real tenant allows.
    let unpaced = dir.path().join("unpaced.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &unpaced,
        text.replacen("[policy]", "rate_limits = false\n\n[policy]", 1),
    )
    .expect("write config");

    // In process: the HR export's load and index alone.
    let source = zscaler_lifecycle_mcp::orphans::source::SourceConfig {
        path: hr.clone(),
        email: "work_email".into(),
        status: Some("status".into()),
        terminated_values: vec!["terminated".into()],
        termination_date: Some("end_date".into()),
        employee_id: Some("external_id".into()),
        aliases: Some("aliases".into()),
        external_id: Some("external_id".into()),
        manager: Some("manager".into()),
        mapping: None,
    };
    let t = Instant::now();
    let index = source.load().expect("HR export loads");
    let load = t.elapsed();
    let people = index.len();
    drop(index);

    let tck = clock_ticks_per_sec();
    let mut rows = Vec::new();
    let mut score = None;
    for run in 0..=RUNS {
        let config = if run == RUNS { &unpaced } else { &config };
        let state = dir.path().join(format!("state-{run}"));
        let cfg = config.to_string_lossy().to_string();
        let mut s = Server::spawn_with(&state, &["--config", &cfg], &env);
        s.initialize();
        // Log in and warm up with one small call, so the audit's figures are its own.
        s.request(
            "tools/call",
            serde_json::json!({"name": "list_groups", "arguments": {}}),
        );
        let rss_before = s.peak_rss_kb();
        let cpu0 = s.cpu_ticks();
        let t = Instant::now();
        let (answer, notes) = s.request_counting(
            "tools/call",
            serde_json::json!({"name": "audit_orphans", "arguments": {"source_of_record": "hr", "max_findings": 50},
                               "_meta": {"progressToken": "bench"}}),
        );
        let wall = t.elapsed();
        let cpu = (s.cpu_ticks() - cpu0) as f64 / tck;
        let rss = s.peak_rss_kb();
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        let result = &v["result"]["structuredContent"];
        if run == 0 {
            score = Some(duplicates_score(&mut s, result, &url, &state));
        }
        let findings: u64 = result["summary"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["count"].as_u64()).sum())
            .unwrap_or(0);
        rows.push((
            wall,
            cpu,
            rss_before,
            rss,
            result["users_scanned"].as_u64().unwrap_or(0),
            findings,
            notes,
        ));
    }
    drop(sim);

    println!(
        "| run | users | HR rows | findings | progress notes | wall | server CPU | peak RSS before → after |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, (wall, cpu, before, after, users, findings, notes)) in rows.iter().enumerate() {
        let run = if i == RUNS {
            "pacing off".to_string()
        } else {
            format!("{} (paced, 2 GETs/s)", i + 1)
        };
        println!(
            "| {run} | {users} | {people} | {findings} | {notes} | {:.2} s | {cpu:.2} s | {:.1} → {:.1} MB |",
            wall.as_secs_f64(),
            *before as f64 / 1024.0,
            *after as f64 / 1024.0
        );
    }
    println!(
        "\nIn process: loading and indexing the {people}-row HR export took {:.0} ms.",
        load.as_secs_f64() * 1000.0
    );
    if let Some(s) = score {
        println!(
            "\nduplicate_identity against the {} planted second accounts ({} accounts in them): {} accounts flagged, precision {:.1} %, recall {:.1} %.",
            s.pairs,
            s.truth,
            s.flagged,
            s.precision * 100.0,
            s.recall * 100.0
        );
        println!(
            "Full report: {:.1} MB of CSV served as audit://…csv, {:.1} MB stored (gzip).",
            s.csv_bytes as f64 / 1_048_576.0,
            s.stored_bytes as f64 / 1_048_576.0
        );
    }
}

struct Score {
    pairs: usize,
    truth: usize,
    flagged: usize,
    precision: f64,
    recall: f64,
    csv_bytes: usize,
    stored_bytes: u64,
}

/// Reads the run's full report and scores its duplicate_identity findings against the truth.
fn duplicates_score(
    s: &mut Server,
    result: &serde_json::Value,
    sim_url: &str,
    state: &std::path::Path,
) -> Score {
    let uri = result["report"].as_str().unwrap_or_default().to_string();
    let answer = s.request("resources/read", serde_json::json!({"uri": uri}));
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
    let csv = v["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut flagged: HashSet<String> = HashSet::new();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    for record in reader.records().flatten() {
        if record.get(0) == Some("duplicate_identity") {
            flagged.insert(record.get(3).unwrap_or_default().to_string());
        }
    }
    let pairs = http_get(&format!("{sim_url}/__sim/truth/duplicates"))["pairs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let truth: HashSet<String> = pairs
        .iter()
        .flat_map(|p| p.as_array().cloned().unwrap_or_default())
        .map(|id| id.to_string())
        .collect();
    let hit = flagged.intersection(&truth).count() as f64;
    // Reports sit in one directory per caller under audit-reports/.
    let files = |dir: &std::path::Path| -> Vec<std::fs::DirEntry> {
        std::fs::read_dir(dir)
            .map(|d| d.filter_map(Result::ok).collect())
            .unwrap_or_default()
    };
    let stored_bytes = files(&state.join("audit-reports"))
        .into_iter()
        .flat_map(|e| {
            if e.path().is_dir() {
                files(&e.path())
            } else {
                vec![e]
            }
        })
        .filter(|e| e.file_name().to_string_lossy().ends_with(".csv.gz"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0);
    Score {
        pairs: pairs.len(),
        truth: truth.len(),
        flagged: flagged.len(),
        precision: if flagged.is_empty() {
            0.0
        } else {
            hit / flagged.len() as f64
        },
        recall: if truth.is_empty() {
            0.0
        } else {
            hit / truth.len() as f64
        },
        csv_bytes: csv.len(),
        stored_bytes,
    }
}
