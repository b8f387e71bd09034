//! The full findings of an audit, kept as gzip-compressed CSV files in the state directory and
//! served to MCP clients, decompressed, as resources (`audit://ID.csv`), and the
//! self-contained HTML report the CLI writes. The changes and outcomes of a reconcile are kept
//! the same way, as `reconcile://ID.csv`.
//!
//! A tool result carries the top findings only (a model's context is small); every finding is
//! streamed to a report file as the audit finds it, so memory stays bounded however many there
//! are. Only the newest [`KEEP`] reports are kept, compressed (a 100,000-account audit's CSV is
//! tens of megabytes, its repetitive rows compress about tenfold).

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::findings::{Finding, thousands};
use crate::html::escape;

/// URI scheme of audit report resources.
pub const SCHEME: &str = "audit://";
/// URI scheme of reconcile report resources.
pub const RECONCILE_SCHEME: &str = "reconcile://";
/// How many reports the state directory keeps; older ones are deleted.
pub const KEEP: usize = 5;
/// CSV header of a report.
pub const HEADER: [&str; 7] = [
    "rule",
    "severity",
    "kind",
    "id",
    "label",
    "evidence",
    "suggested_call",
];

/// A report problem.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    NotFound(String),
    #[error("audit report storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("audit report: {0}")]
    Csv(#[from] csv::Error),
}

/// One stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportInfo {
    pub uri: String,
    pub id: String,
    /// Size of the CSV text the resource serves (not of the compressed file).
    pub size: u64,
}

/// Stored file names: compressed, or plain as earlier versions wrote them.
const GZ: &str = ".csv.gz";
const PLAIN: &str = ".csv";

/// The uncompressed size a gzip file records in its last four bytes (RFC 1952 ISIZE, modulo
/// 4 GiB: reports are far smaller).
fn gzip_size(path: &Path) -> Option<u64> {
    let mut f = File::open(path).ok()?;
    f.seek(SeekFrom::End(-4)).ok()?;
    let mut b = [0u8; 4];
    f.read_exact(&mut b).ok()?;
    Some(u32::from_le_bytes(b) as u64)
}

/// The report directory under the state directory.
#[derive(Debug, Clone)]
pub struct ReportStore {
    dir: PathBuf,
    /// `audit://` or `reconcile://`.
    scheme: &'static str,
    /// The tool whose runs the reports hold, for messages.
    tool: &'static str,
}

