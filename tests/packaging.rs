//! The MCP bundle manifest: the MCPB 0.3 required fields, in step with the crate and the server,
//! asking for every way of connecting the README supports, and the environment it builds
//! starting the server it describes.

mod common;

use serde_json::Value;

fn manifest() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/mcpb/manifest.json"
    ))
    .expect("manifest");
    serde_json::from_str(&text).expect("manifest is JSON")
}

#[test]
fn manifest_has_the_required_fields_and_matches_the_crate() {
    let m = manifest();
    for field in ["manifest_version", "name", "version", "description"] {
        assert!(
            m[field].as_str().is_some_and(|v| !v.is_empty()),
            "missing {field}"
        );
    }
    assert_eq!(m["manifest_version"], "0.3");
    assert!(m["author"]["name"].is_string());
    assert_eq!(
        m["version"],
        env!("CARGO_PKG_VERSION"),
        "bump packaging/mcpb/manifest.json with Cargo.toml"
    );
    let server = &m["server"];
    assert_eq!(server["type"], "binary");
    assert_eq!(server["entry_point"], "server/zscaler-lifecycle-mcp");
    assert!(
        server["mcp_config"]["command"]
            .as_str()
            .expect("command")
            .ends_with(server["entry_point"].as_str().expect("entry"))
    );
    assert_eq!(server["mcp_config"]["args"][0], "serve");
}

#[test]
fn manifest_lists_exactly_the_servers_tools_and_marks_secrets_sensitive() {
    let m = manifest();
    let mut listed: Vec<&str> = m["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    listed.sort_unstable();
    let mut served: Vec<&str> = zscaler_lifecycle_mcp::ops::catalog::names();
    served.sort_unstable();
    assert_eq!(listed, served);
    let cfg = m["user_config"].as_object().expect("user_config");
    for (key, opt) in cfg {
        for field in ["type", "title", "description"] {
            assert!(opt[field].is_string(), "user_config.{key}.{field}");
        }
    }
    for secret in [
        "zia_password",
        "zia_api_key",
        "zscaler_client_secret",
        "zpa_scim_token",
    ] {
        assert_eq!(cfg[secret]["sensitive"], true, "{secret} must be sensitive");
    }
    for (key, opt) in cfg {
        assert_eq!(opt["required"], false, "{key}: every setting is optional");
    }
    // Every user_config entry is wired into the server's environment, and nothing else is.
    let env = m["server"]["mcp_config"]["env"].as_object().expect("env");
    for key in cfg.keys() {
        assert!(
            env.values()
                .any(|v| v.as_str() == Some(&format!("${{user_config.{key}}}"))),
            "{key} not passed"
        );
    }
}

/// The variables the server reads without a config file, and the setting that fills each.
const WIRING: [(&str, &str); 12] = [
    ("ZSCALER_CLIENT_ID", "zscaler_client_id"),
    ("ZSCALER_CLIENT_SECRET", "zscaler_client_secret"),
    ("ZSCALER_PRIVATE_KEY", "zscaler_private_key"),
    ("ZSCALER_VANITY_DOMAIN", "zscaler_vanity_domain"),
    ("ZSCALER_CLOUD", "zscaler_cloud"),
    ("ZIA_CLOUD", "zia_cloud"),
    ("ZIA_USERNAME", "zia_username"),
    ("ZIA_PASSWORD", "zia_password"),
    ("ZIA_API_KEY", "zia_api_key"),
    ("ZIA_REGISTERED_DOMAINS", "zia_registered_domains"),
    ("ZPA_SCIM_URL", "zpa_scim_url"),
    ("ZPA_SCIM_TOKEN", "zpa_scim_token"),
];

#[test]
fn manifest_asks_for_oneapi_legacy_zia_and_zpa_scim() {
    let m = manifest();
    let env = m["server"]["mcp_config"]["env"].as_object().expect("env");
    assert_eq!(env.len(), WIRING.len(), "{env:?}");
    for (var, key) in WIRING {
        assert_eq!(
            env[var],
            format!("${{user_config.{key}}}"),
            "{var} is filled from {key}"
        );
    }
}

/// The environment the bundle gives the server, with these settings filled and every other
/// one empty (as a desktop client passes optional settings left blank).
fn bundle_env(filled: &[(&str, &str)]) -> Vec<(String, String)> {
    WIRING
        .iter()
        .map(|(var, key)| {
            let value = filled
                .iter()
                .find(|(k, _)| k == key)
                .map_or("", |(_, v)| *v);
            (var.to_string(), value.to_string())
        })
        .collect()
}

async fn check_with(env: &[(String, String)]) -> String {
    let state = tempfile::tempdir().expect("state dir");
    let out = tokio::process::Command::new(common::BIN)
        .arg("check")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ZSCALER_LIFECYCLE_MCP_STATE_DIR", state.path())
        .env("RUST_LOG", "error")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .expect("check runs");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test]
async fn the_bundle_environment_starts_what_it_asks_for() {
    // Nothing filled in: the embedded demo tenant.
    let out = check_with(&bundle_env(&[])).await;
    assert!(out.contains("ok    demo"), "{out}");
    // Only ZPA SCIM filled in: one connection, zpa, that logs in (against a simulator).
    let sim = common::SimProc::start().await;
    let env = bundle_env(&[
        ("zpa_scim_url", &sim.zpa_scim_url),
        ("zpa_scim_token", &sim.zpa_scim_token),
    ]);
    let out = check_with(&env).await;
    assert!(out.contains("ok    zpa"), "{out}");
    assert!(!out.contains("demo") && !out.contains(" zia"), "{out}");
}
