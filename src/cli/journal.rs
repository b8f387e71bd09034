//! `journal verify`.
//!
//! Without `--file` it checks every chain in the state directory: `journal.jsonl` and, when
//! several replicas keep their own chains, each `journal-<replica>.jsonl`.

use std::path::Path;
use std::process::ExitCode;

use zscaler_lifecycle_mcp::config::state_dir;
use zscaler_lifecycle_mcp::guard::journal::Journal;

pub fn verify(config: Option<&Path>, file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = super::config_only(config)?;
    let paths = match file {
        Some(f) => vec![f.to_path_buf()],
        None => {
            let dir = state_dir(cfg.as_ref());
            let found = Journal::chain_files(&dir);
            if found.is_empty() {
                // Report the expected file, as before, so the message says where we looked.
                vec![dir.join("journal.jsonl")]
            } else {
                found
            }
        }
    };
    let mut broken = false;
    for path in &paths {
        match Journal::verify(path) {
            Ok(n) => println!("journal {}: {n} records, chain intact", path.display()),
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
