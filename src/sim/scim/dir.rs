//! The two directories behind the flavours, behind one trait so handlers are written once.
//!
//! * [`ZiaDir`] maps the ZIA tenant (`live` and `draft`) to SCIM and back. Reads use the draft
//!   (what the native API shows); writes go to both copies, because SCIM provisioning is not
//!   staged. SCIM-only attributes (externalId, name parts, timestamps) live in `ScimData`.
//! * [`ZpaDir`] is the ZPA product's own store.

use std::collections::BTreeMap;

use super::error::ScimError;
use super::model::{ScimGroup, ScimUser};
use super::time::seed_time;
use super::zpa::ZpaDirectory;
use super::{Flavour, ZiaGroupSide, ZiaUserSide};
use crate::sim::state::Inner;
use crate::sim::store::{Group, MAX_EMAIL_LEN, MAX_NAME_LEN, Tenant, User};

/// What a flavour's store can do. Flavour rules (registered domains, departments, protected
/// accounts) are checked in [`Directory::check_user`] / [`Directory::delete_user`]; generic rules
/// (required userName, uniqueness, member existence, 128 groups) by the caller.
pub(crate) trait Directory {
    /// Every user in id order, with `groups` filled.
    fn users(&self) -> Vec<ScimUser>;
    /// One user with `groups` filled.
    fn user(&self, id: &str) -> Option<ScimUser>;
    /// Every group in id order.
    fn groups(&self) -> Vec<ScimGroup>;
    /// One group.
    fn group(&self, id: &str) -> Option<ScimGroup>;
    /// A fresh user id (never reused).
    fn new_user_id(&mut self) -> String;
    /// A fresh group id (never reused).
    fn new_group_id(&mut self) -> String;
    /// Flavour rules for storing `u` (`existing` is the stored version on replace).
    fn check_user(&self, u: &ScimUser, existing: Option<&ScimUser>) -> Result<(), ScimError>;
    /// Stores a checked user (insert or replace); its `groups` are ignored.
    fn put_user(&mut self, u: ScimUser);
    /// Deletes a user; `Ok(false)` if there was none.
    fn delete_user(&mut self, id: &str) -> Result<bool, ScimError>;
    /// Stores a checked group (insert or replace), including its membership.
    fn put_group(&mut self, g: ScimGroup);
    /// Deletes a group; false if there was none.
    fn delete_group(&mut self, id: &str) -> bool;
}

