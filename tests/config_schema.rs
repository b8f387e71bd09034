//! The JSON Schema that `config schema` prints and the config parser must agree: every shipped
//! example is accepted by both, every broken file is refused by both, and what only the parser
//! can know (names of configured connections, glob syntax) is refused with its line.

mod common;

use std::path::Path;

use serde_json::Value;
use zscaler_lifecycle_mcp::config::Config;

async fn exported_schema() -> Value {
    let out = tokio::process::Command::new(common::BIN)
        .args(["config", "schema"])
        .output()
        .await
        .expect("run config schema");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

fn as_json(text: &str) -> Value {
    toml::from_str::<Value>(text).unwrap_or_else(|e| panic!("not TOML ({e}):\n{text}"))
}

/// The config block of the README, as users copy it.
fn readme_example() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    let start = readme
        .find("```toml\n[connections.zia-prod]")
        .expect("README has the config example")
        + "```toml\n".len();
    let len = readme[start..].find("```").expect("block ends");
    readme[start..start + len].to_string()
}

const BASE: &str = "[connections.a]\nkind = \"zia\"\ncloud = \"zscalertwo\"\n";

/// An Argon2id PHC string (of "a long enough secret"), as `approvers hash` prints one.
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Gr+JY/Fu1441g8IB/BqrPQ$PAneL9VOtyMYyvj+D9TOpgYivplRIrZ9h8wuMyaEmHY";

