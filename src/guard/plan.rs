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
    /// The tool arguments the plan answers, without `plan_id`, in canonical form.
    pub arguments: serde_json::Value,
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
        }
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
