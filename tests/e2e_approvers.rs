//! Who approves a plan, over the real binary: the OS account (never `$USER`), named approvers
//! with their own secrets, four-eyes, and an approval that is journaled before it is stored.
//!
//! `approve` needs a terminal, so it runs under `script` (a pseudo-terminal), exactly as an
//! agent with a shell could run it: these tests show what that agent can and cannot do.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{BIN, Env, Human, os_account, plan_id, with};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zscaler_lifecycle_mcp::guard::approvers::hash_secret;
use zscaler_lifecycle_mcp::secret::Secret;

const JANE_SECRET: &str = "jane correct horse battery";
const BOB_SECRET: &str = "bob staple orange lantern";

/// What `approve` did at its terminal.
struct Tty {
    code: Option<i32>,
    /// Everything the terminal showed (stdout and stderr share the pseudo-terminal).
    screen: String,
}

impl Tty {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `BIN --config CONFIG ARGS…` under a pseudo-terminal, answering each prompt when it
/// appears, with extra environment variables.
async fn tty(
    env: &Env,
    config: &Path,
    args: &[&str],
    answers: &[(&str, &str)],
    vars: &[(&str, &str)],
) -> Tty {
    let mut inner = format!("'{BIN}' --config '{}'", config.display());
    for a in args {
        inner.push_str(&format!(" '{a}'"));
    }
    let mut cmd = tokio::process::Command::new("script");
    cmd.args(["-qec", &inner, "/dev/null"])
        .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", env.state_dir())
        .env("RUST_LOG", "warn");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn script");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut screen = String::new();
    let mut unread = 0usize;
    let mut buf = [0u8; 4096];
    for (prompt, answer) in answers {
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                if let Some(at) = screen[unread..].find(prompt) {
                    unread += at + prompt.len();
                    return true;
                }
                match stdout.read(&mut buf).await {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => screen.push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        })
        .await
        .unwrap_or(false);
        if !found {
            break;
        }
        // Let a no-echo prompt switch the terminal mode before typing, as a person would.
        tokio::time::sleep(Duration::from_millis(150)).await;
        stdin
            .write_all(format!("{answer}\n").as_bytes())
            .await
            .expect("type");
    }
    drop(stdin);
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), stdout.read_to_end(&mut rest)).await;
    screen.push_str(&String::from_utf8_lossy(&rest));
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("approve finishes")
        .expect("exit status");
    Tty {
        code: status.code(),
        screen,
    }
}

fn journal(env: &Env) -> Vec<Value> {
    std::fs::read_to_string(env.journal())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn approvals_in_journal(env: &Env, plan: &str) -> Vec<Value> {
    journal(env)
        .into_iter()
        .filter(|e| e["outcome"] == "approved" && e["plan_id"] == plan)
        .collect()
}

/// A simulator and a config with named approvers jane (an Argon2id hash in the config) and
/// bob (a secret file), plus extra `[policy]` lines. Returns the folder holding both people's
/// secrets in files (`jane`, `bob`), as each would keep their own.
async fn with_approvers(policy: &str) -> (Env, PathBuf) {
    let env = Env::with_sim_policy(policy).await;
    let secrets = env.dir.path().join("secrets");
    std::fs::create_dir_all(&secrets).expect("mkdir");
    std::fs::write(secrets.join("jane"), format!("{JANE_SECRET}\n")).expect("write");
    std::fs::write(secrets.join("bob"), format!("{BOB_SECRET}\n")).expect("write");
    let jane = hash_secret(&Secret::new(JANE_SECRET)).expect("hash");
    let config = env.config.clone().expect("config");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!(
        "\n[approvers.jane]\nsecret_hash = \"{jane}\"\n\n[approvers.bob]\nsecret = {{ file = \"{}\" }}\n",
        secrets.join("bob").display()
    ));
    std::fs::write(&config, text).expect("config");
    (env, secrets)
}

