use super::*;
use serde_json::json;

fn event(n: u64) -> Map<String, Value> {
    match json!({"tool": "deactivate", "n": n}) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn key() -> JournalKey {
    JournalKey::from_text(&"k".repeat(64), "test key").expect("key")
}

fn journal(dir: &Path) -> Journal {
    Journal::new(dir.join("journal.jsonl"), key())
}

fn write_n(j: &Journal, n: u64) {
    for i in 0..n {
        j.append(event(i)).expect("append");
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(String::from)
        .collect()
}

fn broken(j: &Journal) -> String {
    j.verify().expect_err("must be broken")
}

#[test]
fn records_are_sequenced_chained_macd_and_checkpointed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    let r1 = j.append(event(1)).expect("append");
    let r2 = j.append(event(2)).expect("append");
    assert_eq!((r1.seq, r2.seq), (1, 2));
    let last: Value = serde_json::from_str(&lines(j.path())[1]).expect("json");
    assert_eq!(last["hash"], r2.hash.as_str());
    assert_eq!(last["prev"], r1.hash.as_str());
    assert!(last["mac"].as_str().is_some_and(|m| m.len() == 64));
    let head: Value =
        serde_json::from_slice(&std::fs::read(head_path(j.path())).expect("head")).expect("json");
    assert_eq!(
        (head["seq"].as_u64(), head["hash"].as_str()),
        (Some(2), Some(r2.hash.as_str()))
    );
    let v = j.verify().expect("intact");
    assert_eq!((v.records, v.heads.clone()), (2, vec!["file".to_string()]));
    assert!(
        v.to_string()
            .starts_with("2 records, chain intact, head matches (file)"),
        "{v}"
    );
}

#[test]
fn canonical_bodies_have_sorted_keys() {
    // The hash and MAC are over serde_json's serialization of a map; that must stay sorted
    // (no `preserve_order`), or journals written by one build would not verify in another.
    let m: Map<String, Value> = serde_json::from_str(r#"{"b":1,"a":{"d":1,"c":2}}"#).expect("json");
    assert_eq!(
        serde_json::to_string(&m).expect("json"),
        r#"{"a":{"c":2,"d":1},"b":1}"#
    );
}

#[test]
fn reserved_fields_cannot_be_forged_by_an_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    let mut e = event(1);
    e.insert("seq".into(), json!(99));
    e.insert("mac".into(), json!("x"));
    e.insert("prev".into(), json!("y"));
    assert_eq!(j.append(e).expect("append").seq, 1);
    j.verify().expect("intact");
}

#[test]
fn rotation_continues_the_chain_and_verify_spans_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path()).with_max_bytes(600);
    write_n(&j, 10);
    let segs = file::segments(j.path());
    assert!(segs.len() >= 3, "rotated: {segs:?}");
    assert_eq!(j.verify().expect("intact").records, 10);

    // A middle segment removed: a gap.
    let saved = std::fs::read(&segs[1]).expect("read");
    std::fs::remove_file(&segs[1]).expect("rm");
    assert!(broken(&j).contains("are missing"), "{}", broken(&j));
    std::fs::write(&segs[1], &saved).expect("restore");
    // The first segment removed: the chain does not start at 1.
    let first = std::fs::read(&segs[0]).expect("read");
    std::fs::remove_file(&segs[0]).expect("rm");
    assert!(
        broken(&j).contains("the chain starts at seq"),
        "{}",
        broken(&j)
    );
    // A segment emptied.
    std::fs::write(&segs[0], "").expect("empty");
    assert!(broken(&j).contains("is empty"), "{}", broken(&j));
    std::fs::write(&segs[0], &first).expect("restore");
    j.verify().expect("intact again");
}

#[test]
fn replica_chains_are_separate_and_stamped() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_n(&journal(dir.path()), 3);
    for r in ["a-1", "b-2"] {
        let j = Journal::for_replica(dir.path(), r, key());
        write_n(&j, 2);
        assert!(
            lines(j.path())
                .iter()
                .all(|l| l.contains(&format!("\"replica\":\"{r}\"")))
        );
        assert_eq!(j.verify().expect("intact").records, 2);
    }
    let names: Vec<String> = chain_files(dir.path())
        .iter()
        .map(|p| file::file_name(p))
        .collect();
    assert_eq!(
        names,
        ["journal-a-1.jsonl", "journal-b-2.jsonl", "journal.jsonl"]
    );
}

