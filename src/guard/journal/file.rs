//! The chain's files: segment names, the last record of a file, and what counts as a torn tail.
//!
//! Every record is one line written with its newline in one `write`; a crash or a full disk can
//! cut that write short. So the bytes after the last newline, or a last line that is not a
//! complete record, are a *torn tail*: never part of the chain, never appended after.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 link of a record: over the previous record's hash and the record's canonical body.
pub fn link(prev: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

/// Hex SHA-256 of some bytes (torn tails are recorded by length and digest).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One parsed record line.
#[derive(Debug, Clone)]
pub struct Record {
    pub seq: u64,
    pub prev: String,
    pub hash: String,
    /// Absent on records written before the chain was anchored (legacy).
    pub mac: Option<String>,
    /// The canonical body: the record without `hash` and `mac`, as hashed and MACed.
    pub body: String,
    pub fields: Map<String, Value>,
}

impl Record {
    /// A line as a record, or `None` when it is not a complete one (torn, or not ours).
    pub fn parse(line: &[u8]) -> Option<Record> {
        let mut fields: Map<String, Value> = serde_json::from_slice(line).ok()?;
        let hash = match fields.remove("hash")? {
            Value::String(h) => h,
            _ => return None,
        };
        let mac = match fields.remove("mac") {
            None => None,
            Some(Value::String(m)) => Some(m),
            Some(_) => return None,
        };
        let seq = fields.get("seq")?.as_u64()?;
        let prev = fields.get("prev")?.as_str()?.to_string();
        let body = serde_json::to_string(&fields).ok()?;
        Some(Record {
            seq,
            prev,
            hash,
            mac,
            body,
            fields,
        })
    }
}

/// The chain position a record leaves: its sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub seq: u64,
    pub hash: String,
}

impl Link {
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS.to_string(),
        }
    }
}

/// The end of one chain file.
#[derive(Debug)]
pub struct Tail {
    /// The file's last complete record, if it has one.
    pub last: Option<Record>,
    /// Bytes after the last complete record (empty when the file ends cleanly).
    pub torn: Vec<u8>,
}

/// Reads the end of an open chain file of `len` bytes: its last complete record and any torn
/// tail. Only a window at the end is read (records are small); it grows for a huge record.
/// Fails when the line before a torn tail is not a record either: that is damage, not a crash.
pub fn read_tail(file: &mut File, len: u64) -> std::io::Result<Tail> {
    let mut window = 8 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        file.by_ref().take(len - start).read_to_end(&mut buf)?;
        match tail_of(&buf, start == 0) {
            Some((last, torn_at)) => {
                return Ok(Tail {
                    last,
                    torn: buf[torn_at..].to_vec(),
                });
            }
            None if start == 0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the last two lines are not records (damage, not a write cut short); run `journal verify`",
                ));
            }
            None => window *= 4,
        }
    }
}

/// In a window ending at the end of the file (`whole`: the window starts at the file's start):
/// the last complete record and the offset where the torn tail starts. `None` when the window
/// is too small to tell, or (for a whole file) when the line before the torn tail is not a
/// record.
fn tail_of(buf: &[u8], whole: bool) -> Option<(Option<Record>, usize)> {
    // The start of the line that ends just before `end` (exclusive of its newline).
    let line_start = |end: usize| -> Option<usize> {
        match buf[..end].iter().rposition(|&b| b == b'\n') {
            Some(p) => Some(p + 1),
            None if whole => Some(0),
            None => None,
        }
    };
    if buf.is_empty() {
        return Some((None, 0));
    }
    // The candidate for the last record: the last newline-terminated line.
    let (cand_end, torn_at) = if buf.last() == Some(&b'\n') {
        let end = buf.len() - 1;
        let start = line_start(end)?;
        if let Some(r) = Record::parse(&buf[start..end]) {
            return Some((Some(r), buf.len()));
        }
        // The last line is not a record: it is the torn tail; the one before must be.
        (start.checked_sub(1), start)
    } else {
        let start = line_start(buf.len())?;
        (start.checked_sub(1), start)
    };
    let Some(end) = cand_end else {
        // Nothing before the torn tail: the file holds no record.
        return Some((None, 0));
    };
    let start = line_start(end)?;
    Record::parse(&buf[start..end]).map(|r| (Some(r), torn_at))
}

/// The head file beside a chain: `journal.jsonl` → `journal.head`.
pub fn head_path(chain: &Path) -> PathBuf {
    let name = chain
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("journal.jsonl");
    let stem = name.strip_suffix(".jsonl").unwrap_or(name);
    chain.with_file_name(format!("{stem}.head"))
}

