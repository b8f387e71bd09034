//! What an audit found, as it finds it: each finding names its rule, evidence, severity and the
//! tool call that would start remediation. Findings are counted per rule, the most urgent few
//! are kept for the tool's result, and every one is streamed to the report file, so memory
//! stays bounded however many there are.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use super::report::ReportWriter;
use super::rules::{Rule, Severity};

/// One finding. `rule` and `severity` are plain strings in the published schema: the input
/// schema already lists the rules, and repeating enums in every result schema costs every
/// client's context on every turn.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Finding {
    #[schemars(with = "String")]
    pub rule: Rule,
    #[schemars(with = "String")]
    pub severity: Severity,
    /// `user` or `group`.
    pub kind: String,
    pub id: String,
    /// Email of a user or name of a group.
    pub label: String,
    pub evidence: String,
    /// The tool call that would start remediation.
    pub suggested_call: serde_json::Value,
}

/// Every finding passes through here: counted, kept if among the top `max` of its rule, and
/// written to the report.
pub struct Findings {
    max: usize,
    counts: BTreeMap<Rule, usize>,
    top: BTreeMap<Rule, Vec<Finding>>,
    report: Option<ReportWriter>,
}

/// What an audit found in all: counts per rule, the most urgent findings, the report.
pub struct Found {
    pub counts: BTreeMap<Rule, usize>,
    /// At most `max` findings, most urgent first.
    pub top: Vec<Finding>,
    /// Findings in all (more than `top` holds when the result is truncated).
    pub total: usize,
    /// The URI of the report holding every finding, when it could be written.
    pub report: Option<String>,
}

impl Findings {
    /// Keeps the top `max` findings of each rule; streams every one to `report`, if any.
    pub fn new(max: usize, report: Option<ReportWriter>) -> Self {
        Self {
            max,
            counts: BTreeMap::new(),
            top: BTreeMap::new(),
            report,
        }
    }

    pub fn push(&mut self, f: Finding) {
        *self.counts.entry(f.rule).or_default() += 1;
        if let Some(w) = &mut self.report
            && let Err(e) = w.push(&f)
        {
            tracing::warn!(error = %e, "the audit report could not be written; continuing without it");
            self.report = None;
        }
        let top = self.top.entry(f.rule).or_default();
        if top.len() < self.max {
            top.push(f);
        }
    }

    /// Saves the report and returns the counts and the top `max` findings, most urgent first.
    pub fn finish(mut self) -> Found {
        let total: usize = self.counts.values().sum();
        let report = match self.report.take() {
            None => None,
            Some(w) => match w.finish() {
                Ok(uri) => Some(uri),
                Err(e) => {
                    tracing::warn!(error = %e, "the audit report could not be saved");
                    None
                }
            },
        };
        let mut top: Vec<Finding> = Vec::new();
        let mut order: Vec<Rule> = self.top.keys().copied().collect();
        order.sort_by_key(|r| (r.severity(), *r));
        for r in order {
            if let Some(v) = self.top.remove(&r) {
                top.extend(v);
            }
        }
        top.truncate(self.max);
        Found {
            counts: self.counts,
            top,
            total,
            report,
        }
    }
}

/// 1234567 → "1,234,567", for progress messages people read.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
