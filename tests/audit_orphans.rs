//! audit_orphans end to end: the real binary against a simulator process on 127.0.0.1 — the
//! `orphans` scenario's planted cases (aliases and externalId included), progress
//! notifications, cancellation, the markdown summary, the report resource and `call --csv/--html`.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use common::{Env, Human, ProgressClient, SimProc};
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientRequest, ReadResourceRequestParams,
    ResourceContents,
};
use rmcp::service::PeerRequestOptions;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

fn labels(r: &Value, rule: &str) -> BTreeSet<String> {
    r["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter(|x| x["rule"] == rule)
                .filter_map(|x| x["label"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn finding<'a>(r: &'a Value, rule: &str, label: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|x| x["rule"] == rule && x["label"] == label))
        .unwrap_or_else(|| panic!("{label} under {rule}: {r}"))
}

/// The orphans scenario with an HR export that maps aliases, externalId and manager.
async fn orphans_env() -> (Env, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let hr = dir.path().join("hr.csv");
    let hr_arg = hr.display().to_string();
    let sim = SimProc::start_args(&[
        "--scenario",
        "orphans",
        "--seed",
        "11",
        "--hr-export",
        &hr_arg,
    ])
    .await;
    let config = format!(
        r#"
[connections.zia-test]
kind = "zia"
base_url = "{}"
registered_domains = ["acme.example", "acme-labs.example"]

[connections.zpa-test]
kind = "zpa-scim"
base_url = "{}"

[policy]
protected_accounts = ["breakglass@*", "svc-*"]

[sources.hr]
path = "{}"
email = "work_email"
status = "status"
termination_date = "end_date"
aliases = "aliases"
external_id = "external_id"
manager = "manager"
"#,
        sim.url,
        sim.zpa_scim_url,
        hr.display()
    );
    (Env::with_config(dir, sim, &config), hr)
}

#[tokio::test]
async fn orphans_scenario_every_planted_case_is_found_under_its_rule() {
    let (env, hr) = orphans_env().await;
    let zia_users: BTreeSet<String> = env
        .sim()
        .get("/__sim/users")
        .await
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["email"].as_str().map(str::to_lowercase))
        .collect();
    // Expected leavers, from the export itself: a terminated row whose email or alias is a
    // ZIA account.
    let text = std::fs::read_to_string(&hr).expect("HR export");
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let mut leavers = BTreeSet::new();
    for row in rows.records() {
        let row = row.expect("row");
        if &row[1] != "terminated" {
            continue;
        }
        let emails = std::iter::once(row[0].to_string())
            .chain(row[3].split([';', ',']).map(|a| a.trim().to_string()));
        for e in emails.filter(|e| zia_users.contains(e)) {
            leavers.insert(e);
        }
    }
    assert_eq!(
        leavers.len(),
        7,
        "departed, 5 seeded, 1 by alias: {leavers:?}"
    );

    let client = env.connect(Human::Absent).await;
    let r = client
        .ok(
            "audit_orphans",
            json!({"connection": "zia-test", "source_of_record": "hr", "max_findings": 500}),
        )
        .await;
    assert_eq!(r["truncated"], false, "{r}");
    assert_eq!(labels(&r, "terminated_but_present"), leavers, "{r}");
    let renamed = finding(&r, "terminated_but_present", "renamed.person@acme.example");
    let evidence = renamed["evidence"].as_str().expect("evidence");
    assert!(
        evidence.contains("alias of person.renamed@acme.example")
            && evidence.contains("2025-06-30")
            && evidence.contains("Mia Manager"),
        "{evidence}"
    );
    assert_eq!(renamed["suggested_call"]["tool"], "deactivate");
    let unknown = labels(&r, "not_in_source_of_record");
    for e in [
        "ghost.user@acme.example",
        "jdoe@acme.example",
        "consultant@partner-firm.example",
    ] {
        assert!(unknown.contains(e), "{e} not in source: {unknown:?}");
    }
    for e in [
        "maiden.name@acme.example",
        "renamed.person@acme.example",
        "jane.doe@acme.example",
    ] {
        assert!(!unknown.contains(e), "{e} is in HR (by email or alias)");
    }
    let external = labels(&r, "unregistered_or_external_domain");
    for e in [
        "ex.employee@acquired-corp.example",
        "consultant@partner-firm.example",
    ] {
        assert!(external.contains(e), "{e}: {external:?}");
    }
    assert!(labels(&r, "no_group_or_department").contains("intern.summer@acme.example"));
    // Protected and break-glass accounts: excluded, never flagged.
    for protected in ["breakglass@acme.example", "svc-scanner@acme.example"] {
        assert!(r["excluded"].to_string().contains(protected));
        let flagged = r["findings"].as_array().expect("findings").iter().any(|f| {
            f["label"] == protected
                || f["evidence"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(protected)
        });
        assert!(!flagged, "{protected} flagged: {r}");
    }
    // Summary counts match the findings when nothing is truncated.
    for s in r["summary"].as_array().expect("summary") {
        let rule = s["rule"].as_str().expect("rule");
        assert_eq!(
            s["count"].as_u64(),
            Some(labels(&r, rule).len() as u64),
            "{rule}"
        );
    }

    // ZPA: a leaver matched by externalId, the ZPA-only leaver, and drift against ZIA.
    let z = client
        .ok(
            "audit_orphans",
            json!({"connection": "zpa-test", "source_of_record": "hr", "reference_connection": "zia-test",
                   "rules": ["terminated_but_present", "not_in_source_of_record", "cross_product_drift"],
                   "max_findings": 500}),
        )
        .await;
    let by_ext = finding(&z, "terminated_but_present", "zpa.oldname@acme.example");
    let evidence = by_ext["evidence"].as_str().expect("evidence");
    assert!(
        evidence.contains("externalId") && evidence.contains("zpa.newname@acme.example"),
        "{evidence}"
    );
    let gone = labels(&z, "terminated_but_present");
    assert!(
        gone.contains("former.zpa@acme.example") && gone.contains("departed.employee@acme.example"),
        "{gone:?}"
    );
    assert!(!labels(&z, "not_in_source_of_record").contains("zpa.oldname@acme.example"));
    let drift = labels(&z, "cross_product_drift");
    assert!(
        drift.contains("zpa.only@acme.example") && drift.contains("former.zpa@acme.example"),
        "{drift:?}"
    );
    assert!(!drift.contains("jane.doe@acme.example"));
    client.close().await;
}

#[tokio::test]
async fn progress_is_notified_per_page_and_a_cancelled_audit_stops() {
    let env = Env::with_sim_and_zpa().await;
    let handler = ProgressClient::default();
    let client = handler.clone().connect(&env).await;
    let args = json!({"connection": "zpa-test", "rules": ["no_group_or_department"]});
    let Value::Object(map) = args else {
        unreachable!()
    };
    let r = client
        .call_tool(CallToolRequestParams::new("audit_orphans").with_arguments(map.clone()))
        .await
        .expect("answered");
    assert!(!r.is_error.unwrap_or(false), "{r:?}");
    let scanned = r.structured_content.as_ref().expect("structured")["users_scanned"]
        .as_u64()
        .expect("users_scanned");
    assert!(scanned > 100, "ZPA has more than one SCIM page: {scanned}");
    // Notifications travel ahead of the result; give the client a moment to dispatch them.
    for _ in 0..50 {
        if handler.seen.lock().expect("lock").len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = handler.seen.lock().expect("lock").clone();
    assert!(seen.len() >= 2, "one notification per page: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[1].progress > w[0].progress),
        "{seen:?}"
    );
    assert_eq!(seen[0].message.as_deref(), Some("page 1: 100 users"));
    assert_eq!(seen.last().map(|p| p.progress), Some(scanned as f64));
    assert!(
        seen.iter()
            .all(|p| p.progress_token == seen[0].progress_token)
    );

    let _ = client.cancel().await;

    // Cancellation: the second page is held by the simulator for a minute; after the first
    // page's notification the client cancels, and the server stops at once (it logs so, and
    // leaves no report behind) instead of waiting for the page.
    let base = url::Url::parse(&env.sim().zpa_scim_url)
        .expect("url")
        .path()
        .to_string();
    let route = format!("GET {base}/Users");
    let faults = json!([
        {"route": route, "latency_ms": 1, "count": 1},
        {"route": route, "kind": "timeout", "latency_ms": 60000, "count": 1}
    ]);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .post(format!("{}/__sim/faults", env.sim().url))
        .json(&faults)
        .send()
        .await
        .expect("queue faults");
    assert!(resp.status().is_success());
    let handler = ProgressClient::default();
    let cmd = env.command(&["serve"]).configure(|c| {
        c.env("RUST_LOG", "info,rmcp=warn");
    });
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut log = BufReader::new(stderr.expect("stderr")).lines();
    let client = handler.clone().serve(transport).await.expect("initialize");
    let peer = client.peer().clone();
    let handle = peer
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(
                CallToolRequestParams::new("audit_orphans").with_arguments(map),
            )),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("sent");
    let token = handle.progress_token.clone();
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let notified = handler.notify.notified();
            if handler
                .seen
                .lock()
                .expect("lock")
                .iter()
                .any(|p| p.progress_token == token)
            {
                break;
            }
            notified.await;
        }
    })
    .await
    .expect("a progress notification for the first page");
    handle
        .cancel(Some("the test cancels".into()))
        .await
        .expect("cancel sent");
    let stopped = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = log.next_line().await {
            if line.contains("audit_orphans cancelled") {
                return true;
            }
        }
        false
    })
    .await
    .expect("the server stops without waiting for the held page");
    assert!(stopped);
    let reports: Vec<String> = std::fs::read_dir(env.state_dir().join("audit-reports"))
        .expect("report dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    assert_eq!(
        reports.len(),
        1,
        "only the completed audit left a report: {reports:?}"
    );
    let _ = client.cancel().await;
}

