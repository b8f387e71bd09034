//! Subcommands. The binary edge: errors are `anyhow` here and nowhere else.

pub mod approve;
pub mod approve_web;
pub mod call;
pub mod check;
pub mod init;
pub mod journal;
pub mod serve;
pub mod sim;

use std::path::Path;

use anyhow::Context;
use zscaler_lifecycle_mcp::setup::{self, Running};

/// The configured application: a config file, else the SDKs' ZIA_* environment variables,
/// else the embedded demo tenant.
pub async fn start(config: Option<&Path>) -> anyhow::Result<Running> {
    if let Some(path) = config {
        return setup::from_config(path).with_context(|| format!("loading {}", path.display()));
    }
    match setup::from_env() {
        Some(running) => running.context("configuring from ZIA_* environment variables"),
        None => {
            let running = setup::demo()
                .await
                .context("starting the embedded demo tenant")?;
            if let Some(sim) = &running.demo_sim {
                tracing::warn!(
                    url = %sim.base_url(),
                    "DEMO MODE: no --config given; serving an embedded simulated tenant: connections 'demo' (native ZIA, the default) and 'demo-zpa' (ZPA SCIM), source of record 'hr'. Nothing real is changed."
                );
            }
            Ok(running)
        }
    }
}

/// Loads only what `approve` and `journal` need: the config, if any, for the state directory.
pub fn config_only(
    config: Option<&Path>,
) -> anyhow::Result<Option<zscaler_lifecycle_mcp::config::Config>> {
    config
        .map(|p| {
            zscaler_lifecycle_mcp::config::Config::load(p)
                .with_context(|| format!("loading {}", p.display()))
        })
        .transpose()
}