#[test]
fn edit_removal_and_reorder_are_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    write_n(&j, 3);
    let text = std::fs::read_to_string(j.path()).expect("read");
    let l = lines(j.path());

    std::fs::write(j.path(), text.replace("\"n\":1", "\"n\":7")).expect("write");
    assert!(broken(&j).contains("modified"), "{}", broken(&j));

    std::fs::write(j.path(), format!("{}\n{}\n", l[0], l[2])).expect("write");
    assert!(broken(&j).contains("missing"), "{}", broken(&j));

    std::fs::write(j.path(), format!("{}\n{}\n{}\n", l[0], l[2], l[1])).expect("write");
    assert!(j.verify().is_err());
}

#[test]
fn a_cut_tail_or_emptied_file_fails_verify_and_refuses_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    write_n(&j, 4);
    let l = lines(j.path());
    std::fs::write(j.path(), format!("{}\n{}\n", l[0], l[1])).expect("cut");
    let e = broken(&j);
    assert!(
        e.contains("cut tail") && e.contains("says seq 4") && e.contains("ends at seq 2"),
        "{e}"
    );
    let refused = j.append(event(9)).expect_err("refused").to_string();
    assert!(
        refused.contains("says seq 4, but the chain ends at seq 2"),
        "{refused}"
    );
    assert_eq!(lines(j.path()).len(), 2, "nothing appended");

    std::fs::write(j.path(), "").expect("empty");
    let e = broken(&j);
    assert!(
        e.contains("cut tail") && e.contains("journal.jsonl is empty"),
        "{e}"
    );
    std::fs::remove_file(j.path()).expect("rm");
    assert!(broken(&j).contains("is missing"), "{}", broken(&j));
    assert!(j.append(event(9)).is_err());
}

/// What someone without the key can do: drop a record and recompute every SHA-256 link.
fn rechain(records: &[String]) -> String {
    let mut prev = file::GENESIS.to_string();
    let mut out = String::new();
    for (i, line) in records.iter().enumerate() {
        let mut m: Map<String, Value> = serde_json::from_str(line).expect("json");
        m.remove("hash");
        let mac = m.remove("mac");
        m.insert("seq".into(), json!(i as u64 + 1));
        m.insert("prev".into(), json!(prev));
        let body = serde_json::to_string(&m).expect("json");
        prev = file::link(&prev, &body);
        m.insert("hash".into(), json!(prev));
        if let Some(mac) = mac {
            m.insert("mac".into(), mac);
        }
        out.push_str(&serde_json::to_string(&m).expect("json"));
        out.push('\n');
    }
    out
}

#[test]
fn a_rechained_file_fails_on_its_mac() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    write_n(&j, 4);
    let mut l = lines(j.path());
    l.remove(1);
    std::fs::write(j.path(), rechain(&l)).expect("rechain");
    let e = broken(&j);
    assert!(e.contains("seq 2: MAC mismatch"), "{e}");
}

#[test]
fn a_head_from_elsewhere_or_edited_is_a_mismatch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    let other = Journal::for_replica(dir.path(), "x", key());
    write_n(&j, 3);
    write_n(&other, 3);
    std::fs::copy(head_path(other.path()), head_path(j.path())).expect("swap head");
    let e = broken(&j);
    assert!(e.contains("head mismatch") && e.contains("seq 3"), "{e}");
    assert!(
        j.append(event(1)).is_err(),
        "no append after a head that does not match"
    );

    let text = std::fs::read_to_string(head_path(other.path())).expect("head");
    std::fs::write(head_path(j.path()), text.replace("\"seq\":3", "\"seq\":2")).expect("edit");
    assert!(broken(&j).contains("invalid MAC"), "{}", broken(&j));

    // Another key: named as such, not as tampering.
    let wrong = Journal::new(
        other.path().to_path_buf(),
        JournalKey::from_text(&"w".repeat(40), "other").expect("key"),
    );
    assert!(
        wrong
            .verify()
            .expect_err("wrong key")
            .contains("another journal key")
    );
}

