//! `approve`: a person at a terminal approves a plan an agent proposed.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use zscaler_lifecycle_mcp::config::state_dir;
use zscaler_lifecycle_mcp::guard::journal::Journal;
use zscaler_lifecycle_mcp::guard::store::PlanStore;

fn approver() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

pub fn run(config: Option<&Path>, plan_id: Option<&str>) -> anyhow::Result<ExitCode> {
    let cfg = super::config_only(config)?;
    let dir = state_dir(cfg.as_ref());
    // The same `[state]` as the servers: with Redis, plans proposed through any replica.
    let state_cfg = cfg.as_ref().map(|c| c.state.clone()).unwrap_or_default();
    let shared = zscaler_lifecycle_mcp::state::from_config(&state_cfg)?;
    let store = PlanStore::open_with(&dir, shared.as_ref()).context("opening the plan store")?;
    let where_ = match &shared {
        Some(r) => format!("state backend redis at {}", r.at()),
        None => format!("state directory {}", dir.display()),
    };
    let Some(id) = plan_id.map(str::trim) else {
        let pending = store.pending();
        if pending.is_empty() {
            println!("No plans are waiting for approval ({where_}).");
        }
        for plan in pending {
            println!("{}\n", plan.describe());
        }
        return Ok(ExitCode::SUCCESS);
    };
    let plan = store.load_live(id)?;
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "approve must be run by a person at a terminal (stdin is not a TTY); an agent must never approve its own plans"
        );
    }
    println!("{}\n", plan.describe());
    print!("Type the plan id again to approve it (anything else cancels): ");
    std::io::stdout().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    if line.trim() != plan.id {
        println!("Not approved; nothing will change.");
        return Ok(ExitCode::from(3));
    }
    let who = approver();
    store.approve(&plan.id, &who)?;
    let mut event = serde_json::Map::new();
    event.insert("tool".into(), plan.tool.clone().into());
    event.insert("connection".into(), plan.connection.clone().into());
    event.insert("outcome".into(), "approved".into());
    event.insert("plan_id".into(), plan.id.clone().into());
    event.insert("approver".into(), who.clone().into());
    event.insert("channel".into(), "approve-cli".into());
    Journal::for_config(&state_cfg, &dir)?
        .with_max_bytes(cfg.as_ref().map_or(64, |c| c.server.journal_max_mb) << 20)
        .append(event)?;
    println!(
        "Approved by {who}. The agent can now call {} again with plan_id \"{}\" (until {} UTC).",
        plan.tool,
        plan.id,
        zscaler_lifecycle_mcp::guard::rfc3339(plan.expires_at)
    );
    Ok(ExitCode::SUCCESS)
}