/// The directory of a flavour, borrowing the shared state.
pub(crate) fn dir(inner: &mut Inner, f: Flavour) -> Box<dyn Directory + '_> {
    match f {
        Flavour::Zia => Box::new(ZiaDir { inner }),
        Flavour::Zpa => Box::new(ZpaDir {
            d: &mut inner.scim.zpa,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// ZIA.

/// The ZIA tenant seen through SCIM.
pub(crate) struct ZiaDir<'a> {
    inner: &'a mut Inner,
}

fn split_name(name: &str) -> (Option<String>, Option<String>) {
    match name.split_once(' ') {
        Some((g, f)) => (Some(g.to_string()), Some(f.trim().to_string())),
        None => (Some(name.to_string()), None),
    }
}

impl ZiaDir<'_> {
    fn to_scim(&self, u: &User) -> ScimUser {
        let t = &self.inner.draft;
        let side = self.inner.scim.zia_users.get(&u.id);
        let (given, family) = match side {
            Some(s) if s.given_name.is_some() || s.family_name.is_some() => {
                (s.given_name.clone(), s.family_name.clone())
            }
            _ => split_name(&u.name),
        };
        ScimUser {
            id: u.id.to_string(),
            external_id: side.and_then(|s| s.external_id.clone()),
            user_name: u.email.clone(),
            display_name: u.name.clone(),
            given_name: given,
            family_name: family,
            emails: vec![u.email.clone()],
            active: !self.inner.scim.zia_inactive.contains(&u.id),
            department: u
                .department
                .and_then(|d| t.departments.get(&d))
                .map(|d| d.name.clone()),
            groups: u
                .groups
                .iter()
                .filter_map(|g| t.groups.get(g))
                .map(|g| (g.id.to_string(), g.name.clone()))
                .collect(),
            created: side.and_then(|s| s.created).unwrap_or_else(seed_time),
            last_modified: side.and_then(|s| s.last_modified).unwrap_or_else(seed_time),
        }
    }

    fn group_to_scim(&self, g: &Group) -> ScimGroup {
        let side = self.inner.scim.zia_groups.get(&g.id);
        ScimGroup {
            id: g.id.to_string(),
            display_name: g.name.clone(),
            external_id: side.and_then(|s| s.external_id.clone()),
            members: self
                .inner
                .draft
                .users
                .values()
                .filter(|u| u.groups.contains(&g.id))
                .map(|u| u.id.to_string())
                .collect(),
            created: side.and_then(|s| s.created).unwrap_or_else(seed_time),
            last_modified: side.and_then(|s| s.last_modified).unwrap_or_else(seed_time),
        }
    }

    fn native_user(&self, id: u64) -> Option<&User> {
        self.inner
            .draft
            .users
            .get(&id)
            .or_else(|| self.inner.live.users.get(&id))
    }

    fn department_id(&self, name: &str) -> Option<u64> {
        let deps = &self.inner.draft.departments;
        deps.values()
            .find(|d| d.name == name)
            .or_else(|| deps.values().find(|d| d.name.eq_ignore_ascii_case(name)))
            .map(|d| d.id)
    }
}

/// Writes `user` into one tenant copy, keeping that copy's own group list when it has one.
fn upsert_user(t: &mut Tenant, mut user: User) {
    if let Some(old) = t.users.get(&user.id) {
        user.groups = old.groups.clone();
    }
    t.users.insert(user.id, user);
}

/// Sets `gid`'s membership in one tenant copy to exactly `members`.
fn set_membership(t: &mut Tenant, gid: u64, members: &[u64]) {
    for u in t.users.values_mut() {
        let want = members.contains(&u.id);
        let has = u.groups.contains(&gid);
        if want && !has {
            u.groups.push(gid);
        } else if has && !want {
            u.groups.retain(|g| *g != gid);
        }
    }
}

impl Directory for ZiaDir<'_> {
    fn users(&self) -> Vec<ScimUser> {
        self.inner
            .draft
            .users
            .values()
            .map(|u| self.to_scim(u))
            .collect()
    }

    fn user(&self, id: &str) -> Option<ScimUser> {
        let id = id.parse::<u64>().ok()?;
        self.inner.draft.users.get(&id).map(|u| self.to_scim(u))
    }

    fn groups(&self) -> Vec<ScimGroup> {
        self.inner
            .draft
            .groups
            .values()
            .map(|g| self.group_to_scim(g))
            .collect()
    }

    fn group(&self, id: &str) -> Option<ScimGroup> {
        let id = id.parse::<u64>().ok()?;
        self.inner
            .draft
            .groups
            .get(&id)
            .map(|g| self.group_to_scim(g))
    }

    fn new_user_id(&mut self) -> String {
        let id = self.inner.next_user_id;
        self.inner.next_user_id += 1;
        id.to_string()
    }

    fn new_group_id(&mut self) -> String {
        let max = |t: &Tenant| t.groups.keys().next_back().copied().unwrap_or(0);
        let next = max(&self.inner.draft)
            .max(max(&self.inner.live))
            .max(crate::sim::seed::FIRST_GROUP_ID - 1)
            + 1;
        next.to_string()
    }

    fn check_user(&self, u: &ScimUser, existing: Option<&ScimUser>) -> Result<(), ScimError> {
        if let Some(old) = existing
            && let Ok(id) = old.id.parse::<u64>()
            && self.native_user(id).is_some_and(|n| n.admin_user)
        {
            return Err(ScimError::mutability(format!(
                "User {id} is an admin user and cannot be changed through SCIM"
            )));
        }
        if u.user_name.chars().count() > MAX_EMAIL_LEN {
            return Err(ScimError::invalid_value(format!(
                "userName must be at most {MAX_EMAIL_LEN} characters"
            )));
        }
        if u.display_name.trim().is_empty() {
            return Err(ScimError::invalid_value("displayName is required"));
        }
        if u.display_name.chars().count() > MAX_NAME_LEN {
            return Err(ScimError::invalid_value(format!(
                "displayName must be at most {MAX_NAME_LEN} characters"
            )));
        }
        let domain = match u.user_name.split('@').collect::<Vec<_>>().as_slice() {
            [local, domain] if !local.is_empty() && !domain.is_empty() => {
                domain.to_ascii_lowercase()
            }
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "userName '{}' must be an email address with exactly one '@'",
                    u.user_name
                )));
            }
        };
        if !self.inner.draft.domains.contains(&domain) {
            return Err(ScimError::invalid_value(format!(
                "The domain '{domain}' of userName is not a registered domain of this organization"
            )));
        }
        if let Some(d) = &u.department
            && self.department_id(d).is_none()
        {
            return Err(ScimError::invalid_value(format!(
                "Department '{d}' does not exist in this organization"
            )));
        }
        Ok(())
    }

    fn put_user(&mut self, u: ScimUser) {
        let Ok(id) = u.id.parse::<u64>() else {
            return;
        };
        let base = self.native_user(id).cloned();
        let user = User {
            id,
            name: u.display_name.clone(),
            email: u.user_name.clone(),
            department: u.department.as_deref().and_then(|d| self.department_id(d)),
            groups: base.as_ref().map(|b| b.groups.clone()).unwrap_or_default(),
            comments: base.as_ref().and_then(|b| b.comments.clone()),
            admin_user: base.as_ref().is_some_and(|b| b.admin_user),
            user_type: base.as_ref().and_then(|b| b.user_type.clone()),
            temp_auth_email: base.as_ref().and_then(|b| b.temp_auth_email.clone()),
        };
        upsert_user(&mut self.inner.draft, user.clone());
        upsert_user(&mut self.inner.live, user);
        let side = self.inner.scim.zia_users.entry(id).or_default();
        *side = ZiaUserSide {
            external_id: u.external_id,
            given_name: u.given_name,
            family_name: u.family_name,
            created: Some(u.created),
            last_modified: Some(u.last_modified),
        };
        if u.active {
            self.inner.scim.zia_inactive.remove(&id);
        } else {
            self.inner.scim.zia_inactive.insert(id);
        }
    }

    fn delete_user(&mut self, id: &str) -> Result<bool, ScimError> {
        let Ok(n) = id.parse::<u64>() else {
            return Ok(false);
        };
        if !self.inner.draft.users.contains_key(&n) {
            return Ok(false);
        }
        if self.native_user(n).is_some_and(|u| u.admin_user) {
            return Err(ScimError::mutability(format!(
                "User {n} is an admin user and cannot be deleted through SCIM"
            )));
        }
        self.inner.draft.users.remove(&n);
        self.inner.live.users.remove(&n);
        self.inner.scim.zia_users.remove(&n);
        self.inner.scim.zia_inactive.remove(&n);
        Ok(true)
    }

    fn put_group(&mut self, g: ScimGroup) {
        let Ok(gid) = g.id.parse::<u64>() else {
            return;
        };
        let members: Vec<u64> = g.members.iter().filter_map(|m| m.parse().ok()).collect();
        for t in [&mut self.inner.draft, &mut self.inner.live] {
            let group = match t.groups.get(&gid) {
                Some(old) => Group {
                    name: g.display_name.clone(),
                    ..old.clone()
                },
                None => Group {
                    id: gid,
                    name: g.display_name.clone(),
                    comments: None,
                    is_system_defined: false,
                },
            };
            t.groups.insert(gid, group);
            set_membership(t, gid, &members);
        }
        self.inner.scim.zia_groups.insert(
            gid,
            ZiaGroupSide {
                external_id: g.external_id,
                created: Some(g.created),
                last_modified: Some(g.last_modified),
            },
        );
    }

    fn delete_group(&mut self, id: &str) -> bool {
        let Ok(gid) = id.parse::<u64>() else {
            return false;
        };
        if !self.inner.draft.groups.contains_key(&gid) {
            return false;
        }
        for t in [&mut self.inner.draft, &mut self.inner.live] {
            t.groups.remove(&gid);
            set_membership(t, gid, &[]);
        }
        self.inner.scim.zia_groups.remove(&gid);
        true
    }
}

