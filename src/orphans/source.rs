//! An HR or IdP export (CSV or JSON array of objects) read into an index by normalised email,
//! alias and external id.
//!
//! Memory is proportional to the export, not to the tenant: the audit streams the tenant's
//! pages against this index, and a CSV export is itself read record by record. Every defect is
//! reported with the line (CSV) or item (JSON) it is on, because the person fixing an export
//! needs to find it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::normalize_email;

/// How to read one export; the column names are the export's own.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `.csv` or `.json` file.
    pub path: PathBuf,
    /// Column holding the work email.
    #[serde(default = "email_col")]
    pub email: String,
    /// Column holding the employment status (optional).
    #[serde(default)]
    pub status: Option<String>,
    /// Status values that mean the person has left (case-insensitive).
    #[serde(default = "terminated_default")]
    pub terminated_values: Vec<String>,
    /// Column holding the termination date, shown as evidence (optional).
    #[serde(default)]
    pub termination_date: Option<String>,
    /// Column holding the employee id, shown as evidence (optional).
    #[serde(default)]
    pub employee_id: Option<String>,
    /// Column holding the person's other emails (optional): a tenant account under a former
    /// or secondary address is still this person. CSV: separated by `;` or `,`; JSON: an
    /// array of strings or one such string.
    #[serde(default)]
    pub aliases: Option<String>,
    /// Column holding the IdP's id of the person (optional), matched against the account's
    /// SCIM `externalId`, which survives email changes.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Column holding the person's manager, shown as evidence (optional): who to ask.
    #[serde(default)]
    pub manager: Option<String>,
    /// How a row becomes an account, for `reconcile` (`[sources.NAME.mapping]`).
    #[serde(default)]
    pub mapping: Option<SourceMapping>,
}

/// How a row of the export becomes an account (`[sources.NAME.mapping]`): which columns hold
/// the name, department and groups, so that `reconcile` creates joiners with the right
/// department and groups and sees movers. Column names are the export's own.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceMapping {
    /// Column holding the display name (optional: else made from the email, `first.last` →
    /// `First Last`).
    #[serde(default)]
    pub name: Option<String>,
    /// Column holding the department name (native ZIA: a department that exists on the tenant).
    #[serde(default)]
    pub department: Option<String>,
    /// Column holding the person's group names, separated by `;` (JSON: an array of strings
    /// or one such string). The account ends with exactly these (plus `default_group`).
    #[serde(default)]
    pub groups: Option<String>,
    /// A group every person of the source is in (e.g. "All Staff").
    #[serde(default)]
    pub default_group: Option<String>,
    /// Accounts no row names are leavers too (default: only rows whose status says the person
    /// left). Protected and admin accounts are never leavers.
    #[serde(default)]
    pub deactivate_absent: bool,
}

fn email_col() -> String {
    "email".into()
}
fn terminated_default() -> Vec<String> {
    vec![
        "terminated".into(),
        "inactive".into(),
        "leaver".into(),
        "left".into(),
    ]
}

/// One person in the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Line (CSV) or item number (JSON) of the person's row.
    pub line: u64,
    /// The primary work email as the export spells it.
    pub email: String,
    pub terminated: bool,
    pub termination_date: Option<String>,
    pub employee_id: Option<String>,
    pub manager: Option<String>,
    /// The mapped display name (`mapping.name`), if any.
    pub name: Option<String>,
    /// The mapped department name (`mapping.department`), if any.
    pub department: Option<String>,
    /// The mapped group names (`mapping.groups`), as the export lists them.
    pub groups: Vec<String>,
}

/// How an account was matched to a person; said in evidence so a reviewer can check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    Email,
    Alias,
    ExternalId,
}

/// The export, indexed by normalised primary email and alias, and by external id.
#[derive(Debug, Default)]
pub struct SourceIndex {
    people: Vec<Person>,
    by_email: HashMap<String, (u32, MatchedBy)>,
    by_external_id: HashMap<String, u32>,
    /// Whether rows are numbered by line (CSV) or item (JSON), for evidence.
    json: bool,
}

