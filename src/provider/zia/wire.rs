//! The ZIA API's JSON shapes, read leniently: a missing or null field never fails a read.

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::{Department, DepartmentRef, Group, GroupRef, User};

/// ZIA ids are integers; accept strings too rather than fail on a proxy that quotes them.
fn id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        N(i64),
        S(String),
    }
    match Id::deserialize(d)? {
        Id::N(n) => Ok(n),
        Id::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct WireRef {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUser {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub department: Option<WireRef>,
    #[serde(default)]
    pub groups: Option<Vec<WireRef>>,
    #[serde(default)]
    pub admin_user: Option<bool>,
    #[serde(default)]
    pub comments: Option<String>,
}

impl From<WireUser> for User {
    fn from(u: WireUser) -> Self {
        User {
            id: u.id.to_string(),
            name: u.name.unwrap_or_default(),
            email: u.email.unwrap_or_default(),
            department: u.department.map(|d| DepartmentRef {
                id: d.id.to_string(),
                name: d.name.unwrap_or_default(),
            }),
            groups: u
                .groups
                .unwrap_or_default()
                .into_iter()
                .map(|g| GroupRef {
                    id: g.id.to_string(),
                    name: g.name.unwrap_or_default(),
                })
                .collect(),
            active: None,
            admin: u.admin_user.unwrap_or(false),
            comments: u.comments.filter(|c| !c.is_empty()),
            external_id: None,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireGroup {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub comments: Option<String>,
    #[serde(default)]
    pub is_system_defined: Option<bool>,
}

impl From<WireGroup> for Group {
    fn from(g: WireGroup) -> Self {
        Group {
            id: g.id.to_string(),
            name: g.name.unwrap_or_default(),
            comments: g.comments.filter(|c| !c.is_empty()),
            system_defined: g.is_system_defined.unwrap_or(false),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct WireDepartment {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub comments: Option<String>,
}

impl From<WireDepartment> for Department {
    fn from(d: WireDepartment) -> Self {
        Department {
            id: d.id.to_string(),
            name: d.name.unwrap_or_default(),
            comments: d.comments.filter(|c| !c.is_empty()),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "Retry-After")]
    pub retry_after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WireStatus {
    #[serde(default)]
    pub status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::arbitrary;
    use proptest::prelude::*;
    use serde_json::Value;

    fn all_shapes(bytes: &[u8]) {
        let _ = serde_json::from_slice::<Vec<WireUser>>(bytes)
            .map(|v| v.into_iter().map(User::from).count());
        let _ = serde_json::from_slice::<WireUser>(bytes).map(User::from);
        let _ = serde_json::from_slice::<Vec<WireGroup>>(bytes)
            .map(|v| v.into_iter().map(Group::from).count());
        let _ = serde_json::from_slice::<Vec<WireDepartment>>(bytes)
            .map(|v| v.into_iter().map(Department::from).count());
        let _ = serde_json::from_slice::<WireError>(bytes);
        let _ = serde_json::from_slice::<WireStatus>(bytes);
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            all_shapes(&bytes);
        }

        #[test]
        fn any_json_parses_or_fails_cleanly(v in arbitrary::json()) {
            let bytes = serde_json::to_vec(&v).expect("serialize");
            all_shapes(&bytes);
            let page = serde_json::to_vec(&Value::Array(vec![v])).expect("serialize");
            all_shapes(&page);
        }

        #[test]
        fn a_well_formed_user_row_keeps_its_fields(id in any::<i64>(), name in any::<String>(), email in any::<String>(), quoted in any::<bool>()) {
            let idv = if quoted { Value::String(id.to_string()) } else { Value::from(id) };
            let row = serde_json::json!([{"id": idv, "name": name, "email": email, "groups": [{"id": 1}], "department": null}]);
            let users: Vec<WireUser> = serde_json::from_value(row).expect("typed row");
            let u = User::from(users.into_iter().next().expect("one"));
            prop_assert_eq!(u.id, id.to_string());
            prop_assert_eq!(u.name, name);
            prop_assert_eq!(u.email, email);
            prop_assert_eq!(u.groups.len(), 1);
        }
    }

    #[test]
    fn lenient_user_parsing() {
        let u: WireUser = serde_json::from_str(r#"{"id":"42","name":null}"#).expect("parse");
        let user = User::from(u);
        assert_eq!(user.id, "42");
        assert!(user.groups.is_empty());
        assert!(serde_json::from_str::<WireUser>(r#"{"name":"x"}"#).is_err());
    }
}
