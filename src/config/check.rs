//! The config rules serde cannot express, each reported with the line of the key it is about;
//! and the parts of the JSON Schema that say the same thing to editors.
//!
//! serde and the TOML parser already name the line of unknown keys, wrong types and bad syntax.
//! What remains (a connection without its URL, a glob that does not compile, a tool or
//! connection name that does not exist, a cap of 0) is checked here on the parsed config, and
//! the key's line is then looked up in the text through the TOML parser's spans.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::json;

use super::{
    Config, ConnectionConfig, PolicyConfig, SecretRef, StateBackendKind, UrlRef, valid_replica_id,
};
use crate::guard::policy::check_glob;
use crate::ops::catalog;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

/// A rule a config breaks, at a key path (e.g. `policy.confirm_tools[0]`).
#[derive(Debug, Clone)]
pub(super) struct Problem {
    pub path: Vec<Seg>,
    pub message: String,
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

impl Problem {
    fn at(path: Vec<Seg>, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
        }
    }

    /// A problem at a path of table keys.
    pub fn at_keys(path: &[&str], message: impl Into<String>) -> Self {
        Self::at(path.iter().map(|k| key(k)).collect(), message)
    }

    /// `policy.confirm_tools[0]`, as a person finds it in the file.
    pub fn key_name(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    /// The message with the line of the key (or of its nearest written parent, when the key
    /// itself is absent) and the key's name.
    pub fn located(&self, text: &str) -> String {
        let name = self.key_name();
        match (line_of(text, &self.path), name.is_empty()) {
            (Some(line), false) => format!("line {line}, {name}: {}", self.message),
            (Some(line), true) => format!("line {line}: {}", self.message),
            (None, false) => format!("{name}: {}", self.message),
            (None, true) => self.message.clone(),
        }
    }
}

/// The 1-based line of the deepest part of `path` written in `text`.
fn line_of(text: &str, path: &[Seg]) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut table = Some(root.get_ref());
    let mut array: Option<&toml::de::DeArray> = None;
    let mut found: Option<usize> = None;
    for seg in path {
        let next = match (seg, table, array) {
            (Seg::Key(k), Some(t), _) => t
                .iter()
                .find(|(name, _)| name.get_ref().as_ref() == k.as_str())
                .map(|(name, value)| (name.span().start, value)),
            (Seg::Index(i), _, Some(a)) => a.get(*i).map(|v| (v.span().start, v)),
            _ => None,
        };
        let Some((offset, value)) = next else { break };
        found = Some(offset);
        (table, array) = match value.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(a)),
            _ => (None, None),
        };
    }
    found.map(|offset| text[..offset.min(text.len())].matches('\n').count() + 1)
}

/// Every rule the config breaks, in file order of importance (connections, state, policy).
pub(super) fn problems(config: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    if config.connections.is_empty() {
        out.push(Problem::at(
            vec![],
            "no [connections.NAME] table: add at least one connection",
        ));
    }
    for (name, conn) in &config.connections {
        connection(name, conn, &mut out);
    }
    server(config, &mut out);
    state(config, &mut out);
    let names: Vec<&str> = config.connections.keys().map(String::as_str).collect();
    policy(&config.policy, &names, &mut out);
    quarantine_groups(config, &mut out);
    approvers(config, &mut out);
    out
}

/// A quarantine group that the policy protects could never be used (moving someone into it
/// changes its membership): refuse the config rather than fail at the first offboarding.
fn quarantine_groups(config: &Config, out: &mut Vec<Problem>) {
    // Bad globs are reported by `policy`; without a compiled policy there is nothing to match.
    let Ok(policy) = crate::guard::policy::Policy::new(&config.policy) else {
        return;
    };
    for (name, c) in &config.connections {
        if let Some(q) = &c.quarantine_group
            && policy.group_protected(q)
        {
            out.push(Problem::at(
                vec![key("connections"), key(name), key("quarantine_group")],
                format!(
                    "quarantine_group '{q}' is protected by policy.protected_groups, so quarantine could never move anyone into it; name an unprotected group"
                ),
            ));
        }
    }
}