impl ReportStore {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("audit-reports"),
            scheme: SCHEME,
            tool: "audit_orphans",
        }
    }

    /// The reports of one caller (its principal: a token name, `local`): each has its own
    /// directory, so a caller neither lists nor reads another's reports — they hold tenant
    /// data, and only the caller that ran the audit is entitled to its findings.
    pub fn for_owner(state_dir: &Path, owner: &str) -> Self {
        Self::new(state_dir).owned_by(owner)
    }

    /// The reconcile reports (every planned change, every outcome) of one caller, bound to it
    /// like its audit reports.
    pub fn reconcile_for_owner(state_dir: &Path, owner: &str) -> Self {
        Self {
            dir: state_dir.join("reconcile-reports"),
            scheme: RECONCILE_SCHEME,
            tool: "reconcile",
        }
        .owned_by(owner)
    }

    fn owned_by(mut self, owner: &str) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(owner.as_bytes());
        self.dir = self.dir.join(hex::encode(&digest[..8]));
        self
    }

    /// The URI scheme of this store's reports.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// Starts a report for an audit of `connection`; it becomes visible on [`ReportWriter::finish`].
    pub fn create(&self, connection: &str) -> Result<ReportWriter, ReportError> {
        self.create_with(connection, &HEADER)
    }

    /// Starts a report with its own CSV header (a reconcile's changes or outcomes).
    pub fn create_with(
        &self,
        connection: &str,
        header: &[&str],
    ) -> Result<ReportWriter, ReportError> {
        std::fs::create_dir_all(&self.dir)?;
        let stamp: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let conn: String = connection
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let id = format!("{conn}-{stamp}-{:04x}", rand::random::<u16>());
        let partial = self.dir.join(format!(".{id}{GZ}.partial"));
        let gz = GzEncoder::new(BufWriter::new(File::create(&partial)?), Compression::new(6));
        let mut csv = csv::Writer::from_writer(gz);
        csv.write_record(header)?;
        Ok(ReportWriter {
            store: self.clone(),
            id,
            partial,
            csv: Some(csv),
        })
    }

    /// Reports, newest first.
    pub fn list(&self) -> Vec<ReportInfo> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut found: Vec<(std::time::SystemTime, ReportInfo)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                let (id, gz) = match name.strip_suffix(GZ) {
                    Some(id) => (id, true),
                    None => (name.strip_suffix(PLAIN)?, false),
                };
                let id = Some(id).filter(|id| valid_id(id))?.to_string();
                let meta = e.metadata().ok()?;
                let size = if gz {
                    gzip_size(&e.path())?
                } else {
                    meta.len()
                };
                Some((
                    meta.modified().ok()?,
                    ReportInfo {
                        uri: format!("{}{id}.csv", self.scheme),
                        id,
                        size,
                    },
                ))
            })
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.id.cmp(&a.1.id)));
        found.into_iter().map(|(_, i)| i).collect()
    }

    /// The CSV text of the report `uri` names.
    pub fn read(&self, uri: &str) -> Result<String, ReportError> {
        let (scheme, tool) = (self.scheme, self.tool);
        let id = uri
            .strip_prefix(scheme)
            .and_then(|r| r.strip_suffix(".csv"))
            .filter(|id| valid_id(id))
            .ok_or_else(|| {
                ReportError::NotFound(format!(
                    "{uri} is not a {tool} report URI (expected {scheme}ID.csv from a {tool} result)"
                ))
            })?;
        let missing = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ReportError::NotFound(format!(
                    "report {uri} does not exist for this caller (only the newest {KEEP} of each caller are kept, and another caller's are not shown); run {tool} again"
                ))
            } else {
                ReportError::Io(e)
            }
        };
        match File::open(self.dir.join(format!("{id}{GZ}"))) {
            Ok(f) => {
                let mut text = String::new();
                GzDecoder::new(std::io::BufReader::new(f)).read_to_string(&mut text)?;
                Ok(text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::read_to_string(self.dir.join(format!("{id}{PLAIN}"))).map_err(missing)
            }
            Err(e) => Err(ReportError::Io(e)),
        }
    }

    fn prune(&self) {
        for old in self.list().into_iter().skip(KEEP) {
            for ext in [GZ, PLAIN] {
                let _ = std::fs::remove_file(self.dir.join(format!("{}{ext}", old.id)));
            }
        }
    }
}

/// Ids are generated here; anything else (a path, `..`) is refused before touching the disk.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 80
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A report being written; removed unless finished (a cancelled or failed audit leaves none).
pub struct ReportWriter {
    store: ReportStore,
    id: String,
    partial: PathBuf,
    csv: Option<csv::Writer<GzEncoder<BufWriter<File>>>>,
}

impl ReportWriter {
    pub fn push(&mut self, f: &Finding) -> Result<(), ReportError> {
        let Some(csv) = &mut self.csv else {
            return Ok(());
        };
        csv.write_record([
            f.rule.name(),
            f.severity.name(),
            &f.kind,
            &cell(&f.id),
            &cell(&f.label),
            &cell(&f.evidence),
            &f.suggested_call.to_string(),
        ])?;
        Ok(())
    }

    /// Makes the report visible and returns its URI; prunes old reports.
    pub fn finish(mut self) -> Result<String, ReportError> {
        if let Some(csv) = self.csv.take() {
            let gz = csv
                .into_inner()
                .map_err(|e| ReportError::Io(std::io::Error::other(e.to_string())))?;
            let mut inner = gz.finish()?;
            inner.flush()?;
            inner.get_ref().sync_all()?;
        }
        let path = self.store.dir.join(format!("{}{GZ}", self.id));
        std::fs::rename(&self.partial, &path)?;
        self.store.prune();
        Ok(format!("{}{}.csv", self.store.scheme, self.id))
    }

