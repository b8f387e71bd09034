//! What this server has staged on each tenant and not yet activated.
//!
//! ZIA keeps writes pending until activation (or until the admin session ends), and activation
//! is tenant-wide. The ledger lets `pending_changes` and `activate_changes` show a person
//! exactly which of the pending changes came from this server.
//!
//! Every process that stages changes on a tenant must see the others' entries, or
//! `activate_changes` would show (and fingerprint) only part of what it publishes. With the
//! file backend the ledger is `ledger.json` in the state directory, read and rewritten under
//! an OS lock, so `serve`, `call` and every process on that directory share it. With several
//! replicas it is shared through Redis (one list per connection), since a change staged through
//! one replica may be activated through another; each replica also keeps its own entries in
//! memory, so when Redis is unreachable it still shows what it staged itself (and logs that the
//! shared view is missing) rather than nothing.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
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
    /// The ledger file every process on the state directory shares (file backend).
    file: Option<PathBuf>,
    /// Providers whose admin sessions can end with changes staged (native ZIA), asked before
    /// each read or write of the ledger whether that happened.
    watched: Mutex<BTreeMap<String, Arc<dyn crate::provider::Provider>>>,
    /// Per connection, the shared ledger's epoch this replica's own entries belong to. An
    /// activation starts a new epoch; a state store reset (FLUSHALL) loses the epoch with the
    /// list — so a missing epoch means "re-add what I staged", a new one means "it was
    /// activated elsewhere".
    epochs: Mutex<BTreeMap<String, String>>,
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

    /// The ledger of a state directory: shared through Redis when given, else through
    /// `ledger.json` in the directory.
    pub fn new(state_dir: &Path, shared: Option<RedisState>) -> Self {
        match shared {
            Some(r) => Self::shared(r),
            None => Self {
                file: Some(state_dir.join("ledger.json")),
                ..Self::default()
            },
        }
    }

    /// Runs `f` on the ledger file under an exclusive lock; writes it back when `f` says so.
    fn with_file<T>(
        path: &Path,
        f: impl FnOnce(&mut BTreeMap<String, Vec<LedgerEntry>>) -> (T, bool),
    ) -> std::io::Result<T> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(path)?;
        file.lock()?;
        let result = (|| {
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            let mut map: BTreeMap<String, Vec<LedgerEntry>> = if text.trim().is_empty() {
                BTreeMap::new()
            } else {
                serde_json::from_str(&text).map_err(std::io::Error::other)?
            };
            let (out, write) = f(&mut map);
            if write {
                let cutoff = super::now_secs().saturating_sub(SHARED_TTL_SECS);
                for list in map.values_mut() {
                    list.retain(|e| {
                        humantime::parse_rfc3339(&e.at)
                            .ok()
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .is_none_or(|d| d.as_secs() >= cutoff)
                    });
                }
                map.retain(|_, l| !l.is_empty());
                let body = serde_json::to_vec(&map).map_err(std::io::Error::other)?;
                file.seek(SeekFrom::Start(0))?;
                file.set_len(0)?;
                file.write_all(&body)?;
                file.sync_data()?;
            }
            Ok(out)
        })();
        let _ = file.unlock();
        result
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

    /// Records a staged change. Returns a notice for the person when the shared ledger could
    /// not take it (it is kept in this process and pushed again on the next contact).
    #[must_use]
    pub fn record(&self, connection: &str, tool: &str, summary: String) -> Option<String> {
        // Entries staged before a session end are live now; this one belongs to the new session.
        self.settle(connection);
        let entry = LedgerEntry {
            at: super::rfc3339(super::now_secs()),
            tool: tool.into(),
            summary,
        };
        if let Some(path) = &self.file {
            let pushed = Self::with_file(path, |map| {
                map.entry(connection.to_string())
                    .or_default()
                    .push(entry.clone());
                ((), true)
            });
            match pushed {
                Ok(()) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, connection, path = %path.display(), "staged change not recorded in the ledger file; kept in this process only");
                    self.entries
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(connection.to_string())
                        .or_default()
                        .push(entry);
                    return Some(format!(
                        "The change was made, but the activation ledger file could not record it ({e}); pending_changes in other processes will not list it."
                    ));
                }
            }
        }
        let mut notice = None;
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(connection.to_string())
            .or_default()
            .push(entry);
        if let Some(r) = &self.shared {
            // One retry: a write that happened must reach the shared view if Redis blinked.
            let synced = self.sync(r, connection).or_else(|_| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                self.sync(r, connection)
            });
            if let Err(e) = synced {
                tracing::warn!(error = %e, connection, "staged change not recorded in the shared ledger; kept here and pushed on the next contact");
                notice = Some(format!(
                    "The change was made, but the shared activation ledger could not record it ({e}); this replica keeps it and adds it when the state store is back."
                ));
            }
        }
        notice
    }

    fn epoch_key(state: &RedisState, connection: &str) -> String {
        state.key(&format!("ledger-epoch:{connection}"))
    }

    /// Brings the shared list and this replica's own entries into line: under the epoch they
    /// were staged in, every own entry missing from the list is added (it was staged while
    /// Redis was unreachable, or the store was reset and lost it); under a newer epoch they
    /// were activated by another replica and are dropped.
    fn sync(&self, r: &RedisState, connection: &str) -> Result<(), crate::state::StateError> {
        let key = Self::key(r, connection);
        let epoch_key = Self::epoch_key(r, connection);
        let fresh = {
            let mut b = [0u8; 8];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
            format!("r:{}", hex::encode(b))
        };
        // The epoch (created if the store has none: first use, or a reset) and the list.
        // Epochs made by an activation start with `a:`, those re-made after a reset with `r:`.
        let (epoch, listed): (String, Vec<String>) = r.run(|c| {
            redis::cmd("SET")
                .arg(&epoch_key)
                .arg(&fresh)
                .arg("NX")
                .exec(c)?;
            let epoch: String = redis::cmd("GET").arg(&epoch_key).query(c)?;
            let listed: Vec<String> = redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query(c)?;
            Ok((epoch, listed))
        })?;
        let mine_epoch = self
            .epochs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(connection.to_string(), epoch.clone());
        let mut own = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let list = own.entry(connection.to_string()).or_default();
        if mine_epoch.is_some_and(|before| before != epoch && epoch.starts_with("a:")) {
            // Activated through another replica since: what this replica staged is live.
            list.clear();
            return Ok(());
        }
        let shared: Vec<LedgerEntry> = listed
            .iter()
            .filter_map(|t| serde_json::from_str(t).ok())
            .collect();
        let missing: Vec<String> = list
            .iter()
            .filter(|e| !shared.contains(e))
            .filter_map(|e| serde_json::to_string(e).ok())
            .collect();
        drop(own);
        if missing.is_empty() {
            return Ok(());
        }
        r.run(|c| {
            redis::pipe()
                .cmd("RPUSH")
                .arg(&key)
                .arg(&missing)
                .ignore()
                .cmd("EXPIRE")
                .arg(&key)
                .arg(SHARED_TTL_SECS)
                .ignore()
                .exec(c)
        })
    }

    pub fn pending(&self, connection: &str) -> Vec<LedgerEntry> {
        self.settle(connection);
        self.read(connection)
    }

    fn read(&self, connection: &str) -> Vec<LedgerEntry> {
        if let Some(r) = &self.shared
            && let Err(e) = self.sync(r, connection)
        {
            tracing::debug!(error = %e, connection, "ledger entries still waiting for the shared store");
        }
        if let Some(path) = &self.file {
            match Self::with_file(path, |map| (map.get(connection).cloned(), false)) {
                Ok(found) => {
                    let mut all = found.unwrap_or_default();
                    // Entries this process could not write to the file are still its own.
                    let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
                    all.extend(map.get(connection).cloned().unwrap_or_default());
                    return all;
                }
                Err(e) => {
                    tracing::warn!(error = %e, connection, "ledger file unreadable; showing this process's own entries");
                }
            }
        }
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
        if let Some(path) = &self.file
            && let Err(e) = Self::with_file(path, |map| (map.remove(connection), true))
        {
            tracing::warn!(error = %e, connection, "ledger file not cleared");
        }
        if let Some(r) = &self.shared {
            let key = Self::key(r, connection);
            // A new epoch tells every replica that what it staged before is live now.
            let epoch = {
                let mut b = [0u8; 8];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
                format!("a:{}", hex::encode(b))
            };
            let epoch_key = Self::epoch_key(r, connection);
            match r.run(|c| {
                redis::pipe()
                    .atomic()
                    .cmd("DEL")
                    .arg(&key)
                    .ignore()
                    .cmd("SET")
                    .arg(&epoch_key)
                    .arg(&epoch)
                    .ignore()
                    .exec(c)
            }) {
                Ok(()) => {
                    self.epochs
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(connection.to_string(), epoch);
                }
                Err(e) => tracing::warn!(error = %e, connection, "shared ledger not cleared"),
            }
        }
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(connection);
    }
}
