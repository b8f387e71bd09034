//! `journal verify`.
//!
//! Without `--file` it checks every chain in the state directory: `journal.jsonl` and, when
//! several replicas keep their own chains, each `journal-<replica>.jsonl`, each against its
//! head file and, with `[state] backend = "redis"`, the head kept in Redis. It reads the
//! journal key (`[server] journal_key`, else `journal.key` in the state directory) and never
//! writes anything. Exit 0 when every chain is intact, 2 when one is broken or cannot be
//! checked (a missing key, an unreachable Redis).

use std::path::Path;
use std::process::ExitCode;

use zscaler_lifecycle_mcp::config::{StateBackendKind, state_dir};
use zscaler_lifecycle_mcp::guard::journal::{Journal, JournalKey, chain_files};

pub fn verify(
    config: Option<&Path>,
    file: Option<&Path>,
    no_head: bool,
) -> anyhow::Result<ExitCode> {
    let cfg = super::config_only(config)?;
    let dir = state_dir(cfg.as_ref());
    let paths = match file {
        Some(f) => vec![f.to_path_buf()],
        None => {
            let found = chain_files(&dir);
            if found.is_empty() {
                // Say where we looked.
                println!(
                    "journal {}: BROKEN: no journal in this state directory",
                    dir.join("journal.jsonl").display()
                );
                return Ok(ExitCode::from(2));
            }
            found
        }
    };
    let key = match JournalKey::existing(
        cfg.as_ref().and_then(|c| c.server.journal_key.as_ref()),
        &dir,
    ) {
        Ok(k) => k,
        Err(e) => {
            println!("journal: BROKEN: cannot check the MACs: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let state_cfg = cfg.as_ref().map(|c| c.state.clone()).unwrap_or_default();
    let shared = if state_cfg.backend == StateBackendKind::Redis && !no_head {
        match zscaler_lifecycle_mcp::state::from_config(&state_cfg) {
            Ok(s) => s,
            Err(e) => {
                println!("journal: BROKEN: cannot check the heads in Redis: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    } else {
        None
    };
    let mut broken = false;
    for path in &paths {
        let mut journal = Journal::new(path.clone(), key.clone());
        // A replica's chain, `journal-<replica>.jsonl`, also has its head in Redis.
        let replica = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("journal-")?.strip_suffix(".jsonl"));
        if let (Some(state), Some(r)) = (&shared, replica) {
            journal = Journal::for_replica(path.parent().unwrap_or(Path::new(".")), r, key.clone())
                .with_redis_head(state.clone());
        }
        let result = if no_head {
            journal.verify_without_head()
        } else {
            journal.verify()
        };
        match result {
            Ok(v) => println!("journal {}: {v}", path.display()),
            Err(e) => {
                println!("journal {}: BROKEN: {e}", path.display());
                broken = true;
            }
        }
    }
    Ok(if broken {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