/// `[approvers.NAME]`: a usable name, one checkable secret each; and four-eyes only with two
/// people to be the eyes.
fn approvers(config: &Config, out: &mut Vec<Problem>) {
    for (name, a) in &config.approvers {
        let table = || vec![key("approvers"), key(name)];
        let at = |field: &str| vec![key("approvers"), key(name), key(field)];
        if !crate::guard::approvers::valid_name(name) {
            out.push(Problem::at(
                table(),
                "approver names may hold only letters, digits, '-', '_' and '.' (at most 64, starting with a letter or digit)",
            ));
        }
        match (&a.secret_hash, &a.secret, &a.public_key) {
            (Some(hash), None, None) => {
                if let Err(e) = crate::guard::approvers::check_hash(hash) {
                    out.push(Problem::at(at("secret_hash"), e));
                }
            }
            (None, Some(r), None) => {
                if r.env.is_some() || r.value.is_some() || r.file.is_none() {
                    out.push(Problem::at(
                        at("secret"),
                        "an approver's secret is read from a file only that person can read, secret = { file = \"/home/NAME/...\" }, or given as secret_hash: not env (whoever runs `approve` sets its environment) nor value (the config is readable by the server's account)",
                    ));
                }
            }
            (None, None, Some(key)) => {
                if let Err(e) = crate::guard::approvers::check_public_key(key) {
                    out.push(Problem::at(at("public_key"), e));
                }
            }
            _ => out.push(Problem::at(
                table(),
                "give exactly one of public_key (from `zscaler-lifecycle-mcp approvers hash --as NAME`), secret_hash (from `zscaler-lifecycle-mcp approvers hash`) or secret = { file = \"...\" }",
            )),
        }
    }
    let p = &config.policy;
    let need = "four-eyes needs at least two named approvers to be the two pairs of eyes: add [approvers.NAME] tables (`zscaler-lifecycle-mcp approvers hash` prints a secret_hash)";
    if config.approvers.len() < 2 {
        if p.four_eyes_over_targets.is_some() {
            out.push(Problem::at(
                vec![key("policy"), key("four_eyes_over_targets")],
                need,
            ));
        }
        if p.four_eyes_all_connections {
            out.push(Problem::at(
                vec![key("policy"), key("four_eyes_all_connections")],
                need,
            ));
        }
    }
}

fn connection(name: &str, c: &ConnectionConfig, out: &mut Vec<Problem>) {
    let at = |field: &str| vec![key("connections"), key(name), key(field)];
    let table = || vec![key("connections"), key(name)];
    if name.eq_ignore_ascii_case("all") {
        out.push(Problem::at(
            table(),
            "'all' is reserved for 'every connection'; pick another connection name",
        ));
    }
    for (field, url) in [("base_url", &c.base_url), ("token_url", &c.token_url)] {
        if let Some(url) = url
            && let Err(why) = http_url(url)
        {
            out.push(Problem::at(at(field), why));
        }
    }
    if c.timeout_secs == 0 {
        out.push(Problem::at(at("timeout_secs"), "must be at least 1"));
    }
    // The backend's own rules (which keys its kind needs or refuses), each at its key.
    let mut own = Vec::new();
    (c.kind.backend().check)(c, &mut own);
    out.extend(own.into_iter().map(|p| Problem::at(at(p.key), p.message)));
    if c.cache_ttl_secs > super::MAX_CACHE_TTL_SECS {
        out.push(Problem::at(
            at("cache_ttl_secs"),
            format!(
                "must be at most {} (an hour: a longer cache hides other administrators' changes too long); 0 turns the cache off",
                super::MAX_CACHE_TTL_SECS
            ),
        ));
    }
    if c.requests_per_second == 0 {
        out.push(Problem::at(
            at("requests_per_second"),
            "must be at least 1 (set rate_limits = false to turn pacing off)",
        ));
    }
    let refs = [
        ("username", Some(&c.username)),
        ("password", Some(&c.password)),
        ("api_key", Some(&c.api_key)),
        ("client_id", Some(&c.client_id)),
        ("client_secret", Some(&c.client_secret)),
        ("token", c.token.as_ref()),
    ];
    for (field, r) in refs {
        if let Some(r) = r {
            secret_ref(r, at(field), out);
        }
    }
}