#[test]
fn a_lagging_head_is_noted_and_caught_up_only_over_our_own_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path()).with_max_bytes(500);
    write_n(&j, 2);
    let old = std::fs::read(head_path(j.path())).expect("head");
    write_n(&j, 3);
    assert!(
        !file::segments(j.path()).is_empty(),
        "the lag spans a rotation"
    );
    // A crash before the head reached the disk leaves it behind the chain.
    std::fs::write(head_path(j.path()), &old).expect("old head");
    let v = j.verify().expect("a lag is not a cut");
    assert!(v.notes.iter().any(|n| n.contains("lags")), "{v}");
    assert_eq!(j.append(event(6)).expect("caught up").seq, 6);
    assert!(j.verify().expect("intact").notes.is_empty());

    // Behind a lagging head, a record someone added without the key is refused.
    let old = std::fs::read(head_path(j.path())).expect("head");
    j.append(event(7)).expect("append");
    std::fs::write(head_path(j.path()), &old).expect("old head");
    let text = std::fs::read_to_string(j.path()).expect("read");
    std::fs::write(j.path(), text.replace("\"n\":7", "\"n\":8")).expect("edit");
    let e = j.append(event(8)).expect_err("refused").to_string();
    assert!(e.contains("does not continue it"), "{e}");
}

#[test]
fn a_removed_head_refuses_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    write_n(&j, 2);
    std::fs::remove_file(head_path(j.path())).expect("rm head");
    assert!(broken(&j).contains("head file") && broken(&j).contains("missing"));
    let e = j.append(event(3)).expect_err("refused").to_string();
    assert!(
        e.contains("missing while the chain holds keyed records"),
        "{e}"
    );
}

#[test]
fn a_torn_tail_is_closed_repaired_and_never_appended_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    write_n(&j, 2);
    let torn = b"{\"seq\":3,\"tool\":\"deact";
    let mut f = OpenOptions::new()
        .append(true)
        .open(j.path())
        .expect("open");
    f.write_all(torn).expect("tear");
    drop(f);
    let e = broken(&j);
    let n = torn.len();
    assert!(
        e.contains(&format!("{n} torn bytes after seq 2")) && e.contains("not yet repaired"),
        "{e}"
    );

    let r = j.append(event(3)).expect("append after the repair");
    assert_eq!(r.seq, 4, "seq 3 is the repair record");
    let segs = file::segments(j.path());
    assert_eq!(segs.len(), 1);
    let seg_text = std::fs::read(&segs[0]).expect("segment");
    assert!(
        seg_text.ends_with(torn),
        "the torn bytes are kept in the closed segment"
    );
    let live = lines(j.path());
    let repair: Value = serde_json::from_str(&live[0]).expect("json");
    assert_eq!(repair["outcome"], "repair");
    assert_eq!(repair["segment"], "journal.jsonl.000000000002");
    assert_eq!(repair["torn_bytes"], n);
    assert_eq!(repair["torn_sha256"], file::sha256_hex(torn));
    let v = j.verify().expect("intact with the repair");
    assert_eq!(
        v.repairs,
        vec![Repair {
            segment: "journal.jsonl.000000000002".into(),
            torn_bytes: n as u64,
            seq: 3
        }]
    );
    assert!(
        v.to_string().contains(&format!(
            "1 repair: segment journal.jsonl.000000000002 had {n} torn bytes, recorded at seq 3"
        )),
        "{v}"
    );

    // A repair record without a torn tail before it, or torn bytes without their repair.
    std::fs::write(&segs[0], &seg_text[..seg_text.len() - torn.len()]).expect("untear");
    assert!(
        broken(&j).contains("no torn tail precedes it"),
        "{}",
        broken(&j)
    );
    std::fs::write(&segs[0], &seg_text).expect("restore");
    std::fs::write(j.path(), format!("{}\n", live[1..].join("\n"))).expect("drop the repair");
    assert!(j.verify().is_err());
}

