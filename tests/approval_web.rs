//! `approve --web`: the local approval page, driven with raw HTTP requests. What a person sees
//! in a browser is covered by `approval_web_browser.rs`; this file checks every refusal.

mod common;

use common::{Env, Human, WebApproval};
use serde_json::json;

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// POSTs the approval form, optionally with extra headers.
async fn post_form(
    web: &WebApproval,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (u16, String) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut req = http()
        .post(format!("{}/approve", web.origin))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("page reachable");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = http().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("page reachable")
}

#[tokio::test]
async fn web_page_refuses_without_secret_host_or_retyped_id_then_approval_executes_once() {
    let env = Env::with_sim().await;
    let sim = env.sim();
    let client = env.connect(Human::Absent).await;
    // A user whose name carries markup: the page must show it as text.
    let markup = "<script>alert(1)</script> Test";
    let created = client
        .ok(
            "create_user",
            json!({"name": markup, "email": "markup.test@acme.example", "department": "Sales", "groups": ["Sales"]}),
        )
        .await;
    assert_eq!(created["status"], "executed", "{created}");
    let args = json!({"user": "markup.test@acme.example"});
    let first = client.ok("deactivate", args.clone()).await;
    assert_eq!(first["status"], "awaiting_approval");
    let plan_id = first["plan"]["id"].as_str().expect("plan id").to_string();
    assert!(
        first["next_step"]
            .as_str()
            .is_some_and(|s| s.contains("approve --web")),
        "{first}"
    );

    let web = env.approve_web().await;
    assert!(web.url.starts_with("http://127.0.0.1:"), "{}", web.url);
    assert_eq!(web.secret.len(), 64, "32 bytes in hex");

    // Wrong or missing secret: 403 and nothing about the plan.
    for url in [
        format!("{}/?k={}", web.origin, "0".repeat(64)),
        format!("{}/?k=", web.origin),
        format!("{}/", web.origin),
    ] {
        let resp = get(&url, &[]).await;
        assert_eq!(resp.status().as_u16(), 403, "{url}");
        assert_eq!(
            resp.headers()["content-security-policy"],
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
        );
        let body = resp.text().await.unwrap_or_default();
        assert!(!body.contains(&plan_id), "{body}");
        assert!(!body.contains("markup.test"), "{body}");
    }

    // A foreign Host (DNS rebinding), even with the right secret: refused, nothing shown.
    let rebound = get(
        &web.url,
        &[("host", &format!("attacker.example:{}", web.port))],
    )
    .await;
    assert_eq!(rebound.status().as_u16(), 403);
    assert!(!rebound.text().await.unwrap_or_default().contains(&plan_id));
    // localhost names this server too.
    let by_name = get(&web.url, &[("host", &format!("localhost:{}", web.port))]).await;
    assert_eq!(by_name.status().as_u16(), 200);

    // The list: the plan, its change lines and targets, escaped; strict headers.
    let resp = get(&web.url, &[]).await;
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
    );
    assert_eq!(h["x-frame-options"], "DENY");
    // Not `no-referrer`: under it browsers post forms with `Origin: null`.
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["cache-control"], "no-store");
    assert!(
        h["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/html"))
    );
    let page = resp.text().await.expect("page");
    assert!(page.contains(&plan_id), "{page}");
    assert!(page.contains("markup.test@acme.example"), "{page}");
    assert!(page.contains("deactivate") && page.contains("zia-test"));
    assert!(page.contains("Expires "));
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt; Test"),
        "{page}"
    );
    assert!(
        !page.contains("<script>"),
        "markup must not reach the page raw"
    );

    // A cross-site form post, even carrying the secret and the right id: refused.
    let fields = [
        ("k", web.secret.as_str()),
        ("plan_id", plan_id.as_str()),
        ("confirm", plan_id.as_str()),
    ];
    let (status, _) = post_form(&web, &fields, &[("origin", "http://attacker.example")]).await;
    assert_eq!(status, 403);
    // Wrong secret with the right id: refused.
    let wrong_k = "f".repeat(64);
    let (status, body) = post_form(
        &web,
        &[
            ("k", wrong_k.as_str()),
            ("plan_id", plan_id.as_str()),
            ("confirm", plan_id.as_str()),
        ],
        &[],
    )
    .await;
    assert_eq!(status, 403);
    assert!(!body.contains(&plan_id));
    // Not retyped (a stray click, or "yes"): not approved.
    for confirm in ["", "yes", "p-00000000"] {
        let (status, body) = post_form(
            &web,
            &[
                ("k", web.secret.as_str()),
                ("plan_id", plan_id.as_str()),
                ("confirm", confirm),
            ],
            &[],
        )
        .await;
        assert_eq!(status, 400, "confirm {confirm:?}: {body}");
        assert!(body.contains("Not approved"), "{body}");
    }
    // A plan that does not exist, retyped correctly: not approved.
    let (status, body) = post_form(
        &web,
        &[
            ("k", web.secret.as_str()),
            ("plan_id", "p-00000000"),
            ("confirm", "p-00000000"),
        ],
        &[],
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let mut with_plan = args.clone();
    with_plan["plan_id"] = json!(plan_id);
    let refused = client.err("deactivate", with_plan.clone()).await;
    assert!(refused.contains("not been approved"), "{refused}");
    assert!(
        sim.user("markup.test@acme.example", "draft")
            .await
            .is_some()
    );

    // Retyped, same origin, right secret: approved, and `--once` stops the page.
    let (status, body) = post_form(&web, &fields, &[("origin", web.origin.as_str())]).await;
    assert_eq!(status, 200, "{body}");
    // The OS account of the page's process, never what `USER` says (the harness sets
    // USER=test-approver), and the channel as its own field.
    let account = common::os_account();
    assert!(
        body.contains(&format!("Approved by {account} via web")),
        "{body}"
    );
    assert!(!body.contains("test-approver"), "{body}");
    assert!(body.contains(&plan_id) && body.contains("deactivate"));
    let mut child = web.child;
    let exit = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("--once exits after the approval")
        .expect("exit status");
    assert!(exit.success());

    let done = client.ok("deactivate", with_plan.clone()).await;
    assert_eq!(done["status"], "executed");
    assert_eq!(done["confirmation"]["channel"], "approve-web");
    assert_eq!(done["confirmation"]["approver"], account.as_str());
    assert!(
        sim.user("markup.test@acme.example", "draft")
            .await
            .is_none(),
        "deleted after approval"
    );
    let replay = client.err("deactivate", with_plan).await;
    assert!(replay.contains("already used"), "{replay}");

    let journal = std::fs::read_to_string(env.journal()).expect("journal");
    let approved: Vec<serde_json::Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["outcome"] == "approved")
        .collect();
    assert_eq!(approved.len(), 1, "{journal}");
    assert_eq!(approved[0]["channel"], "approve-web");
    assert_eq!(approved[0]["approver"], account.as_str());
    assert_eq!(approved[0]["os_account"], account.as_str());
    assert_eq!(approved[0]["plan_id"], plan_id.as_str());
    let verify = env.run(&["journal", "verify"]).await;
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    client.close().await;
}

