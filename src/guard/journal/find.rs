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
    /// not records (a torn tail) and records without a valid MAC are passed over.
    pub fn records_where(
        &self,
        mut keep: impl FnMut(&Map<String, Value>) -> bool,
    ) -> Result<Vec<Map<String, Value>>, GuardError> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        let mut chains = chain_files(dir);
        if !chains.contains(&self.path) {
            chains.push(self.path.clone());
        }
        let mut found = Vec::new();
        for chain in chains {
            let mut files = file::segments(&chain);
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