#[tokio::test]
async fn schema_and_parser_accept_and_refuse_the_same_files() {
    let schema = exported_schema().await;
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");

    let mut good: Vec<(String, String)> = vec![
        ("README example".into(), readme_example()),
        ("minimal".into(), BASE.into()),
        (
            "test harness".into(),
            format!(
                "{BASE}registered_domains = [\"acme.example\"]\n\n[connections.zpa-test]\nkind = \"zpa-scim\"\nbase_url = \"http://127.0.0.1:1/scim\"\nquarantine_group = \"Quarantine\"\n\n[policy]\nprotected_accounts = [\"breakglass@*\", \"svc-*\"]\nprotected_groups = [\"Admins\"]\nmax_targets_per_call = 2\nconfirm_tools = [\"add_to_group\"]\ntool_connections = {{ remove_from_group = [] }}\n"
            ),
        ),
        (
            "token mode".into(),
            format!(
                "{BASE}[policy]\nconfirm_tools = [\"add_to_group\"]\n[policy.token_mode]\nenabled = true\ntools = [\"deactivate\", \"add_to_group\"]\nconnections = [\"a\", \"all\"]\nplan_ttl_secs = 30\n"
            ),
        ),
        (
            "cloud in any case, URLs with ports".into(),
            "[connections.a]\nkind = \"zia\"\ncloud = \" ZscalerTwo \"\n[connections.b]\nkind = \"zia\"\nbase_url = \"http://127.0.0.1:8080/\"\n[connections.c]\nkind = \"zia\"\nauth = \"oneapi\"\ncloud = \"beta\"\nvanity_domain = \"acme\"\ntoken_url = \"https://acme.zsloginbeta.net/oauth2/v1/token\"\n".into(),
        ),
        (
            "named approvers and four-eyes".into(),
            format!(
                "{BASE}[policy]\nfour_eyes_over_targets = 5\nfour_eyes_all_connections = true\n\n[approvers.jane]\nsecret_hash = \"{HASH}\"\n\n[approvers.bob-2]\nsecret = {{ file = \"/home/bob/.config/zlm/approver-secret\" }}\n\n[approvers.ann]\npublic_key = \"ed25519:{}\"\n",
                "ab".repeat(32)
            ),
        ),
        (
            "journal key and copies".into(),
            format!(
                "{BASE}[server]\njournal_key = {{ file = \"/etc/zlm/journal.key\" }}\njournal_syslog = true\njournal_syslog_socket = \"/run/zlm/log.sock\"\njournal_command = [\"logger\", \"-t\", \"zlm-journal\"]\n"
            ),
        ),
        (
            "oneapi and redis".into(),
            "[connections.z]\nkind = \"zia\"\nauth = \"oneapi\"\nvanity_domain = \"acme\"\nclient_secret = { file = \"/run/secrets/s\" }\n[state]\nbackend = \"redis\"\nurl = { env = \"REDIS_URL\" }\nreplica_id = \"mcp-a\"\n".into(),
        ),
    ];
    // Every combination `init` writes.
    for kinds in [
        vec!["zia"],
        vec!["oneapi"],
        vec!["zia-scim"],
        vec!["zpa-scim"],
        vec!["zidentity"],
        vec!["zia", "oneapi", "zia-scim", "zpa-scim", "zidentity"],
    ] {
        let mut args = vec!["init"];
        for k in &kinds {
            args.extend(["--kind", k]);
        }
        let out = tokio::process::Command::new(common::BIN)
            .args(&args)
            .output()
            .await
            .expect("run init");
        assert!(out.status.success());
        good.push((
            format!("init {kinds:?}"),
            String::from_utf8(out.stdout).expect("utf-8"),
        ));
    }
    for (name, text) in &good {
        if let Err(e) = Config::parse(text, Path::new("good.toml")) {
            panic!("parser refuses {name}: {e}");
        }
        let errors: Vec<String> = validator
            .iter_errors(&as_json(text))
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "schema refuses {name}: {errors:?}");
    }

    let bad: Vec<(&str, String)> = vec![
        ("no connection", "[policy]\nread_only = true\n".into()),
        ("unknown key", format!("{BASE}pasword = \"x\"\n")),
        (
            "unknown policy key",
            format!("{BASE}[policy]\nprotected_acounts = []\n"),
        ),
        (
            "wrong type",
            format!("{BASE}[policy]\nmax_targets_per_call = \"ten\"\n"),
        ),
        ("unknown kind", "[connections.a]\nkind = \"zpa\"\n".into()),
        (
            "reserved name",
            "[connections.ALL]\nkind = \"zia\"\ncloud = \"zscalertwo\"\n".into(),
        ),
        ("zia without cloud", "[connections.a]\nkind = \"zia\"\n".into()),
        (
            "oneapi without vanity domain",
            "[connections.a]\nkind = \"zia\"\nauth = \"oneapi\"\n".into(),
        ),
        (
            "scim without base_url",
            "[connections.a]\nkind = \"zpa-scim\"\n".into(),
        ),
        (
            "scim base_url without scheme",
            "[connections.a]\nkind = \"zia-scim\"\nbase_url = \"scim.example/x\"\n".into(),
        ),
        (
            "scim with cloud",
            "[connections.a]\nkind = \"zia-scim\"\nbase_url = \"https://s.example\"\ncloud = \"x\"\n"
                .into(),
        ),
        (
            "unknown cloud",
            "[connections.a]\nkind = \"zia\"\ncloud = \"zscalerfour\"\n".into(),
        ),
        (
            "legacy cloud with oneapi",
            "[connections.a]\nkind = \"zia\"\nauth = \"oneapi\"\nvanity_domain = \"acme\"\ncloud = \"zscalertwo\"\n".into(),
        ),
        (
            "base_url without scheme",
            "[connections.a]\nkind = \"zia\"\nbase_url = \"zsapi.zscalertwo.net\"\n".into(),
        ),
        (
            "base_url of another scheme",
            "[connections.a]\nkind = \"zia\"\nbase_url = \"ftp://zsapi.zscalertwo.net\"\n".into(),
        ),
        (
            "base_url without host",
            "[connections.a]\nkind = \"zia\"\nbase_url = \"https://\"\n".into(),
        ),
        (
            "token_url not http",
            "[connections.a]\nkind = \"zia\"\nauth = \"oneapi\"\ntoken_url = \"file:///etc/passwd\"\n".into(),
        ),
        ("empty secret reference", format!("{BASE}password = {{}}\n")),
        (
            "two secret sources",
            format!("{BASE}api_key = {{ env = \"K\", file = \"/k\" }}\n"),
        ),
        ("timeout 0", format!("{BASE}timeout_secs = 0\n")),
        (
            "cache ttl over an hour",
            format!("{BASE}cache_ttl_secs = 7200\n"),
        ),
        (
            "zidentity with ZIA rate figures",
            "[connections.z]\nkind = \"zidentity\"\n[connections.z.rate_limits]\nget_per_second = 5\n"
                .into(),
        ),
        (
            "redis without url",
            format!("{BASE}[state]\nbackend = \"redis\"\n"),
        ),
        (
            "bad replica id",
            format!("{BASE}[state]\nreplica_id = \"../x\"\n"),
        ),
        (
            "confirm a read tool",
            format!("{BASE}[policy]\nconfirm_tools = [\"list_users\"]\n"),
        ),
        (
            "disable an unknown tool",
            format!("{BASE}[policy]\ndisabled_tools = [\"delete_everyone\"]\n"),
        ),
        (
            "connections of an unknown tool",
            format!("{BASE}[policy]\ntool_connections = {{ nuke = [\"a\"] }}\n"),
        ),
        (
            "cap of 0",
            format!("{BASE}[policy]\nmax_targets_per_call = 0\n"),
        ),
        ("plan ttl 0", format!("{BASE}[policy]\nplan_ttl_minutes = 0\n")),
        (
            "restore window 0",
            format!("{BASE}[policy]\nrestore_window_days = 0\n"),
        ),
        (
            "token for a read tool",
            format!("{BASE}[policy.token_mode]\nenabled = true\ntools = [\"list_users\"]\n"),
        ),
        (
            "token ttl 0",
            format!("{BASE}[policy.token_mode]\nenabled = true\nplan_ttl_secs = 0\n"),
        ),
        (
            "four-eyes with one approver",
            format!(
                "{BASE}[policy]\nfour_eyes_all_connections = true\n[approvers.jane]\nsecret_hash = \"{HASH}\"\n"
            ),
        ),
        (
            "four-eyes without approvers",
            format!("{BASE}[policy]\nfour_eyes_over_targets = 3\n"),
        ),
        (
            "approver secret from the environment",
            format!("{BASE}[approvers.jane]\nsecret = {{ env = \"JANE_SECRET\" }}\n"),
        ),
        (
            "approver with hash and file",
            format!(
                "{BASE}[approvers.jane]\nsecret_hash = \"{HASH}\"\nsecret = {{ file = \"/s\" }}\n"
            ),
        ),
        (
            "approver public key too short",
            format!("{BASE}[approvers.jane]\npublic_key = \"ed25519:abcd\"\n"),
        ),
        (
            "approver with a public key and a hash",
            format!(
                "{BASE}[approvers.jane]\nsecret_hash = \"{HASH}\"\npublic_key = \"ed25519:{}\"\n",
                "ab".repeat(32)
            ),
        ),
        (
            "approver without a secret",
            format!("{BASE}[approvers.jane]\n"),
        ),
        (
            "approver hash not argon2id",
            format!("{BASE}[approvers.jane]\nsecret_hash = \"$2b$12$abcdefghijklmnopqrstuv\"\n"),
        ),
        (
            "approver name with a space",
            format!("{BASE}[approvers.\"jane doe\"]\nsecret_hash = \"{HASH}\"\n"),
        ),
        (
            "journal key written in the config",
            format!("{BASE}[server]\njournal_key = {{ value = \"0123456789abcdef0123456789abcdef\" }}\n"),
        ),
        (
            "journal key with two sources",
            format!("{BASE}[server]\njournal_key = {{ env = \"K\", file = \"/k\" }}\n"),
        ),
        (
            "syslog socket without syslog",
            format!("{BASE}[server]\njournal_syslog_socket = \"/dev/log\"\n"),
        ),
        (
            "empty copy command",
            format!("{BASE}[server]\njournal_command = []\n"),
        ),
        (
            "empty copy command argument",
            format!("{BASE}[server]\njournal_command = [\"logger\", \"\"]\n"),
        ),
        (
            "token mode typo",
            format!("{BASE}[policy.token_mode]\nenable = true\n"),
        ),
    ];
    for (name, text) in &bad {
        let parsed = Config::parse(text, Path::new("bad.toml"));
        let msg = match parsed {
            Ok(_) => panic!("parser accepts {name}"),
            Err(e) => e.to_string(),
        };
        if *name != "no connection" {
            assert!(msg.contains("line "), "{name}: no line in {msg}");
        }
        assert!(
            !validator.is_valid(&as_json(text)),
            "schema accepts {name}, which the parser refuses: {msg}"
        );
    }

    // What only the parser can know is still refused, with the line and the key.
    for (text, needle) in [
        (
            format!("{BASE}[policy]\ntool_connections = {{ deactivate = [\"zia-prod\"] }}\n"),
            "line 5, policy.tool_connections.deactivate[0]",
        ),
        (
            format!("{BASE}[policy]\nprotected_groups = [\"Adm[ins\"]\n"),
            "line 5, policy.protected_groups[0]",
        ),
        (
            format!("{BASE}[policy.token_mode]\nenabled = true\nconnections = [\"zia-prod\"]\n"),
            "line 6, policy.token_mode.connections[0]",
        ),
        (
            format!("{BASE}[policy.token_mode]\nenabled = true\ntools = [\"create_user\"]\n"),
            "line 6, policy.token_mode.tools[0]",
        ),
        (
            "[connections.a]\nkind = \"zia\"\n\ncloud = \"zscalerfour\"\n".to_string(),
            "line 4, connections.a.cloud: unknown cloud 'zscalerfour'",
        ),
        (
            "[connections.a]\nkind = \"zia\"\nbase_url = \"ftp://zsapi.zscalertwo.net\"\n"
                .to_string(),
            "line 3, connections.a.base_url: 'ftp://zsapi.zscalertwo.net' must start with https://",
        ),
        (
            "[connections.a]\nkind = \"zia-scim\"\nbase_url = \"https:///scim/1/2/v2\"\n"
                .to_string(),
            "line 3, connections.a.base_url",
        ),
        (
            format!(
                "{BASE}[policy]\nfour_eyes_all_connections = true\n[approvers.jane]\nsecret_hash = \"{HASH}\"\n"
            ),
            "line 5, policy.four_eyes_all_connections",
        ),
        (
            format!("{BASE}[approvers.jane]\nsecret = {{ env = \"JANE_SECRET\" }}\n"),
            "line 5, approvers.jane.secret",
        ),
        (
            format!(
                "{BASE}[approvers.jane]\nsecret_hash = \"$argon2i$v=19$m=19456,t=2,p=1$Gr+JY/Fu1441g8IB/BqrPQ$PAneL9VOtyMYyvj+D9TOpgYivplRIrZ9h8wuMyaEmHY\"\n"
            ),
            "line 5, approvers.jane.secret_hash",
        ),
    ] {
        let msg = Config::parse(&text, Path::new("bad.toml"))
            .expect_err("refused")
            .to_string();
        assert!(msg.contains(needle), "{msg}");
    }
}

