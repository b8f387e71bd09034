//! What this server has staged on each tenant and not yet activated.
//!
//! ZIA keeps writes pending until activation (or until the admin session ends), and activation
//! is tenant-wide. The ledger lets `pending_changes` and `activate_changes` show a person
//! exactly which of the pending changes came from this server.

use std::collections::BTreeMap;
use std::sync::Mutex;

use schemars::JsonSchema;
use serde::Serialize;

/// One staged change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct LedgerEntry {
    /// RFC 3339 time of the write.
    pub at: String,
    pub tool: String,
    pub summary: String,
}

/// Staged changes per connection.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: Mutex<BTreeMap<String, Vec<LedgerEntry>>>,
}

impl Ledger {
    pub fn record(&self, connection: &str, tool: &str, summary: String) {
        let entry = LedgerEntry {
            at: super::rfc3339(super::now_secs()),
            tool: tool.into(),
            summary,
        };
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(connection.to_string()).or_default().push(entry);
    }

    pub fn pending(&self, connection: &str) -> Vec<LedgerEntry> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(connection).cloned().unwrap_or_default()
    }

    /// Called after a successful activation.
    pub fn clear(&self, connection: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(connection);
    }
}
