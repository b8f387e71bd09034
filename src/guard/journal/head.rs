//! The head checkpoint: the last record's sequence number and hash, MACed with the journal key,
//! written after every append beside the chain (`journal.head`, replaced atomically by rename)
//! and, with `[state] backend = "redis"`, in Redis (`<prefix>journal-head:<replica>`). A chain
//! that ends before its head was cut; a head that cannot be forged without the key is what makes
//! that visible.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::file::Link;
use super::key::{HEAD, JournalKey};
use crate::state::{RedisState, StateError};

/// A checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
    /// Which key sealed it (see [`JournalKey::id`]).
    pub key_id: String,
    pub time: String,
    pub mac: String,
}

fn signed(seq: u64, hash: &str) -> String {
    format!("{seq}\n{hash}")
}

impl Head {
    pub fn seal(key: &JournalKey, at: &Link) -> Self {
        Self {
            seq: at.seq,
            hash: at.hash.clone(),
            key_id: key.id().to_string(),
            time: super::super::rfc3339(super::super::now_secs()),
            mac: key.mac(HEAD, signed(at.seq, &at.hash).as_bytes()),
        }
    }

    /// The position it vouches for, once its MAC is checked with `key`.
    pub fn check(&self, key: &JournalKey, what: &str) -> Result<Link, String> {
        if self.key_id != key.id() {
            return Err(format!(
                "{what} was sealed with another journal key (key id {}; the key at {} has id {}): verify with the key this journal was written with",
                self.key_id,
                key.source(),
                key.id()
            ));
        }
        if !key.verify(HEAD, signed(self.seq, &self.hash).as_bytes(), &self.mac) {
            return Err(format!(
                "{what} has an invalid MAC: it was edited or forged"
            ));
        }
        Ok(Link {
            seq: self.seq,
            hash: self.hash.clone(),
        })
    }

    fn parse(text: &[u8], what: &str) -> Result<Self, String> {
        serde_json::from_slice(text).map_err(|e| format!("{what} is unreadable: {e}"))
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The head file, `None` when it does not exist.
pub fn read_file(path: &Path) -> Result<Option<Head>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Head::parse(&bytes, &format!("head file {}", path.display())).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("head file {}: cannot read it: {e}", path.display())),
    }
}

/// Replaces the head file atomically: a temporary file renamed over it (the caller holds the
/// chain's lock, so one temporary name suffices). The append's one fsync is the chain's: the
/// head is not fsynced, so after a crash it may be a few records behind the chain, which the
/// next append checks (every record after it linked and MACed) and catches up. A new head
/// (`new_file`) is fsynced with its directory, once, so a chain never loses its first head.
pub fn write_file(path: &Path, head: &Head, new_file: bool) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(head.to_json().as_bytes())?;
    f.write_all(b"\n")?;
    if new_file {
        f.sync_data()?;
    }
    drop(f);
    std::fs::rename(&tmp, path)?;
    if new_file && let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Moves the Redis head forward only: it is set when the stored head is older than the new
/// record, and (when it is the record just before) when its hash is the new record's `prev`.
/// Returns nothing on success, the stored head when the chain does not continue it.
const ADVANCE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, c = pcall(cjson.decode, cur)
  if not ok or type(c) ~= 'table' or tonumber(c['seq']) == nil then return cur end
  local s = tonumber(c['seq'])
  local n = tonumber(ARGV[1])
  if s >= n then return cur end
  if s == n - 1 and c['hash'] ~= ARGV[2] then return cur end
end
redis.call('SET', KEYS[1], ARGV[3])
return false
"#;

/// The head of one replica's chain in Redis.
#[derive(Debug, Clone)]
pub struct RedisHead {
    state: RedisState,
    key: String,
}

impl RedisHead {
    pub fn new(state: RedisState, replica: &str) -> Self {
        Self {
            key: state.key(&format!("journal-head:{replica}")),
            state,
        }
    }

    /// `host:port key`, for messages.
    pub fn at(&self) -> String {
        format!("redis at {} key {}", self.state.at(), self.key)
    }

    /// The stored head, `None` when there is none.
    pub fn get(&self) -> Result<Option<Head>, StateError> {
        let text: Option<Vec<u8>> = self
            .state
            .run(|c| redis::cmd("GET").arg(&self.key).query(c))?;
        text.map(|t| {
            Head::parse(&t, &format!("head in {}", self.at())).map_err(|message| {
                StateError::Failed {
                    at: self.state.at().to_string(),
                    message,
                }
            })
        })
        .transpose()
    }

    /// Advances the stored head to `head`, whose record follows `prev`; on refusal returns
    /// the head Redis holds.
    pub fn advance(&self, head: &Head, prev: &str) -> Result<Option<Head>, StateError> {
        let json = head.to_json();
        let stored: Option<Vec<u8>> = self.state.run(|c| {
            redis::Script::new(ADVANCE)
                .key(&self.key)
                .arg(head.seq)
                .arg(prev)
                .arg(&json)
                .invoke(c)
        })?;
        match stored {
            None => Ok(None),
            Some(t) => Ok(Some(
                Head::parse(&t, &format!("head in {}", self.at())).map_err(|message| {
                    StateError::Failed {
                        at: self.state.at().to_string(),
                        message,
                    }
                })?,
            )),
        }
    }
}
