//! The flavour-neutral view of a SCIM user and group that handlers work on. Each directory
//! (`dir.rs`) converts its own storage to and from these, so the request logic (PUT, PATCH,
//! filters, paging) is written once.

use std::time::SystemTime;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::Fields;

/// Schema URN of a core user.
pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Schema URN of the enterprise user extension (holds `department`).
pub(crate) const ENTERPRISE_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Schema URN of a core group.
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// A user as SCIM sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ScimUser {
    pub id: String,
    pub external_id: Option<String>,
    pub user_name: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Email addresses, the primary one first.
    pub emails: Vec<String>,
    pub active: bool,
    pub department: Option<String>,
    /// Read-only: `(group id, group displayName)`, filled by the directory on read.
    pub groups: Vec<(String, String)>,
    pub created: SystemTime,
    pub last_modified: SystemTime,
}

impl ScimUser {
    /// What a filter can look at.
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            id: &self.id,
            external_id: self.external_id.as_deref(),
            user_name: Some(&self.user_name),
            display_name: &self.display_name,
            emails: self.emails.iter().map(String::as_str).collect(),
            last_modified: self.last_modified,
        }
    }
}

/// A group as SCIM sees it; `members` are user ids.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ScimGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<String>,
    pub created: SystemTime,
    pub last_modified: SystemTime,
}

impl ScimGroup {
    /// What a filter can look at.
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            id: &self.id,
            external_id: self.external_id.as_deref(),
            user_name: None,
            display_name: &self.display_name,
            emails: Vec::new(),
            last_modified: self.last_modified,
        }
    }
}

/// `obj[name]` with the attribute name compared case-insensitively (RFC 7643 §2.1).
pub(crate) fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// A boolean given as JSON `true`/`false` or as the string `"true"`/`"false"` (any case), since
/// ZPA renders it as a string and Azure AD sends `"False"`.
pub(crate) fn tolerant_bool(v: &Value, what: &str) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(ScimError::invalid_value(format!(
            "{what} must be a boolean, not {other}"
        ))),
    }
}

/// A string attribute; JSON `null` means absent.
pub(crate) fn opt_string(v: Option<&Value>, what: &str) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ScimError::invalid_value(format!(
            "{what} must be a string, not {other}"
        ))),
    }
}

/// A JSON object, or invalidValue naming `what`.
pub(crate) fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, ScimError> {
    v.as_object()
        .ok_or_else(|| ScimError::invalid_value(format!("{what} must be a JSON object")))
}