#[tokio::test]
async fn the_approver_is_the_os_account_whatever_user_says() {
    let env = Env::with_sim().await;
    let config = env.config.clone().expect("config");
    let client = env.connect(Human::Absent).await;
    let args = json!({"user": "john.smith@acme.example"});
    let r = client.ok("deactivate", args.clone()).await;
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    let id = plan_id(&r);
    let out = tty(
        &env,
        &config,
        &["approve", &id],
        &[("approve it", &id)],
        &[("USER", "CISO Jane (web)"), ("LOGNAME", "CISO Jane (web)")],
    )
    .await;
    assert!(out.ok(), "{}", out.screen);
    let account = os_account();
    assert!(
        out.screen.contains(&format!("Approved by {account}")),
        "{}",
        out.screen
    );
    let done = client.ok("deactivate", with(&args, &id)).await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["confirmation"]["approver"], account.as_str());
    assert_eq!(done["confirmation"]["channel"], "approve-cli");
    let approved = approvals_in_journal(&env, &id);
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert_eq!(approved[0]["approver"], account.as_str());
    assert_eq!(approved[0]["os_account"], account.as_str());
    assert_eq!(approved[0]["channel"], "approve-cli");
    let text = std::fs::read_to_string(env.journal()).expect("journal");
    assert!(!text.contains("CISO Jane"), "{text}");
    client.close().await;
}

#[tokio::test]
async fn with_named_approvers_only_a_named_approvers_secret_approves() {
    let (env, _secrets) = with_approvers("").await;
    let config = env.config.clone().expect("config");
    // A client that would say yes inline: with named approvers it is not even asked.
    let client = env.connect(Human::Accepts).await;
    let args = json!({"user": "john.smith@acme.example"});
    let r = client.ok("deactivate", args.clone()).await;
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    assert!(
        client.asked.lock().expect("lock").is_empty(),
        "inline confirmation must not stand in for a named approver"
    );
    let id = plan_id(&r);
    let refused = |text: &str| {
        assert!(
            text.contains(&format!("plan {id} needs 1 distinct approver")),
            "{text}"
        );
    };

    // A terminal alone (what `script -qec` gives an agent): nothing.
    let out = tty(
        &env,
        &config,
        &["approve", &id],
        &[("approve it", &id)],
        &[],
    )
    .await;
    assert!(!out.ok(), "{}", out.screen);
    assert!(out.screen.contains("--as NAME"), "{}", out.screen);
    refused(&client.err("deactivate", with(&args, &id)).await);

    // A wrong secret, typed at the prompt: nothing.
    let out = tty(
        &env,
        &config,
        &["approve", &id, "--as", "jane"],
        &[("approve it", &id), ("Secret of approver jane", BOB_SECRET)],
        &[],
    )
    .await;
    assert_eq!(out.code, Some(3), "{}", out.screen);
    assert!(out.screen.contains("not jane's secret"), "{}", out.screen);
    refused(&client.err("deactivate", with(&args, &id)).await);

    // An unknown name: nothing.
    let out = tty(
        &env,
        &config,
        &["approve", &id, "--as", "mallory"],
        &[("approve it", &id)],
        &[],
    )
    .await;
    assert!(!out.ok() && out.screen.contains("jane"), "{}", out.screen);

    // The agent's own config on the same state: without approvers (an OS-account approval),
    // or with its own hash for "jane". Both are stored, and neither counts.
    let own_secret = "the agent's own long secret";
    let own_hash = hash_secret(&Secret::new(own_secret)).expect("hash");
    let real = std::fs::read_to_string(&config).expect("config");
    let cut = real.find("[approvers.jane]").expect("approvers");
    let no_approvers = env.dir.path().join("agent-no-approvers.toml");
    std::fs::write(&no_approvers, &real[..cut]).expect("write");
    let out = tty(
        &env,
        &no_approvers,
        &["approve", &id],
        &[("approve it", &id)],
        &[],
    )
    .await;
    assert!(out.ok(), "the agent's approval is recorded: {}", out.screen);
    let own_jane = env.dir.path().join("agent-own-jane.toml");
    std::fs::write(
        &own_jane,
        format!(
            "{}[approvers.jane]\nsecret_hash = \"{own_hash}\"\n",
            &real[..cut]
        ),
    )
    .expect("write");
    let out = tty(
        &env,
        &own_jane,
        &["approve", &id, "--as", "jane"],
        &[("approve it", &id), ("Secret of approver jane", own_secret)],
        &[],
    )
    .await;
    assert!(out.ok(), "{}", out.screen);
    refused(&client.err("deactivate", with(&args, &id)).await);
    assert!(
        env.sim()
            .user("john.smith@acme.example", "draft")
            .await
            .is_some(),
        "nothing was deleted"
    );

    // Jane, with her secret typed without echo: approved and executed, journaled under her
    // name with the channel and the OS account.
    let out = tty(
        &env,
        &config,
        &["approve", &id, "--as", "jane"],
        &[
            ("approve it", &id),
            ("Secret of approver jane", JANE_SECRET),
        ],
        &[("USER", "bob")],
    )
    .await;
    assert!(out.ok(), "{}", out.screen);
    assert!(out.screen.contains("Approved by jane"), "{}", out.screen);
    let done = client.ok("deactivate", with(&args, &id)).await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["confirmation"]["approver"], "jane");
    assert_eq!(done["confirmation"]["channel"], "approve-cli");
    let approved = approvals_in_journal(&env, &id);
    let jane: Vec<&Value> = approved
        .iter()
        .filter(|e| e["named_approver"] == true && e["approver"] == "jane")
        .collect();
    assert_eq!(jane.len(), 2, "the agent's and jane's: {approved:?}");
    assert!(
        jane.iter()
            .all(|e| e["os_account"] == os_account().as_str())
    );
    let text = std::fs::read_to_string(env.journal()).expect("journal");
    for secret in [JANE_SECRET, BOB_SECRET, own_secret] {
        assert!(!text.contains(secret), "a secret reached the journal");
    }
    client.close().await;
}