#[tokio::test]
async fn check_reports_policy_errors_with_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!("{BASE}\n[policy]\nconfirm_tools = [\"deactivate\"]\n"),
    )
    .expect("write");
    let out = tokio::process::Command::new(common::BIN)
        .arg("--config")
        .arg(&config)
        .arg("check")
        .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", dir.path().join("state"))
        .output()
        .await
        .expect("run check");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 6, policy.confirm_tools[0]") && err.contains("'deactivate'"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unset_environment_variable_names_the_line_of_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[connections.a]\nkind = \"zia\"\ncloud = \"zscalertwo\"\npassword = { env = \"ZLM_TEST_UNSET_PASSWORD\" }\n",
    )
    .expect("write");
    let check = |set_username: bool| {
        let mut cmd = tokio::process::Command::new(common::BIN);
        cmd.arg("--config")
            .arg(&config)
            .arg("check")
            .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", dir.path().join("state"))
            .env_remove("ZLM_TEST_UNSET_PASSWORD")
            .env_remove("ZIA_USERNAME");
        if set_username {
            cmd.env("ZIA_USERNAME", "admin@acme.example");
        }
        cmd.output()
    };
    // A key written in the file: its own line.
    let out = check(true).await.expect("run check");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 4, connections.a.password: environment variable ZLM_TEST_UNSET_PASSWORD is not set"),
        "{err}"
    );
    // A key left to its default (username from ZIA_USERNAME): the line of its connection.
    let out = check(false).await.expect("run check");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "line 1, connections.a.username: environment variable ZIA_USERNAME is not set"
        ),
        "{err}"
    );
}
