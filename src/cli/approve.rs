//! `approve`: a person at a terminal approves a plan an agent proposed.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use zscaler_lifecycle_mcp::config::state_dir;
use zscaler_lifecycle_mcp::guard::journal::Journal;
use zscaler_lifecycle_mcp::guard::plan::Plan;
use zscaler_lifecycle_mcp::guard::store::PlanStore;

/// The OS user running this process: the person who approves, as the journal records them.
pub fn approver() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// What every out-of-band approval channel needs: the plan store and the journal exactly as
/// the servers configure them (file or Redis `[state]`, replica chains, rotation).
pub struct ApprovalState {
    pub store: PlanStore,
    pub journal: Journal,
    /// Where plans live, in words (a directory or a Redis address).
    pub location: String,
}

/// Opens the plan store and journal a config names.
pub fn open_state(config: Option<&Path>) -> anyhow::Result<ApprovalState> {
    let cfg = super::config_only(config)?;
    let dir = state_dir(cfg.as_ref());
    // The same `[state]` as the servers: with Redis, plans proposed through any replica.
    let state_cfg = cfg.as_ref().map(|c| c.state.clone()).unwrap_or_default();
    let shared = zscaler_lifecycle_mcp::state::from_config(&state_cfg)?;
    let store = PlanStore::open_with(&dir, shared.as_ref()).context("opening the plan store")?;
    let location = match &shared {
        Some(r) => format!("state backend redis at {}", r.at()),
        None => format!("state directory {}", dir.display()),
    };
    let journal = Journal::for_config(cfg.as_ref(), &dir, shared.as_ref())?;
    Ok(ApprovalState {
        store,
        journal,
        location,
    })
}

/// Records a person's approval of a live plan and journals it, the same way for every
/// out-of-band channel (`approve-cli`, `approve-web`), so the audit trail cannot drift between
/// them. The journal line is written only after the signed approval is stored.
pub fn record_approval(
    state: &ApprovalState,
    plan: &Plan,
    who: &str,
    channel: &str,
) -> anyhow::Result<()> {
    state.store.approve(&plan.id, who)?;
    let mut event = serde_json::Map::new();
    event.insert("tool".into(), plan.tool.clone().into());
    event.insert("connection".into(), plan.connection.clone().into());
    event.insert("outcome".into(), "approved".into());
    event.insert("plan_id".into(), plan.id.clone().into());
    event.insert("approver".into(), who.into());
    event.insert("channel".into(), channel.into());
    state.journal.append(event)?;
    Ok(())
}

pub fn run(config: Option<&Path>, plan_id: Option<&str>) -> anyhow::Result<ExitCode> {
    let state = open_state(config)?;
    let store = &state.store;
    let where_ = &state.location;
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
    record_approval(&state, &plan, &who, "approve-cli")?;
    println!(
        "Approved by {who}. The agent can now call {} again with plan_id \"{}\" (until {} UTC).",
        plan.tool,
        plan.id,
        zscaler_lifecycle_mcp::guard::rfc3339(plan.expires_at)
    );
    Ok(ExitCode::SUCCESS)
}
