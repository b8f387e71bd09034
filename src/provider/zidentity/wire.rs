//! ZIdentity's wire shapes, read leniently: camelCase fields as the SDK models name them, any
//! field absent, `status` as a boolean or its string, both list envelopes (`results_total`
//! and the gateway's `totalRecord`), and error bodies in either SDK's reading
//! (`code|errorCode|id`, `message|reason|error_description|detail`). See docs/ZIDENTITY.md.

use serde::Deserialize;
use serde_json::Value;

use crate::model::{DepartmentRef, Group, GroupRef, User};
use crate::provider::ProviderError;

/// One user record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUser {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub login_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub primary_email: Option<String>,
    #[serde(default)]
    pub secondary_email: Option<String>,
    /// `{id, name}`, or `{}` for none.
    #[serde(default)]
    pub department: Option<Value>,
    /// `true` = active, `false` = disabled (a string form is accepted too).
    #[serde(default)]
    pub status: Option<Value>,
}

/// One group record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireGroup {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The recorded answers carry `dynamicGroup`; the SDK models also have `isDynamicGroup`.
    #[serde(default)]
    pub dynamic_group: Option<bool>,
    #[serde(default)]
    pub is_dynamic_group: Option<bool>,
    #[serde(default)]
    pub admin_entitlement_enabled: Option<bool>,
}

/// One page of a collection.
#[derive(Debug, Deserialize)]
pub struct WirePage<T> {
    #[serde(default = "Vec::new")]
    pub records: Vec<T>,
    #[serde(default)]
    pub results_total: Option<u64>,
    #[serde(default, rename = "totalRecord")]
    pub total_record: Option<u64>,
    #[serde(default)]
    pub next_link: Option<String>,
}

impl<T> WirePage<T> {
    /// The total the server reports, in either envelope.
    pub fn total(&self) -> Option<u64> {
        self.results_total.or(self.total_record)
    }
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|x| x.trim().to_string()).filter(|x| !x.is_empty())
}

