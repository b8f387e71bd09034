//! The tenant's data (users, groups, departments, registered domains) and the validation rules
//! a real ZIA tenant applies to user writes.
//!
//! The simulator keeps two [`Tenant`] copies, `live` and `draft` (see `state.rs`); this module
//! knows nothing about staging.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::errors::ApiError;

/// Longest name and email the tenant accepts (tf-zia validates 0..=127).
pub(crate) const MAX_NAME_LEN: usize = 127;
/// Longest email the tenant accepts.
pub(crate) const MAX_EMAIL_LEN: usize = 127;
/// Most groups one user may belong to.
pub(crate) const MAX_GROUPS_PER_USER: usize = 128;
/// Values the tenant accepts in a user's `type` (only set for non-end-users).
const USER_TYPES: [&str; 6] = [
    "SUPERADMIN",
    "ADMIN",
    "AUDITOR",
    "GUEST",
    "REPORT_USER",
    "UNAUTH_TRAFFIC_DEFAULT",
];

/// A user as stored. Department and groups are kept as ids and resolved to names on output,
/// like the tenant does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub department: Option<u64>,
    pub groups: Vec<u64>,
    pub comments: Option<String>,
    pub admin_user: bool,
    pub user_type: Option<String>,
    pub temp_auth_email: Option<String>,
}

/// A user group (read-only in this simulator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Group {
    pub id: u64,
    pub name: String,
    pub comments: Option<String>,
    pub is_system_defined: bool,
}

/// A department (read-only in this simulator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Department {
    pub id: u64,
    pub name: String,
    pub comments: Option<String>,
}

/// One complete copy of the tenant's directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tenant {
    /// Registered email domains, lower case.
    pub domains: BTreeSet<String>,
    pub departments: BTreeMap<u64, Department>,
    pub groups: BTreeMap<u64, Group>,
    pub users: BTreeMap<u64, User>,
}

/// `{"id": n}` reference in a request body; other fields (such as `name`) are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct IdRef {
    pub id: u64,
}

/// The body of `POST /users` and `PUT /users/{id}` (camelCase; unknown fields ignored).
/// Everything is optional here so that validation, not deserialization, reports what is missing.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserBody {
    pub name: Option<String>,
    pub email: Option<String>,
    pub department: Option<IdRef>,
    pub groups: Option<Vec<IdRef>>,
    pub comments: Option<String>,
    /// Accepted (hosted-DB authentication) but never stored or returned.
    #[allow(dead_code)]
    pub password: Option<String>,
    pub admin_user: Option<bool>,
    #[serde(rename = "type")]
    pub user_type: Option<String>,
    pub temp_auth_email: Option<String>,
}

