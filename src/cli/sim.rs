//! `sim`: the tenant simulator on its own, for trying the product or pointing a config at it.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use zscaler_lifecycle_mcp::sim::{Sim, SimOptions};

pub async fn run(bind: SocketAddr, idle_secs: u64) -> anyhow::Result<ExitCode> {
    if !bind.ip().is_loopback() {
        anyhow::bail!("the simulator only listens on loopback addresses (got {bind})");
    }
    let sim = Sim::start(SimOptions {
        bind,
        session_idle_timeout: Duration::from_secs(idle_secs.max(1)),
        ..SimOptions::default()
    })
    .await
    .context("starting the simulator")?;
    let creds = sim.credentials();
    let scim = sim.scim_options();
    // One JSON line on stdout for scripts and tests; a readable note on stderr for people.
    println!(
        "{}",
        serde_json::json!({
            "url": sim.base_url(),
            "username": creds.username,
            "password": creds.password,
            "api_key": creds.api_key,
            "zia_scim_url": sim.zia_scim_url(),
            "zia_scim_token": scim.zia_token,
            "zpa_scim_url": sim.zpa_scim_url(),
            "zpa_scim_token": scim.zpa_token,
        })
    );
    eprintln!(
        "ZIA simulator listening on {} (demo credentials above are for the simulator only). Ctrl-C stops it.",
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
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
