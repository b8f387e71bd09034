//! The audit journal: append-only JSONL, write-ahead, hash-chained, MACed and anchored.
//!
//! - **Chained**: a record's `hash` is SHA-256 over the previous record's hash and the record's
//!   canonical JSON (without `hash` and `mac`), so editing, deleting or reordering any record
//!   breaks every later link. Records carry `seq`, 1, 2, 3 … across rotated segments.
//! - **MACed**: `mac` is HMAC-SHA256 over the same canonical body with the journal key, which
//!   lives apart from the journal ([`JournalKey`]); re-chaining records without the key (drop
//!   some, recompute the SHA-256 links) is caught.
//! - **Anchored**: after every append the head (last seq and hash, MACed) is checkpointed in
//!   `journal.head` beside the chain and, with Redis state, in Redis. A chain that ends before
//!   its head was cut.
//! - **Fail-closed**: [`Journal::append`] returns `Ok` only once the record is written, fsynced,
//!   checkpointed and copied; any failure is an error naming what failed and where, so that the
//!   caller refuses the tenant write ("no journal, no write").
//! - **Torn tails**: a last line cut short by a crash or a full disk is detected (at start-up
//!   and under the lock at every append), logged, closed into a segment and recorded by a
//!   `repair` record that starts the next file; nothing is ever appended after torn bytes.
//!
//! Appends take an OS file lock on the live file, so several processes sharing a state
//! directory keep one chain. Secrets never reach it: callers pass only ids, names and outcomes.
//!
//! Several replicas (`[state] backend = "redis"`, or any `replica_id`) do not share one file:
//! each appends to its own chain, `journal-<replica_id>.jsonl`, and stamps `replica` on every
//! record, so chains never interleave across machines and each can be shipped and verified on
//! its own. `journal verify` checks every chain in the state directory.

mod copy;
mod file;
mod find;
mod head;
mod key;
mod verify;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

pub use copy::{CopyTarget, SYSLOG_TAG};
pub use file::head_path;
pub use find::record_time;
pub use key::{JournalKey, KeyError, MIN_KEY_CHARS, default_key_path};
pub use verify::{Repair, Verified, chain_files};

use copy::Copies;
use file::{Link, Record};
use head::{Head, RedisHead};

use super::{GuardError, now_secs, rfc3339};

/// Size at which the live file is rotated by default (64 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// The default syslog socket.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// Fields the journal sets itself; a caller's event cannot override them.
const RESERVED: [&str; 6] = ["seq", "time", "prev", "hash", "mac", "replica"];

/// Where an appended record sits in the chain: proof for the caller that it is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub seq: u64,
    pub hash: String,
}

/// One chain of the journal (`journal.jsonl`, or a replica's `journal-<id>.jsonl`), with its
/// key, head checkpoints and copies. Cheap to clone; clones share the copies.
#[derive(Clone)]
pub struct Journal {
    path: PathBuf,
    /// Stamped on every record when several replicas each keep a chain.
    replica: Option<String>,
    /// Rotate the live file once it is this large (0 = never). The chain continues across
    /// segments: a segment's first record links to the last record of the one before.
    max_bytes: u64,
    key: Arc<JournalKey>,
    redis: Option<RedisHead>,
    /// The head this process last put in Redis: while the chain still ends there, Redis need
    /// not be read before an append (its compare-and-set still guards the write).
    redis_seen: Arc<Mutex<Option<Link>>>,
    copies: Arc<Mutex<Copies>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("replica", &self.replica)
            .field("max_bytes", &self.max_bytes)
            .field("key", &self.key)
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

/// The chain's lock file: beside the chain, never renamed.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

impl Journal {
    /// The chain at `path`, MACed with `key`; no Redis head, no copies.
    pub fn new(path: PathBuf, key: JournalKey) -> Self {
        Self {
            path,
            replica: None,
            max_bytes: DEFAULT_MAX_BYTES,
            key: Arc::new(key),
            redis: None,
            redis_seen: Arc::new(Mutex::new(None)),
            copies: Arc::new(Mutex::new(Copies::default())),
        }
    }

    /// The chain of one replica: `journal-<replica>.jsonl` in `dir`, records stamped with it.
    pub fn for_replica(dir: &Path, replica: &str, key: JournalKey) -> Self {
        let mut j = Self::new(dir.join(format!("journal-{replica}.jsonl")), key);
        j.replica = Some(replica.to_string());
        j
    }