/// `status` as a flag; `None` when absent or unreadable.
fn flag(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

impl WireUser {
    /// The id, or a decode error (a record without one cannot be acted on).
    pub fn id(&self) -> Result<String, ProviderError> {
        nonempty(self.id.clone()).ok_or_else(|| ProviderError::Decode {
            message: "ZIdentity user record without an id".into(),
        })
    }

    /// Whether `key` (lower-cased) is one of the account's addresses.
    pub fn answers_to(&self, key: &str) -> bool {
        [&self.login_name, &self.primary_email, &self.secondary_email]
            .into_iter()
            .filter_map(|v| nonempty(v.clone()))
            .any(|v| v.eq_ignore_ascii_case(key))
    }

    /// The unified user: `email` is the login name (unique, in email format: the identity
    /// ZIdentity signs people in with), else the primary email; the primary and secondary
    /// emails, where they differ, are its other emails (protection considers them all); the
    /// department is free text (its name doubles as its id, as on SCIM); groups and the admin
    /// flag come from the caller.
    pub fn into_user(self, groups: Vec<GroupRef>, admin: bool) -> Result<User, ProviderError> {
        let id = self.id()?;
        let email = nonempty(self.login_name)
            .or_else(|| nonempty(self.primary_email.clone()))
            .unwrap_or_default();
        let mut other_emails: Vec<String> = Vec::new();
        for e in [self.primary_email, self.secondary_email]
            .into_iter()
            .filter_map(nonempty)
        {
            if !e.eq_ignore_ascii_case(&email)
                && !other_emails.iter().any(|o| o.eq_ignore_ascii_case(&e))
            {
                other_emails.push(e);
            }
        }
        let name = nonempty(self.display_name).unwrap_or_else(|| email.clone());
        let department = self
            .department
            .as_ref()
            .and_then(|d| d.get("name").or(Some(d)))
            .and_then(Value::as_str)
            .and_then(|n| nonempty(Some(n.to_string())))
            .map(|n| DepartmentRef {
                id: n.clone(),
                name: n,
            });
        Ok(User {
            id,
            name,
            email,
            department,
            groups,
            active: flag(self.status.as_ref()),
            admin,
            comments: None,
            external_id: None,
            user_name: None,
            other_emails,
        })
    }
}

impl WireGroup {
    /// The unified group; a dynamic group (members follow its rules) is reported as
    /// system-defined, since no admin can add or remove its members one by one.
    pub fn into_group(self) -> Result<Group, ProviderError> {
        let id = nonempty(self.id).ok_or_else(|| ProviderError::Decode {
            message: "ZIdentity group record without an id".into(),
        })?;
        Ok(Group {
            name: nonempty(self.name).unwrap_or_else(|| id.clone()),
            id,
            comments: nonempty(self.description),
            system_defined: self.dynamic_group.or(self.is_dynamic_group) == Some(true),
        })
    }

    /// Whether the group carries admin entitlements (its members are administrators).
    pub fn admin(&self) -> bool {
        self.admin_entitlement_enabled == Some(true)
    }
}

/// The tenant's words for a failed answer: `(code, message)`, each from whichever field the
/// body has; `None` when the body is not a JSON object.
pub fn error(body: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let o = v.as_object()?;
    let text = |keys: &[&str]| {
        keys.iter().find_map(|k| match o.get(*k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    };
    Some((
        text(&["code", "errorCode", "error", "id"]),
        text(&[
            "message",
            "reason",
            "error_description",
            "detail",
            "exception",
        ]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_recorded_user_record_maps_onto_the_model() {
        let w: WireUser = serde_json::from_value(json!({
            "loginName": "jdoe@acme.example", "displayName": "Jane Doe", "primaryEmail": "jane@acme.example",
            "department": {}, "status": false, "customAttrsInfo": {}, "id": "iidkfk0g906h3",
            "source": "API", "idp": {"id": "x", "name": "ZIdentity"}
        }))
        .expect("record");
        assert!(w.answers_to("jdoe@acme.example") && w.answers_to("JANE@acme.example"));
        assert!(!w.answers_to("jane"));
        let u = w.into_user(vec![], false).expect("user");
        assert_eq!(u.email, "jdoe@acme.example");
        assert_eq!(u.other_emails, vec!["jane@acme.example".to_string()]);
        assert_eq!(u.active, Some(false));
        assert_eq!(u.department, None);
        let s: WireUser = serde_json::from_value(
            json!({"id": "i1", "status": "TRUE", "department": {"id": "d", "name": "Sales"}}),
        )
        .expect("lenient");
        let u = s.into_user(vec![], false).expect("user");
        assert_eq!(u.active, Some(true));
        assert_eq!(u.department.map(|d| d.id), Some("Sales".to_string()));
        assert!(
            serde_json::from_value::<WireUser>(json!({"loginName": "x"}))
                .expect("parses")
                .into_user(vec![], false)
                .is_err(),
            "no id, no user"
        );
    }

    #[test]
    fn both_envelopes_and_dynamic_groups() {
        let p: WirePage<WireGroup> = serde_json::from_value(json!({
            "pageOffset": 0, "pageSize": 100, "totalRecord": 218, "records": [
                {"id": "g1", "name": "Eng", "dynamicGroup": true},
                {"id": "g2", "name": "Admins", "adminEntitlementEnabled": true}
            ]
        }))
        .expect("page");
        assert_eq!(p.total(), Some(218));
        let mut it = p.records.into_iter();
        let g1 = it.next().expect("g1");
        assert!(!g1.admin());
        assert!(g1.into_group().expect("g").system_defined);
        assert!(it.next().expect("g2").admin());
    }

    #[test]
    fn error_bodies_in_either_sdks_reading() {
        assert_eq!(
            error(br#"{"code":"CONFLICT","message":"taken"}"#),
            Some((Some("CONFLICT".into()), Some("taken".into())))
        );
        assert_eq!(
            error(br#"{"errorCode":400,"reason":"bad"}"#),
            Some((Some("400".into()), Some("bad".into())))
        );
        assert_eq!(error(b"<html>"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_json_is_read_without_panic(v in crate::provider::arbitrary::json()) {
            if let Ok(u) = serde_json::from_value::<WireUser>(v.clone()) {
                let _ = u.into_user(vec![], false);
            }
            if let Ok(p) = serde_json::from_value::<WirePage<WireGroup>>(v.clone()) {
                for g in p.records { let _ = g.into_group(); }
            }
            let _ = error(&serde_json::to_vec(&v).expect("json"));
        }
    }
}
