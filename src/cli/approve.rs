//! `approve`: a person at a terminal approves a plan an agent proposed; and `approvers hash`,
//! which prints the hash of a named approver's secret for the config.
//!
//! Who approved is recorded two ways: the OS account of this process (its real uid, looked up
//! in the account database: never `$USER`, which whoever starts the process chooses), and,
//! with `[approvers]` configured, the named approver whose secret was given.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use zscaler_lifecycle_mcp::config::state_dir;
use zscaler_lifecycle_mcp::guard::approvers::{Approvers, hash_secret};
use zscaler_lifecycle_mcp::guard::journal::Journal;
use zscaler_lifecycle_mcp::guard::plan::Plan;
use zscaler_lifecycle_mcp::guard::store::{Approval, Approver, PlanStore};
use zscaler_lifecycle_mcp::secret::Secret;

/// The channel name in the journal for a terminal approval.
pub const CHANNEL: &str = "approve-cli";

/// The OS account running this process, from its real uid and the account database, e.g.
/// `jane (uid 1000)`. The environment (`USER`, `LOGNAME`) is never consulted: it is whatever
/// the caller set.
#[cfg(unix)]
pub fn os_account() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => format!("{} (uid {uid})", user.name),
        _ => format!("uid {uid}"),
    }
}

/// Without POSIX uids there is no account to look up that the caller cannot choose.
#[cfg(not(unix))]
pub fn os_account() -> String {
    "unknown OS account".into()
}

/// What every out-of-band approval channel needs: the plan store and the journal exactly as
/// the servers configure them (file or Redis `[state]`, replica chains, rotation), and the
/// named approvers of the config.
pub struct ApprovalState {
    pub store: PlanStore,
    pub journal: Journal,
    /// Where plans live, in words (a directory or a Redis address).
    pub location: String,
    pub approvers: Approvers,
}

/// Opens the plan store and journal a config names.
pub fn open_state(config: Option<&Path>) -> anyhow::Result<ApprovalState> {
    let cfg = super::config_only(config)?;
    let dir = state_dir(cfg.as_ref());
    // The same `[state]` as the servers: with Redis, plans proposed through any replica.
    let state_cfg = cfg.as_ref().map(|c| c.state.clone()).unwrap_or_default();
    let shared = zscaler_lifecycle_mcp::state::from_config(&state_cfg)?;
    let approvers = Approvers::from_config(
        &cfg.as_ref()
            .map(|c| c.approvers.clone())
            .unwrap_or_default(),
    );
    let store = PlanStore::open_with(&dir, shared.as_ref())
        .context("opening the plan store")?
        .with_approvers(&approvers);
    let location = match &shared {
        Some(r) => format!("state backend redis at {}", r.at()),
        None => format!("state directory {}", dir.display()),
    };
    let journal = Journal::for_config(cfg.as_ref(), &dir, shared.as_ref())?;
    Ok(ApprovalState {
        store,
        journal,
        location,
        approvers,
    })
}

/// Records a person's approval of a live plan, the same way for every out-of-band channel
/// (`approve-cli`, `approve-web`), so the audit trail cannot drift between them.
///
/// Write-ahead: the approval is signed, then journaled (appended and synced), and only then
/// stored. A journal that cannot be written means nothing is stored; a store that fails after
/// the journal record gets a second record saying the approval was not stored. Either way the
/// error starts with "not approved:", and that is what every screen shows.
pub fn record_approval(
    state: &ApprovalState,
    plan: &Plan,
    who: &Approver,
) -> anyhow::Result<Approval> {
    let (plan, approval) = state
        .store
        .sign_approval(&plan.id, who)
        .map_err(|e| anyhow::anyhow!("not approved: {e}"))?;
    let event = |outcome: &str| {
        let mut event = serde_json::Map::new();
        event.insert("tool".into(), plan.tool.clone().into());
        event.insert("connection".into(), plan.connection.clone().into());
        event.insert("outcome".into(), outcome.into());
        event.insert("plan_id".into(), plan.id.clone().into());
        event.insert("approver".into(), who.name().into());
        event.insert("channel".into(), who.channel().into());
        event.insert("os_account".into(), who.os_account_name().into());
        if approval.is_named() {
            event.insert("named_approver".into(), true.into());
        }
        if plan.approvals() > 1 {
            event.insert("approvals_required".into(), plan.approvals().into());
        }
        event
    };
    if let Err(e) = state.journal.append(event("approved")) {
        anyhow::bail!(
            "not approved: the journal could not be written ({e}); nothing was stored, so plan {} stays unapproved",
            plan.id
        );
    }
    if let Err(e) = state.store.store_approval(&plan, &approval) {
        let mut undo = event("approval_not_stored");
        undo.insert("reason".into(), e.to_string().into());
        if let Err(je) = state.journal.append(undo) {
            tracing::error!(plan = %plan.id, error = %je, "cannot journal that the approval was not stored");
        }
        anyhow::bail!(
            "not approved: the approval was journaled but could not be stored ({e}); plan {} stays unapproved",
            plan.id
        );
    }
    Ok(approval)
}

/// How far a plan's approval has come, in one line (`1 of 2 approvals (jane)`), for lists.
pub fn progress(store: &PlanStore, plan: &Plan) -> String {
    let need = plan.approvals();
    match store.approvals(plan) {
        Ok(list) if list.is_empty() => format!(
            "Approvals: none yet; needs {need}{}.",
            if need > 1 { " distinct approvers" } else { "" }
        ),
        Ok(list) if list.len() >= need as usize => {
            format!("Approved by {}.", Approval::names(&list))
        }
        Ok(list) => format!(
            "Approvals: {} of {need} ({}); needs {} more from a different approver.",
            list.len(),
            Approval::names(&list),
            need as usize - list.len()
        ),
        Err(e) => format!("Approvals cannot be read: {e}"),
    }
}

