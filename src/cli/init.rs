//! `init`: a commented starting config. Secrets appear only as env references, never values.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

/// Which connection blocks `init` writes (`--kind`, repeatable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitKind {
    /// Native ZIA with the legacy API-key login.
    Zia,
    /// Native ZIA through OneAPI (tenants migrated to ZIdentity).
    Oneapi,
    /// ZIA SCIM 2.0.
    ZiaScim,
    /// ZPA SCIM 2.0.
    ZpaScim,
    /// ZIdentity (users and groups of tenants migrated to ZIdentity), OneAPI.
    Zidentity,
}

const HEADER: &str = r#"# zscaler-lifecycle-mcp configuration. Check it with: zscaler-lifecycle-mcp check --config THIS_FILE
# Secrets are never written here: each is an environment variable ({ env = "NAME" }) or a file
# ({ file = "/run/secrets/name" }) that the server reads at start-up.

"#;

const ZIA: &str = r#"[connections.zia-prod]
kind = "zia"                                   # native ZIA API, legacy API-key session login
cloud = "zscalertwo"                           # zscaler, zscalerone, zscalertwo, zscalerthree, zscloud, zscalerbeta, zscalergov, zscalerten, zspreview
# base_url = "https://zsapi.zscalertwo.net"    # instead of cloud, for a non-standard tenant
username = { env = "ZIA_USERNAME" }
password = { env = "ZIA_PASSWORD" }
api_key = { env = "ZIA_API_KEY" }              # Administration > API Key Management
registered_domains = ["example.com"]           # the tenant's domains; lets the audit flag external accounts
rate_limits = true                             # pace to ZIA's published limits

"#;

const ONEAPI: &str = r#"[connections.zia-oneapi]
kind = "zia"
auth = "oneapi"                                # ZIdentity OAuth2 client credentials (migrated tenants)
vanity_domain = "acme"                         # acme.zslogin.net
cloud = "production"                           # OneAPI cloud: production, beta, gov, govus
client_id = { env = "ZSCALER_CLIENT_ID" }
client_secret = { env = "ZSCALER_CLIENT_SECRET" }
registered_domains = ["example.com"]
rate_limits = true

"#;

const ZIA_SCIM: &str = r#"[connections.zia-scim]
kind = "zia-scim"                              # the SCIM endpoint exactly as the admin portal shows it
base_url = "https://scim.zscalertwo.net/00000000/00000/scim"
token = { env = "ZIA_SCIM_API_TOKEN" }
requests_per_second = 5                        # Zscaler's SCIM limit
patch = "auto"                                 # auto | patch | put

"#;

const ZPA_SCIM: &str = r#"[connections.zpa]
kind = "zpa-scim"                              # IdP Configuration > SCIM Service Provider Endpoint
base_url = "https://scim1.private.zscaler.com/scim/1/000000000000000000/v2"
token = { env = "ZPA_SCIM_TOKEN" }

"#;

const ZIDENTITY: &str = r#"[connections.zidentity]
kind = "zidentity"                             # ZIdentity admin API: users and groups (OneAPI)
vanity_domain = "acme"                         # acme.zslogin.net; default ZSCALER_VANITY_DOMAIN
cloud = "production"                           # production, beta, gov, govus; default ZSCALER_CLOUD
client_id = { env = "ZSCALER_CLIENT_ID" }
client_secret = { env = "ZSCALER_CLIENT_SECRET" }
# private_key = { file = "/run/secrets/oneapi_key.pem" }  # RSA key instead of the secret
registered_domains = ["example.com"]
rate_limits = true                             # pace to the announced 150 requests/s and 10,000/min

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

/// The config text for these kinds (none = native ZIA); `Config::parse` accepts it as written.
pub fn template(kinds: &[InitKind]) -> String {
    let mut text = String::from(HEADER);
    let kinds = if kinds.is_empty() {
        &[InitKind::Zia][..]
    } else {
        kinds
    };
    for kind in [
        InitKind::Zia,
        InitKind::Oneapi,
        InitKind::ZiaScim,
        InitKind::ZpaScim,
        InitKind::Zidentity,
    ] {
        if kinds.contains(&kind) {
            text.push_str(match kind {
                InitKind::Zia => ZIA,
                InitKind::Oneapi => ONEAPI,
                InitKind::ZiaScim => ZIA_SCIM,
                InitKind::ZpaScim => ZPA_SCIM,
                InitKind::Zidentity => ZIDENTITY,
            });
        }
    }
    text.push_str(REST);
    text
}

/// The environment variables the chosen kinds read their secrets from.
fn needed_env(kinds: &[InitKind]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in kinds {
        let vars: &[&'static str] = match k {
            InitKind::Zia => &["ZIA_USERNAME", "ZIA_PASSWORD", "ZIA_API_KEY"][..],
            InitKind::Oneapi => &["ZSCALER_CLIENT_ID", "ZSCALER_CLIENT_SECRET"][..],
            InitKind::ZiaScim => &["ZIA_SCIM_API_TOKEN"][..],
            InitKind::ZpaScim => &["ZPA_SCIM_TOKEN"][..],
            InitKind::Zidentity => &["ZSCALER_CLIENT_ID", "ZSCALER_CLIENT_SECRET"][..],
        };
        for v in vars {
            if !out.contains(v) {
                out.push(v);
            }
        }
    }
    out
}

pub fn run(output: Option<&Path>, force: bool, kinds: &[InitKind]) -> anyhow::Result<ExitCode> {
    let kinds = if kinds.is_empty() {
        vec![InitKind::Zia]
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
        let all = [
            InitKind::Zia,
            InitKind::Oneapi,
            InitKind::ZiaScim,
            InitKind::ZpaScim,
            InitKind::Zidentity,
        ];
        for mask in 0u8..32 {
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