impl SourceIndex {
    /// The person an account belongs to: by normalised email or alias, else by external id
    /// when the account has one.
    pub fn lookup(
        &self,
        email_key: &str,
        external_id: Option<&str>,
    ) -> Option<(&Person, MatchedBy)> {
        if let Some((i, how)) = self.by_email.get(email_key) {
            return self.people.get(*i as usize).map(|p| (p, *how));
        }
        let ext = external_id.map(str::trim).filter(|e| !e.is_empty())?;
        let i = self.by_external_id.get(ext)?;
        self.people
            .get(*i as usize)
            .map(|p| (p, MatchedBy::ExternalId))
    }

    /// Every person, in the export's order.
    pub fn people(&self) -> &[Person] {
        &self.people
    }

    /// How many people the export lists.
    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// True when the export lists nobody (never after a successful load).
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// `line 12` or `item 12`, for evidence.
    pub fn location(&self, p: &Person) -> String {
        if self.json {
            format!("item {}", p.line)
        } else {
            format!("line {}", p.line)
        }
    }
}

/// A defect in an export, with its location.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path} line {line}: {message}")]
    Line {
        path: String,
        line: u64,
        message: String,
    },
    #[error("{path} item {item}: {message}")]
    Item {
        path: String,
        item: u64,
        message: String,
    },
}

/// One row reduced to the configured columns.
#[derive(Default)]
struct Row {
    email: Option<String>,
    status: Option<String>,
    termination_date: Option<String>,
    employee_id: Option<String>,
    aliases: Vec<String>,
    external_id: Option<String>,
    manager: Option<String>,
    name: Option<String>,
    department: Option<String>,
    groups: Vec<String>,
}