#[tokio::test]
async fn web_page_lists_nothing_when_no_plan_waits() {
    let env = Env::with_sim().await;
    let web = env.approve_web().await;
    let resp = get(&web.url, &[]).await;
    assert_eq!(resp.status().as_u16(), 200);
    let page = resp.text().await.expect("page");
    assert!(page.contains("No plans are waiting"), "{page}");
}

#[tokio::test]
async fn web_page_listens_on_loopback_only() {
    let env = Env::with_sim().await;
    for bind in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
        let out = env.run(&["approve", "--web", "--bind", bind]).await;
        assert!(!out.status.success(), "{bind} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("loopback only"), "{bind}: {err}");
        assert!(out.stdout.is_empty(), "no URL printed for {bind}");
    }
    // The web flags belong to --web, and a plan id to the terminal form.
    for args in [
        &["approve", "--once"][..],
        &["approve", "--bind", "127.0.0.1:0"],
        &["approve", "--web", "p-0123abcd"],
    ] {
        let out = env.run(args).await;
        assert!(!out.status.success(), "{args:?} accepted");
    }
}

fn journal_records(env: &Env, plan: &str, outcome: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(env.journal())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["outcome"] == outcome && e["plan_id"] == plan)
        .collect()
}

#[tokio::test]
async fn with_named_approvers_the_page_needs_the_approvers_name_and_secret() {
    use zscaler_lifecycle_mcp::guard::approvers::hash_secret;
    use zscaler_lifecycle_mcp::secret::Secret;
    let env = Env::with_sim().await;
    let secret = "jane correct horse battery";
    let hash = hash_secret(&Secret::new(secret)).expect("hash");
    let config = env.config.clone().expect("config");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!("\n[approvers.jane]\nsecret_hash = \"{hash}\"\n"));
    std::fs::write(&config, text).expect("write");
    let client = env.connect(Human::Absent).await;
    let args = json!({"user": "john.smith@acme.example"});
    let first = client.ok("deactivate", args.clone()).await;
    let plan_id = first["plan"]["id"].as_str().expect("plan id").to_string();
    let web = env.approve_web().await;
    let page = get(&web.url, &[]).await.text().await.expect("page");
    assert!(
        page.contains("name=\"approver\"") && page.contains("type=\"password\" name=\"secret\""),
        "{page}"
    );
    let mut with_plan = args.clone();
    with_plan["plan_id"] = json!(plan_id);
    // The page's own secret and the retyped id, without a name and secret, or with a wrong
    // one: not approved.
    for (name, given) in [("", ""), ("jane", "not her secret at all"), ("bob", secret)] {
        let (status, body) = post_form(
            &web,
            &[
                ("k", web.secret.as_str()),
                ("plan_id", plan_id.as_str()),
                ("confirm", plan_id.as_str()),
                ("approver", name),
                ("secret", given),
            ],
            &[],
        )
        .await;
        assert_eq!(status, 403, "{name}: {body}");
        assert!(body.contains("Not approved"), "{body}");
        assert!(!body.contains(secret), "the page never shows a secret");
        let refused = client.err("deactivate", with_plan.clone()).await;
        assert!(refused.contains("needs 1 distinct approver"), "{refused}");
    }
    let (status, body) = post_form(
        &web,
        &[
            ("k", web.secret.as_str()),
            ("plan_id", plan_id.as_str()),
            ("confirm", plan_id.as_str()),
            ("approver", "jane"),
            ("secret", secret),
        ],
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let account = common::os_account();
    assert!(
        body.contains(&format!("Approved by jane (OS account {account}) via web")),
        "{body}"
    );
    let done = client.ok("deactivate", with_plan).await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["confirmation"]["approver"], "jane");
    assert_eq!(done["confirmation"]["channel"], "approve-web");
    let approved = journal_records(&env, &plan_id, "approved");
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert_eq!(approved[0]["approver"], "jane");
    assert_eq!(approved[0]["channel"], "approve-web");
    assert_eq!(approved[0]["os_account"], account.as_str());
    let journal = std::fs::read_to_string(env.journal()).expect("journal");
    assert!(!journal.contains(secret));
    client.close().await;
}

