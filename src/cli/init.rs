//! `init`: a commented starting config. Secrets appear only as env references, never values.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

/// The template; `zscaler_lifecycle_mcp::config::Config::parse` accepts it as written.
pub const TEMPLATE: &str = r#"# zscaler-lifecycle-mcp configuration. Check it with: zscaler-lifecycle-mcp check --config THIS_FILE
# Secrets are never written here: each is an environment variable ({ env = "NAME" }) or a file
# ({ file = "/run/secrets/name" }) that the server reads at start-up.

[connections.zia-prod]
kind = "zia"                                   # native ZIA API, legacy API-key session login
cloud = "zscalertwo"                           # zscaler, zscalerone, zscalertwo, zscalerthree, zscloud, zscalerbeta, zscalergov, zscalerten, zspreview
# base_url = "https://zsapi.zscalertwo.net"    # instead of cloud, for a non-standard tenant
username = { env = "ZIA_USERNAME" }
password = { env = "ZIA_PASSWORD" }
api_key = { env = "ZIA_API_KEY" }              # Administration > API Key Management
registered_domains = ["example.com"]           # the tenant's domains; lets the audit flag external accounts
rate_limits = true                             # pace to ZIA's published limits

# A tenant migrated to ZIdentity takes OneAPI instead of the legacy login above:
# [connections.zia-prod]
# kind = "zia"
# auth = "oneapi"
# vanity_domain = "acme"                       # acme.zslogin.net
# cloud = "production"                         # OneAPI cloud: production, beta, gov, govus
# client_id = { env = "ZSCALER_CLIENT_ID" }
# client_secret = { env = "ZSCALER_CLIENT_SECRET" }

# ZIA SCIM (Enterprise tier) and ZPA SCIM: uncomment the ones you provision through.
# The base URL is the SCIM endpoint exactly as the admin portal shows it.
# [connections.zia-scim]
# kind = "zia-scim"
# base_url = "https://scim.zscalertwo.net/<orgId>/<idpId>/scim"
# token = { env = "ZIA_SCIM_API_TOKEN" }
# requests_per_second = 5                      # Zscaler's SCIM limit
# patch = "auto"                               # auto | patch | put
#
# [connections.zpa]
# kind = "zpa-scim"
# base_url = "https://scim1.private.zscaler.com/scim/1/<idpId>/v2"
# token = { env = "ZPA_SCIM_TOKEN" }

[policy]
read_only = false
protected_accounts = ["breakglass@*", "svc-*"] # globs on email or name: never changed by any tool
protected_groups = ["Admins"]                  # memberships never changed
protect_admins = true                          # tenant administrators are protected
plan_ttl_minutes = 5                           # how long a plan waits for a human
max_deletions_per_hour = 20                    # blast-radius cap per connection
max_targets_per_call = 10                      # groups per call, accounts per connection="all" plan
allowed_create_domains = []                    # e.g. ["example.com"]; empty = any registered domain
confirm_tools = []                             # also ask a human for "create_user" / "add_to_group"
# tool_connections = { deactivate = ["zia-prod"] }  # the only connections a tool may act on
disabled_tools = []                            # e.g. ["deactivate"] to not offer it at all

# A source of record for audit_orphans (CSV or JSON export); uncomment to use.
# [sources.hr]
# path = "/srv/exports/hr.csv"
# email = "work_email"
# status = "status"
# termination_date = "end_date"

[server]
# state_dir = "/var/lib/zscaler-lifecycle-mcp" # plans, approvals, audit journal
journal_max_mb = 64                            # rotate the journal at this size; verify spans segments
"#;

pub fn run(output: Option<&Path>, force: bool) -> anyhow::Result<ExitCode> {
    match output {
        None => print!("{TEMPLATE}"),
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
            f.write_all(TEMPLATE.as_bytes())?;
            eprintln!(
                "Wrote {}. Set ZIA_USERNAME, ZIA_PASSWORD and ZIA_API_KEY, then run: zscaler-lifecycle-mcp check --config {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn template_is_a_valid_config_without_secret_values() {
        let cfg = zscaler_lifecycle_mcp::config::Config::parse(
            super::TEMPLATE,
            std::path::Path::new("init.toml"),
        )
        .expect("template parses");
        let conn = &cfg.connections["zia-prod"];
        assert!(conn.password.env.is_some() && conn.password.value.is_none());
        assert!(conn.api_key.env.is_some() && conn.api_key.value.is_none());
        zscaler_lifecycle_mcp::guard::policy::Policy::new(&cfg.policy).expect("policy compiles");
    }
}