#[tokio::test]
async fn full_findings_reach_mcp_clients_as_a_resource_and_the_cli_as_csv_and_html() {
    let env = Env::with_sim().await;
    let client = env.connect(Human::Absent).await;
    let o = client
        .call("audit_orphans", json!({"max_findings": 1}))
        .await;
    assert!(!o.is_error, "{}", o.text);
    let r = &o.structured;
    assert_eq!(r["findings"].as_array().map(Vec::len), Some(1));
    assert_eq!(r["truncated"], true);
    let total: u64 = r["summary"]
        .as_array()
        .expect("summary")
        .iter()
        .filter_map(|s| s["count"].as_u64())
        .sum();
    assert!(total > 3, "{r}");
    // The model reads a compact markdown summary, not the JSON; tenant text is quoted.
    assert!(o.text.contains("| rule | severity | count |"), "{}", o.text);
    assert!(
        o.text.contains("\"old.vendor@vendor-mail.example\""),
        "{}",
        o.text
    );
    assert!(!o.text.trim_start().starts_with('{'));
    let uri = r["report"].as_str().expect("report URI").to_string();
    assert!(o.text.contains(&uri));

    let listed = client
        .service
        .list_all_resources()
        .await
        .expect("resources/list");
    assert!(listed.iter().any(|res| res.uri == uri), "{listed:?}");
    let read = client
        .service
        .read_resource(ReadResourceRequestParams::new(uri.clone()))
        .await
        .expect("resources/read");
    let csv: String = read
        .contents
        .into_iter()
        .filter_map(|c| match c {
            ResourceContents::TextResourceContents { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len() as u64, total, "every finding is in the report");
    assert!(
        rows.iter()
            .any(|r| &r[4] == "old.vendor@vendor-mail.example"
                && &r[0] == "unregistered_or_external_domain")
    );
    let missing = client
        .service
        .read_resource(ReadResourceRequestParams::new("audit://nope-1.csv"))
        .await;
    assert!(missing.is_err());
    client.close().await;

    // The CLI writes the same findings as CSV and a self-contained HTML page; without a
    // terminal the progress bar stays hidden.
    let csv_path = env.dir.path().join("findings.csv");
    let html_path = env.dir.path().join("findings.html");
    let out = env
        .run(&[
            "call",
            "audit_orphans",
            "--args",
            r#"{"max_findings": 1}"#,
            "--csv",
            csv_path.to_str().expect("path"),
            "--html",
            html_path.to_str().expect("path"),
        ])
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("page 1:"),
        "no progress bar without a terminal: {stderr}"
    );
    let written = std::fs::read_to_string(&csv_path).expect("csv written");
    assert_eq!(written.lines().count() as u64, total + 1, "{written}");
    let page = std::fs::read_to_string(&html_path).expect("html written");
    assert!(page.contains("<svg") && page.contains("old.vendor@vendor-mail.example"));
    assert!(!page.contains("<script") && !page.contains("http://") && !page.contains("https://"));
    let wrong = env
        .run(&[
            "call",
            "list_users",
            "--csv",
            csv_path.to_str().expect("path"),
        ])
        .await;
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr)
            .contains("--csv only applies to audit_orphans and reconcile")
    );
}