#[tokio::test]
async fn web_page_says_not_approved_when_the_journal_cannot_be_written() {
    let env = Env::with_sim().await;
    let client = env.connect(Human::Absent).await;
    let args = json!({"user": "john.smith@acme.example"});
    let first = client.ok("deactivate", args.clone()).await;
    let plan_id = first["plan"]["id"].as_str().expect("plan id").to_string();
    let web = env.approve_web().await;
    // A journal nobody can append to (a directory in its place; root included).
    let journal = env.journal();
    let aside = journal.with_extension("jsonl.aside");
    std::fs::rename(&journal, &aside).expect("move aside");
    std::fs::create_dir(&journal).expect("directory");
    let fields = [
        ("k", web.secret.as_str()),
        ("plan_id", plan_id.as_str()),
        ("confirm", plan_id.as_str()),
    ];
    let (status, body) = post_form(&web, &fields, &[]).await;
    std::fs::remove_dir(&journal).expect("rmdir");
    std::fs::rename(&aside, &journal).expect("restore");
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("Not approved"), "{body}");
    assert!(
        body.contains("not approved: the journal could not be written"),
        "{body}"
    );
    assert!(!body.contains("Approved by"), "{body}");
    let mut with_plan = args.clone();
    with_plan["plan_id"] = json!(plan_id);
    let refused = client.err("deactivate", with_plan.clone()).await;
    assert!(refused.contains("not been approved"), "{refused}");
    assert!(
        env.sim()
            .user("john.smith@acme.example", "draft")
            .await
            .is_some(),
        "the plan stays unapproved and nothing ran"
    );
    assert!(journal_records(&env, &plan_id, "approved").is_empty());
    // The page is still up (`--once` stops after an approval, and there was none): with the
    // journal back, the same form approves.
    let (status, body) = post_form(&web, &fields, &[]).await;
    assert_eq!(status, 200, "{body}");
    let done = client.ok("deactivate", with_plan).await;
    assert_eq!(done["status"], "executed", "{done}");
    client.close().await;
}
