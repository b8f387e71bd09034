//! `call`: one tool call from the terminal, through the real MCP server in-process, so people and
//! cron jobs get exactly what an agent gets, including the confirmation step.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ErrorData, Implementation,
};
use rmcp::service::{RequestContext, RoleClient};
use rmcp::{ClientHandler, ServiceExt};
use zscaler_lifecycle_mcp::mcp::LifecycleServer;

/// Asks the person at the terminal; declares elicitation only when there is a terminal.
struct TerminalClient {
    interactive: bool,
}

impl ClientHandler for TerminalClient {
    fn get_info(&self) -> ClientConfig {
        let caps = if self.interactive {
            ClientCapabilities::builder().enable_elicitation().build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(
            caps,
            Implementation::new("zscaler-lifecycle-mcp-cli", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        let answer = tokio::task::spawn_blocking(move || {
            eprintln!("\n{message}\n");
            eprint!("Type yes to carry out this plan (anything else declines): ");
            std::io::stderr().flush().ok();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map(|_| line)
        })
        .await
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        if answer.trim().eq_ignore_ascii_case("yes") {
            Ok(ElicitResult::new(ElicitationAction::Accept)
                .with_content(serde_json::json!({"confirm": true})))
        } else {
            Ok(ElicitResult::new(ElicitationAction::Decline))
        }
    }
}

pub async fn run(config: Option<&Path>, tool: &str, args: &str) -> anyhow::Result<ExitCode> {
    let arguments: serde_json::Value =
        serde_json::from_str(args).context("--args is not valid JSON")?;
    let serde_json::Value::Object(arguments) = arguments else {
        anyhow::bail!(
            "--args must be a JSON object, like '{{\"user\":\"jane.doe@acme.example\"}}'"
        );
    };
    let running = super::start(config).await?;
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = LifecycleServer::new(running.app.clone());
    let server_task = tokio::spawn(async move {
        match server.serve(server_io).await {
            Ok(service) => {
                let _ = service.waiting().await;
            }
            Err(e) => tracing::error!(error = %e, "in-process server failed"),
        }
    });
    let client = TerminalClient {
        interactive: std::io::stdin().is_terminal(),
    }
    .serve(client_io)
    .await
    .context("connecting to the in-process server")?;
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .with_context(|| format!("calling {tool}"))?;
    let failed = result.is_error.unwrap_or(false);
    let output = match &result.structured_content {
        Some(v) => serde_json::to_string_pretty(v)?,
        None => result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    if failed {
        eprintln!("error: {output}");
    } else {
        println!("{output}");
    }
    let _ = client.cancel().await;
    let _ = server_task.await;
    if let Some(sim) = running.demo_sim {
        sim.shutdown().await;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
