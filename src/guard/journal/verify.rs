//! `journal verify`: the whole chain, segments first, checked against its key and its heads.
//!
//! It fails, saying which, on: an edited record (hash), a record moved, dropped or re-chained
//! without the key (MAC), a gap or a missing segment (sequence numbers and links), an empty
//! segment, a torn tail without the repair record that must follow it, a cut tail or an emptied
//! live file (the head says more than the chain holds), a head that does not match the chain,
//! and a key that is missing or not the one the journal was sealed with.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::file::{self, GENESIS, Link, Record};
use super::head::{self, RedisHead};
use super::key::{JournalKey, RECORD};

/// A torn tail and where it was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// The segment that ends in the torn bytes.
    pub segment: String,
    pub torn_bytes: u64,
    /// The repair record's sequence number.
    pub seq: u64,
}

/// What an intact chain holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    /// Records written before the chain was anchored (no MAC); the first keyed record, or the
    /// head, seals them.
    pub legacy: u64,
    pub repairs: Vec<Repair>,
    /// Which heads matched the chain's end: `file`, `redis`.
    pub heads: Vec<String>,
    /// Things worth knowing that do not break the chain (a head that lags).
    pub notes: Vec<String>,
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = if self.records == 1 { "" } else { "s" };
        write!(f, "{} record{s}, chain intact", self.records)?;
        if self.heads.is_empty() {
            write!(
                f,
                " (links and MACs only: no head checked, a cut tail would not show)"
            )?;
        } else {
            write!(f, ", head matches ({})", self.heads.join(", "))?;
        }
        if self.legacy > 0 {
            write!(
                f,
                "; {} legacy record(s) without MAC, sealed by what follows",
                self.legacy
            )?;
        }
        match self.repairs.len() {
            0 => {}
            1 => write!(f, "\n  1 repair: ")?,
            n => write!(f, "\n  {n} repairs: ")?,
        }
        for (i, r) in self.repairs.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(
                f,
                "segment {} had {} torn bytes, recorded at seq {}",
                r.segment, r.torn_bytes, r.seq
            )?;
        }
        for n in &self.notes {
            write!(f, "\n  note: {n}")?;
        }
        Ok(())
    }
}

/// How to check a chain.
pub struct Check<'a> {
    pub path: &'a Path,
    pub key: &'a JournalKey,
    /// Require the head file beside the chain (off only for an archived copy).
    pub head_file: bool,
    pub redis: Option<&'a RedisHead>,
}

/// A torn tail waiting for its repair record.
struct Torn {
    segment: String,
    len: u64,
    sha256: String,
}

struct Walk<'a> {
    key: &'a JournalKey,
    prev: String,
    seq: u64,
    anchored: bool,
    out: Verified,
    pending: VecDeque<Torn>,
    /// Hashes at the sequence numbers the heads name.
    wanted: HashMap<u64, Option<String>>,
}

pub fn check(c: &Check) -> Result<Verified, String> {
    let file_head = if c.head_file {
        let hp = file::head_path(c.path);
        head::read_file(&hp)?.map(|h| (format!("head file {}", hp.display()), h))
    } else {
        None
    };
    let redis_head = match c.redis {
        Some(r) => r
            .get()
            .map_err(|e| format!("cannot read the head in {}: {e}", r.at()))?
            .map(|h| (format!("head in {}", r.at()), h)),
        None => None,
    };
    let mut heads: Vec<(&str, String, Link)> = Vec::new();
    for (kind, found) in [("file", &file_head), ("redis", &redis_head)] {
        if let Some((what, h)) = found {
            heads.push((kind, what.clone(), h.check(c.key, what)?));
        }
    }

    let mut walk = Walk {
        key: c.key,
        prev: GENESIS.to_string(),
        seq: 0,
        anchored: false,
        out: Verified::default(),
        pending: VecDeque::new(),
        wanted: heads.iter().map(|(_, _, l)| (l.seq, None)).collect(),
    };
    let segments = file::segments(c.path);
    if !c.path.exists() && segments.is_empty() && heads.is_empty() {
        return Err(format!("{}: no such journal", c.path.display()));
    }
    for segment in &segments {
        walk.file(segment, false)?;
    }
    if c.path.exists() || segments.is_empty() {
        walk.file(c.path, true)?;
    }
    if let Some(t) = walk.pending.front() {
        return Err(format!(
            "segment {} ends in {} torn bytes and no repair record follows it (the next start or append writes it)",
            t.segment, t.len
        ));
    }

    let end = Link {
        seq: walk.seq,
        hash: walk.prev.clone(),
    };
    let where_end = if end.seq == 0 {
        "the chain holds no record".to_string()
    } else {
        format!("the chain ends at seq {}", end.seq)
    };
    if c.head_file && file_head.is_none() {
        return Err(if end.seq > 0 && !walk.anchored {
            format!(
                "legacy, unanchored: {} records without MAC and no head file {}; written before journal anchoring. Start the server (or run `call`/`approve`) once with this state directory to anchor it, or verify an archived copy with --no-head",
                end.seq,
                file::head_path(c.path).display()
            )
        } else {
            format!(
                "head file {} is missing: cannot tell whether records were cut ({where_end})",
                file::head_path(c.path).display()
            )
        });
    }
    for (kind, what, link) in &heads {
        if link.seq > end.seq {
            let live = file::file_name(c.path);
            let state = match std::fs::metadata(c.path) {
                Err(_) => format!("; the live file {live} is missing"),
                Ok(m) if m.len() == 0 => format!("; the live file {live} is empty"),
                Ok(_) => String::new(),
            };
            return Err(format!(
                "cut tail: the {what} says seq {}, but {where_end}{state}: records were removed",
                link.seq
            ));
        }
        match walk.wanted.get(&link.seq).cloned().flatten() {
            Some(h) if h == link.hash => {}
            _ if link.seq == 0 && link.hash == GENESIS => {}
            _ => {
                return Err(format!(
                    "head mismatch: the {what} says seq {} has hash {}, but the chain's record {} differs: the chain was replaced",
                    link.seq,
                    short(&link.hash),
                    link.seq
                ));
            }
        }
        if link.seq < end.seq {
            walk.out.notes.push(format!(
                "the {what} lags: it says seq {}, the chain goes on to seq {} (an append whose checkpoint failed; the next append catches up)",
                link.seq, end.seq
            ));
        }
        walk.out.heads.push(kind.to_string());
    }
    walk.out.records = end.seq;
    Ok(walk.out)
}

fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

impl Walk<'_> {
    /// Checks one file of the chain, continuing from the one before.
    fn file(&mut self, path: &Path, live: bool) -> Result<(), String> {
        let name = file::file_name(path);
        let at = |line: usize| format!("{name} line {line}");
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if live && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut reader = BufReader::new(f);
        let mut last: Option<(usize, Vec<u8>)> = None;
        let mut n = 0usize;
        let mut records = 0u64;
        loop {
            let mut buf = Vec::new();
            let read = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| format!("{}: {e}", at(n + 1)))?;
            if read == 0 {
                break;
            }
            n += 1;
            if let Some((line, prev)) = last.replace((n, buf)) {
                // Not the last line: it must be a complete record.
                let r = strip_nl(&prev)
                    .and_then(Record::parse)
                    .ok_or_else(|| format!("{}: not a journal record", at(line)))?;
                self.record(r, &at(line))?;
                records += 1;
            }
        }
        let mut torn = Vec::new();
        if let Some((line, bytes)) = last {
            match strip_nl(&bytes).and_then(Record::parse) {
                Some(r) => {
                    self.record(r, &at(line))?;
                    records += 1;
                }
                None => torn = bytes,
            }
        }
        if !live && records == 0 && torn.is_empty() {
            return Err(format!("segment {name} is empty: its records were removed"));
        }
        if !torn.is_empty() {
            if live {
                return Err(format!(
                    "{name} ends in {} torn bytes after seq {} (a write cut short by a crash or a full disk) not yet repaired: the next start or append closes it and records the repair",
                    torn.len(),
                    self.seq
                ));
            }
            self.pending.push_back(Torn {
                segment: name,
                len: torn.len() as u64,
                sha256: file::sha256_hex(&torn),
            });
        }
        Ok(())
    }

    fn record(&mut self, r: Record, at: &str) -> Result<(), String> {
        let expected = self.seq + 1;
        if r.seq != expected {
            return Err(if r.seq > expected {
                if expected == 1 {
                    format!(
                        "{at}: the chain starts at seq {}: records 1 to {} are missing (a removed segment?)",
                        r.seq,
                        r.seq - 1
                    )
                } else {
                    format!(
                        "{at}: seq {} follows seq {}: records {expected} to {} are missing (removed records or segment)",
                        r.seq,
                        self.seq,
                        r.seq - 1
                    )
                }
            } else {
                format!(
                    "{at}: seq {} after seq {}: records are out of order or repeated",
                    r.seq, self.seq
                )
            });
        }
        if r.prev != self.prev {
            return Err(format!(
                "{at}: seq {}: chain broken: the record does not follow the one before (records removed, reordered or replaced)",
                r.seq
            ));
        }
        if file::link(&r.prev, &r.body) != r.hash {
            return Err(format!(
                "{at}: seq {}: the record was modified after it was written (hash mismatch)",
                r.seq
            ));
        }
        match &r.mac {
            Some(mac) => {
                if !self.key.verify(RECORD, r.body.as_bytes(), mac) {
                    return Err(format!(
                        "{at}: seq {}: MAC mismatch: the record was re-chained or rewritten without the journal key (or the key at {} is not this journal's)",
                        r.seq,
                        self.key.source()
                    ));
                }
                self.anchored = true;
            }
            None if self.anchored => {
                return Err(format!(
                    "{at}: seq {}: record without MAC after the chain was anchored: it was replaced",
                    r.seq
                ));
            }
            None => self.out.legacy += 1,
        }
        let is_repair = r.fields.get("outcome").and_then(|v| v.as_str()) == Some("repair");
        match self.pending.pop_front() {
            Some(t) => {
                let s = |k: &str| r.fields.get(k).and_then(|v| v.as_str());
                let n = r.fields.get("torn_bytes").and_then(|v| v.as_u64());
                if !is_repair
                    || s("segment") != Some(t.segment.as_str())
                    || n != Some(t.len)
                    || s("torn_sha256") != Some(t.sha256.as_str())
                {
                    return Err(format!(
                        "{at}: segment {} ends in {} torn bytes, but seq {} is not the repair record for them",
                        t.segment, t.len, r.seq
                    ));
                }
                self.out.repairs.push(Repair {
                    segment: t.segment,
                    torn_bytes: t.len,
                    seq: r.seq,
                });
            }
            None if is_repair => {
                return Err(format!(
                    "{at}: seq {} is a repair record, but no torn tail precedes it",
                    r.seq
                ));
            }
            None => {}
        }
        if let Some(slot) = self.wanted.get_mut(&r.seq) {
            *slot = Some(r.hash.clone());
        }
        self.seq = r.seq;
        self.prev = r.hash;
        Ok(())
    }
}