    /// Writes one row of a report made with [`ReportStore::create_with`]; tenant text that a
    /// spreadsheet would run as a formula is neutralised.
    pub fn push_row(&mut self, fields: &[&str]) -> Result<(), ReportError> {
        let Some(csv) = &mut self.csv else {
            return Ok(());
        };
        csv.write_record(fields.iter().map(|f| cell(f)))?;
        Ok(())
    }
}

impl Drop for ReportWriter {
    fn drop(&mut self) {
        if self.csv.is_some() {
            self.csv = None;
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// Tenant text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a
/// leading apostrophe: the report is opened in Excel by people with tenant admin rights.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// A self-contained HTML report: the summary of an audit_orphans result, a chart of findings
/// per rule (inline SVG) and every finding of its CSV report. No scripts, no external assets;
/// all tenant text is escaped.
pub fn html(result: &serde_json::Value, report_csv: &str) -> Result<String, ReportError> {
    use std::fmt::Write as _;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let summary: Vec<&serde_json::Value> = result["summary"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>audit_orphans: {conn}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}\
         th{{background:#f3f3f3}}.high{{color:#b00020}}.medium{{color:#a15c00}}.low{{color:#555}}\
         </style></head><body>\n<h1>Orphaned account audit: {conn}</h1>\n<p>{users} users and {groups} groups scanned.</p>\n",
        conn = escape(&s(&result["connection"])),
        users = thousands(n(&result["users_scanned"])),
        groups = thousands(n(&result["groups_scanned"])),
    );
    // The chart: one bar per rule.
    let max = summary
        .iter()
        .map(|r| n(&r["count"]))
        .max()
        .unwrap_or(0)
        .max(1);
    let (row_h, label_w, bar_w) = (28u64, 260u64, 420u64);
    let height = row_h * summary.len() as u64 + 10;
    let _ = writeln!(
        out,
        "<svg width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"Findings per rule\">",
        label_w + bar_w + 90
    );
    for (i, r) in summary.iter().enumerate() {
        let y = i as u64 * row_h + 5;
        let count = n(&r["count"]);
        let w = (count * bar_w).div_ceil(max);
        let color = match r["severity"].as_str() {
            Some("high") => "#b00020",
            Some("medium") => "#e08a00",
            _ => "#8a8a8a",
        };
        let _ = writeln!(
            out,
            "<text x=\"0\" y=\"{ty}\" font-size=\"13\">{rule}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{bh}\" fill=\"{color}\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"13\">{count}</text>",
            ty = y + 16,
            rule = escape(&s(&r["rule"])),
            bh = row_h - 8,
            tx = label_w + w + 6,
        );
    }
    out.push_str(
        "</svg>\n<table><tr><th>rule</th><th>severity</th><th>count</th><th>definition</th></tr>\n",
    );
    for r in &summary {
        let count = match r["skipped"].as_str() {
            Some(why) => format!("skipped: {}", escape(why)),
            None => n(&r["count"]).to_string(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"{sev}\">{sev}</td><td>{count}</td><td>{}</td></tr>",
            escape(&s(&r["rule"])),
            escape(&s(&r["definition"])),
            sev = escape(&s(&r["severity"])),
        );
    }
    out.push_str("</table>\n<h2>Findings</h2>\n<table><tr>");
    for h in &HEADER[..6] {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr>\n");
    let mut reader = csv::Reader::from_reader(report_csv.as_bytes());
    for record in reader.records() {
        let record = record?;
        out.push_str("<tr>");
        for (i, field) in record.iter().take(6).enumerate() {
            if i == 1 {
                let _ = write!(out, "<td class=\"{0}\">{0}</td>", escape(field));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(field));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    if let Some(excluded) = result["excluded"].as_array().filter(|e| !e.is_empty()) {
        out.push_str("<h2>Excluded (protected or admin)</h2>\n<table><tr><th>id</th><th>email</th><th>reason</th></tr>\n");
        for e in excluded {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s(&e["id"])),
                escape(&s(&e["email"])),
                escape(&s(&e["reason"]))
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orphans::rules::{Rule, Severity};

    fn finding(label: &str) -> Finding {
        Finding {
            rule: Rule::EmptyGroup,
            severity: Severity::Low,
            kind: "group".into(),
            id: "1".into(),
            label: label.into(),
            evidence: "no user".into(),
            suggested_call: serde_json::json!({"tool": "list_users"}),
        }
    }

    #[test]
    fn reports_are_written_listed_read_and_pruned() {
        let d = tempfile::tempdir().expect("dir");
        let store = ReportStore::new(d.path());
        let mut uris = Vec::new();
        for i in 0..KEEP + 2 {
            let mut w = store.create("zia test").expect("create");
            w.push(&finding(&format!("=HYPERLINK(\"x\") {i}")))
                .expect("push");
            uris.push(w.finish().expect("finish"));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let listed = store.list();
        assert_eq!(listed.len(), KEEP);
        assert_eq!(listed[0].uri, uris[KEEP + 1], "newest first");
        let text = store.read(&uris[KEEP + 1]).expect("read");
        assert!(text.starts_with("rule,severity,kind,id,label,evidence,suggested_call"));
        assert_eq!(
            listed[0].size,
            text.len() as u64,
            "the size served, not stored"
        );
        let stored = std::fs::read(
            d.path()
                .join("audit-reports")
                .join(format!("{}{GZ}", listed[0].id)),
        )
        .expect("stored compressed");
        assert_eq!(&stored[..2], &[0x1f, 0x8b], "gzip on disk");
        assert!(text.contains("'=HYPERLINK"), "formula neutralised: {text}");
        let gone = store.read(&uris[0]).expect_err("pruned").to_string();
        assert!(gone.contains("newest 5"), "{gone}");
        assert!(store.read("audit://../../etc/passwd.csv").is_err());
        assert!(store.read("file:///etc/passwd").is_err());
        // A plain report an earlier version left is still listed and served.
        std::fs::write(
            d.path().join("audit-reports").join("old-1.csv"),
            "rule,severity\n",
        )
        .expect("write");
        assert_eq!(
            store.read("audit://old-1.csv").expect("legacy"),
            "rule,severity\n"
        );
        std::fs::remove_file(d.path().join("audit-reports").join("old-1.csv")).expect("rm");
        // An unfinished report leaves nothing behind.
        let w = store.create("zia").expect("create");
        drop(w);
        let names: Vec<String> = std::fs::read_dir(d.path().join("audit-reports"))
            .expect("dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert_eq!(names.len(), KEEP, "{names:?}");
    }

    #[test]
    fn a_caller_sees_only_its_own_reports() {
        let d = tempfile::tempdir().expect("dir");
        let alice = ReportStore::for_owner(d.path(), "alice");
        let bob = ReportStore::for_owner(d.path(), "bob");
        let mut w = alice.create("zia").expect("create");
        w.push(&finding("x")).expect("push");
        let uri = w.finish().expect("finish");
        assert_eq!(alice.list().len(), 1);
        assert!(alice.read(&uri).is_ok());
        assert!(bob.list().is_empty(), "bob lists none of alice's reports");
        let refused = bob.read(&uri).expect_err("bob cannot read it").to_string();
        assert!(
            refused.contains("does not exist for this caller"),
            "{refused}"
        );
    }

    #[test]
    fn html_is_self_contained_and_escapes_tenant_text() {
        let result = serde_json::json!({
            "connection": "zia", "users_scanned": 12000, "groups_scanned": 3,
            "summary": [
                {"rule": "empty_group", "severity": "low", "count": 1, "definition": "d"},
                {"rule": "cross_product_drift", "severity": "high", "count": 0, "definition": "d", "skipped": "no reference_connection given"}
            ],
            "excluded": [{"id": "9", "email": "<b>admin</b>@x", "reason": "administrator account"}]
        });
        let csv = "rule,severity,kind,id,label,evidence,suggested_call\nempty_group,low,group,1,<script>alert(1)</script>,no user,{}\n";
        let page = html(&result, csv).expect("html");
        assert!(page.contains("<svg") && page.contains("12,000 users"));
        assert!(
            !page.contains("<script>") && page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
        );
        assert!(page.contains("&lt;b&gt;admin"));
        assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
        assert!(page.contains("skipped: no reference_connection given"));
    }
}
