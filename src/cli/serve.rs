//! `serve`: MCP over stdio.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use rmcp::ServiceExt;
use zscaler_lifecycle_mcp::mcp::LifecycleServer;

pub async fn run(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let running = super::start(config).await?;
    let server = LifecycleServer::new(running.app.clone());
    let tasks = server.tasks().clone();
    let service = server
        .serve(rmcp::transport::stdio())
        .await
        .context("starting the stdio transport")?;
    tracing::info!("serving MCP on stdio");
    let reason = service.waiting().await.context("serving")?;
    tracing::info!(?reason, "client disconnected");
    tasks.abandon_running().await;
    warn_staged_on_exit(&running.app);
    if let Some(sim) = running.demo_sim {
        sim.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `serve --transport http`.
pub struct HttpArgs {
    pub bind: std::net::SocketAddr,
    pub stateless: bool,
    pub tokens_file: Option<std::path::PathBuf>,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub per_caller_rps: u32,
    /// `None`: sized for the machine.
    pub max_sessions: Option<usize>,
    pub session_idle: std::time::Duration,
}

/// `serve --transport http`: Streamable HTTP until Ctrl-C or SIGTERM, then a graceful stop.
pub async fn run_http(config: Option<&Path>, args: HttpArgs) -> anyhow::Result<ExitCode> {
    use zscaler_lifecycle_mcp::mcp::http::{self, HttpOptions};
    let mut tokens = match std::env::var("ZSCALER_LIFECYCLE_MCP_TOKENS") {
        Ok(v) if !v.trim().is_empty() => {
            http::parse_tokens(&v).context("ZSCALER_LIFECYCLE_MCP_TOKENS")?
        }
        _ => Vec::new(),
    };
    if let Some(file) = &args.tokens_file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        tokens.extend(http::parse_tokens(&text).with_context(|| file.display().to_string())?);
    }
    if !args.bind.ip().is_loopback() && tokens.is_empty() {
        // Refuse before starting anything (including the demo tenant).
        return Err(http::HttpError::OpenWithoutAuth(args.bind).into());
    }
    let running = super::start(config).await?;
    let server = LifecycleServer::new(running.app.clone());
    let tasks = server.tasks().clone();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        wait_for_stop_signal().await;
        tracing::info!("stopping: finishing in-flight requests");
        stop.cancel();
    });
    let opts = HttpOptions {
        bind: args.bind,
        stateless: args.stateless,
        tokens,
        allowed_hosts: args.allowed_hosts,
        allowed_origins: args.allowed_origins,
        per_caller_rps: args.per_caller_rps,
        sessions: zscaler_lifecycle_mcp::mcp::sessions::SessionLimits {
            max: args
                .max_sessions
                .unwrap_or_else(zscaler_lifecycle_mcp::mcp::sessions::default_max_sessions)
                .max(1),
            idle: args.session_idle,
        },
    };
    http::serve(server, opts, shutdown).await?;
    tasks.abandon_running().await;
    warn_staged_on_exit(&running.app);
    if let Some(sim) = running.demo_sim {
        sim.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Stopping with staged, un-activated changes is never silent: the admin session is left to
/// time out, and ZIA activates pending changes when a session ends.
fn warn_staged_on_exit(app: &zscaler_lifecycle_mcp::ops::App) {
    for name in app.connections.keys() {
        let staged = app.ledger.pending(name);
        if !staged.is_empty() {
            tracing::warn!(
                connection = %name,
                staged = staged.len(),
                "stopping with {} staged change(s) not activated on connection {name}; Zscaler activates pending changes when the admin session ends (its idle timeout), so they will go live without activate_changes",
                staged.len()
            );
        }
    }
}

/// Ctrl-C or SIGTERM: how a person or a service manager stops a long-running subcommand.
pub(crate) async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
