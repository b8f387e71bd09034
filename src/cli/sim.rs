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
    // One JSON line on stdout for scripts and tests; a readable note on stderr for people.
    println!(
        "{}",
        serde_json::json!({
            "url": sim.base_url(),
            "username": creds.username,
            "password": creds.password,
            "api_key": creds.api_key,
        })
    );
    eprintln!(
        "ZIA simulator listening on {} (demo credentials above are for the simulator only). Ctrl-C stops it.",
        sim.base_url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