#[test]
fn torn_tails_are_repaired_at_start_even_when_the_repair_itself_was_torn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path()).with_max_bytes(0);
    write_n(&j, 1);
    let tear = |bytes: &[u8]| {
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .open(j.path())
            .expect("open");
        f.write_all(bytes).expect("tear");
    };
    tear(b"{\"seq\":2");
    j.check_at_start().expect("repaired at start");
    tear(b"{\"seq\":4,");
    j.check_at_start().expect("repaired again");
    // Torn again, closed, and the crash came while the repair record itself was written: the
    // new live file holds nothing but torn bytes.
    tear(b"{\"se");
    std::fs::rename(
        j.path(),
        j.path().with_file_name("journal.jsonl.000000000003"),
    )
    .expect("close");
    tear(b"{\"seq\":4,\"outcome\":\"rep");
    j.check_at_start().expect("both repaired");
    write_n(&j, 1);
    let v = j.verify().expect("intact");
    assert_eq!((v.records, v.repairs.len()), (6, 4), "{v}");
    // The torn file that held no record ends at the same record as the one before it.
    let names: Vec<String> = file::segments(j.path())
        .iter()
        .map(|p| file::file_name(p))
        .collect();
    assert_eq!(
        names,
        [
            "journal.jsonl.000000000001",
            "journal.jsonl.000000000002",
            "journal.jsonl.000000000003",
            "journal.jsonl.000000000003-1"
        ]
    );
}

#[test]
fn a_repair_cut_short_is_finished_by_the_next_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    write_n(&j, 2);
    // Closed as a segment, then the process died before writing the repair record.
    let mut f = OpenOptions::new()
        .append(true)
        .open(j.path())
        .expect("open");
    f.write_all(b"{\"se").expect("tear");
    drop(f);
    std::fs::rename(
        j.path(),
        j.path().with_file_name("journal.jsonl.000000000002"),
    )
    .expect("close");
    assert!(
        broken(&j).contains("no repair record follows"),
        "{}",
        broken(&j)
    );
    j.append(event(3)).expect("append");
    let v = j.verify().expect("intact");
    assert_eq!((v.records, v.repairs.len()), (4, 1));
}

#[test]
fn a_torn_tail_after_a_cut_is_not_repaired_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    write_n(&j, 3);
    let l = lines(j.path());
    // The last acknowledged record made unreadable: the head says 3, the chain ends at 2.
    std::fs::write(j.path(), format!("{}\n{}\n{{\"garbled", l[0], l[1])).expect("garble");
    let e = j.append(event(4)).expect_err("refused").to_string();
    assert!(e.contains("says seq 3, but the chain ends at seq 2"), "{e}");
    assert!(
        file::segments(j.path()).is_empty(),
        "nothing was closed or repaired"
    );
}

#[test]
fn concurrent_appends_from_threads_keep_one_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path()).with_max_bytes(2000);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let j = j.clone();
            s.spawn(move || {
                for n in 0..10 {
                    j.append(event(t * 100 + n)).expect("append");
                }
            });
        }
    });
    assert_eq!(j.verify().expect("intact").records, 40);
}

/// Old-format records: chained by SHA-256, no MAC, no head.
fn legacy(path: &Path, n: u64) {
    let mut prev = file::GENESIS.to_string();
    let mut out = String::new();
    for i in 1..=n {
        let mut m = event(i);
        m.insert("seq".into(), json!(i));
        m.insert("prev".into(), json!(prev));
        m.insert("time".into(), json!("2026-01-01T00:00:00Z"));
        let body = serde_json::to_string(&m).expect("json");
        prev = file::link(&prev, &body);
        m.insert("hash".into(), json!(prev));
        out.push_str(&serde_json::to_string(&m).expect("json"));
        out.push('\n');
    }
    std::fs::write(path, out).expect("write");
}

#[test]
fn a_legacy_journal_is_refused_until_anchored_then_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    legacy(j.path(), 3);
    let e = broken(&j);
    assert!(e.contains("legacy, unanchored: 3 records"), "{e}");
    assert_eq!(j.verify_without_head().expect("links hold").legacy, 3);

    j.check_at_start().expect("anchored");
    let v = j.verify().expect("anchored by its head");
    assert_eq!((v.records, v.legacy), (3, 3));
    write_n(&j, 2);
    let v = j.verify().expect("intact");
    assert_eq!((v.records, v.legacy), (5, 3));
    assert!(v.to_string().contains("3 legacy record(s)"), "{v}");

    // The legacy part is sealed by what follows: an edit there breaks the chain.
    let text = std::fs::read_to_string(j.path()).expect("read");
    std::fs::write(j.path(), text.replacen("\"n\":2", "\"n\":8", 1)).expect("edit");
    assert!(broken(&j).contains("modified"));
    // A record without MAC after anchoring is refused.
    std::fs::write(j.path(), &text).expect("restore");
    let mut l = lines(j.path());
    let mut m: Map<String, Value> = serde_json::from_str(&l[4]).expect("json");
    m.remove("mac");
    l[4] = serde_json::to_string(&m).expect("json");
    std::fs::write(j.path(), l.join("\n") + "\n").expect("strip");
    assert!(
        broken(&j).contains("without MAC after the chain was anchored"),
        "{}",
        broken(&j)
    );
}

