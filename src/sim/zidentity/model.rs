//! The ZIdentity directory the simulator serves: users, groups, memberships and admin
//! entitlements, rendered in the wire shapes the SDK models and the recorded traffic show
//! (camelCase, absent optional fields omitted, `department` and `customAttrsInfo` as `{}` when
//! empty; see docs/ZIDENTITY.md).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// A `{id, name}` reference (department, identity provider).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct IdName {
    pub id: String,
    pub name: String,
}

/// One ZIdentity user.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ZidUser {
    pub id: String,
    pub login_name: String,
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub primary_email: String,
    pub secondary_email: Option<String>,
    pub department: Option<IdName>,
    /// `true` = active, `false` = disabled.
    pub status: bool,
    /// `UI`, `API`, `SCIM`, `JIT` or `ZIDENTITY`; the server sets `API` on create.
    pub source: String,
    pub idp: Option<IdName>,
    pub custom_attrs: Map<String, Value>,
    /// Admin roles (not part of the user record; served by `/users/{id}/admin-entitlements`).
    pub admin_roles: Vec<String>,
}

/// One ZIdentity group; `members` are user ids.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ZidGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub source: String,
    /// Membership is computed from rules; it cannot be changed member by member.
    pub dynamic: bool,
    pub admin_entitlement_enabled: bool,
    pub service_entitlement_enabled: bool,
    pub members: BTreeSet<String>,
}

/// The whole ZIdentity tenant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ZidDirectory {
    pub users: BTreeMap<String, ZidUser>,
    pub groups: BTreeMap<String, ZidGroup>,
    pub departments: Vec<IdName>,
    /// Email domains of the organisation: a login name must be in one of them.
    pub domains: Vec<String>,
    /// The identity provider API-created users get.
    pub default_idp: IdName,
    /// Next value for [`ZidDirectory::new_id`]; ids are never reused.
    pub next_serial: u64,
}

/// Lower-case base32hex (`0-9a-v`), the alphabet of ZIdentity's 13-character ids.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

impl ZidDirectory {
    /// An empty tenant with these domains.
    pub fn empty(domains: &[&str]) -> Self {
        Self {
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            departments: Vec::new(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            default_idp: IdName {
                id: "i0idp0000000z".into(),
                name: "ZIdentity".into(),
            },
            next_serial: 1,
        }
    }

    /// A fresh id shaped like the recorded ones (`i` + 12 base32hex characters). The serial is
    /// scrambled by an odd multiplier so ids look unordered, as real ones do, yet never repeat.
    pub fn new_id(&mut self) -> String {
        let n = self.next_serial;
        self.next_serial += 1;
        let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) & ((1u64 << 60) - 1);
        let mut out = [b'0'; 12];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(x & 31) as usize];
            x >>= 5;
        }
        format!("i{}", String::from_utf8_lossy(&out))
    }

    /// The department called `name` (case-insensitive), created if the tenant has none yet.
    pub fn department_named(&mut self, name: &str) -> IdName {
        if let Some(d) = self
            .departments
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
        {
            return d.clone();
        }
        let d = IdName {
            id: self.new_id(),
            name: name.to_string(),
        };
        self.departments.push(d.clone());
        d
    }

    /// The groups `user_id` belongs to, in id order.
    pub fn groups_of<'a>(&'a self, user_id: &'a str) -> impl Iterator<Item = &'a ZidGroup> + 'a {
        self.groups
            .values()
            .filter(move |g| g.members.contains(user_id))
    }

    /// The user whose login name is `login` (case-insensitive), if any.
    pub fn by_login(&self, login: &str) -> Option<&ZidUser> {
        self.users
            .values()
            .find(|u| u.login_name.eq_ignore_ascii_case(login))
    }
}

/// A `{id, name}` reference as the wire carries it; `{}` when absent.
fn id_name(r: Option<&IdName>) -> Value {
    match r {
        Some(r) => json!({"id": r.id, "name": r.name}),
        None => json!({}),
    }
}

/// A user record as `GET /users/{id}` answers it.
pub(crate) fn user_json(u: &ZidUser) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(u.id));
    o.insert("source".into(), json!(u.source));
    o.insert("loginName".into(), json!(u.login_name));
    o.insert("displayName".into(), json!(u.display_name));
    if let Some(v) = &u.first_name {
        o.insert("firstName".into(), json!(v));
    }
    if let Some(v) = &u.last_name {
        o.insert("lastName".into(), json!(v));
    }
    o.insert("primaryEmail".into(), json!(u.primary_email));
    if let Some(v) = &u.secondary_email {
        o.insert("secondaryEmail".into(), json!(v));
    }
    o.insert("status".into(), json!(u.status));
    o.insert("department".into(), id_name(u.department.as_ref()));
    o.insert("idp".into(), id_name(u.idp.as_ref()));
    o.insert(
        "customAttrsInfo".into(),
        Value::Object(u.custom_attrs.clone()),
    );
    Value::Object(o)
}

/// A group record as `GET /groups/{id}` answers it (no members: they have their own endpoint).
pub(crate) fn group_json(g: &ZidGroup) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(g.id));
    o.insert("name".into(), json!(g.name));
    if let Some(d) = &g.description {
        o.insert("description".into(), json!(d));
    }
    o.insert("source".into(), json!(g.source));
    o.insert("dynamicGroup".into(), json!(g.dynamic));
    o.insert(
        "adminEntitlementEnabled".into(),
        json!(g.admin_entitlement_enabled),
    );
    o.insert(
        "serviceEntitlementEnabled".into(),
        json!(g.service_entitlement_enabled),
    );
    Value::Object(o)
}

/// `/users/{id}/admin-entitlements`: one entitlement per admin role, in the SDK model's shape
/// (`roles`, `scope`, `service`).
pub(crate) fn admin_entitlements_json(u: &ZidUser) -> Value {
    Value::Array(
        u.admin_roles
            .iter()
            .enumerate()
            .map(|(i, role)| {
                json!({
                    "roles": [{"id": format!("r{i}"), "name": role, "displayName": role}],
                    "scope": {"id": "org", "name": "Organization", "displayName": "Organization"},
                    "service": {"id": "zia", "serviceName": "ZIA", "cloudName": "zscaler", "orgName": "Acme"},
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_the_recorded_ones_and_never_repeat() {
        let mut d = ZidDirectory::empty(&["acme.example"]);
        let ids: BTreeSet<String> = (0..5000).map(|_| d.new_id()).collect();
        assert_eq!(ids.len(), 5000);
        for id in ids.iter().take(20) {
            assert_eq!(id.len(), 13, "{id}");
            assert!(id.starts_with('i'));
            assert!(id.bytes().all(|b| ALPHABET.contains(&b)), "{id}");
        }
    }

    #[test]
    fn absent_fields_are_omitted_and_empty_objects_stay_objects() {
        let u = ZidUser {
            id: "i1".into(),
            login_name: "a@acme.example".into(),
            display_name: "A".into(),
            first_name: None,
            last_name: None,
            primary_email: "a@acme.example".into(),
            secondary_email: None,
            department: None,
            status: true,
            source: "API".into(),
            idp: None,
            custom_attrs: Map::new(),
            admin_roles: vec![],
        };
        let v = user_json(&u);
        assert!(v.get("firstName").is_none() && v.get("secondaryEmail").is_none());
        assert_eq!(v["department"], json!({}));
        assert_eq!(v["customAttrsInfo"], json!({}));
        assert_eq!(admin_entitlements_json(&u), json!([]));
    }
}
