//! The audit journal: append-only JSONL, each record hash-chained to the one before.
//!
//! A record's `hash` is SHA-256 over the previous record's hash and the record's canonical JSON
//! (without `hash`), so editing, deleting or reordering any record breaks every later link.
//! Appends take an OS file lock and fsync, so several processes sharing a state directory keep
//! one consistent chain. Secrets never reach it: callers pass only ids, names and outcomes.
//!
//! Several replicas (`[state] backend = "redis"`, or any `replica_id`) do not share one file:
//! each appends to its own chain, `journal-<replica_id>.jsonl`, and stamps `replica` on every
//! record, so chains never interleave across machines and each can be shipped and verified on
//! its own. `journal verify` checks every chain file in the state directory.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{GuardError, now_secs, rfc3339};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Size at which the live file is rotated by default (64 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// The journal file.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    /// Stamped on every record when several replicas each keep a chain.
    replica: Option<String>,
    /// Rotate the live file once it is this large (0 = never). The chain continues across
    /// segments: a segment's first record links to the last record of the one before.
    max_bytes: u64,
}

/// A rotated segment of `path`: `journal.jsonl.000000001234` (the sequence number of its last
/// record, zero-padded so that names sort in chain order).
fn segment_path(path: &Path, last_seq: u64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{last_seq:012}"));
    path.with_file_name(name)
}

/// The rotated segments of `path`, oldest first.
fn segments(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_name().to_str().is_some_and(|n| {
                        n.strip_prefix(&prefix).is_some_and(|rest| {
                            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())
                        })
                    })
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Whether the open handle still is the file at `path` (another process may have rotated it
/// between our open and our lock).
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn jerr(path: &Path, e: impl std::fmt::Display) -> GuardError {
    GuardError::Journal {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn link(prev: &str, body: &Value) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(body.to_string().as_bytes());
    hex::encode(h.finalize())
}

impl Journal {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            replica: None,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// Rotates the live file at `max_bytes` (0 = never).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The chain of one replica: `journal-<replica>.jsonl` in `dir`, records stamped with it.
    pub fn for_replica(dir: &Path, replica: &str) -> Self {
        Self {
            path: dir.join(format!("journal-{replica}.jsonl")),
            replica: Some(replica.to_string()),
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// The journal a config asks for: one file, or this replica's chain when state is shared
    /// or a replica id is set.
    pub fn for_config(
        cfg: &crate::config::StateConfig,
        state_dir: &Path,
    ) -> Result<Self, GuardError> {
        if cfg.backend == crate::config::StateBackendKind::File && cfg.replica_id.is_none() {
            return Ok(Self::new(state_dir.join("journal.jsonl")));
        }
        let id = crate::state::replica_id(cfg, state_dir)
            .map_err(|e| jerr(&state_dir.join("replica.id"), e))?;
        Ok(Self::for_replica(state_dir, &id))
    }

    /// Every chain file in a state directory: `journal.jsonl` and `journal-*.jsonl`, sorted.
    pub fn chain_files(dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name().to_str().is_some_and(|n| {
                    n == "journal.jsonl" || (n.starts_with("journal-") && n.ends_with(".jsonl"))
                })
            })
            .map(|e| e.path())
            .collect();
        files.sort();
        files
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event (an object of plain fields) and returns its hash.
    pub fn append(&self, event: Map<String, Value>) -> Result<String, GuardError> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| jerr(&self.path, e))?;
        }
        let open = || {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&self.path)
                .map_err(|e| jerr(&self.path, e))
        };
        let mut file = open()?;
        file.lock().map_err(|e| jerr(&self.path, e))?;
        // Another process may have rotated the file while we waited for the lock.
        while !same_file(&file, &self.path) {
            let _ = file.unlock();
            file = open()?;
            file.lock().map_err(|e| jerr(&self.path, e))?;
        }
        let result = (|| {
            let (seq, prev) = last_link(&mut file).map_err(|e| jerr(&self.path, e))?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            if self.max_bytes > 0 && size >= self.max_bytes && seq > 0 {
                // Rename under the lock, then continue the chain in a fresh file. Waiting
                // writers notice the rename (same_file) and reopen.
                std::fs::rename(&self.path, segment_path(&self.path, seq))
                    .map_err(|e| jerr(&self.path, e))?;
                let fresh = open()?;
                fresh.lock().map_err(|e| jerr(&self.path, e))?;
                let _ = file.unlock();
                file = fresh;
                tracing::info!(path = %self.path.display(), "journal rotated");
            }
            let mut body = Map::new();
            body.insert("seq".into(), Value::from(seq + 1));
            body.insert("time".into(), Value::from(rfc3339(now_secs())));
            body.insert("prev".into(), Value::from(prev.clone()));
            if let Some(r) = &self.replica {
                body.insert("replica".into(), Value::from(r.clone()));
            }
            for (k, v) in event {
                if !matches!(k.as_str(), "seq" | "time" | "prev" | "hash" | "replica") {
                    body.insert(k, v);
                }
            }
            let body = Value::Object(body);
            let hash = link(&prev, &body);
            let mut record = body;
            if let Value::Object(m) = &mut record {
                m.insert("hash".into(), Value::from(hash.clone()));
            }
            let mut line = record.to_string();
            line.push('\n');
            file.write_all(line.as_bytes())
                .and_then(|_| file.sync_data())
                .map_err(|e| jerr(&self.path, e))?;
            Ok(hash)
        })();
        let _ = file.unlock();
        result
    }

    /// Checks the whole chain, rotated segments first; returns the number of records or the
    /// first broken one (a missing or edited segment breaks the chain like a missing record).
    pub fn verify(path: &Path) -> Result<u64, String> {
        let mut prev = GENESIS.to_string();
        let mut count = 0u64;
        for segment in segments(path) {
            verify_file(&segment, &mut prev, &mut count)
                .map_err(|e| format!("{}: {e}", segment.display()))?;
        }
        verify_file(path, &mut prev, &mut count)?;
        Ok(count)
    }
}

