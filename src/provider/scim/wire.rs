//! SCIM 2.0 resources as servers really send them.
//!
//! RFC 7643 §2.1 makes attribute names case-insensitive, and real servers differ in the details:
//! ZPA sends `"active": "true"` as a string, ZIA puts `department` both at the top level and in
//! the enterprise extension, some omit `meta` or `groups`, and ids are sometimes numbers. So every
//! body is first normalised (keys lower-cased) and then read with lenient field types; a
//! resource without an `id` is the only thing refused.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::model::{DepartmentRef, Group, GroupRef, User};
use crate::provider::ProviderError;

/// The enterprise user extension (RFC 7643 §4.3), whose `department` Zscaler reads.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Lower-cases every object key, recursively, so that `userName`, `username` and `USERNAME`
/// read the same (RFC 7643 §2.1).
pub fn lower_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

/// A string, a number rendered as a string, or nothing.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// `true`, `"true"`, `"True"`, `1`… — ZPA answers `"active": "true"`.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(Some(b)),
        Value::Null => Ok(None),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            other => Err(D::Error::custom(format!("active is {other:?}"))),
        },
        Value::Number(n) => Ok(Some(n.as_i64() != Some(0))),
        other => Err(D::Error::custom(format!("active is {other}"))),
    }
}

/// A list that may be absent, `null`, or a single object instead of an array.
fn lenient_list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Array(a) => a
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(D::Error::custom))
            .collect::<Result<Vec<T>, _>>()
            .map(Some),
        v @ Value::Object(_) => serde_json::from_value(v)
            .map(|one| Some(vec![one]))
            .map_err(D::Error::custom),
        other => Err(D::Error::custom(format!("expected a list, got {other}"))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireName {
    #[serde(deserialize_with = "lenient_string")]
    pub formatted: Option<String>,
    #[serde(rename = "givenname", deserialize_with = "lenient_string")]
    pub given_name: Option<String>,
    #[serde(rename = "familyname", deserialize_with = "lenient_string")]
    pub family_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireEmail {
    #[serde(deserialize_with = "lenient_string")]
    pub value: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub primary: Option<bool>,
}

/// A `{value, display}` reference: a user's group or a group's member.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct WireRef {
    #[serde(deserialize_with = "lenient_string")]
    pub value: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub display: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireEnterprise {
    #[serde(deserialize_with = "lenient_string")]
    pub department: Option<String>,
}

/// A SCIM user after [`lower_keys`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireUser {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(rename = "username", deserialize_with = "lenient_string")]
    pub user_name: Option<String>,
    #[serde(rename = "displayname", deserialize_with = "lenient_string")]
    pub display_name: Option<String>,
    pub name: Option<WireName>,
    #[serde(deserialize_with = "lenient_list")]
    pub emails: Option<Vec<WireEmail>>,
    #[serde(deserialize_with = "lenient_bool")]
    pub active: Option<bool>,
    #[serde(rename = "externalid", deserialize_with = "lenient_string")]
    pub external_id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub department: Option<String>,
    #[serde(rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user")]
    pub enterprise: Option<WireEnterprise>,
    /// `None` when the server does not return memberships on users at all.
    #[serde(deserialize_with = "lenient_list")]
    pub groups: Option<Vec<WireRef>>,
}

/// A SCIM group after [`lower_keys`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireGroup {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(rename = "displayname", deserialize_with = "lenient_string")]
    pub display_name: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub members: Option<Vec<WireRef>>,
}

/// A `ListResponse` after [`lower_keys`]. Counts may arrive as strings.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireList {
    #[serde(rename = "totalresults", deserialize_with = "lenient_string")]
    pub total_results: Option<String>,
    #[serde(rename = "startindex", deserialize_with = "lenient_string")]
    pub start_index: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub resources: Option<Vec<Value>>,
}

impl WireList {
    pub fn total(&self) -> Option<usize> {
        self.total_results
            .as_deref()
            .and_then(|t| t.trim().parse().ok())
    }
}

/// A SCIM error body (RFC 7644 §3.12) after [`lower_keys`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireError {
    #[serde(deserialize_with = "lenient_string")]
    pub detail: Option<String>,
    #[serde(rename = "scimtype", deserialize_with = "lenient_string")]
    pub scim_type: Option<String>,
}

