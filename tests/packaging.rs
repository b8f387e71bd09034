//! The MCP bundle manifest: the MCPB 0.3 required fields, in step with the crate and the server.

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
    for secret in ["zia_password", "zia_api_key"] {
        assert_eq!(cfg[secret]["sensitive"], true, "{secret} must be sensitive");
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