#[tokio::test]
async fn four_eyes_needs_two_distinct_approvers() {
    let (env, secrets) = with_approvers("four_eyes_over_targets = 0\n").await;
    let config = env.config.clone().expect("config");
    let client = env.connect(Human::Absent).await;
    let args = json!({"user": "john.smith@acme.example"});
    let r = client.ok("deactivate", args.clone()).await;
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    assert_eq!(r["plan"]["approvals_required"], 2, "{r}");
    let id = plan_id(&r);
    let jane_file = secrets.join("jane");
    let bob_file = secrets.join("bob");
    let approve_as = |name: &'static str, file: PathBuf| {
        let (env, config, id) = (&env, config.clone(), id.clone());
        async move {
            let f = file.display().to_string();
            tty(
                env,
                &config,
                &["approve", &id, "--as", name, "--secret-file", &f],
                &[("approve it", &id)],
                &[],
            )
            .await
        }
    };

    let out = approve_as("jane", jane_file.clone()).await;
    assert!(out.ok(), "{}", out.screen);
    assert!(
        out.screen.contains("needs 2 distinct approvers and has 1"),
        "{}",
        out.screen
    );
    let msg = client.err("deactivate", with(&args, &id)).await;
    assert!(
        msg.contains(&format!(
            "plan {id} needs 2 distinct approvers; approved so far by jane"
        )),
        "{msg}"
    );
    // The pending list says what is missing.
    let listed = env.run(&["approve"]).await;
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.contains("1 of 2 (jane)"), "{listed}");

    // The same approver twice counts once.
    let out = approve_as("jane", jane_file).await;
    assert!(out.ok(), "{}", out.screen);
    let msg = client.err("deactivate", with(&args, &id)).await;
    assert!(msg.contains("approved so far by jane:"), "{msg}");
    assert!(
        env.sim()
            .user("john.smith@acme.example", "draft")
            .await
            .is_some()
    );

    // A second, distinct approver: executed.
    let out = approve_as("bob", bob_file).await;
    assert!(out.ok(), "{}", out.screen);
    let done = client.ok("deactivate", with(&args, &id)).await;
    assert_eq!(done["status"], "executed", "{done}");
    let by = done["confirmation"]["approver"]
        .as_str()
        .unwrap_or_default();
    assert!(by == "jane and bob" || by == "bob and jane", "{done}");
    assert!(
        env.sim()
            .user("john.smith@acme.example", "draft")
            .await
            .is_none()
    );
    client.close().await;
}

