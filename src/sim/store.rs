//! The simulated tenant and the rules a real ZIA tenant applies to user writes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDepartment {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimGroup {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub department: Option<i64>,
    pub groups: Vec<i64>,
    pub comments: Option<String>,
    pub admin_user: bool,
    pub user_type: Option<String>,
}

/// One copy of the tenant's configuration. The simulator keeps two: `draft` (what admins see and
/// edit) and `live` (what is activated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tenant {
    pub users: BTreeMap<i64, SimUser>,
    pub groups: BTreeMap<i64, SimGroup>,
    pub departments: BTreeMap<i64, SimDepartment>,
    /// Registered email domains.
    pub domains: Vec<String>,
}

/// A rejected request: HTTP status plus ZIA's `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_INPUT_ARGUMENT", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "RESOURCE_NOT_FOUND", message)
    }
}

fn id_of(v: &Value) -> Option<i64> {
    match v.get("id")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Tenant {
    pub fn user_json(&self, u: &SimUser) -> Value {
        let mut v = json!({
            "id": u.id,
            "name": u.name,
            "email": u.email,
            "groups": u.groups.iter().filter_map(|g| self.groups.get(g)).map(|g| json!({"id": g.id, "name": g.name})).collect::<Vec<_>>(),
            "adminUser": u.admin_user,
            "deleted": false,
        });
        if let Some(d) = u.department.and_then(|d| self.departments.get(&d)) {
            v["department"] = json!({"id": d.id, "name": d.name});
        }
        if let Some(c) = &u.comments {
            v["comments"] = json!(c);
        }
        if let Some(t) = &u.user_type {
            v["type"] = json!(t);
        }
        v
    }

    /// Validates a POST or full-replace PUT body like the tenant does. `existing` is the id being
    /// replaced (excluded from the uniqueness check).
    pub fn validate(&self, body: &Value, existing: Option<i64>) -> Result<SimUser, ApiError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ApiError::invalid("request body must be a JSON object"))?;
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        if name.is_empty() {
            return Err(ApiError::invalid("name is required"));
        }
        if name.chars().count() > 127 {
            return Err(ApiError::invalid("name must not exceed 127 characters"));
        }
        let email = obj
            .get("email")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        if email.is_empty() {
            return Err(ApiError::invalid("email is required"));
        }
        if email.chars().count() > 127 {
            return Err(ApiError::invalid("email must not exceed 127 characters"));
        }
        let mut parts = email.split('@');
        let (local, domain) = match (parts.next(), parts.next(), parts.next()) {
            (Some(l), Some(d), None) if !l.is_empty() && !d.is_empty() => (l, d),
            _ => {
                return Err(ApiError::invalid(format!(
                    "email {email} is not a valid address"
                )));
            }
        };
        let _ = local;
        if !self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
            return Err(ApiError::invalid(format!(
                "domain {domain} does not belong to the organization"
            )));
        }
        if self
            .users
            .values()
            .any(|u| Some(u.id) != existing && u.email.eq_ignore_ascii_case(email))
        {
            return Err(ApiError::new(
                409,
                "DUPLICATE_ITEM",
                format!("a user with email {email} already exists"),
            ));
        }
        let department = obj
            .get("department")
            .filter(|d| !d.is_null())
            .ok_or_else(|| ApiError::invalid("department is required"))?;
        let dept_id =
            id_of(department).ok_or_else(|| ApiError::invalid("department.id is required"))?;
        if !self.departments.contains_key(&dept_id) {
            return Err(ApiError::invalid(format!(
                "department {dept_id} does not exist"
            )));
        }
        let mut groups = Vec::new();
        if let Some(list) = obj.get("groups").filter(|g| !g.is_null()) {
            let list = list
                .as_array()
                .ok_or_else(|| ApiError::invalid("groups must be an array"))?;
            for g in list {
                let gid = id_of(g).ok_or_else(|| ApiError::invalid("every group needs an id"))?;
                if !self.groups.contains_key(&gid) {
                    return Err(ApiError::invalid(format!("group {gid} does not exist")));
                }
                if !groups.contains(&gid) {
                    groups.push(gid);
                }
            }
        }
        if groups.len() > 128 {
            return Err(ApiError::invalid("a user can belong to at most 128 groups"));
        }
        Ok(SimUser {
            id: existing.unwrap_or(0),
            name: name.to_string(),
            email: email.to_string(),
            department: Some(dept_id),
            groups,
            comments: obj
                .get("comments")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            admin_user: obj
                .get("adminUser")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            user_type: obj.get("type").and_then(Value::as_str).map(str::to_string),
        })
    }

    pub fn next_user_id(&self) -> i64 {
        self.users
            .keys()
            .next_back()
            .map(|k| k + 1)
            .unwrap_or(70001)
    }
}
