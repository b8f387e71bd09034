//! `journal verify`.

use std::path::Path;
use std::process::ExitCode;

use zscaler_lifecycle_mcp::config::state_dir;
use zscaler_lifecycle_mcp::guard::journal::Journal;

pub fn verify(config: Option<&Path>, file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = super::config_only(config)?;
    let path = file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| state_dir(cfg.as_ref()).join("journal.jsonl"));
    match Journal::verify(&path) {
        Ok(n) => {
            println!("journal {}: {n} records, chain intact", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("journal {}: BROKEN: {e}", path.display());
            Ok(ExitCode::from(2))
        }
    }
}
