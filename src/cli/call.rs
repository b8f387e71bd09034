//! `call`: one tool call from the terminal, through the real MCP server in-process, so people and
//! cron jobs get exactly what an agent gets, including the confirmation step. For audit_orphans
//! and reconcile it also shows progress on a terminal and can save the full report (audit
//! findings as CSV or HTML, a reconcile's per-change outcomes as CSV), read back from the
//! report resource the result names.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ErrorData, Implementation, ProgressNotificationParam,
    ReadResourceRequestParams, ResourceContents,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient};
use rmcp::{ClientHandler, ServiceExt};
use zscaler_lifecycle_mcp::mcp::LifecycleServer;

/// Where `call audit_orphans` saves the full findings.
#[derive(Debug, Default)]
pub struct Reports {
    pub csv: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

/// Asks the person at the terminal; declares elicitation only when there is a terminal.
struct TerminalClient {
    interactive: bool,
    /// Progress of a long call on stderr; hidden when stderr is not a terminal.
    bar: indicatif::ProgressBar,
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

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        if let Some(total) = params.total {
            self.bar.set_length(total.max(0.0) as u64);
        }
        self.bar.set_position(params.progress.max(0.0) as u64);
        if let Some(m) = params.message {
            self.bar.set_message(m);
        }
    }
}

fn progress_bar() -> indicatif::ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let bar = indicatif::ProgressBar::with_draw_target(None, target);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

pub async fn run(
    config: Option<&Path>,
    tool: &str,
    args: &str,
    reports: &Reports,
) -> anyhow::Result<ExitCode> {
    if reports.html.is_some() && tool != "audit_orphans" {
        anyhow::bail!("--html only applies to audit_orphans");
    }
    if reports.csv.is_some() && !["audit_orphans", "reconcile"].contains(&tool) {
        anyhow::bail!("--csv only applies to audit_orphans and reconcile");
    }
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
        bar: progress_bar(),
    }
    .serve(client_io)
    .await
    .context("connecting to the in-process server")?;
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .with_context(|| format!("calling {tool}"))?;
    client.service().bar.finish_and_clear();
    let failed = result.is_error.unwrap_or(false);
    let text = || {
        result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let output = match &result.structured_content {
        // A tool error: its message as text, its kind named first.
        Some(v) if failed => match v["kind"].as_str() {
            Some(kind) => format!("({kind}) {}", text()),
            None => text(),
        },
        Some(v) => serde_json::to_string_pretty(v)?,
        None => text(),
    };
    if failed {
        eprintln!("error: {output}");
    } else {
        println!("{output}");
    }
    let saved = match (&result.structured_content, failed) {
        (Some(v), false) => save_reports(&client, v, reports).await,
        _ => Ok(()),
    };
    let _ = client.cancel().await;
    let _ = server_task.await;
    if let Some(sim) = running.demo_sim {
        sim.shutdown().await;
    }
    saved?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads the report resource an audit_orphans or reconcile result names and writes it as CSV
/// and/or (audits) HTML.
async fn save_reports(
    client: &rmcp::service::RunningService<RoleClient, TerminalClient>,
    result: &serde_json::Value,
    reports: &Reports,
) -> anyhow::Result<()> {
    if reports.csv.is_none() && reports.html.is_none() {
        return Ok(());
    }
    let uri = result["report"].as_str().context(
        "the result names no report (nothing to report, or the state directory is not writable; see the server log)",
    )?;
    let read = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .with_context(|| format!("reading {uri}"))?;
    let csv: String = read
        .contents
        .into_iter()
        .filter_map(|c| match c {
            ResourceContents::TextResourceContents { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    if let Some(path) = &reports.csv {
        std::fs::write(path, &csv).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("Every row of {uri} written to {}.", path.display());
    }
    if let Some(path) = &reports.html {
        let page = zscaler_lifecycle_mcp::orphans::report::html(result, &csv)?;
        std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("HTML report written to {}.", path.display());
    }
    Ok(())
}