/// Checks one file of a chain, continuing from `prev` and `count`.
fn verify_file(path: &Path, prev: &mut String, count: &mut u64) -> Result<(), String> {
    {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| format!("line {}: {e}", i + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let mut record: Map<String, Value> = serde_json::from_str(&line)
                .map_err(|e| format!("line {}: not a JSON record: {e}", i + 1))?;
            let hash = match record.remove("hash") {
                Some(Value::String(h)) => h,
                _ => return Err(format!("line {}: record has no hash", i + 1)),
            };
            if record.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
                return Err(format!(
                    "line {}: chain broken (record does not follow the one before: removed or reordered records)",
                    i + 1
                ));
            }
            if record.get("seq").and_then(Value::as_u64) != Some(*count + 1) {
                return Err(format!("line {}: sequence number out of order", i + 1));
            }
            if link(prev, &Value::Object(record)) != hash {
                return Err(format!(
                    "line {}: record was modified after it was written",
                    i + 1
                ));
            }
            *prev = hash;
            *count += 1;
        }
        Ok(())
    }
}

/// Sequence number and hash of the last record (0 and the genesis hash for an empty file).
fn last_link(file: &mut std::fs::File) -> std::io::Result<(u64, String)> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok((0, GENESIS.to_string()));
    }
    // Records are small; the last one fits in the tail unless it is huge, then read it all.
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        let trimmed = text.trim_end();
        let last = match trimmed.rfind('\n') {
            Some(pos) => &trimmed[pos + 1..],
            None if start == 0 => trimmed,
            None => {
                window *= 4;
                continue;
            }
        };
        let v: Value = serde_json::from_str(last).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("last record unreadable: {e}"),
            )
        })?;
        let seq = v.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let hash = v
            .get("hash")
            .and_then(Value::as_str)
            .unwrap_or(GENESIS)
            .to_string();
        return Ok((seq, hash));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(n: u64) -> Map<String, Value> {
        match json!({"tool": "deactivate", "n": n}) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn write_three(dir: &Path) -> PathBuf {
        let path = dir.join("journal.jsonl");
        let j = Journal::new(path.clone());
        for n in 0..3 {
            j.append(event(n)).expect("append");
        }
        path
    }

    #[test]
    fn rotation_continues_the_chain_and_verify_spans_segments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        let j = Journal::new(path.clone()).with_max_bytes(300);
        for n in 0..10 {
            j.append(event(n)).expect("append");
        }
        let segs = segments(&path);
        assert!(segs.len() >= 2, "rotated: {segs:?}");
        assert_eq!(Journal::verify(&path), Ok(10));
        // Deleting a middle segment breaks the chain.
        std::fs::remove_file(&segs[1]).expect("rm");
        assert!(Journal::verify(&path).is_err());
    }

    #[test]
    fn replica_chains_are_separate_and_stamped() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_three(dir.path());
        for r in ["a-1", "b-2"] {
            let j = Journal::for_replica(dir.path(), r);
            j.append(event(1)).expect("append");
            j.append(event(2)).expect("append");
            let text = std::fs::read_to_string(j.path()).expect("read");
            assert!(
                text.lines()
                    .all(|l| l.contains(&format!("\"replica\":\"{r}\"")))
            );
            assert_eq!(Journal::verify(j.path()), Ok(2));
        }
        let files = Journal::chain_files(dir.path());
        let names: Vec<_> = files
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(String::from))
            .collect();
        assert_eq!(
            names,
            ["journal-a-1.jsonl", "journal-b-2.jsonl", "journal.jsonl"]
        );
    }

    #[test]
    fn intact_chain_verifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_three(dir.path());
        assert_eq!(Journal::verify(&path), Ok(3));
    }

    #[test]
    fn edit_removal_and_reorder_are_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_three(dir.path());
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();

        std::fs::write(&path, text.replace("\"n\":1", "\"n\":7")).expect("write");
        assert!(
            Journal::verify(&path)
                .expect_err("edit")
                .contains("modified")
        );

        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).expect("write");
        assert!(Journal::verify(&path).is_err());

        std::fs::write(&path, format!("{}\n{}\n{}\n", lines[0], lines[2], lines[1]))
            .expect("write");
        assert!(Journal::verify(&path).is_err());
    }
}
