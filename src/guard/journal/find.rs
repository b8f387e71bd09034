//! Reading the journal back: the records a tool relies on (restore_user finds a deactivation's
//! "before" snapshot here). Only records whose MAC verifies with the journal key count, so a
//! line added or edited by hand can never become an account.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::{Map, Value};

use super::file::{self, Record};
use super::key::RECORD;
use super::verify::chain_files;
use super::{GuardError, Journal};

impl Journal {
    /// Every record of every chain in the journal's directory (this server's and other
    /// replicas'), segments first, that `keep` accepts and whose MAC verifies. Lines that are
    /// not records (a torn tail) and records without a valid MAC are passed over. A rotated
    /// segment whose last record is older than `since` (Unix seconds) is not read at all.
    pub fn records_where(
        &self,
        since: u64,
        mut keep: impl FnMut(&Map<String, Value>) -> bool,
    ) -> Result<Vec<Map<String, Value>>, GuardError> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        let mut chains = chain_files(dir);
        if !chains.contains(&self.path) {
            chains.push(self.path.clone());
        }
        let mut found = Vec::new();
        for chain in chains {
            let mut files: Vec<_> = file::segments(&chain)
                .into_iter()
                .filter(|seg| ends_at_or_after(seg, since))
                .collect();
            files.push(chain);
            for path in files {
                let f = match std::fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        return Err(self.fail(format!("cannot read {}: {e}", path.display())));
                    }
                };
                for line in BufReader::new(f).split(b'\n') {
                    let line = line
                        .map_err(|e| self.fail(format!("cannot read {}: {e}", path.display())))?;
                    let Some(r) = Record::parse(&line) else {
                        continue;
                    };
                    let sealed = r
                        .mac
                        .as_deref()
                        .is_some_and(|m| self.key.verify(RECORD, r.body.as_bytes(), m));
                    if keep(&r.fields) && sealed {
                        found.push(r.fields);
                    }
                }
            }
        }
        Ok(found)
    }
}

/// Whether a segment's last record is at or after `since` (or cannot be told: then it is read).
fn ends_at_or_after(segment: &Path, since: u64) -> bool {
    let last = std::fs::File::open(segment).ok().and_then(|mut f| {
        let len = f.metadata().ok()?.len();
        file::read_tail(&mut f, len).ok()?.last
    });
    let at = last.as_ref().and_then(|r| record_time(&r.fields));
    at.is_none_or(|t| t >= since)
}

/// A record's time, in Unix seconds.
pub fn record_time(fields: &Map<String, Value>) -> Option<u64> {
    let t = fields.get("time")?.as_str()?;
    let at = humantime::parse_rfc3339(t).ok()?;
    Some(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
}