/// `(last seq, n)` of a segment name suffix: `000000001234` or `000000001234-1`.
fn segment_order(rest: &str) -> Option<(u64, u64)> {
    let (seq, n) = match rest.split_once('-') {
        Some((s, n)) => (s, n.parse().ok()?),
        None => (rest, 0),
    };
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((seq.parse().ok()?, n))
}

/// The rotated or closed segments of `path`, oldest first: `journal.jsonl.000000001234` (the
/// sequence number of its last record, zero-padded), with `-N` added when a segment ending at
/// the same record already exists (a torn file that held no complete record).
pub fn segments(path: &Path) -> Vec<PathBuf> {
    segments_by_seq(path).into_iter().map(|(_, p)| p).collect()
}

/// [`segments`], each with the sequence number of its last record (from its name).
pub fn segments_by_seq(path: &Path) -> Vec<(u64, PathBuf)> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let mut found: Vec<((u64, u64), PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let order = e
                        .file_name()
                        .to_str()
                        .and_then(|n| n.strip_prefix(&prefix))
                        .and_then(segment_order)?;
                    Some((order, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.into_iter().map(|((seq, _), p)| (seq, p)).collect()
}

/// A free segment name for a file whose last record is `last_seq`.
pub fn new_segment_path(path: &Path, last_seq: u64) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut n = 0u64;
    loop {
        let candidate = if n == 0 {
            path.with_file_name(format!("{name}.{last_seq:012}"))
        } else {
            path.with_file_name(format!("{name}.{last_seq:012}-{n}"))
        };
        if std::fs::symlink_metadata(&candidate).is_err() {
            return candidate;
        }
        n += 1;
    }
}

/// The file name alone, for records and messages.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> String {
        format!("{{\"hash\":\"h{seq}\",\"prev\":\"p\",\"seq\":{seq}}}")
    }

    #[test]
    fn tails_clean_torn_and_damaged() {
        let clean = format!("{}\n{}\n", rec(1), rec(2));
        let (last, at) = tail_of(clean.as_bytes(), true).expect("whole");
        assert_eq!((last.expect("record").seq, at), (2, clean.len()));

        // Cut mid-record, no newline.
        let torn = format!("{}\n{}\n{{\"hash\":\"h3", rec(1), rec(2));
        let (last, at) = tail_of(torn.as_bytes(), true).expect("whole");
        assert_eq!(last.expect("record").seq, 2);
        assert_eq!(&torn.as_bytes()[at..], b"{\"hash\":\"h3");

        // A complete record without its newline is still torn: it was never acknowledged.
        let no_nl = format!("{}\n{}", rec(1), rec(2));
        let (last, at) = tail_of(no_nl.as_bytes(), true).expect("whole");
        assert_eq!((last.expect("record").seq, at), (1, rec(1).len() + 1));

        // A terminated last line that is not a record is torn too.
        let junk = format!("{}\n\0\0\0\n", rec(1));
        let (last, at) = tail_of(junk.as_bytes(), true).expect("whole");
        assert_eq!((last.expect("record").seq, at), (1, rec(1).len() + 1));

        // Only torn bytes: no record.
        let (last, at) = tail_of(b"{\"ha", true).expect("whole");
        assert!(last.is_none() && at == 0);

        // Two bad lines: damage, refused.
        let bad = format!("{}\nnot json\nnot json either", rec(1));
        assert!(tail_of(bad.as_bytes(), true).is_none());

        // A window that starts mid-line asks for more.
        assert!(tail_of(b"ash\":\"x\"}\n", false).is_none());
    }

    #[test]
    fn segment_names_sort_in_chain_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.jsonl");
        for name in [
            "journal.jsonl.000000000010-2",
            "journal.jsonl.000000000010",
            "journal.jsonl.000000000002",
            "journal.jsonl.000000000010-10",
            "journal.jsonl.000000000010-1",
            "journal.jsonl.bak",
            "journal.head",
        ] {
            std::fs::write(dir.path().join(name), "").expect("write");
        }
        let names: Vec<String> = segments(&path).iter().map(|p| file_name(p)).collect();
        assert_eq!(
            names,
            [
                "journal.jsonl.000000000002",
                "journal.jsonl.000000000010",
                "journal.jsonl.000000000010-1",
                "journal.jsonl.000000000010-2",
                "journal.jsonl.000000000010-10",
            ]
        );
        assert_eq!(
            file_name(&new_segment_path(&path, 10)),
            "journal.jsonl.000000000010-3"
        );
        assert_eq!(
            file_name(&head_path(&dir.path().join("journal-a.jsonl"))),
            "journal-a.head"
        );
    }
}