// ---------------------------------------------------------------------------------------------
// ZPA.

/// The ZPA SCIM store.
pub(crate) struct ZpaDir<'a> {
    d: &'a mut ZpaDirectory,
}

impl ZpaDir<'_> {
    /// user id → its groups, from the groups' member lists.
    fn memberships(&self) -> BTreeMap<&str, Vec<(String, String)>> {
        let mut m: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
        for g in self.d.groups.values() {
            for u in &g.members {
                m.entry(u.as_str())
                    .or_default()
                    .push((g.id.clone(), g.display_name.clone()));
            }
        }
        m
    }
}

impl Directory for ZpaDir<'_> {
    fn users(&self) -> Vec<ScimUser> {
        let mut m = self.memberships();
        self.d
            .users
            .values()
            .map(|u| ScimUser {
                groups: m.remove(u.id.as_str()).unwrap_or_default(),
                ..u.clone()
            })
            .collect()
    }

    fn user(&self, id: &str) -> Option<ScimUser> {
        let u = self.d.users.get(id)?;
        let groups = self
            .d
            .groups
            .values()
            .filter(|g| g.members.iter().any(|m| m == id))
            .map(|g| (g.id.clone(), g.display_name.clone()))
            .collect();
        Some(ScimUser {
            groups,
            ..u.clone()
        })
    }

    fn groups(&self) -> Vec<ScimGroup> {
        self.d.groups.values().cloned().collect()
    }

    fn group(&self, id: &str) -> Option<ScimGroup> {
        self.d.groups.get(id).cloned()
    }

    fn new_user_id(&mut self) -> String {
        let id = self.d.next_user_id;
        self.d.next_user_id += 1;
        id.to_string()
    }

    fn new_group_id(&mut self) -> String {
        let id = self.d.next_group_id;
        self.d.next_group_id += 1;
        id.to_string()
    }

    fn check_user(&self, _u: &ScimUser, _existing: Option<&ScimUser>) -> Result<(), ScimError> {
        Ok(())
    }

    fn put_user(&mut self, u: ScimUser) {
        let stored = ScimUser {
            groups: Vec::new(),
            ..u
        };
        self.d.users.insert(stored.id.clone(), stored);
    }

    fn delete_user(&mut self, id: &str) -> Result<bool, ScimError> {
        if self.d.users.remove(id).is_none() {
            return Ok(false);
        }
        for g in self.d.groups.values_mut() {
            g.members.retain(|m| m != id);
        }
        Ok(true)
    }

    fn put_group(&mut self, g: ScimGroup) {
        self.d.groups.insert(g.id.clone(), g);
    }

    fn delete_group(&mut self, id: &str) -> bool {
        self.d.groups.remove(id).is_some()
    }
}