#[tokio::test]
async fn four_eyes_on_every_connection_all_plan() {
    let (env, secrets) = with_approvers("four_eyes_all_connections = true\n").await;
    let config = env.config.clone().expect("config");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!(
        "\n[connections.zpa-test]\nkind = \"zpa-scim\"\nbase_url = \"{}\"\n",
        env.sim().zpa_scim_url
    ));
    std::fs::write(&config, text).expect("write");
    let client = env.connect(Human::Absent).await;
    // One connection: one approver.
    let one = client
        .ok(
            "deactivate",
            json!({"user": "jane.doe@acme.example", "connection": "zia-test"}),
        )
        .await;
    assert!(one["plan"].get("approvals_required").is_none(), "{one}");
    // Every connection: two.
    let args = json!({"user": "john.smith@acme.example", "connection": "all"});
    let r = client.ok("deactivate", args.clone()).await;
    assert_eq!(r["plan"]["approvals_required"], 2, "{r}");
    let id = plan_id(&r);
    let f = secrets.join("jane").display().to_string();
    let out = tty(
        &env,
        &config,
        &["approve", &id, "--as", "jane", "--secret-file", &f],
        &[("approve it", &id)],
        &[],
    )
    .await;
    assert!(out.ok(), "{}", out.screen);
    let msg = client.err("deactivate", with(&args, &id)).await;
    assert!(msg.contains("needs 2 distinct approvers"), "{msg}");
    client.close().await;
}