fn strip_nl(line: &[u8]) -> Option<&[u8]> {
    line.strip_suffix(b"\n")
}

/// Every chain in a state directory: `journal.jsonl` and `journal-<replica>.jsonl`, found by
/// their live file, a segment or a head (so a deleted live file is still checked), sorted.
pub fn chain_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let is_chain = |stem: &str| {
        stem == "journal"
            || stem
                .strip_prefix("journal-")
                .is_some_and(crate::config::valid_replica_id)
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let stem = if let Some(s) = name.strip_suffix(".head") {
                s.to_string()
            } else if let Some(pos) = name.find(".jsonl") {
                let rest = &name[pos + ".jsonl".len()..];
                let ok = rest.is_empty()
                    || rest.strip_prefix('.').is_some_and(|r| {
                        !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit() || b == b'-')
                    });
                if !ok {
                    return None;
                }
                name[..pos].to_string()
            } else {
                return None;
            };
            is_chain(&stem).then(|| dir.join(format!("{stem}.jsonl")))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Whether the chain goes on from `from` (a head that lags: its checkpoint was lost in a crash)
/// to its end, every record after it in sequence, linked and MACed; reads only the files from
/// the one holding `from`. Returns the chain's end.
pub fn continues_from(path: &Path, key: &JournalKey, from: &Link) -> Result<Link, String> {
    let mut files: Vec<PathBuf> = file::segments_by_seq(path)
        .into_iter()
        .filter(|(last, _)| *last >= from.seq)
        .map(|(_, p)| p)
        .collect();
    files.push(path.to_path_buf());
    let mut end: Option<Link> = (from.seq == 0).then(|| from.clone());
    for f in &files {
        let text = match std::fs::read(f) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", f.display())),
        };
        for line in text.split_inclusive(|&b| b == b'\n') {
            let Some(r) = strip_nl(line).and_then(Record::parse) else {
                continue; // a torn tail: its repair record follows and is checked like any record
            };
            match &end {
                None if r.seq == from.seq => {
                    if r.hash != from.hash {
                        return Err(format!(
                            "the head says seq {} has hash {}, but the chain's record differs",
                            from.seq,
                            short(&from.hash)
                        ));
                    }
                    end = Some(from.clone());
                }
                None => {}
                Some(prev) => {
                    let linked = r.seq == prev.seq + 1
                        && r.prev == prev.hash
                        && file::link(&r.prev, &r.body) == r.hash
                        && r.mac
                            .as_deref()
                            .is_some_and(|m| key.verify(RECORD, r.body.as_bytes(), m));
                    if !linked {
                        return Err(format!(
                            "seq {} (after the head's seq {}) is not linked and MACed in sequence",
                            r.seq, from.seq
                        ));
                    }
                    end = Some(Link {
                        seq: r.seq,
                        hash: r.hash,
                    });
                }
            }
        }
    }
    end.ok_or_else(|| format!("the chain holds no record seq {} (the head's)", from.seq))
}