/// The parts of `/ServiceProviderConfig` that change how we talk to the server.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireServiceProviderConfig {
    pub patch: Option<WireSupported>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireSupported {
    #[serde(deserialize_with = "lenient_bool")]
    pub supported: Option<bool>,
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, v: Value) -> Result<T, ProviderError> {
    // serde would read a struct from an array too; a SCIM resource is always an object.
    if !v.is_object() {
        return Err(ProviderError::Decode {
            message: format!("{what}: expected a JSON object"),
        });
    }
    serde_json::from_value(lower_keys(v)).map_err(|e| ProviderError::Decode {
        message: format!("{what}: {e}"),
    })
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Reads a user resource into the domain model.
pub fn user(v: Value) -> Result<User, ProviderError> {
    let w: WireUser = decode("SCIM user", v)?;
    user_from_wire(w)
}

/// Whether the server reported memberships on this user (some SCIM servers never do).
pub fn user_with_membership_flag(v: Value) -> Result<(User, bool), ProviderError> {
    let w: WireUser = decode("SCIM user", v)?;
    let has_groups = w.groups.is_some();
    Ok((user_from_wire(w)?, has_groups))
}

fn user_from_wire(w: WireUser) -> Result<User, ProviderError> {
    let id = nonempty(w.id).ok_or_else(|| ProviderError::Decode {
        message: "SCIM user without an id".into(),
    })?;
    let emails = w.emails.unwrap_or_default();
    let email = emails
        .iter()
        .find(|e| e.primary == Some(true))
        .or_else(|| emails.first())
        .and_then(|e| nonempty(e.value.clone()))
        .or_else(|| nonempty(w.user_name.clone()))
        .unwrap_or_default();
    let mut other_emails: Vec<String> = Vec::new();
    for e in &emails {
        if let Some(v) = nonempty(e.value.clone())
            && !v.eq_ignore_ascii_case(&email)
            && !other_emails.iter().any(|o| o.eq_ignore_ascii_case(&v))
        {
            other_emails.push(v);
        }
    }
    let user_name = nonempty(w.user_name.clone()).filter(|u| !u.eq_ignore_ascii_case(&email));
    let name_parts = w.name.unwrap_or_default();
    let joined = [name_parts.given_name, name_parts.family_name]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = nonempty(w.display_name)
        .or_else(|| nonempty(name_parts.formatted))
        .or_else(|| nonempty(Some(joined)))
        .or_else(|| nonempty(w.user_name))
        .unwrap_or_default();
    let department = w
        .enterprise
        .and_then(|e| nonempty(e.department))
        .or_else(|| nonempty(w.department))
        .map(|d| DepartmentRef {
            id: d.clone(),
            name: d,
        });
    let groups = w
        .groups
        .unwrap_or_default()
        .into_iter()
        .filter_map(|g| {
            let id = nonempty(g.value)?;
            Some(GroupRef {
                name: nonempty(g.display).unwrap_or_else(|| id.clone()),
                id,
            })
        })
        .collect();
    Ok(User {
        id,
        name,
        email,
        department,
        groups,
        active: w.active,
        admin: false,
        comments: None,
        external_id: nonempty(w.external_id),
        user_name,
        other_emails,
    })
}

/// Reads a group resource; returns the group and its member ids (empty if not sent).
pub fn group(v: Value) -> Result<(Group, Vec<String>), ProviderError> {
    let w: WireGroup = decode("SCIM group", v)?;
    let id = nonempty(w.id).ok_or_else(|| ProviderError::Decode {
        message: "SCIM group without an id".into(),
    })?;
    let members = w
        .members
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| nonempty(m.value))
        .collect();
    Ok((
        Group {
            name: nonempty(w.display_name).unwrap_or_else(|| id.clone()),
            id,
            comments: None,
            system_defined: false,
        },
        members,
    ))
}

/// Reads a list response.
pub fn list(v: Value) -> Result<WireList, ProviderError> {
    decode("SCIM list response", v)
}

/// Reads an error body, if it is one.
pub fn error(body: &[u8]) -> Option<WireError> {
    let v: Value = serde_json::from_slice(body).ok()?;
    decode("SCIM error", v).ok()
}

/// Whether the server says it supports PATCH (`None` when it does not say).
pub fn patch_supported(v: Value) -> Option<bool> {
    decode::<WireServiceProviderConfig>("ServiceProviderConfig", v)
        .ok()?
        .patch?
        .supported
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn scim_answers_never_panic(
            v in crate::provider::arbitrary::json(),
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128),
        ) {
            let _ = user(lower_keys(v.clone()));
            let _ = user_with_membership_flag(v.clone());
            let _ = group(v.clone());
            let _ = list(v.clone());
            let _ = patch_supported(v.clone());
            let _ = lower_keys(v.clone());
            let _ = error(&serde_json::to_vec(&v).expect("json"));
            let _ = error(&bytes);
            let _ = list(serde_json::json!({"Resources": [v], "totalResults": 1}));
        }
    }
    use serde_json::json;

    #[test]
    fn zpa_string_active_and_enterprise_department() {
        let u = user(json!({
            "id": "200001", "userName": "jane.doe@acme.example", "active": "true",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "emails": [{"value": "Jane.Doe@acme.example", "primary": "true"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Engineering"},
        }))
        .expect("decodes");
        assert_eq!(u.active, Some(true));
        assert_eq!(u.name, "Jane Doe");
        assert_eq!(u.email, "Jane.Doe@acme.example");
        assert_eq!(u.department.map(|d| d.name).as_deref(), Some("Engineering"));
    }

    #[test]
    fn case_insensitive_keys_numeric_ids_missing_meta() {
        let u = user(json!({
            "ID": 70002, "USERNAME": "jane@acme.example", "DisplayName": "Jane",
            "department": "Sales", "Groups": {"value": 88001, "display": "All Staff"},
        }))
        .expect("decodes");
        assert_eq!(u.id, "70002");
        assert_eq!(u.email, "jane@acme.example");
        assert_eq!(u.department.map(|d| d.name).as_deref(), Some("Sales"));
        assert_eq!(u.groups[0].id, "88001");
        assert_eq!(u.active, None);
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        assert!(user(json!({"userName": "x"})).is_err());
        assert!(user(json!({"id": "1", "active": "maybe"})).is_err());
        assert!(user(json!([1, 2])).is_err());
        assert!(user(json!({"id": "1", "emails": 5})).is_err());
        assert!(group(json!({"displayName": "x"})).is_err());
        assert!(error(b"only through Zscaler OneAPI").is_none());
    }

    #[test]
    fn list_counts_may_be_strings() {
        let l = list(json!({"totalResults": "150", "Resources": [{"id": "1"}]})).expect("list");
        assert_eq!(l.total(), Some(150));
        assert_eq!(l.resources.map(|r| r.len()), Some(1));
        assert_eq!(
            patch_supported(json!({"patch": {"supported": false}})),
            Some(false)
        );
        assert_eq!(patch_supported(json!({})), None);
    }
}