#[tokio::test]
async fn four_eyes_without_two_approvers_is_refused_at_load() {
    let env = Env::with_sim_policy("four_eyes_all_connections = true\n").await;
    let out = env.run(&["check"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("policy.four_eyes_all_connections") && err.contains("two named approvers"),
        "{err}"
    );
    assert!(err.contains("line "), "{err}");
}

/// Swaps the journal file for a directory: no process, root included, can append to it.
fn break_journal(env: &Env) -> PathBuf {
    let path = env.journal();
    let aside = path.with_extension("jsonl.aside");
    std::fs::rename(&path, &aside).expect("move the journal aside");
    std::fs::create_dir(&path).expect("a directory in its place");
    aside
}

fn mend_journal(env: &Env, aside: &Path) {
    let path = env.journal();
    std::fs::remove_dir(&path).expect("remove the directory");
    std::fs::rename(aside, &path).expect("put the journal back");
}

#[tokio::test]
async fn an_approval_that_cannot_be_journaled_is_not_stored() {
    let env = Env::with_sim().await;
    let config = env.config.clone().expect("config");
    let client = env.connect(Human::Absent).await;
    let args = json!({"user": "john.smith@acme.example"});
    let r = client.ok("deactivate", args.clone()).await;
    let id = plan_id(&r);
    let aside = break_journal(&env);
    let out = tty(
        &env,
        &config,
        &["approve", &id],
        &[("approve it", &id)],
        &[],
    )
    .await;
    mend_journal(&env, &aside);
    assert!(!out.ok(), "{}", out.screen);
    assert!(
        out.screen
            .contains("not approved: the journal could not be written"),
        "{}",
        out.screen
    );
    assert!(!out.screen.contains("Approved by"), "{}", out.screen);
    let stored = env
        .state_dir()
        .join("plans")
        .join(format!("{id}.approvals"));
    assert!(
        std::fs::read_dir(&stored).map_or(true, |mut d| d.next().is_none()),
        "nothing stored"
    );
    let msg = client.err("deactivate", with(&args, &id)).await;
    assert!(msg.contains("not been approved"), "{msg}");
    assert!(
        env.sim()
            .user("john.smith@acme.example", "draft")
            .await
            .is_some()
    );
    // With the journal back, the same plan can be approved and runs.
    let out = tty(
        &env,
        &config,
        &["approve", &id],
        &[("approve it", &id)],
        &[],
    )
    .await;
    assert!(out.ok(), "{}", out.screen);
    let done = client.ok("deactivate", with(&args, &id)).await;
    assert_eq!(done["status"], "executed", "{done}");
    client.close().await;
}

#[tokio::test]
async fn approvers_hash_asks_twice_without_echo_and_prints_a_hash_that_verifies() {
    use std::collections::BTreeMap;
    use zscaler_lifecycle_mcp::config::ApproverConfig;
    use zscaler_lifecycle_mcp::guard::approvers::Approvers;
    let env = Env::with_sim().await;
    let config = env.config.clone().expect("config");
    let secret = "a passphrase of several words";
    let out = tty(
        &env,
        &config,
        &["approvers", "hash"],
        &[
            ("Approver's secret (not shown)", secret),
            ("The same secret again", secret),
        ],
        &[],
    )
    .await;
    assert!(out.ok(), "{}", out.screen);
    assert!(!out.screen.contains(secret), "echoed: {}", out.screen);
    let line = out
        .screen
        .lines()
        .find(|l| l.starts_with("secret_hash = \"$argon2id$"))
        .unwrap_or_else(|| panic!("no hash line in {}", out.screen));
    let hash = line
        .trim()
        .trim_start_matches("secret_hash = \"")
        .trim_end_matches('"')
        .to_string();
    let mut map = BTreeMap::new();
    map.insert(
        "jane".to_string(),
        ApproverConfig {
            secret_hash: Some(hash),
            secret: None,
            public_key: None,
        },
    );
    let approvers = Approvers::from_config(&map);
    approvers
        .verify("jane", &Secret::new(secret))
        .expect("the printed hash verifies the secret");
    assert!(approvers.verify("jane", &Secret::new("another")).is_err());

    // Two different answers, or a short secret: nothing printed.
    let out = tty(
        &env,
        &config,
        &["approvers", "hash"],
        &[
            ("Approver's secret (not shown)", secret),
            ("The same secret again", "something else entirely"),
        ],
        &[],
    )
    .await;
    assert!(!out.ok() && out.screen.contains("differ"), "{}", out.screen);
    assert!(!out.screen.contains("$argon2id$"), "{}", out.screen);
    let short = env.dir.path().join("short");
    std::fs::write(&short, "hunter2\n").expect("write");
    let out = env
        .run(&[
            "approvers",
            "hash",
            "--secret-file",
            &common::path_str(&short),
        ])
        .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));
}

#[tokio::test]
async fn an_approval_journaled_but_not_stored_is_reported_and_recorded_as_not_stored() {
    let env = Env::with_sim().await;
    let config = env.config.clone().expect("config");
    let client = env.connect(Human::Absent).await;
    let args = json!({"user": "john.smith@acme.example"});
    let id = plan_id(&client.ok("deactivate", args.clone()).await);
    // A file where the plan's approvals folder goes: storing fails after the journal record.
    let blocked = env
        .state_dir()
        .join("plans")
        .join(format!("{id}.approvals"));
    std::fs::write(&blocked, "not a folder").expect("write");
    let out = tty(
        &env,
        &config,
        &["approve", &id],
        &[("approve it", &id)],
        &[],
    )
    .await;
    assert!(!out.ok(), "{}", out.screen);
    assert!(
        out.screen
            .contains("not approved: the approval was journaled but could not be stored"),
        "{}",
        out.screen
    );
    let records: Vec<Value> = journal(&env)
        .into_iter()
        .filter(|e| e["plan_id"] == id.as_str())
        .collect();
    let outcomes: Vec<&str> = records
        .iter()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert!(
        outcomes.ends_with(&["approved", "approval_not_stored"]),
        "{outcomes:?}"
    );
    let msg = client.err("deactivate", with(&args, &id)).await;
    assert!(
        msg.contains(&format!("{id}.approvals")),
        "refused, naming the state: {msg}"
    );
    std::fs::remove_file(&blocked).expect("unblock");
    let msg = client.err("deactivate", with(&args, &id)).await;
    assert!(msg.contains("not been approved"), "{msg}");
    assert!(
        env.sim()
            .user("john.smith@acme.example", "draft")
            .await
            .is_some()
    );
    client.close().await;
}

