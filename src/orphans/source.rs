//! An HR or IdP export (CSV or JSON array of objects) read into an index by normalised email.
//!
//! Memory is proportional to the export, not to the tenant: the audit streams the tenant's
//! pages against this index. Every defect is reported with the line it is on, because the
//! person fixing an export needs to find it.

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
    pub line: u64,
    pub terminated: bool,
    pub termination_date: Option<String>,
    pub employee_id: Option<String>,
}

/// The export, indexed by normalised email.
#[derive(Debug, Default)]
pub struct SourceIndex {
    pub people: HashMap<String, Person>,
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
}

impl SourceConfig {
    pub fn load(&self) -> Result<SourceIndex, SourceError> {
        let path = self.path.display().to_string();
        let file_err = |message: String| SourceError::File {
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(&self.path).map_err(|e| file_err(format!("cannot read: {e}")))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64
                + 1;
            SourceError::Line {
                path: path.clone(),
                line,
                message: "not valid UTF-8 (save the export as UTF-8)".into(),
            }
        })?;
        let rows = if has_ext(&self.path, "json") {
            json_rows(text, &path)?
        } else {
            csv_rows(text, &path)?
        };
        if rows.is_empty() {
            return Err(file_err("the export has no rows".into()));
        }
        let mut index = SourceIndex::default();
        let terminated: Vec<String> = self
            .terminated_values
            .iter()
            .map(|v| v.trim().to_lowercase())
            .collect();
        for (line, row) in rows {
            let get = |col: &str| {
                row.get(col)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            };
            let line_err = |message: String| SourceError::Line {
                path: path.clone(),
                line,
                message,
            };
            let email = get(&self.email)
                .ok_or_else(|| line_err(format!("no value in column '{}'", self.email)))?;
            let key = normalize_email(&email);
            let person = Person {
                line,
                terminated: self
                    .status
                    .as_deref()
                    .and_then(get)
                    .is_some_and(|s| terminated.contains(&s.to_lowercase())),
                termination_date: self.termination_date.as_deref().and_then(get),
                employee_id: self.employee_id.as_deref().and_then(get),
            };
            if let Some(first) = index.people.get(&key) {
                return Err(line_err(format!(
                    "{email} appears again (first on line {}); remove the duplicate row",
                    first.line
                )));
            }
            index.people.insert(key, person);
        }
        Ok(index)
    }
}

fn has_ext(path: &Path, ext: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

type Row = HashMap<String, String>;

fn csv_rows(text: &str, path: &str) -> Result<Vec<(u64, Row)>, SourceError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| SourceError::Line {
            path: path.into(),
            line: 1,
            message: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| SourceError::Line {
            path: path.into(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: e.to_string(),
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        out.push((
            line,
            headers
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_string))
                .collect(),
        ));
    }
    Ok(out)
}

fn json_rows(text: &str, path: &str) -> Result<Vec<(u64, Row)>, SourceError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| SourceError::Line {
        path: path.into(),
        line: e.line() as u64,
        message: e.to_string(),
    })?;
    let items = value.as_array().ok_or_else(|| SourceError::File {
        path: path.into(),
        message: "expected a JSON array of objects".into(),
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let obj = item.as_object().ok_or_else(|| SourceError::File {
                path: path.into(),
                message: format!("item {} is not an object", i + 1),
            })?;
            let row = obj
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect();
            // JSON has no meaningful line per item; report the item number instead.
            Ok((i as u64 + 1, row))
        })
        .collect()
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
        }
    }

    fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn reads_csv_and_json() {
        let d = tempfile::tempdir().expect("dir");
        let p = write(d.path(), "hr.csv", b"email,status,end\nJane.Doe@acme.example,active,\nold@acme.example,Terminated,2026-01-31\n");
        let idx = cfg(p).load().expect("load");
        assert!(!idx.people["jane.doe@acme.example"].terminated);
        assert_eq!(
            idx.people["old@acme.example"].termination_date.as_deref(),
            Some("2026-01-31")
        );
        let p = write(
            d.path(),
            "hr.json",
            br#"[{"email":"a@x.example","status":"leaver"}]"#,
        );
        assert!(cfg(p).load().expect("load").people["a@x.example"].terminated);
    }

    #[test]
    fn defects_name_their_line() {
        let d = tempfile::tempdir().expect("dir");
        let dup = write(
            d.path(),
            "dup.csv",
            b"email,status,end\na@x.example,active,\nb@x.example,active,\nA@x.example,active,\n",
        );
        assert!(
            cfg(dup)
                .load()
                .expect_err("dup")
                .to_string()
                .contains("line 4")
        );
        let missing = write(d.path(), "m.csv", b"mail,status\na@x.example,active\n");
        assert!(
            cfg(missing)
                .load()
                .expect_err("missing")
                .to_string()
                .contains("column 'email'")
        );
        let ragged = write(d.path(), "r.csv", b"email,status,end\na@x.example,active\n");
        assert!(
            cfg(ragged)
                .load()
                .expect_err("ragged")
                .to_string()
                .contains("line 2")
        );
        let bad = write(
            d.path(),
            "b.csv",
            b"email,status,end\na@x.example,active,\n\xff\xfe,x,\n",
        );
        let e = cfg(bad).load().expect_err("encoding").to_string();
        assert!(e.contains("line 3") && e.contains("UTF-8"), "{e}");
        let empty = write(d.path(), "e.csv", b"email,status,end\n");
        assert!(
            cfg(empty)
                .load()
                .expect_err("empty")
                .to_string()
                .contains("no rows")
        );
        assert!(cfg(d.path().join("none.csv")).load().is_err());
    }
}