/// An API URL must be `http(s)://host...`: anything else fails at the first call, far from
/// the file.
fn http_url(text: &str) -> Result<(), String> {
    let example = "e.g. https://zsapi.zscalertwo.net";
    let url = url::Url::parse(text.trim())
        .map_err(|e| format!("'{text}' is not a URL ({e}); write it in full, {example}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "'{text}' must start with https:// (or http://), not {}:",
            url.scheme()
        ));
    }
    // The URL parser forgives `https:/host` and `https:///host`; a person meant something else.
    let after_scheme = text.trim().split_once("://").map(|(_, rest)| rest);
    if url.host_str().is_none_or(str::is_empty)
        || after_scheme.is_none_or(|rest| rest.is_empty() || rest.starts_with('/'))
    {
        return Err(format!("'{text}' names no host; {example}"));
    }
    Ok(())
}

fn secret_ref(r: &SecretRef, path: Vec<Seg>, out: &mut Vec<Problem>) {
    let given = [r.env.is_some(), r.file.is_some(), r.value.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given != 1 {
        out.push(Problem::at(
            path,
            "give exactly one of env, file or value, e.g. { env = \"NAME\" }",
        ));
    }
}

fn server(config: &Config, out: &mut Vec<Problem>) {
    let s = &config.server;
    let at = |field: &str| vec![key("server"), key(field)];
    if let Some(r) = &s.journal_key {
        if r.value.is_some() {
            out.push(Problem::at(
                at("journal_key"),
                "the journal key must not be written in the config: give { file = \"/path\" } or { env = \"NAME\" }",
            ));
        } else {
            secret_ref(r, at("journal_key"), out);
        }
    }
    if s.journal_syslog_socket.is_some() && !s.journal_syslog {
        out.push(Problem::at(
            at("journal_syslog_socket"),
            "journal_syslog_socket is set but journal_syslog is not: add journal_syslog = true, or remove the socket",
        ));
    }
    if let Some(argv) = &s.journal_command {
        if argv.is_empty() {
            out.push(Problem::at(
                at("journal_command"),
                "give the command and its arguments, e.g. [\"logger\", \"-t\", \"zlm-journal\"], or remove journal_command",
            ));
        }
        for (i, a) in argv.iter().enumerate() {
            if a.is_empty() {
                let mut path = at("journal_command");
                path.push(Seg::Index(i));
                out.push(Problem::at(path, "an empty argument"));
            }
        }
    }
}

fn state(config: &Config, out: &mut Vec<Problem>) {
    let s = &config.state;
    let at = |field: &str| vec![key("state"), key(field)];
    if s.backend == StateBackendKind::Redis && s.url.is_none() {
        out.push(Problem::at(
            at("backend"),
            "backend = \"redis\" needs url (e.g. url = { env = \"ZSCALER_LIFECYCLE_MCP_REDIS_URL\" })",
        ));
    }
    if let Some(UrlRef::Ref(r)) = &s.url {
        secret_ref(r, at("url"), out);
    }
    if let Some(id) = &s.replica_id
        && !valid_replica_id(id)
    {
        out.push(Problem::at(
            at("replica_id"),
            "replica_id may hold only letters, digits, '-', '_' and '.' (at most 64, not starting with '.')",
        ));
    }
    if s.timeout_ms == 0 {
        out.push(Problem::at(at("timeout_ms"), "must be at least 1"));
    }
    if s.replicas == 0 {
        out.push(Problem::at(
            at("replicas"),
            "must be at least 1 (the number of replicas serving the same tenants)",
        ));
    }
}

fn policy(p: &PolicyConfig, connections: &[&str], out: &mut Vec<Problem>) {
    let at = |field: &str| vec![key("policy"), key(field)];
    let item = |field: &str, i: usize| vec![key("policy"), key(field), Seg::Index(i)];
    for (field, globs) in [
        ("protected_accounts", &p.protected_accounts),
        ("protected_groups", &p.protected_groups),
    ] {
        for (i, g) in globs.iter().enumerate() {
            if let Err(e) = check_glob(g) {
                out.push(Problem::at(
                    item(field, i),
                    format!("pattern '{g}' is not a valid glob: {e}"),
                ));
            }
        }
    }
    for (i, t) in p.disabled_tools.iter().enumerate() {
        if catalog::get(t).is_none() {
            out.push(Problem::at(
                item("disabled_tools", i),
                format!(
                    "disabled_tools names an unknown tool '{t}'; tools are: {}",
                    catalog::names().join(", ")
                ),
            ));
        }
    }
    for (i, t) in p.confirm_tools.iter().enumerate() {
        if !catalog::confirmable().contains(&t.as_str()) {
            out.push(Problem::at(
                item("confirm_tools", i),
                format!(
                    "confirm_tools names '{t}'; only {} can be put behind confirmation (destructive tools always are)",
                    catalog::confirmable().join(", ")
                ),
            ));
        }
    }
    for (tool, conns) in &p.tool_connections {
        let path = vec![key("policy"), key("tool_connections"), key(tool)];
        if catalog::get(tool).is_none() {
            out.push(Problem::at(
                path.clone(),
                format!(
                    "tool_connections names an unknown tool '{tool}'; tools are: {}",
                    catalog::names().join(", ")
                ),
            ));
        }
        for (i, c) in conns.iter().enumerate() {
            if !connections.contains(&c.as_str()) {
                let mut path = path.clone();
                path.push(Seg::Index(i));
                out.push(Problem::at(
                    path,
                    format!(
                        "tool_connections.{tool} names connection '{c}', which is not configured; connections: {}",
                        connections.join(", ")
                    ),
                ));
            }
        }
    }
    if p.max_targets_per_call == 0 {
        out.push(Problem::at(
            at("max_targets_per_call"),
            "must be at least 1 (to refuse every write use read_only = true; to remove a tool use disabled_tools)",
        ));
    }
    if p.plan_ttl_minutes == 0 {
        out.push(Problem::at(at("plan_ttl_minutes"), "must be at least 1"));
    }
    if !(1..=3650).contains(&p.restore_window_days) {
        out.push(Problem::at(
            at("restore_window_days"),
            "must be 1 to 3650 days (to turn restore_user off, list it in disabled_tools)",
        ));
    }
    let token = &p.token_mode;
    let tm = |field: &str| vec![key("policy"), key("token_mode"), key(field)];
    for (i, t) in token.tools.iter().enumerate() {
        let mut path = tm("tools");
        path.push(Seg::Index(i));
        if !catalog::guarded().contains(&t.as_str()) {
            out.push(Problem::at(
                path,
                format!(
                    "token_mode.tools names '{t}'; only tools that need confirmation take a token: {}",
                    catalog::guarded().join(", ")
                ),
            ));
        } else if catalog::confirmed_only_on_request(t) && !p.confirm_tools.contains(t) {
            out.push(Problem::at(
                path,
                format!(
                    "token_mode.tools names '{t}', which needs no confirmation here; add it to confirm_tools or remove it"
                ),
            ));
        }
    }
    for (i, c) in token.connections.iter().enumerate() {
        if *c != "all" && !connections.contains(&c.as_str()) {
            let mut path = tm("connections");
            path.push(Seg::Index(i));
            out.push(Problem::at(
                path,
                format!(
                    "token_mode.connections names connection '{c}', which is not configured; connections: {}, or \"all\"",
                    connections.join(", ")
                ),
            ));
        }
    }
    if token.plan_ttl_secs == 0 {
        out.push(Problem::at(tm("plan_ttl_secs"), "must be at least 1"));
    }
}

/// Schema of a list of tool names.
pub(super) fn tool_list_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "array", "items": {"enum": catalog::names()}})
}

