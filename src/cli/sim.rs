//! `sim`: the tenant simulator on its own, for trying the product or pointing a config at it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use zscaler_lifecycle_mcp::sim::{RetryStyle, Scenario, Sim, SimOptions, ZiaLimits};

/// The `sim` subcommand's arguments.
pub struct SimArgs {
    pub bind: SocketAddr,
    pub idle_secs: u64,
    pub scenario: Scenario,
    pub seed: u64,
    /// Enforce the documented native ZIA rate limits.
    pub limits: bool,
    /// Enforce them multiplied by this factor (implies `limits`).
    pub limits_scale: Option<u32>,
    /// Send the remaining budget in `x-ratelimit-*` headers (implies `limits`).
    pub rate_headers: bool,
    /// Where to write the scenario's HR export.
    pub hr_export: Option<PathBuf>,
    /// Where to keep the tenant across restarts.
    pub state: Option<PathBuf>,
}

pub async fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let bind = args.bind;
    if args.limits_scale == Some(0) {
        anyhow::bail!("--limits-scale must be at least 1");
    }
    let limits = match args.limits_scale {
        Some(f) => Some(ZiaLimits::documented().scaled(f)),
        None => (args.limits || args.rate_headers).then(ZiaLimits::documented),
    };
    let limits = limits.map(|mut l| {
        if args.rate_headers {
            l.style = RetryStyle::RateLimitHeaders;
        }
        l
    });
    let scale = args.limits_scale.unwrap_or(1);
    if !bind.ip().is_loopback() {
        anyhow::bail!("the simulator only listens on loopback addresses (got {bind})");
    }
    let sim = Sim::start(SimOptions {
        bind,
        session_idle_timeout: Duration::from_secs(args.idle_secs.max(1)),
        scenario: args.scenario,
        seed: args.seed,
        zia_limits: limits.clone(),
        state_file: args.state.clone(),
        ..SimOptions::default()
    })
    .await
    .context("starting the simulator")?;
    let hr_path = match &args.hr_export {
        None => None,
        Some(path) => {
            let csv = sim.hr_export_csv().with_context(|| {
                format!(
                    "the {} scenario has no HR export (use --scenario orphans)",
                    args.scenario
                )
            })?;
            write_atomically(path, csv.as_bytes())?;
            Some(path.display().to_string())
        }
    };
    let creds = sim.credentials();
    let scim = sim.scim_options();
    // One JSON line on stdout for scripts and tests; a readable note on stderr for people.
    let mut line = serde_json::json!({
        "url": sim.base_url(),
        "username": creds.username,
        "password": creds.password,
        "api_key": creds.api_key,
        "zia_scim_url": sim.zia_scim_url(),
        "zia_scim_token": scim.zia_token,
        "zpa_scim_url": sim.zpa_scim_url(),
        "zpa_scim_token": scim.zpa_token,
        "zidentity_url": sim.zidentity_url(),
        "oneapi_token_url": format!("{}/oauth2/v1/token", sim.base_url()),
        "oneapi_client_id": zscaler_lifecycle_mcp::sim::ONEAPI_DEMO_CLIENT_ID,
        "oneapi_client_secret": zscaler_lifecycle_mcp::sim::ONEAPI_DEMO_CLIENT_SECRET,
        "scenario": args.scenario.as_str(),
        "seed": args.seed,
        "limits": limits.is_some(),
        "limits_scale": limits.as_ref().map(|_| scale),
        "rate_headers": args.rate_headers,
    });
    if let Some(p) = &hr_path {
        line["hr_export"] = serde_json::json!(p);
    }
    if let Some(p) = &args.state {
        line["state"] = serde_json::json!(p.display().to_string());
    }
    println!("{line}");
    eprintln!(
        "ZIA simulator ({} scenario) listening on {} (demo credentials above are for the simulator only). Ctrl-C stops it.",
        args.scenario,
        sim.base_url()
    );
    eprintln!(
        "SCIM: ZIA at {} (bearer {}), ZPA at {} (bearer {}); {}.",
        sim.zia_scim_url(),
        scim.zia_token,
        sim.zpa_scim_url(),
        scim.zpa_token,
        match scim.rate_limit_per_sec {
            Some(n) => format!("{n} requests/second per flavour"),
            None => "no rate limit".to_string(),
        }
    );
    eprintln!(
        "ZIdentity: admin API at {} (also under /ziam/admin/api/v1), OneAPI tokens from {}/oauth2/v1/token (client {} / {}).",
        sim.zidentity_url(),
        sim.base_url(),
        zscaler_lifecycle_mcp::sim::ONEAPI_DEMO_CLIENT_ID,
        zscaler_lifecycle_mcp::sim::ONEAPI_DEMO_CLIENT_SECRET
    );
    if limits.is_some() {
        eprintln!(
            "Native ZIA rate limits on{}: GET {}/s {}/h, POST/PUT {}/s {}/h, DELETE {}/min {}/h, activation {}/min {}/h.",
            if scale > 1 {
                format!(" (documented x{scale})")
            } else {
                String::new()
            },
            2 * scale,
            1000 * scale,
            scale,
            400 * scale,
            scale,
            4 * scale,
            10 * scale,
            40 * scale
        );
    }
    if let Some(p) = &hr_path {
        eprintln!("HR export written to {p}.");
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`, so a reader
/// never sees a half-written export.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::{Cli, Command};
    use zscaler_lifecycle_mcp::sim::Scenario;

    #[test]
    fn sim_flags_parse_with_defaults() {
        let cli = Cli::try_parse_from(["zlm", "sim"]).expect("parses");
        let Command::Sim {
            scenario,
            seed,
            limits,
            hr_export,
            ..
        } = cli.command
        else {
            panic!("not the sim command");
        };
        assert_eq!(scenario, Scenario::Demo);
        assert_eq!(seed, zscaler_lifecycle_mcp::sim::DEFAULT_SEED);
        assert!(!limits && hr_export.is_none());
    }

    #[test]
    fn sim_flags_parse() {
        let cli = Cli::try_parse_from([
            "zlm",
            "sim",
            "--scenario",
            "orphans",
            "--seed",
            "42",
            "--limits",
            "--hr-export",
            "/tmp/hr.csv",
            "--state",
            "/tmp/tenant.json",
        ])
        .expect("parses");
        let Command::Sim {
            scenario,
            seed,
            limits,
            hr_export,
            state,
            ..
        } = cli.command
        else {
            panic!("not the sim command");
        };
        assert_eq!(
            state.as_deref(),
            Some(std::path::Path::new("/tmp/tenant.json"))
        );
        assert_eq!(scenario, Scenario::Orphans);
        assert_eq!(seed, 42);
        assert!(limits);
        assert_eq!(
            hr_export.as_deref(),
            Some(std::path::Path::new("/tmp/hr.csv"))
        );
        let Command::Sim { rate_headers, .. } =
            Cli::try_parse_from(["zlm", "sim", "--rate-headers"])
                .expect("parses")
                .command
        else {
            panic!("not the sim command");
        };
        assert!(rate_headers);
        assert!(Cli::try_parse_from(["zlm", "sim", "--scenario", "huge"]).is_err());
        assert!(Cli::try_parse_from(["zlm", "sim", "--scenario", "large"]).is_ok());
    }
}