impl Tenant {
    /// Validates a create/replace body and builds the user it describes.
    ///
    /// `existing` is the id of the user being replaced (PUT), which is excluded from the
    /// email-uniqueness check. Every 400 check runs before the 409 duplicate check.
    pub fn build_user(
        &self,
        id: u64,
        body: UserBody,
        existing: Option<u64>,
    ) -> Result<User, ApiError> {
        let name = body.name.unwrap_or_default();
        if name.trim().is_empty() {
            return Err(ApiError::invalid("name is required"));
        }
        if name.chars().count() > MAX_NAME_LEN {
            return Err(ApiError::invalid(format!(
                "name must be at most {MAX_NAME_LEN} characters"
            )));
        }

        let email = body.email.unwrap_or_default();
        if email.trim().is_empty() {
            return Err(ApiError::invalid("email is required"));
        }
        if email.chars().count() > MAX_EMAIL_LEN {
            return Err(ApiError::invalid(format!(
                "email must be at most {MAX_EMAIL_LEN} characters"
            )));
        }
        let domain = match email.split('@').collect::<Vec<_>>().as_slice() {
            [local, domain] if !local.is_empty() && !domain.is_empty() => {
                domain.to_ascii_lowercase()
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "email '{email}' must contain exactly one '@' with text on both sides"
                )));
            }
        };
        if !self.domains.contains(&domain) {
            return Err(ApiError::invalid(format!(
                "The domain '{domain}' is not a registered domain of this organization"
            )));
        }

        let department = match body.department {
            None => return Err(ApiError::invalid("department is required")),
            Some(d) if !self.departments.contains_key(&d.id) => {
                return Err(ApiError::invalid(format!(
                    "Department with id {} does not exist",
                    d.id
                )));
            }
            Some(d) => d.id,
        };

        let requested = body.groups.unwrap_or_default();
        if requested.len() > MAX_GROUPS_PER_USER {
            return Err(ApiError::invalid(format!(
                "a user can belong to at most {MAX_GROUPS_PER_USER} groups"
            )));
        }
        let mut groups: Vec<u64> = Vec::with_capacity(requested.len());
        for g in requested {
            if !self.groups.contains_key(&g.id) {
                return Err(ApiError::invalid(format!(
                    "Group with id {} does not exist",
                    g.id
                )));
            }
            if !groups.contains(&g.id) {
                groups.push(g.id);
            }
        }

        if let Some(t) = &body.user_type
            && !USER_TYPES.contains(&t.as_str())
        {
            return Err(ApiError::invalid(format!("invalid user type '{t}'")));
        }

        if let Some(other) = self
            .find_by_email(&email)
            .filter(|u| Some(u.id) != existing)
        {
            return Err(ApiError::duplicate(format!(
                "A user with email '{}' already exists (id {})",
                other.email, other.id
            )));
        }

        Ok(User {
            id,
            name,
            email,
            department: Some(department),
            groups,
            comments: body.comments,
            admin_user: body.admin_user.unwrap_or(false),
            user_type: body.user_type,
            temp_auth_email: body.temp_auth_email,
        })
    }

    /// The user whose email equals `email`, ignoring ASCII case.
    pub fn find_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    /// The user as the ZIA API returns it: department and groups as `{id, name}`; `None`
    /// optionals omitted.
    pub fn user_json(&self, u: &User) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(u.id));
        m.insert("name".into(), json!(u.name));
        m.insert("email".into(), json!(u.email));
        let groups: Vec<Value> = u
            .groups
            .iter()
            .map(|id| json!({ "id": id, "name": self.groups.get(id).map(|g| g.name.as_str()).unwrap_or("") }))
            .collect();
        m.insert("groups".into(), Value::Array(groups));
        if let Some(d) = u.department {
            let name = self
                .departments
                .get(&d)
                .map(|d| d.name.as_str())
                .unwrap_or("");
            m.insert("department".into(), json!({ "id": d, "name": name }));
        }
        if let Some(c) = &u.comments {
            m.insert("comments".into(), json!(c));
        }
        if let Some(t) = &u.temp_auth_email {
            m.insert("tempAuthEmail".into(), json!(t));
        }
        m.insert("adminUser".into(), json!(u.admin_user));
        if let Some(t) = &u.user_type {
            m.insert("type".into(), json!(t));
        }
        m.insert("deleted".into(), json!(false));
        Value::Object(m)
    }

    /// Whether the user matches the `/users` list filters (each a case-insensitive prefix).
    pub fn user_matches(
        &self,
        u: &User,
        name: Option<&str>,
        dept: Option<&str>,
        group: Option<&str>,
    ) -> bool {
        if let Some(p) = name
            && !starts_with_ci(&u.name, p)
        {
            return false;
        }
        if let Some(p) = dept {
            let hit = u
                .department
                .and_then(|d| self.departments.get(&d))
                .is_some_and(|d| starts_with_ci(&d.name, p));
            if !hit {
                return false;
            }
        }
        if let Some(p) = group {
            let hit = u
                .groups
                .iter()
                .filter_map(|g| self.groups.get(g))
                .any(|g| starts_with_ci(&g.name, p));
            if !hit {
                return false;
            }
        }
        true
    }
}

/// The group as `GET /groups` returns it.
pub(crate) fn group_json(g: &Group) -> Value {
    let mut v =
        json!({ "id": g.id, "name": g.name, "idpId": 0, "isSystemDefined": g.is_system_defined });
    if let (Some(c), Some(m)) = (&g.comments, v.as_object_mut()) {
        m.insert("comments".into(), json!(c));
    }
    v
}

/// The department as `GET /departments` returns it.
pub(crate) fn department_json(d: &Department) -> Value {
    let mut v = json!({ "id": d.id, "name": d.name, "idpId": 0, "deleted": false });
    if let (Some(c), Some(m)) = (&d.comments, v.as_object_mut()) {
        m.insert("comments".into(), json!(c));
    }
    v
}

/// Case-insensitive "starts with" (Unicode lower-casing).
pub(crate) fn starts_with_ci(haystack: &str, prefix: &str) -> bool {
    haystack.to_lowercase().starts_with(&prefix.to_lowercase())
}

/// Case-insensitive "contains" (Unicode lower-casing).
pub(crate) fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`), the
/// way ZIdentity-migrated tenants return `name` and `email` from `GET /users/{id}`
/// (`jane.doe%40acme.example`, `Jane%20Doe`).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