fn nonempty(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

fn split_aliases(v: &str) -> Vec<String> {
    v.split([';', ',']).filter_map(nonempty).collect()
}

/// Group names in one cell: `;`-separated (a group name may hold a comma).
fn split_groups(v: &str) -> Vec<String> {
    v.split(';').filter_map(nonempty).collect()
}

impl SourceConfig {
    /// Reads and indexes the export, or names the first defect and where it is.
    pub fn load(&self) -> Result<SourceIndex, SourceError> {
        let path = self.path.display().to_string();
        let mut builder = Builder {
            cfg: self,
            path: path.clone(),
            json: has_ext(&self.path, "json"),
            index: SourceIndex::default(),
            terminated: self
                .terminated_values
                .iter()
                .map(|v| v.trim().to_lowercase())
                .collect(),
        };
        builder.index.json = builder.json;
        if builder.json {
            self.json_rows(&mut builder)?;
        } else {
            self.csv_rows(&mut builder)?;
        }
        if builder.index.people.is_empty() {
            return Err(SourceError::Line {
                path,
                line: 2,
                message: "the export has a header but no rows".into(),
            });
        }
        Ok(builder.index)
    }

    fn csv_rows(&self, b: &mut Builder<'_>) -> Result<(), SourceError> {
        let path = b.path.clone();
        let line_err = |line: u64, message: String| SourceError::Line {
            path: path.clone(),
            line,
            message,
        };
        let file_err = |message: String| SourceError::File {
            path: path.clone(),
            message,
        };
        let mut file =
            std::fs::File::open(&self.path).map_err(|e| file_err(format!("cannot read: {e}")))?;
        let mut head = [0u8; 3];
        let n =
            read_prefix(&mut file, &mut head).map_err(|e| file_err(format!("cannot read: {e}")))?;
        check_prefix(&head[..n]).map_err(|m| line_err(1, m))?;
        let file =
            std::fs::File::open(&self.path).map_err(|e| file_err(format!("cannot read: {e}")))?;
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(file);
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| line_err(1, csv_message(&e)))?
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        let col = |name: &str, what: &str| -> Result<usize, SourceError> {
            headers.iter().position(|h| h == name).ok_or_else(|| {
                line_err(
                    1,
                    format!(
                        "no column '{name}' (configured as {what}); the header has: {}",
                        headers.join(", ")
                    ),
                )
            })
        };
        let optional = |c: &Option<String>, what: &str| -> Result<Option<usize>, SourceError> {
            c.as_deref().map(|n| col(n, what)).transpose()
        };
        let email = col(&self.email, "email")?;
        let status = optional(&self.status, "status")?;
        let end = optional(&self.termination_date, "termination_date")?;
        let emp = optional(&self.employee_id, "employee_id")?;
        let aliases = optional(&self.aliases, "aliases")?;
        let ext = optional(&self.external_id, "external_id")?;
        let manager = optional(&self.manager, "manager")?;
        let map = self.mapping.clone().unwrap_or_default();
        let name = optional(&map.name, "mapping.name")?;
        let dept = optional(&map.department, "mapping.department")?;
        let groups = optional(&map.groups, "mapping.groups")?;
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    return Err(line_err(line, csv_message(&e)));
                }
            }
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            let get = |i: Option<usize>| i.and_then(|i| record.get(i)).and_then(nonempty);
            let row = Row {
                email: get(Some(email)),
                status: get(status),
                termination_date: get(end),
                employee_id: get(emp),
                aliases: get(aliases).map(|a| split_aliases(&a)).unwrap_or_default(),
                external_id: get(ext),
                manager: get(manager),
                name: get(name),
                department: get(dept),
                groups: get(groups).map(|g| split_groups(&g)).unwrap_or_default(),
            };
            b.add(line, row)?;
        }
    }

    fn json_rows(&self, b: &mut Builder<'_>) -> Result<(), SourceError> {
        let path = b.path.clone();
        let file_err = |message: String| SourceError::File {
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(&self.path).map_err(|e| file_err(format!("cannot read: {e}")))?;
        check_prefix(&bytes[..bytes.len().min(3)]).map_err(|m| SourceError::Line {
            path: path.clone(),
            line: 1,
            message: m,
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| SourceError::Line {
            path: path.clone(),
            line: line_of(&bytes, e.valid_up_to()),
            message: "not valid UTF-8 (save the export as UTF-8)".into(),
        })?;
        let text = text.trim_start_matches('\u{feff}');
        let items: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| {
            let message = if e.is_eof() && text.trim().is_empty() {
                "the file is empty; expected a JSON array of objects".to_string()
            } else if e.is_data() {
                "expected a JSON array of objects".to_string()
            } else {
                e.to_string()
            };
            SourceError::Line {
                path: path.clone(),
                line: e.line().max(1) as u64,
                message,
            }
        })?;
        for (i, item) in items.into_iter().enumerate() {
            let n = i as u64 + 1;
            let serde_json::Value::Object(obj) = item else {
                return Err(SourceError::Item {
                    path: path.clone(),
                    item: n,
                    message: "not an object".into(),
                });
            };
            let get = |c: Option<&String>| {
                c.and_then(|c| obj.get(c)).and_then(|v| match v {
                    serde_json::Value::String(s) => nonempty(s),
                    serde_json::Value::Null => None,
                    other => nonempty(&other.to_string()),
                })
            };
            let aliases = match self.aliases.as_ref().and_then(|c| obj.get(c)) {
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().and_then(nonempty))
                    .collect(),
                Some(serde_json::Value::String(s)) => split_aliases(s),
                _ => Vec::new(),
            };
            let map = self.mapping.as_ref();
            let groups = match map.and_then(|m| m.groups.as_ref()).and_then(|c| obj.get(c)) {
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().and_then(nonempty))
                    .collect(),
                Some(serde_json::Value::String(s)) => split_groups(s),
                _ => Vec::new(),
            };
            let row = Row {
                email: get(Some(&self.email)),
                status: get(self.status.as_ref()),
                termination_date: get(self.termination_date.as_ref()),
                employee_id: get(self.employee_id.as_ref()),
                aliases,
                external_id: get(self.external_id.as_ref()),
                manager: get(self.manager.as_ref()),
                name: get(map.and_then(|m| m.name.as_ref())),
                department: get(map.and_then(|m| m.department.as_ref())),
                groups,
            };
            b.add(n, row)?;
        }
        Ok(())
    }
}

