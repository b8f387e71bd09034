//! A plan: what a write will change, in words, bound to its targets and their current state.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::User;

/// One object a plan will change, with a fingerprint of its state when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanTarget {
    /// `user` or `tenant`.
    pub kind: String,
    pub id: String,
    /// What a person recognises: the email of a user, the connection of a tenant.
    pub label: String,
    /// SHA-256 of the target's state at planning time; execution is refused if it changed.
    pub fingerprint: String,
}

/// A proposed write awaiting confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub id: String,
    pub tool: String,
    pub connection: String,
    /// The tool arguments the plan answers, without `plan_id`, in canonical form (resolved ids).
    pub arguments: serde_json::Value,
    /// SHA-256 of the whole normalised argument set as the caller sent it ([`input_digest`]):
    /// a plan approved for one set of arguments executes with exactly those, every one of them.
    #[serde(default)]
    pub input: String,
    /// The principal that proposed the plan (a token name over HTTP, `local` on stdio); only
    /// it may carry the plan out.
    #[serde(default)]
    pub caller: String,
    /// Each change in plain words.
    pub changes: Vec<String>,
    pub targets: Vec<PlanTarget>,
    pub created_at: u64,
    pub expires_at: u64,
    /// How many distinct named approvers must approve it (four-eyes: 2), decided by the policy
    /// when the plan is made and signed with it. Absent (older plans) means 1; not written
    /// when 1, so the signed form of a plan without four-eyes is unchanged.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub approvals_required: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

impl Plan {
    /// The plan as a person reads it in a confirmation dialog or a terminal.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "Plan {} — {} on connection '{}'\n",
            self.id, self.tool, self.connection
        );
        for change in &self.changes {
            out.push_str("  • ");
            out.push_str(change);
            out.push('\n');
        }
        if self.approvals() > 1 {
            out.push_str(&format!(
                "Needs {} distinct named approvers (four-eyes).\n",
                self.approvals()
            ));
        }
        if !self.caller.is_empty() {
            out.push_str(&format!("Proposed by caller '{}'. ", self.caller));
        }
        out.push_str(&format!(
            "Expires {} (UTC).",
            super::rfc3339(self.expires_at)
        ));
        out
    }

    /// Distinct approvals this plan needs (at least 1).
    pub fn approvals(&self) -> u32 {
        self.approvals_required.max(1)
    }
}

/// Splits what a caller passes as `plan_id` into the plan id and, in token mode, the token
/// appended to it as `PLAN_ID.TOKEN` (one argument, so no tool's input schema grows).
pub fn split_plan_ref(plan_ref: &str) -> (&str, Option<&str>) {
    match plan_ref.trim().split_once('.') {
        Some((id, token)) => (id, Some(token)),
        None => (plan_ref.trim(), None),
    }
}

/// Keys whose values name accounts: matched case-insensitively, so their case does not matter.
const IDENTITY_KEYS: [&str; 3] = ["user", "users", "email"];

/// SHA-256 of a tool's whole argument set, normalised so that only a real difference counts:
/// `plan_id` left out, strings trimmed, account names lower-cased, empty values dropped (an
/// omitted argument equals its default), lists sorted, keys in order.
pub fn input_digest(args: &serde_json::Value) -> String {
    use serde_json::Value;
    fn norm(key: Option<&str>, v: &Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::String(s) => {
                let t = s.trim();
                if t.is_empty() {
                    None
                } else if key.is_some_and(|k| IDENTITY_KEYS.contains(&k)) {
                    Some(Value::from(t.to_lowercase()))
                } else {
                    Some(Value::from(t))
                }
            }
            Value::Array(items) => {
                let mut out: Vec<Value> = items.iter().filter_map(|x| norm(key, x)).collect();
                out.sort_by_key(|x| x.to_string());
                (!out.is_empty()).then_some(Value::Array(out))
            }
            Value::Object(m) => {
                let out: serde_json::Map<String, Value> = m
                    .iter()
                    .filter(|(k, _)| k.as_str() != "plan_id")
                    .filter_map(|(k, x)| norm(Some(k), x).map(|x| (k.clone(), x)))
                    .collect();
                (!out.is_empty()).then_some(Value::Object(out))
            }
            other => Some(other.clone()),
        }
    }
    let canonical = norm(None, args).unwrap_or(Value::Null);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Fingerprint of a user's state: everything a change could be based on. Group order does not
/// matter; any other difference does.
pub fn user_fingerprint(user: &User) -> String {
    let mut groups: Vec<&str> = user.groups.iter().map(|g| g.id.as_str()).collect();
    groups.sort_unstable();
    let canonical = serde_json::json!({
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "department": user.department.as_ref().map(|d| &d.id),
        "groups": groups,
        "active": user.active,
        "admin": user.admin,
        "user_name": user.user_name,
        "other_emails": user.other_emails,
        "external_id": user.external_id,
    });
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Fingerprint of any serialisable state (e.g. a tenant's staged-change ledger).
pub fn value_fingerprint(value: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

/// A user-facing target for a user.
pub fn user_target(user: &User) -> PlanTarget {
    PlanTarget {
        kind: "user".into(),
        id: user.id.clone(),
        label: user.email.clone(),
        fingerprint: user_fingerprint(user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GroupRef;

    fn user() -> User {
        User {
            id: "1".into(),
            name: "A".into(),
            email: "a@x.example".into(),
            department: None,
            groups: vec![
                GroupRef {
                    id: "1".into(),
                    name: "g1".into(),
                },
                GroupRef {
                    id: "2".into(),
                    name: "g2".into(),
                },
            ],
            active: None,
            admin: false,
            comments: None,
            external_id: None,
            ..Default::default()
        }
    }

    #[test]
    fn input_digest_binds_every_argument_but_not_its_spelling() {
        use serde_json::json;
        let a = json!({"name": "Jane", "email": "Jane@X.example", "groups": ["B", "A"], "comments": "benign", "plan_id": "p-1"});
        let b = json!({"name": " Jane ", "email": "jane@x.example", "groups": ["A", "B"], "comments": "benign", "department": ""});
        assert_eq!(input_digest(&a), input_digest(&b));
        let c = json!({"name": "Jane", "email": "jane@x.example", "groups": ["A", "B"], "comments": "evil"});
        assert_ne!(input_digest(&a), input_digest(&c), "comments count");
        let d = json!({"name": "jane", "email": "jane@x.example", "groups": ["A", "B"], "comments": "benign"});
        assert_ne!(input_digest(&a), input_digest(&d), "names keep their case");
    }

    #[test]
    fn fingerprint_ignores_group_order_but_not_membership() {
        let a = user();
        let mut b = user();
        b.groups.reverse();
        assert_eq!(user_fingerprint(&a), user_fingerprint(&b));
        b.groups.pop();
        assert_ne!(user_fingerprint(&a), user_fingerprint(&b));
    }
}