#[tokio::test]
async fn a_four_eyes_plan_is_never_issued_a_token() {
    let (env, _secrets) =
        with_approvers("four_eyes_over_targets = 0\n\n[policy.token_mode]\nenabled = true\n").await;
    let client = env.connect(Human::Absent).await;
    let r = client
        .ok("deactivate", json!({"user": "john.smith@acme.example"}))
        .await;
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    assert_eq!(r["plan"]["approvals_required"], 2, "{r}");
    assert!(r.get("plan_id_with_token").is_none(), "{r}");
    client.close().await;
}

/// A public-key approver (`approvers hash --as NAME`): `approve` signs with the key the secret
/// derives, and the server counts only approvals carrying that signature — so an agent that
/// can read the state directory (the plan key) and the config still cannot approve as them.
#[tokio::test]
async fn a_public_key_approver_signs_and_nothing_on_disk_can_forge_them() {
    let env = Env::with_sim().await;
    let config = env.config.clone().expect("config");
    let out = tty(
        &env,
        &config,
        &["approvers", "hash", "--as", "jane"],
        &[
            ("Approver's secret (not shown)", JANE_SECRET),
            ("The same secret again", JANE_SECRET),
        ],
        &[],
    )
    .await;
    assert!(out.ok(), "{}", out.screen);
    assert!(!out.screen.contains(JANE_SECRET), "echoed: {}", out.screen);
    let key_line = out
        .screen
        .lines()
        .find(|l| l.starts_with("public_key = \"ed25519:"))
        .unwrap_or_else(|| panic!("no public key in {}", out.screen))
        .trim()
        .to_string();
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!("\n[approvers.jane]\n{key_line}\n"));
    std::fs::write(&config, &text).expect("config");

    let client = env.connect(Human::Absent).await;
    let args = json!({"user": "john.smith@acme.example"});
    let r = client.ok("deactivate", args.clone()).await;
    let id = plan_id(&r);

    // The agent's own config on the same state directory names jane with a hash of a secret
    // it knows; its "jane" approval is stored, HMAC and all, and counts for nothing.
    let own = env.dir.path().join("agent.toml");
    let agent_hash = hash_secret(&Secret::new("the agent's own secret")).expect("hash");
    std::fs::write(
        &own,
        text.replace(&key_line, &format!("secret_hash = \"{agent_hash}\"")),
    )
    .expect("write");
    let out = tty(
        &env,
        &own,
        &["approve", &id, "--as", "jane"],
        &[
            ("approve it", &id),
            ("Secret of approver jane", "the agent's own secret"),
        ],
        &[],
    )
    .await;
    let msg = client.err("deactivate", with(&args, &id)).await;
    assert!(
        msg.contains("needs 1 distinct approver"),
        "{msg}\n{}",
        out.screen
    );
    assert!(
        env.sim()
            .user("john.smith@acme.example", "draft")
            .await
            .is_some()
    );

    // Jane, with her secret: her signed approval executes the plan.
    let out = tty(
        &env,
        &config,
        &["approve", &id, "--as", "jane"],
        &[
            ("approve it", &id),
            ("Secret of approver jane", JANE_SECRET),
        ],
        &[],
    )
    .await;
    assert!(out.ok(), "{}", out.screen);
    let done = client.ok("deactivate", with(&args, &id)).await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["confirmation"]["approver"], "jane");
    client.close().await;
}
