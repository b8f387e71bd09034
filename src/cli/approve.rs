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

/// Records a person's approval of a live plan and journals it, the same way for every
/// out-of-band channel (`approve-cli`, `approve-web`), so the audit trail cannot drift between
/// them. The journal line is written only after the signed approval is on disk.
pub fn record_approval(
    store: &PlanStore,
    state_dir: &Path,
    plan: &Plan,
    who: &str,
    channel: &str,
) -> anyhow::Result<()> {
    store.approve(&plan.id, who)?;
    let mut event = serde_json::Map::new();
    event.insert("tool".into(), plan.tool.clone().into());
    event.insert("connection".into(), plan.connection.clone().into());
    event.insert("outcome".into(), "approved".into());
    event.insert("plan_id".into(), plan.id.clone().into());
    event.insert("approver".into(), who.into());
    event.insert("channel".into(), channel.into());
    Journal::new(state_dir.join("journal.jsonl")).append(event)?;
    Ok(())
}

pub fn run(config: Option<&Path>, plan_id: Option<&str>) -> anyhow::Result<ExitCode> {
    let cfg = super::config_only(config)?;
    let dir = state_dir(cfg.as_ref());
    let store = PlanStore::open(&dir).context("opening the plan store")?;
    let Some(id) = plan_id.map(str::trim) else {
        let pending = store.pending();
        if pending.is_empty() {
            println!(
                "No plans are waiting for approval (state directory {}).",
                dir.display()
            );
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
    record_approval(&store, &dir, &plan, &who, "approve-cli")?;
    println!(
        "Approved by {who}. The agent can now call {} again with plan_id \"{}\" (until {} UTC).",
        plan.tool,
        plan.id,
        zscaler_lifecycle_mcp::guard::rfc3339(plan.expires_at)
    );
    Ok(ExitCode::SUCCESS)
}
