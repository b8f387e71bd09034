//! What this server has staged on each tenant and not yet activated.
//!
//! ZIA keeps writes pending until activation (or until the admin session ends), and activation
//! is tenant-wide. The ledger lets `pending_changes` and `activate_changes` show a person
//! exactly which of the pending changes came from this server.
//!
//! With several replicas the ledger is shared through Redis (one list per connection), since a
//! change staged through one replica may be activated through another. Each replica also keeps
//! its own entries in memory, so when Redis is unreachable it still shows what it staged itself
//! (and logs that the shared view is missing) rather than nothing.

use std::collections::BTreeMap;
use std::sync::Mutex;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::RedisState;

/// Shared ledger entries older than this are dropped: ZIA ends idle admin sessions (which
/// activates their changes) long before.
const SHARED_TTL_SECS: u64 = 24 * 3600;

/// One staged change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    shared: Option<RedisState>,
}

impl Ledger {
    /// A ledger shared with other replicas through Redis.
    pub fn shared(state: RedisState) -> Self {
        Self {
            entries: Mutex::default(),
            shared: Some(state),
        }
    }

    fn key(state: &RedisState, connection: &str) -> String {
        state.key(&format!("ledger:{connection}"))
    }

    pub fn record(&self, connection: &str, tool: &str, summary: String) {
        let entry = LedgerEntry {
            at: super::rfc3339(super::now_secs()),
            tool: tool.into(),
            summary,
        };
        if let Some(r) = &self.shared
            && let Ok(json) = serde_json::to_string(&entry)
        {
            let key = Self::key(r, connection);
            let pushed = r.run(|c| {
                redis::pipe()
                    .cmd("RPUSH")
                    .arg(&key)
                    .arg(&json)
                    .ignore()
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(SHARED_TTL_SECS)
                    .ignore()
                    .exec(c)
            });
            if let Err(e) = pushed {
                tracing::warn!(error = %e, connection, "staged change not recorded in the shared ledger");
            }
        }
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(connection.to_string()).or_default().push(entry);
    }

    pub fn pending(&self, connection: &str) -> Vec<LedgerEntry> {
        if let Some(r) = &self.shared {
            let key = Self::key(r, connection);
            match r.run(|c| {
                redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query::<Vec<String>>(c)
            }) {
                Ok(items) => {
                    return items
                        .iter()
                        .filter_map(|s| serde_json::from_str(s).ok())
                        .collect();
                }
                Err(e) => {
                    tracing::warn!(error = %e, connection, "shared ledger unreadable; showing this replica's own entries");
                }
            }
        }
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(connection).cloned().unwrap_or_default()
    }

    /// Called after a successful activation.
    pub fn clear(&self, connection: &str) {
        if let Some(r) = &self.shared {
            let key = Self::key(r, connection);
            if let Err(e) = r.run(|c| redis::cmd("DEL").arg(&key).exec(c)) {
                tracing::warn!(error = %e, connection, "shared ledger not cleared");
            }
        }
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(connection);
    }
}
