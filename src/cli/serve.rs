//! `serve`: MCP over stdio.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use rmcp::ServiceExt;
use zscaler_lifecycle_mcp::mcp::LifecycleServer;

pub async fn run(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let running = super::start(config).await?;
    let server = LifecycleServer::new(running.app.clone());
    let service = server
        .serve(rmcp::transport::stdio())
        .await
        .context("starting the stdio transport")?;
    tracing::info!("serving MCP on stdio");
    let reason = service.waiting().await.context("serving")?;
    tracing::info!(?reason, "client disconnected");
    if let Some(sim) = running.demo_sim {
        sim.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
}