/// Builds the index row by row, refusing ambiguity: an email, alias or external id that two
/// rows claim would make the audit's answer depend on row order.
struct Builder<'a> {
    cfg: &'a SourceConfig,
    path: String,
    json: bool,
    index: SourceIndex,
    terminated: Vec<String>,
}

impl Builder<'_> {
    fn err(&self, line: u64, message: String) -> SourceError {
        if self.json {
            SourceError::Item {
                path: self.path.clone(),
                item: line,
                message,
            }
        } else {
            SourceError::Line {
                path: self.path.clone(),
                line,
                message,
            }
        }
    }

    fn at(&self, i: u32) -> String {
        let line = self.index.people.get(i as usize).map_or(0, |p| p.line);
        if self.json {
            format!("item {line}")
        } else {
            format!("line {line}")
        }
    }

    fn add(&mut self, line: u64, row: Row) -> Result<(), SourceError> {
        let email = row
            .email
            .ok_or_else(|| self.err(line, format!("no value in column '{}'", self.cfg.email)))?;
        let me = u32::try_from(self.index.people.len())
            .map_err(|_| self.err(line, "too many rows".into()))?;
        let key = normalize_email(&email);
        if let Some((other, how)) = self.index.by_email.get(&key) {
            let what = if *how == MatchedBy::Alias {
                "an alias"
            } else {
                "the email"
            };
            return Err(self.err(
                line,
                format!(
                    "{email} appears again (it is {what} on {}); remove the duplicate row",
                    self.at(*other)
                ),
            ));
        }
        let mut claims = vec![(key, MatchedBy::Email)];
        for alias in &row.aliases {
            let a = normalize_email(alias);
            if claims.iter().any(|(k, _)| *k == a) {
                continue;
            }
            if let Some((other, _)) = self.index.by_email.get(&a) {
                return Err(self.err(
                    line,
                    format!(
                        "alias {alias} is also claimed by {}; one address can belong to one person only",
                        self.at(*other)
                    ),
                ));
            }
            claims.push((a, MatchedBy::Alias));
        }
        if let Some(ext) = &row.external_id
            && let Some(other) = self.index.by_external_id.get(ext)
        {
            return Err(self.err(
                line,
                format!(
                    "external id {ext} is also on {}; an external id belongs to one person only",
                    self.at(*other)
                ),
            ));
        }
        for (k, how) in claims {
            self.index.by_email.insert(k, (me, how));
        }
        if let Some(ext) = row.external_id {
            self.index.by_external_id.insert(ext, me);
        }
        self.index.people.push(Person {
            line,
            email,
            terminated: row
                .status
                .is_some_and(|s| self.terminated.contains(&s.to_lowercase())),
            termination_date: row.termination_date,
            employee_id: row.employee_id,
            manager: row.manager,
            name: row.name,
            department: row.department,
            groups: row.groups,
        });
        Ok(())
    }
}

fn read_prefix(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Refuses an empty file and UTF-16 (what spreadsheet tools write as "Unicode text").
fn check_prefix(head: &[u8]) -> Result<(), String> {
    if head.is_empty() {
        return Err("the file is empty; expected a header line naming the columns".into());
    }
    if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
        return Err("the file is UTF-16; save the export as UTF-8".into());
    }
    Ok(())
}

fn line_of(bytes: &[u8], offset: usize) -> u64 {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
        + 1
}

/// The csv crate's message, reworded where a person would not understand it.
fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 (save the export as UTF-8)".into(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        _ => e.to_string(),
    }
}

