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
use std::sync::{Arc, Mutex};

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
#[derive(Default)]
pub struct Ledger {
    entries: Mutex<BTreeMap<String, Vec<LedgerEntry>>>,
    shared: Option<RedisState>,
    /// Providers whose admin sessions can end with changes staged (native ZIA), asked before
    /// each read or write of the ledger whether that happened.
    watched: Mutex<BTreeMap<String, Arc<dyn crate::provider::Provider>>>,
    /// What the ledger learnt about session ends, per connection, until `pending_changes`
    /// shows it.
    session_ends: Mutex<BTreeMap<String, Vec<String>>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// A ledger shared with other replicas through Redis.
    pub fn shared(state: RedisState) -> Self {
        Self {
            shared: Some(state),
            ..Self::default()
        }
    }

    /// Keeps track of `provider`'s session ends: ZIA activates every pending change when the
    /// admin session that staged it ends (idle timeout, replaced session), so entries staged
    /// before such an end are live, not pending.
    pub fn watch(&self, connection: &str, provider: Arc<dyn crate::provider::Provider>) {
        if provider.capabilities().staged_changes {
            self.watched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(connection.to_string(), provider);
        }
    }

    /// Asks the provider whether a session holding staged changes ended; if so, every entry
    /// recorded so far is live: they leave the ledger with a note saying so.
    fn settle(&self, connection: &str) {
        let provider = self
            .watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(connection)
            .cloned();
        let Some(provider) = provider else {
            return;
        };
        let n = provider.take_activated_by_session_end();
        if n == 0 {
            return;
        }
        let entries = self.read(connection);
        self.clear(connection);
        let what: Vec<String> = entries.iter().map(|e| e.summary.clone()).collect();
        let note = format!(
            "{}: the admin session ended while {n} staged change(s) were pending; Zscaler activates pending changes when a session ends, so they are now active{}",
            super::rfc3339(super::now_secs()),
            if what.is_empty() {
                String::new()
            } else {
                format!(" ({})", what.join("; "))
            }
        );
        tracing::warn!(connection, staged = n, "{note}");
        self.session_ends
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(connection.to_string())
            .or_default()
            .push(note);
    }

    /// Session ends with staged changes since last asked (each says which changes went live).
    pub fn take_session_ends(&self, connection: &str) -> Vec<String> {
        self.settle(connection);
        self.session_ends
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(connection)
            .unwrap_or_default()
    }

    fn key(state: &RedisState, connection: &str) -> String {
        state.key(&format!("ledger:{connection}"))
    }

    pub fn record(&self, connection: &str, tool: &str, summary: String) {
        // Entries staged before a session end are live now; this one belongs to the new session.
        self.settle(connection);
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
        self.settle(connection);
        self.read(connection)
    }

    fn read(&self, connection: &str) -> Vec<LedgerEntry> {
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