    /// Rotates the live file at `max_bytes` (0 = never).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Also checkpoints the head in Redis, as `<prefix>journal-head:<replica>`.
    pub fn with_redis_head(mut self, state: crate::state::RedisState) -> Self {
        let replica = self.replica.clone().unwrap_or_else(|| "default".into());
        self.redis = Some(RedisHead::new(state, &replica));
        self
    }

    /// Sends every record to these copies too; copy commands start now (a failure to start
    /// is logged here and fails the first append).
    pub fn with_copies(mut self, targets: Vec<CopyTarget>) -> Self {
        let mut copies = Copies::new(targets);
        for e in copies.start() {
            tracing::error!(error = %e, "journal copy cannot start; appends fail until it does");
        }
        self.copies = Arc::new(Mutex::new(copies));
        self
    }

    /// The journal a config asks for: one file, or this replica's chain when state is shared
    /// or a replica id is set; its key (made in the state directory if none is configured),
    /// Redis head and copies. Checks the chain at once: a torn tail is repaired now, and a
    /// chain that cannot be appended to is reported in the log (every append then fails with
    /// the same reason). Fails only when the key or the replica id cannot be had.
    pub fn for_config(
        config: Option<&crate::config::Config>,
        state_dir: &Path,
        shared: Option<&crate::state::RedisState>,
    ) -> Result<Self, GuardError> {
        let server = config.map(|c| &c.server);
        let state_cfg = config.map(|c| c.state.clone()).unwrap_or_default();
        let key = JournalKey::for_server(server.and_then(|s| s.journal_key.as_ref()), state_dir)
            .map_err(|e| GuardError::Journal {
                path: e.source_.clone(),
                message: format!("journal key: {}", e.message),
            })?;
        let mut journal = if state_cfg.backend == crate::config::StateBackendKind::File
            && state_cfg.replica_id.is_none()
        {
            Self::new(state_dir.join("journal.jsonl"), key)
        } else {
            let id = crate::state::replica_id(&state_cfg, state_dir).map_err(|e| {
                GuardError::Journal {
                    path: state_dir.join("replica.id").display().to_string(),
                    message: e.to_string(),
                }
            })?;
            Self::for_replica(state_dir, &id, key)
        };
        if let Some(r) = shared {
            journal = journal.with_redis_head(r.clone());
        }
        journal = journal.with_max_bytes(server.map_or(64, |s| s.journal_max_mb) << 20);
        let mut targets = Vec::new();
        if let Some(s) = server {
            if s.journal_syslog {
                targets.push(CopyTarget::Syslog(
                    s.journal_syslog_socket
                        .clone()
                        .unwrap_or_else(|| PathBuf::from(DEFAULT_SYSLOG_SOCKET)),
                ));
            }
            if let Some(argv) = s.journal_command.as_ref().filter(|a| !a.is_empty()) {
                targets.push(CopyTarget::Command(argv.clone()));
            }
        }
        if !targets.is_empty() {
            journal = journal.with_copies(targets);
        }
        if let Err(e) = journal.check_at_start() {
            tracing::error!(
                error = %e,
                "the journal cannot be appended to: every write will be refused until this is fixed (see `zscaler-lifecycle-mcp journal verify`)"
            );
        }
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key records are MACed with.
    pub fn key(&self) -> &JournalKey {
        &self.key
    }

    /// Appends one event (an object of plain fields) and returns where it sits in the chain.
    /// `Ok` means the record is written and fsynced, the head is checkpointed (file, and Redis
    /// when configured) and every copy took it. An error says what failed and where; when it
    /// comes after the record was written, the message says so (the record stays in the chain,
    /// and the copies get it before the next one).
    pub fn append(&self, event: Map<String, Value>) -> Result<Receipt, GuardError> {
        let (lock, mut file) = self.lock_live()?;
        let result = self
            .settle(&mut file)
            .and_then(|tail| self.write_locked(&mut file, &tail, event));
        let _ = lock.unlock();
        result
    }

    /// What start-up does before serving: under the lock, repairs a torn tail, anchors a new
    /// or legacy chain with its first head, and checks the chain against its head.
    pub fn check_at_start(&self) -> Result<(), GuardError> {
        let (lock, mut file) = self.lock_live()?;
        let result = self.settle(&mut file).map(|_| ());
        let _ = lock.unlock();
        result
    }

    /// Checks the whole chain: records, links, MACs, segments, repairs, and its heads (file,
    /// and Redis when configured). Never writes.
    pub fn verify(&self) -> Result<Verified, String> {
        verify::check(&verify::Check {
            path: &self.path,
            key: &self.key,
            head_file: true,
            redis: self.redis.as_ref(),
        })
    }

    /// Checks an archived copy of a chain without its head: records, links, MACs, segments and
    /// repairs only, so a cut tail cannot show.
    pub fn verify_without_head(&self) -> Result<Verified, String> {
        verify::check(&verify::Check {
            path: &self.path,
            key: &self.key,
            head_file: false,
            redis: None,
        })
    }

    fn fail(&self, message: impl Into<String>) -> GuardError {
        GuardError::Journal {
            path: self.path.display().to_string(),
            message: message.into(),
        }
    }

    /// Takes the chain's lock and opens the live file. The lock is a file of its own beside
    /// the chain (`journal.jsonl.lock`), never renamed: locking the live file itself races
    /// with rotation (a writer could lock the fresh file between the rename and the rotating
    /// writer's own lock, and two records would take the same sequence number).
    fn lock_live(&self) -> Result<(File, File), GuardError> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| self.fail(format!("cannot create its directory: {e}")))?;
        }
        let lock_path = lock_path(&self.path);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| {
                self.fail(format!(
                    "cannot open its lock file {}: {e}",
                    lock_path.display()
                ))
            })?;
        lock.lock()
            .map_err(|e| self.fail(format!("cannot lock it: {e}")))?;
        match self.open_live() {
            Ok(file) => Ok((lock, file)),
            Err(e) => {
                let _ = lock.unlock();
                Err(e)
            }
        }
    }

    fn open_live(&self) -> Result<File, GuardError> {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|e| self.fail(format!("cannot open it for appending: {e}")))
    }

    /// Renames the live file to `segment` and continues in a fresh one (under the chain's
    /// lock, so no other writer can see the moment between the two).
    fn close_live(&self, file: &mut File, segment: &Path) -> Result<(), GuardError> {
        std::fs::rename(&self.path, segment).map_err(|e| {
            self.fail(format!(
                "cannot close it as segment {}: {e}",
                segment.display()
            ))
        })?;
        *file = self
            .open_live()
            .map_err(|e| self.fail(format!("cannot open a new live file: {e}")))?;
        Ok(())
    }

    /// Under the lock: finds where the chain ends, checks it against the head, repairs torn
    /// tails, rotates, and returns the link the next record follows.
    fn settle(&self, file: &mut File) -> Result<Link, GuardError> {
        let io = |what: &str, e: std::io::Error| self.fail(format!("{what}: {e}"));
        let len = file
            .metadata()
            .map_err(|e| io("cannot read its size", e))?
            .len();
        let live = file::read_tail(file, len).map_err(|e| io("cannot read its end", e))?;

        // Torn tails still to be recorded, oldest first: (segment name, torn bytes).
        let mut torn: Vec<(String, Vec<u8>)> = Vec::new();
        let mut last: Option<Record> = live.last.clone();
        if last.is_none() {
            // No record in the live file (new, just rotated, or a repair cut short): the chain
            // ends in the segments. Segments after the last record were torn with nothing
            // recorded after them yet.
            for seg in file::segments(&self.path).iter().rev() {
                let mut f = File::open(seg)
                    .map_err(|e| io(&format!("cannot open segment {}", seg.display()), e))?;
                let l = f
                    .metadata()
                    .map_err(|e| io(&format!("cannot read segment {}", seg.display()), e))?
                    .len();
                let t = file::read_tail(&mut f, l)
                    .map_err(|e| io(&format!("segment {}", seg.display()), e))?;
                if !t.torn.is_empty() {
                    torn.insert(0, (file::file_name(seg), t.torn));
                }
                if t.last.is_some() {
                    last = t.last;
                    break;
                }
            }
        }
        let tail = last
            .as_ref()
            .map(|r| Link {
                seq: r.seq,
                hash: r.hash.clone(),
            })
            .unwrap_or_else(Link::genesis);

        self.check_file_head(&tail, last.as_ref())?;
        self.check_redis_head(&tail)?;

        let mut tail = tail;
        if !live.torn.is_empty() {
            let segment = file::new_segment_path(&self.path, tail.seq);
            tracing::error!(
                path = %self.path.display(),
                torn_bytes = live.torn.len(),
                segment = %segment.display(),
                "journal ends in a torn record (a write cut short by a crash or a full disk): closing it as a segment; the chain continues in a new file that records the repair"
            );
            self.close_live(file, &segment)?;
            torn.push((file::file_name(&segment), live.torn));
        }
        for (segment, bytes) in torn {
            let mut event = Map::new();
            event.insert("outcome".into(), "repair".into());
            event.insert("segment".into(), segment.clone().into());
            event.insert("torn_bytes".into(), (bytes.len() as u64).into());
            event.insert("torn_sha256".into(), file::sha256_hex(&bytes).into());
            let r = self.write_locked(file, &tail, event)?;
            tracing::warn!(
                path = %self.path.display(),
                segment = %segment,
                torn_bytes = bytes.len(),
                seq = r.seq,
                "journal repair recorded"
            );
            tail = Link {
                seq: r.seq,
                hash: r.hash,
            };
        }

        if self.max_bytes > 0 && tail.seq > 0 {
            let size = file
                .metadata()
                .map_err(|e| io("cannot read its size", e))?
                .len();
            if size >= self.max_bytes {
                let segment = file::new_segment_path(&self.path, tail.seq);
                self.close_live(file, &segment)?;
                tracing::info!(path = %self.path.display(), segment = %segment.display(), "journal rotated");
            }
        }
        Ok(tail)
    }

    /// The head file must vouch for the chain's end. A missing head is written for a new or
    /// legacy chain (anchoring it); a head one record behind (a crash between the record's
    /// fsync and its checkpoint) is caught up; anything else refuses the append.
    fn check_file_head(&self, tail: &Link, last: Option<&Record>) -> Result<(), GuardError> {
        let hp = head_path(&self.path);
        let what = format!("head file {}", hp.display());
        let write = |new_file: bool| {
            head::write_file(&hp, &Head::seal(&self.key, tail), new_file)
                .map_err(|e| self.fail(format!("cannot write its {what}: {e}")))
        };
        let Some(head) = head::read_file(&hp).map_err(|m| self.fail(m))? else {
            if last.is_some_and(|r| r.mac.is_some()) {
                return Err(self.fail(format!(
                    "its {what} is missing while the chain holds keyed records up to seq {}: the head was removed; nothing is appended until it is restored (see `journal verify`)",
                    tail.seq
                )));
            }
            if tail.seq > 0 {
                tracing::info!(path = %self.path.display(), seq = tail.seq, "anchoring a journal written before journal keys: its head now seals it");
            }
            return write(true);
        };
        let at = head.check(&self.key, &what).map_err(|m| self.fail(m))?;
        if at == *tail {
            return Ok(());
        }
        if at.seq < tail.seq {
            // The head lags: a checkpoint lost in a crash (the head is not fsynced), or an
            // append whose checkpoint failed. Benign only if every record after it is ours.
            return match verify::continues_from(&self.path, &self.key, &at) {
                Ok(end) if end == *tail => {
                    tracing::warn!(path = %self.path.display(), head = at.seq, seq = tail.seq, "journal head was behind the chain (a checkpoint lost in a crash); catching it up");
                    write(false)
                }
                Ok(_) => Err(self.fail(format!(
                    "its {what} says seq {}, and the chain's end (seq {}) cannot be read back from it",
                    at.seq, tail.seq
                ))),
                Err(e) => Err(self.fail(format!(
                    "its {what} says seq {}, but the chain does not continue it to its end (seq {}): {e}; nothing is appended until this is resolved (see `journal verify`)",
                    at.seq, tail.seq
                ))),
            };
        }
        Err(self.fail(if at.seq > tail.seq {
            format!(
                "its {what} says seq {}, but the chain ends at seq {}: records were cut or a file emptied; nothing is appended until this is resolved (see `journal verify`)",
                at.seq, tail.seq
            )
        } else {
            format!(
                "its {what} says seq {} is {}, but the chain's record {} is {}: the chain does not match its head; nothing is appended until this is resolved (see `journal verify`)",
                at.seq,
                &at.hash[..at.hash.len().min(12)],
                tail.seq,
                &tail.hash[..tail.hash.len().min(12)]
            )
        }))
    }

    /// With Redis, the chain must not end before the head stored there (a wiped or cut local
    /// chain). Skipped while the chain ends where this process last put the head.
    fn check_redis_head(&self, tail: &Link) -> Result<(), GuardError> {
        let Some(redis) = &self.redis else {
            return Ok(());
        };
        let mut seen = self.redis_seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.as_ref() == Some(tail) {
            return Ok(());
        }
        let what = format!("head in {}", redis.at());
        let stored = redis
            .get()
            .map_err(|e| self.fail(format!("cannot read the {what}: {e}")))?;
        if let Some(h) = stored {
            let at = h.check(&self.key, &what).map_err(|m| self.fail(m))?;
            if at.seq > tail.seq || (at.seq == tail.seq && at.hash != tail.hash) {
                return Err(self.fail(format!(
                    "the {what} says seq {}, but the local chain ends at seq {}: it was cut, replaced or wiped; nothing is appended until this is resolved (see `journal verify`)",
                    at.seq, tail.seq
                )));
            }
            if at == *tail {
                *seen = Some(at);
            }
        }
        Ok(())
    }

    /// Writes one record after `prev`, fsyncs it, checkpoints the head and sends the copies.
    fn write_locked(
        &self,
        file: &mut File,
        prev: &Link,
        event: Map<String, Value>,
    ) -> Result<Receipt, GuardError> {
        let seq = prev.seq + 1;
        let mut body = Map::new();
        body.insert("seq".into(), Value::from(seq));
        body.insert("time".into(), Value::from(rfc3339(now_secs())));
        body.insert("prev".into(), Value::from(prev.hash.clone()));
        if let Some(r) = &self.replica {
            body.insert("replica".into(), Value::from(r.clone()));
        }
        for (k, v) in event {
            if !RESERVED.contains(&k.as_str()) {
                body.insert(k, v);
            }
        }
        let body = serde_json::to_string(&body)
            .map_err(|e| self.fail(format!("cannot encode record seq {seq}: {e}")))?;
        let hash = file::link(&prev.hash, &body);
        let mac = self.key.mac(key::RECORD, body.as_bytes());
        // The body is an object: close it with the hash and the MAC.
        let mut line = body;
        line.pop();
        line.push_str(&format!(",\"hash\":\"{hash}\",\"mac\":\"{mac}\"}}\n"));

        let before = file
            .metadata()
            .map_err(|e| self.fail(format!("cannot read its size: {e}")))?
            .len();
        if let Err(e) = file
            .write_all(line.as_bytes())
            .and_then(|_| file.sync_data())
        {
            // Take back what part of our own record reached the file, so it never becomes a
            // torn tail; if even that fails, the next append repairs it.
            let undone = file.set_len(before).and_then(|_| file.sync_data()).is_ok();
            return Err(self.fail(format!(
                "cannot write record seq {seq}: {e}{}",
                if undone {
                    ""
                } else {
                    "; a partial record may remain and is repaired on the next append"
                }
            )));
        }

        let at = Link {
            seq,
            hash: hash.clone(),
        };
        let head = Head::seal(&self.key, &at);
        let hp = head_path(&self.path);
        head::write_file(&hp, &head, false).map_err(|e| {
            self.fail(format!(
                "record seq {seq} is written, but its head checkpoint {} failed: {e}",
                hp.display()
            ))
        })?;
        if let Some(redis) = &self.redis {
            let mut seen = self.redis_seen.lock().unwrap_or_else(|p| p.into_inner());
            match redis.advance(&head, &prev.hash) {
                Ok(None) => *seen = Some(at),
                Ok(Some(stored)) => {
                    *seen = None;
                    return Err(self.fail(format!(
                        "record seq {seq} is written, but the head in {} says seq {}: this chain does not continue it (cut, replaced, or another writer with this replica id)",
                        redis.at(),
                        stored.seq
                    )));
                }
                Err(e) => {
                    *seen = None;
                    return Err(self.fail(format!(
                        "record seq {seq} is written, but its head checkpoint in {} failed: {e}",
                        redis.at()
                    )));
                }
            }
        }
        let mut copies = self.copies.lock().unwrap_or_else(|p| p.into_inner());
        if !copies.is_empty() {
            copies.send(line.trim_end_matches('\n')).map_err(|e| {
                self.fail(format!(
                    "record seq {seq} is in the chain, but its copy failed: {e}"
                ))
            })?;
        }
        Ok(Receipt { seq, hash })
    }
}

#[cfg(test)]
mod tests;