fn has_ext(path: &Path, ext: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(path: PathBuf) -> SourceConfig {
        SourceConfig {
            path,
            email: "email".into(),
            status: Some("status".into()),
            terminated_values: terminated_default(),
            termination_date: Some("end".into()),
            employee_id: None,
            aliases: None,
            external_id: None,
            manager: None,
            mapping: None,
        }
    }

    fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn err(c: SourceConfig) -> String {
        c.load().expect_err("a defect").to_string()
    }

    #[test]
    fn reads_csv_and_json() {
        let d = tempfile::tempdir().expect("dir");
        let p = write(
            d.path(),
            "hr.csv",
            b"\xef\xbb\xbfemail,status,end\nJane.Doe@acme.example,active,\nold@acme.example,Terminated,2026-01-31\n",
        );
        let idx = cfg(p).load().expect("load");
        let (jane, how) = idx.lookup("jane.doe@acme.example", None).expect("jane");
        assert!(!jane.terminated && how == MatchedBy::Email);
        let (old, _) = idx.lookup("old@acme.example", None).expect("old");
        assert_eq!(old.termination_date.as_deref(), Some("2026-01-31"));
        assert_eq!(idx.location(old), "line 3");
        let p = write(
            d.path(),
            "hr.json",
            br#"[{"email":"a@x.example","status":"leaver"}]"#,
        );
        let idx = cfg(p).load().expect("load");
        let (a, _) = idx.lookup("a@x.example", None).expect("a");
        assert!(a.terminated);
        assert_eq!(idx.location(a), "item 1");
    }

    #[test]
    fn matches_aliases_and_external_ids() {
        let d = tempfile::tempdir().expect("dir");
        let mut c = cfg(write(
            d.path(),
            "hr.csv",
            b"email,status,end,aka,ext,boss\nnew@x.example,terminated,2026-02-01,\"old@x.example; Older@x.example\",00u1,Mia Manager\nb@x.example,active,,,00u2,\n",
        ));
        c.aliases = Some("aka".into());
        c.external_id = Some("ext".into());
        c.manager = Some("boss".into());
        let idx = c.load().expect("load");
        let (p, how) = idx.lookup("older@x.example", None).expect("alias");
        assert_eq!((p.email.as_str(), how), ("new@x.example", MatchedBy::Alias));
        assert_eq!(p.manager.as_deref(), Some("Mia Manager"));
        let (p, how) = idx.lookup("renamed@x.example", Some("00u2")).expect("ext");
        assert_eq!(
            (p.email.as_str(), how),
            ("b@x.example", MatchedBy::ExternalId)
        );
        assert!(idx.lookup("renamed@x.example", None).is_none());
        assert!(idx.lookup("renamed@x.example", Some("00u9")).is_none());

        let mut j = cfg(write(
            d.path(),
            "hr.json",
            br#"[{"email":"a@x.example","aka":["a.old@x.example"]},{"email":"b@x.example","aka":"b1@x.example, b2@x.example"}]"#,
        ));
        j.aliases = Some("aka".into());
        let idx = j.load().expect("load");
        assert_eq!(
            idx.lookup("b2@x.example", None).expect("b2").0.email,
            "b@x.example"
        );
        assert_eq!(
            idx.lookup("a.old@x.example", None).expect("a").0.email,
            "a@x.example"
        );
    }

    #[test]
    fn an_alias_or_external_id_claimed_twice_names_both_lines() {
        let d = tempfile::tempdir().expect("dir");
        let mut c = cfg(write(
            d.path(),
            "a.csv",
            b"email,status,end,aka\na@x.example,active,,shared@x.example\nb@x.example,active,,\nc@x.example,active,,Shared@x.example\n",
        ));
        c.aliases = Some("aka".into());
        let e = err(c.clone());
        assert!(
            e.contains("line 4") && e.contains("line 2") && e.contains("Shared@x.example"),
            "{e}"
        );
        // An alias that is another person's primary email.
        c.path = write(
            d.path(),
            "b.csv",
            b"email,status,end,aka\na@x.example,active,,\nb@x.example,active,,a@x.example\n",
        );
        let e = err(c.clone());
        assert!(e.contains("line 3") && e.contains("line 2"), "{e}");
        // A primary email that an earlier row claims as alias.
        c.path = write(
            d.path(),
            "c.csv",
            b"email,status,end,aka\na@x.example,active,,b@x.example\nb@x.example,active,,\n",
        );
        let e = err(c);
        assert!(e.contains("line 3") && e.contains("alias on line 2"), "{e}");
        let mut x = cfg(write(
            d.path(),
            "x.json",
            br#"[{"email":"a@x.example","ext":"00u1"},{"email":"b@x.example","ext":"00u1"}]"#,
        ));
        x.external_id = Some("ext".into());
        let e = err(x);
        assert!(
            e.contains("item 2") && e.contains("item 1") && e.contains("00u1"),
            "{e}"
        );
    }

    #[test]
    fn defects_name_their_line() {
        let d = tempfile::tempdir().expect("dir");
        // Duplicate rows.
        let dup = write(
            d.path(),
            "dup.csv",
            b"email,status,end\na@x.example,active,\nb@x.example,active,\nA@x.example,active,\n",
        );
        let e = err(cfg(dup));
        assert!(e.contains("line 4") && e.contains("line 2"), "{e}");
        // Missing columns: the configured email column, and a configured optional one.
        let missing = write(d.path(), "m.csv", b"mail,status,end\na@x.example,active,\n");
        let e = err(cfg(missing));
        assert!(
            e.contains("line 1")
                && e.contains("no column 'email'")
                && e.contains("mail, status, end"),
            "{e}"
        );
        let no_status = write(d.path(), "s.csv", b"email,end\na@x.example,\n");
        let e = err(cfg(no_status));
        assert!(e.contains("line 1") && e.contains("'status'"), "{e}");
        let blank = write(d.path(), "bl.csv", b"email,status,end\n,active,\n");
        assert!(err(cfg(blank)).contains("line 2"));
        let ragged = write(d.path(), "r.csv", b"email,status,end\na@x.example,active\n");
        let e = err(cfg(ragged));
        assert!(e.contains("line 2") && e.contains("2 fields"), "{e}");
        // Bad encoding: invalid UTF-8 on a line, and UTF-16.
        let bad = write(
            d.path(),
            "b.csv",
            b"email,status,end\na@x.example,active,\n\xff\xfe,x,\n",
        );
        let e = err(cfg(bad));
        assert!(e.contains("line 3") && e.contains("UTF-8"), "{e}");
        let utf16 = write(d.path(), "u.csv", b"\xff\xfee\x00m\x00");
        let e = err(cfg(utf16));
        assert!(e.contains("line 1") && e.contains("UTF-16"), "{e}");
        let bad_json = write(
            d.path(),
            "b.json",
            b"[{\"email\":\"a@x.example\"},\n{\"email\":\"\xff\"}]",
        );
        let e = err(cfg(bad_json));
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");
        // Empty files and exports with no rows.
        let empty = write(d.path(), "z.csv", b"");
        let e = err(cfg(empty));
        assert!(e.contains("line 1") && e.contains("empty"), "{e}");
        let header_only = write(d.path(), "e.csv", b"email,status,end\n");
        let e = err(cfg(header_only));
        assert!(e.contains("line 2") && e.contains("no rows"), "{e}");
        let empty_json = write(d.path(), "z.json", b"");
        assert!(err(cfg(empty_json)).contains("empty"));
        let no_items = write(d.path(), "n.json", b"[]");
        assert!(err(cfg(no_items)).contains("no rows"));
        let not_array = write(d.path(), "o.json", b"{\"email\":\"a@x.example\"}");
        assert!(err(cfg(not_array)).contains("JSON array"));
        let no_email = write(
            d.path(),
            "ne.json",
            b"[{\"email\":\"a@x.example\"},{\"mail\":\"b\"}]",
        );
        let e = err(cfg(no_email));
        assert!(e.contains("item 2") && e.contains("'email'"), "{e}");
        assert!(err(cfg(d.path().join("none.csv"))).contains("cannot read"));
    }
}