#[test]
fn a_full_disk_fails_the_append_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    write_n(&j, 1);
    // Continue the chain on a device that is always full.
    std::fs::rename(
        j.path(),
        j.path().with_file_name("journal.jsonl.000000000001"),
    )
    .expect("rotate");
    std::os::unix::fs::symlink("/dev/full", j.path()).expect("symlink");
    let e = j.append(event(2)).expect_err("disk full").to_string();
    assert!(
        e.contains("journal.jsonl")
            && e.contains("cannot write record seq 2")
            && e.contains("No space left"),
        "{e}"
    );
}

/// Makes a file unwritable even for root (where `chmod` is not enough): `chattr +i`.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn new(path: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        if OpenOptions::new().append(true).open(path).is_ok() {
            let ok = std::process::Command::new("chattr")
                .arg("+i")
                .arg(path)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "running as root: `chattr +i` is needed to make a read-only file"
            );
        }
        assert!(
            OpenOptions::new().append(true).open(path).is_err(),
            "file is read-only"
        );
        Self(path.to_path_buf())
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_read_only_journal_fails_the_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    write_n(&j, 1);
    let _ro = ReadOnly::new(j.path());
    let e = j.append(event(2)).expect_err("read-only").to_string();
    assert!(
        e.contains("journal.jsonl") && e.contains("cannot open it for appending"),
        "{e}"
    );
    j.verify().expect("still intact");
}

#[test]
fn a_copy_that_fails_fails_the_append_and_catches_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("log.sock");
    let j = journal(dir.path()).with_copies(vec![CopyTarget::Syslog(sock.clone())]);
    let e = j.append(event(1)).expect_err("no syslog").to_string();
    assert!(
        e.contains("record seq 1 is in the chain, but its copy failed") && e.contains("log.sock"),
        "{e}"
    );
    let listener = std::os::unix::net::UnixDatagram::bind(&sock).expect("bind");
    j.append(event(2)).expect("copy is back");
    let l = lines(j.path());
    let mut buf = vec![0u8; 65536];
    for line in &l {
        let n = listener.recv(&mut buf).expect("datagram");
        let got = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(got.ends_with(&format!(": {line}")), "{got}");
    }
    assert_eq!(j.verify().expect("intact").records, 2);
}

#[test]
fn the_key_never_reaches_debug_or_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path());
    write_n(&j, 2);
    let secret = "k".repeat(64);
    assert!(!format!("{j:?}").contains(&secret));
    assert!(
        !std::fs::read_to_string(j.path())
            .expect("read")
            .contains(&secret)
    );
}

#[test]
fn records_where_returns_only_sealed_records_of_every_segment_and_replica() {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = journal(dir.path()).with_max_bytes(300);
    write_n(&j, 5);
    let other = Journal::for_replica(dir.path(), "r2", key());
    other.append(event(7)).expect("append");
    // A line added by hand, well-formed but not MACed with the key, never counts.
    let mut forged = event(9);
    forged.insert("seq".into(), json!(99));
    forged.insert("prev".into(), json!("00"));
    forged.insert("hash".into(), json!("00"));
    forged.insert("mac".into(), json!("00"));
    let mut f = OpenOptions::new()
        .append(true)
        .open(j.path())
        .expect("open");
    writeln!(f, "{}", Value::Object(forged)).expect("write");
    let mut found: Vec<u64> = j
        .records_where(0, |r| r.get("tool").is_some_and(|t| t == "deactivate"))
        .expect("read")
        .iter()
        .filter_map(|r| r.get("n").and_then(Value::as_u64))
        .collect();
    found.sort_unstable();
    assert_eq!(found, [0, 1, 2, 3, 4, 7]);
    assert!(file::segments(j.path()).len() > 1, "spans segments");
    // Segments that end before `since` are skipped; the live file is always read.
    let recent = j
        .records_where(now_secs() + 3600, |r| r.get("n").is_some())
        .expect("read");
    assert!(recent.len() < 6, "{recent:?}");
}
