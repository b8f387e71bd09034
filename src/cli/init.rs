//! `init`: a commented starting config. Secrets appear only as env references, never values.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use std::sync::LazyLock;

use anyhow::Context;
use zscaler_lifecycle_mcp::provider::registry::{self, Template};

/// Which connection block `init` writes (`--kind`, repeatable): one of the backends' templates
/// in [`registry::BACKENDS`], by name.
#[derive(Clone, Copy)]
pub struct InitKind(&'static Template);

impl std::fmt::Debug for InitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl PartialEq for InitKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl clap::ValueEnum for InitKind {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: LazyLock<Vec<InitKind>> =
            LazyLock::new(|| registry::templates().map(InitKind).collect());
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.name).help(self.0.help))
    }
}

/// The block written when no `--kind` is given: the first backend's first (native ZIA).
fn default_kind() -> InitKind {
    <InitKind as clap::ValueEnum>::value_variants()[0]
}

const HEADER: &str = r#"# zscaler-lifecycle-mcp configuration. Check it with: zscaler-lifecycle-mcp check --config THIS_FILE
# Secrets are never written here: each is an environment variable ({ env = "NAME" }) or a file
# ({ file = "/run/secrets/name" }) that the server reads at start-up.

"#;

const REST: &str = r#"[policy]
read_only = false
protected_accounts = ["breakglass@*", "svc-*"] # globs on email or name: never changed by any tool
protected_groups = ["Admins"]                  # memberships never changed
protect_admins = true                          # tenant administrators are protected
plan_ttl_minutes = 5                           # how long a plan waits for a human
max_deletions_per_hour = 20                    # blast-radius cap per connection
max_targets_per_call = 10                      # groups per call, accounts per connection="all" plan
allowed_create_domains = []                    # e.g. ["example.com"]; empty = any registered domain
confirm_tools = []                             # also ask a human for "create_user" / "add_to_group" / "update_user"
# tool_connections = { deactivate = ["zia-prod"] }  # the only connections a tool may act on
disabled_tools = []                            # e.g. ["deactivate"] to not offer it at all

# A source of record for audit_orphans (CSV or JSON export); uncomment to use.
# [sources.hr]
# path = "/srv/exports/hr.csv"
# email = "work_email"
# status = "status"
# termination_date = "end_date"
# aliases = "aliases"            # other emails of the person, ";" or "," separated
# external_id = "external_id"    # matched against the account's SCIM externalId

[server]
# state_dir = "/var/lib/zscaler-lifecycle-mcp" # plans, approvals, audit journal
journal_max_mb = 64                            # rotate the journal at this size; verify spans segments
# journal_key = { file = "/etc/zscaler-lifecycle-mcp/journal.key" }  # MAC key kept apart (default: journal.key in state_dir)
# journal_syslog = true                        # copy every record to /dev/log (append-only, outside state_dir)
# journal_command = ["logger", "-t", "zlm-journal"]   # or pipe every record to a command
"#;

/// The config text for these kinds (none = native ZIA), blocks in the registry's order;
/// `Config::parse` accepts it as written.
pub fn template(kinds: &[InitKind]) -> String {
    let mut text = String::from(HEADER);
    let kinds = if kinds.is_empty() {
        vec![default_kind()]
    } else {
        kinds.to_vec()
    };
    for t in registry::templates() {
        if kinds.iter().any(|k| k.0.name == t.name) {
            text.push_str(t.text);
        }
    }
    text.push_str(REST);
    text
}

/// The environment variables the chosen kinds read their secrets from.
fn needed_env(kinds: &[InitKind]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in kinds {
        for v in k.0.env {
            if !out.contains(v) {
                out.push(v);
            }
        }
    }
    out
}

pub fn run(output: Option<&Path>, force: bool, kinds: &[InitKind]) -> anyhow::Result<ExitCode> {
    let kinds = if kinds.is_empty() {
        vec![default_kind()]
    } else {
        kinds.to_vec()
    };
    let text = template(&kinds);
    match output {
        None => print!("{text}"),
        Some(path) => {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true);
            if force {
                opts.create(true).truncate(true);
            } else {
                opts.create_new(true);
            }
            let mut f = opts.open(path).with_context(|| {
                format!("cannot write {} (use --force to overwrite)", path.display())
            })?;
            f.write_all(text.as_bytes())?;
            eprintln!(
                "Wrote {}. Edit the placeholders, set {}, then run: zscaler-lifecycle-mcp check --config {}",
                path.display(),
                needed_env(&kinds).join(", "),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_combination_is_a_valid_config_without_secret_values() {
        let all = <InitKind as clap::ValueEnum>::value_variants();
        assert_eq!(all.len(), 5, "zia, oneapi, zia-scim, zpa-scim, zidentity");
        for mask in 0u32..(1 << all.len()) {
            let kinds: Vec<InitKind> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, k)| *k)
                .collect();
            let text = template(&kinds);
            let cfg = zscaler_lifecycle_mcp::config::Config::parse(
                &text,
                std::path::Path::new("init.toml"),
            )
            .unwrap_or_else(|e| panic!("{kinds:?}: {e}"));
            let expected = kinds.len().max(1);
            assert_eq!(cfg.connections.len(), expected, "{kinds:?}");
            for conn in cfg.connections.values() {
                for r in [&conn.password, &conn.api_key, &conn.client_secret] {
                    assert!(r.value.is_none(), "no secret values in {kinds:?}");
                }
                assert!(conn.token.as_ref().is_none_or(|t| t.value.is_none()));
            }
            zscaler_lifecycle_mcp::guard::policy::Policy::new(&cfg.policy)
                .expect("policy compiles");
        }
    }
}