/// What `approve` was asked for.
pub struct CliArgs<'a> {
    pub plan_id: Option<&'a str>,
    /// `--as NAME`: the named approver approving.
    pub as_name: Option<&'a str>,
    /// `--secret-file F`: read the approver's secret from a file instead of the terminal.
    pub secret_file: Option<&'a Path>,
}

/// Reads a secret from a file (first line, trimmed) or, without echo, from the terminal.
fn read_secret(prompt: &str, file: Option<&Path>) -> anyhow::Result<Secret> {
    let text = match file {
        Some(f) => std::fs::read_to_string(f)
            .with_context(|| format!("reading the secret from {}", f.display()))?,
        None => rpassword::prompt_password(prompt)
            .context("reading the secret from the terminal (it needs a terminal: /dev/tty)")?,
    };
    Ok(Secret::new(text.lines().next().unwrap_or("").trim()))
}

pub fn run(config: Option<&Path>, args: &CliArgs<'_>) -> anyhow::Result<ExitCode> {
    let state = open_state(config)?;
    let store = &state.store;
    let where_ = &state.location;
    let Some(id) = args.plan_id.map(str::trim) else {
        let pending = store.pending();
        if pending.is_empty() {
            println!("No plans are waiting for approval ({where_}).");
        }
        for plan in pending {
            println!("{}\n{}\n", plan.describe(), progress(store, &plan));
        }
        return Ok(ExitCode::SUCCESS);
    };
    let named = !state.approvers.is_empty();
    match (named, args.as_name) {
        (true, None) => anyhow::bail!(
            "not approved: this deployment has named approvers ([approvers] in the config), so a terminal alone approves nothing; approve as one of them: `zscaler-lifecycle-mcp approve {id} --as NAME` (approvers: {})",
            state.approvers.names().join(", ")
        ),
        (false, Some(_)) => anyhow::bail!(
            "not approved: --as needs named approvers, and the config has none ([approvers.NAME] with a secret_hash from `zscaler-lifecycle-mcp approvers hash`); without them run `zscaler-lifecycle-mcp approve {id}`, which records your OS account"
        ),
        (true, Some(name)) => state
            .approvers
            .knows(name)
            .map_err(|e| anyhow::anyhow!("not approved: {e}"))?,
        (false, None) => {}
    }
    let plan = store.load_live(id)?;
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "approve must be run by a person at a terminal (stdin is not a TTY); an agent must never approve its own plans"
        );
    }
    println!("{}\n{}\n", plan.describe(), progress(store, &plan));
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
    let account = os_account();
    let who = match args.as_name {
        Some(name) => {
            let secret = read_secret(&format!("Secret of approver {name}: "), args.secret_file)?;
            match state.approvers.verify(name, &secret) {
                Ok(verified) => Approver::named(&verified, &account, CHANNEL),
                Err(e) => {
                    println!("Not approved: {e}; nothing will change.");
                    return Ok(ExitCode::from(3));
                }
            }
        }
        None => Approver::os_account(&account, CHANNEL),
    };
    record_approval(&state, &plan, &who)?;
    let by = if who.name() == account {
        format!("Approved by {account}")
    } else {
        format!("Approved by {} (OS account {account})", who.name())
    };
    let now = store.approvals(&plan).map(|l| l.len()).unwrap_or(1);
    if (now as u32) < plan.approvals() {
        println!(
            "{by}. Plan {} needs {} distinct approvers and has {now}: another approver must approve it before the agent can call {} again (until {} UTC).",
            plan.id,
            plan.approvals(),
            plan.tool,
            zscaler_lifecycle_mcp::guard::rfc3339(plan.expires_at)
        );
    } else {
        println!(
            "{by}. The agent can now call {} again with plan_id \"{}\" (until {} UTC).",
            plan.tool,
            plan.id,
            zscaler_lifecycle_mcp::guard::rfc3339(plan.expires_at)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `approvers hash`: asks for a secret twice without echo (or reads it from a file) and prints
/// the line for `[approvers.NAME]`: the public key the secret derives for `name` (with `--as`),
/// or its Argon2id hash.
pub fn hash(secret_file: Option<&Path>, name: Option<&str>) -> anyhow::Result<ExitCode> {
    if let Some(n) = name
        && !zscaler_lifecycle_mcp::guard::approvers::valid_name(n)
    {
        anyhow::bail!(
            "approver names may hold only letters, digits, '-', '_' and '.' (at most 64, starting with a letter or digit)"
        );
    }
    let secret = match secret_file {
        Some(f) => read_secret("", Some(f))?,
        None => {
            let first = read_secret("Approver's secret (not shown): ", None)?;
            let again = read_secret("The same secret again: ", None)?;
            if first != again {
                anyhow::bail!("the two secrets differ; nothing was printed — run it again");
            }
            first
        }
    };
    match name {
        Some(n) => {
            let line = zscaler_lifecycle_mcp::guard::approvers::public_key_line(n, &secret)?;
            println!("[approvers.{n}]\npublic_key = \"{line}\"");
        }
        None => {
            let phc = hash_secret(&secret)?;
            println!("secret_hash = \"{phc}\"");
        }
    }
    Ok(ExitCode::SUCCESS)
}