/// Schema of `confirm_tools`.
pub(super) fn confirmable_list_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "array", "items": {"enum": catalog::confirmable()}})
}

/// Schema of `token_mode.tools`.
pub(super) fn token_tool_list_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "array", "items": {"enum": catalog::guarded()}})
}

/// Schema of `tool_connections`: tool names to lists of connection names.
pub(super) fn tool_connections_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "propertyNames": {"enum": catalog::names()},
        "additionalProperties": {"type": "array", "items": {"type": "string"}}
    })
}

/// `connections`: at least one, and none called `all`.
pub(super) fn connection_names(schema: &mut Schema) {
    schema.insert("minProperties".into(), json!(1));
    schema.insert(
        "propertyNames".into(),
        json!({"not": {"pattern": "^[Aa][Ll][Ll]$"}}),
    );
}

/// `[approvers]`: names keep to a safe alphabet (they are typed after `--as` and journaled).
pub(super) fn approver_names(schema: &mut Schema) {
    schema.insert(
        "propertyNames".into(),
        json!({"pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}),
    );
}

/// One approver: exactly one of an argon2id hash or a file holding the secret.
pub(super) fn approver_rules(schema: &mut Schema) {
    schema.insert(
        "oneOf".into(),
        json!([{"required": ["secret_hash"]}, {"required": ["secret"]}, {"required": ["public_key"]}]),
    );
    if let Some(props) = schema.get_mut("properties").and_then(|v| v.as_object_mut()) {
        props.insert(
            "secret_hash".into(),
            json!({
                "description": "Argon2id hash of the approver's secret (PHC string from `zscaler-lifecycle-mcp approvers hash`).",
                "type": "string",
                "pattern": "^\\$argon2id\\$"
            }),
        );
        props.insert(
            "public_key".into(),
            json!({
                "description": "Ed25519 public key derived from the approver's secret (from `zscaler-lifecycle-mcp approvers hash --as NAME`); approvals are then signed by the approver.",
                "type": "string",
                "pattern": "^ed25519:[0-9a-fA-F]{64}$"
            }),
        );
        props.insert(
            "secret".into(),
            json!({
                "description": "A file holding the secret, readable only by that person.",
                "type": "object",
                "properties": {"file": {"type": "string"}},
                "required": ["file"],
                "additionalProperties": false
            }),
        );
    }
}

/// Four-eyes needs two named approvers.
pub(super) fn four_eyes_rules(schema: &mut Schema) {
    schema.insert(
        "if".into(),
        json!({
            "required": ["policy"],
            "properties": {"policy": {"anyOf": [
                {"required": ["four_eyes_over_targets"]},
                {"required": ["four_eyes_all_connections"], "properties": {"four_eyes_all_connections": {"const": true}}}
            ]}}
        }),
    );
    schema.insert(
        "then".into(),
        json!({"required": ["approvers"], "properties": {"approvers": {"minProperties": 2}}}),
    );
}

/// `[state]`: Redis needs its URL; replica ids keep to a safe alphabet.
pub(super) fn state_rules(schema: &mut Schema) {
    schema.insert(
        "if".into(),
        json!({"properties": {"backend": {"const": "redis"}}, "required": ["backend"]}),
    );
    schema.insert("then".into(), json!({"required": ["url"]}));
    if let Some(id) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("replica_id"))
        .and_then(|v| v.as_object_mut())
    {
        id.insert(
            "pattern".into(),
            json!("^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$"),
        );
    }
}

/// `[server]`: a syslog socket only with `journal_syslog = true`.
pub(super) fn server_rules(schema: &mut Schema) {
    schema.insert(
        "dependentSchemas".into(),
        json!({"journal_syslog_socket": {
            "properties": {"journal_syslog": {"const": true}},
            "required": ["journal_syslog"]
        }}),
    );
}

/// `journal_key`: a file or an environment variable, never the key itself in the config.
pub(super) fn journal_key_rules(schema: &mut Schema) {
    schema.insert("not".into(), json!({"required": ["value"]}));
}

/// A connection's requirements per kind, as the parser applies them.
pub(super) fn connection_rules(schema: &mut Schema) {
    // http(s), then a host: what `http_url` accepts.
    let url_pattern = "^\\s*[Hh][Tt][Tt][Pp][Ss]?://[^/\\s?#:@]\\S*\\s*$";
    for field in ["base_url", "token_url"] {
        if let Some(p) = schema
            .get_mut("properties")
            .and_then(|p| p.get_mut(field))
            .and_then(|v| v.as_object_mut())
        {
            p.insert("pattern".into(), json!(url_pattern));
        }
    }
    let per_kind: Vec<serde_json::Value> = crate::provider::registry::BACKENDS
        .iter()
        .flat_map(|b| (b.schema)())
        .collect();
    schema.insert("allOf".into(), json!(per_kind));
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn err(text: &str) -> String {
        Config::parse(text, Path::new("t.toml"))
            .expect_err("must be refused")
            .to_string()
    }

    const BASE: &str = "[connections.a]\nkind = \"zia\"\ncloud = \"zscalertwo\"\n";

    #[test]
    fn semantic_errors_name_the_line_and_the_key() {
        let msg = err(&format!(
            "{BASE}\n[policy]\nread_only = false\nconfirm_tools = [\"add_to_group\", \"list_users\"]\n"
        ));
        assert!(
            msg.contains("line 7, policy.confirm_tools[1]") && msg.contains("list_users"),
            "{msg}"
        );
        let msg = err(&format!(
            "{BASE}[policy]\nprotected_accounts = [\n  \"ok@*\",\n  \"bad[\",\n]\n"
        ));
        assert!(
            msg.contains("line 7, policy.protected_accounts[1]") && msg.contains("bad["),
            "{msg}"
        );
        let msg = err(&format!(
            "{BASE}[policy]\ntool_connections = {{ deactivate = [\"a\", \"zia-prod\"] }}\n"
        ));
        assert!(
            msg.contains("line 5, policy.tool_connections.deactivate[1]")
                && msg.contains("zia-prod"),
            "{msg}"
        );
        let msg = err(&format!("{BASE}[policy]\nmax_targets_per_call = 0\n"));
        assert!(msg.contains("line 5, policy.max_targets_per_call"), "{msg}");
        let msg = err(&format!("{BASE}[policy]\nrestore_window_days = 0\n"));
        assert!(
            msg.contains("line 5, policy.restore_window_days") && msg.contains("1 to 3650"),
            "{msg}"
        );
        let msg = err(&format!("{BASE}timeout_secs = 5\ncache_ttl_secs = 86400\n"));
        assert!(
            msg.contains("line 5, connections.a.cache_ttl_secs") && msg.contains("at most 3600"),
            "{msg}"
        );
        let msg = err("[connections.b]\nkind = \"zpa-scim\"\nbase_url = \"scim.example\"\n");
        assert!(msg.contains("line 3, connections.b.base_url"), "{msg}");
        let msg = err("[connections.b]\nkind = \"zia\"\n");
        assert!(msg.contains("line 2, connections.b.kind"), "{msg}");
        let msg = err(&format!("{BASE}password = {{}}\n"));
        assert!(msg.contains("line 4, connections.a.password"), "{msg}");
        let msg = err(&format!(
            "{BASE}[policy.token_mode]\nenabled = true\ntools = [\"create_user\"]\nconnections = [\"nowhere\"]\n"
        ));
        assert!(
            msg.contains("line 6, policy.token_mode.tools[0]") && msg.contains("confirm_tools"),
            "{msg}"
        );
        let msg = err(&format!("{BASE}[state]\nbackend = \"redis\"\n"));
        assert!(msg.contains("line 5, state.backend"), "{msg}");
        let msg = err(&format!(
            "{BASE}[server]\njournal_max_mb = 8\njournal_key = {{ value = \"k\" }}\n"
        ));
        assert!(
            msg.contains("line 6, server.journal_key") && msg.contains("must not be written"),
            "{msg}"
        );
        let msg = err(&format!("{BASE}[server]\njournal_syslog_socket = \"/s\"\n"));
        assert!(
            msg.contains("line 5, server.journal_syslog_socket")
                && msg.contains("journal_syslog = true"),
            "{msg}"
        );
        let msg = err(&format!(
            "{BASE}[server]\njournal_command = [\n  \"logger\",\n  \"\",\n]\n"
        ));
        assert!(msg.contains("line 7, server.journal_command[1]"), "{msg}");
    }

    #[test]
    fn type_errors_keep_the_toml_parsers_line() {
        let msg = err(&format!("{BASE}[policy]\nmax_targets_per_call = \"ten\"\n"));
        assert!(msg.contains("line 5"), "{msg}");
        let msg = err(&format!("{BASE}[policy.token_mode]\nenable = true\n"));
        assert!(msg.contains("line 5") && msg.contains("enable"), "{msg}");
    }
}
