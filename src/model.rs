//! The unified directory model every backend maps onto.
//!
//! Identifiers are strings on purpose: ZIA uses integers, SCIM uses opaque strings, and a tool
//! must never do arithmetic on an id. Everything here is plain data so that tool handlers, the
//! guard and the providers can exchange it without knowing each other.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reference to a group as a user carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// A reference to a department as a user carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct DepartmentRef {
    pub id: String,
    pub name: String,
}

/// One user account on one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    pub id: String,
    /// Display name as the tenant stores it (untrusted text: never treat it as an instruction).
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentRef>,
    #[serde(default)]
    pub groups: Vec<GroupRef>,
    /// `None` where the backend has no active flag (native ZIA: a user exists or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// True for administrator accounts (ZIA `adminUser`).
    #[serde(default)]
    pub admin: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// SCIM `userName` where it differs from `email` (it may be `svc-…` or another address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Every other email the account carries (SCIM `emails[].value` besides the primary).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_emails: Vec<String>,
}

/// A group on one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Group {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// Built-in groups cannot be assigned or removed by an admin.
    #[serde(default)]
    pub system_defined: bool,
}

/// A department on one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Department {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
}

/// Filters for listing users. Prefix filters are case-insensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub name_prefix: Option<String>,
    pub email_prefix: Option<String>,
    /// Exact group name (case-insensitive).
    pub group: Option<String>,
    /// Exact department name (case-insensitive).
    pub department: Option<String>,
}

/// Which slice of a listing to return. The cursor is opaque to everyone but the provider that
/// issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub cursor: Option<String>,
    pub limit: usize,
}

/// One slice of a listing; `next_cursor` is `None` on the last slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A user to create, with department and groups already resolved to references on the target
/// connection (the tool layer resolves names so that the provider never guesses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: String,
    pub email: String,
    /// Required by native ZIA; free text (or absent) on SCIM.
    pub department: Option<DepartmentRef>,
    pub groups: Vec<GroupRef>,
    pub comments: Option<String>,
    /// Only for hosted-database authentication.
    pub password: Option<crate::secret::Secret>,
}

/// A change to one existing account, resolved on its connection (the tool layer resolves the
/// department and group names, so the provider never guesses). `None` and empty lists leave
/// that part as it is; every other attribute and membership is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserUpdate {
    /// The new display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new department: an existing department on native ZIA; free text elsewhere (its name
    /// doubles as its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentRef>,
    /// Memberships to add.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_groups: Vec<GroupRef>,
    /// Memberships to remove.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_groups: Vec<GroupRef>,
    /// The new comments (`Some("")` clears them); only native ZIA stores comments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
}

impl UserUpdate {
    /// Whether it changes nothing at all.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.department.is_none()
            && self.add_groups.is_empty()
            && self.remove_groups.is_empty()
            && self.comments.is_none()
    }

    /// Whether it changes an attribute of the account itself (beyond memberships).
    pub fn changes_attributes(&self) -> bool {
        self.name.is_some() || self.department.is_some() || self.comments.is_some()
    }

    /// Whether `user` shows every part of this change: the attributes as asked, the added
    /// groups present, the removed ones gone. Other memberships are not looked at here.
    pub fn shown_by(&self, user: &User) -> bool {
        let has = |g: &GroupRef| user.groups.iter().any(|m| m.id == g.id);
        self.name.as_ref().is_none_or(|n| &user.name == n)
            && self.department.as_ref().is_none_or(|d| {
                user.department
                    .as_ref()
                    .is_some_and(|x| x.id == d.id || x.name.eq_ignore_ascii_case(&d.name))
            })
            && self
                .comments
                .as_ref()
                .is_none_or(|c| user.comments.as_deref().unwrap_or_default() == c.as_str())
            && self.add_groups.iter().all(has)
            && !self.remove_groups.iter().any(has)
    }
}

/// Whether changes staged on a tenant are live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActivationState {
    /// Everything is live.
    Active,
    /// Changes are staged and wait for activation.
    Pending,
    /// An activation is running.
    InProgress,
}

impl UserFilter {
    /// Whether a user passes every filter set. Providers apply this exactly on the client side
    /// whatever the API only approximates (prefixes are case-insensitive, names exact).
    pub fn matches(&self, u: &User) -> bool {
        let starts =
            |text: &str, prefix: &str| text.to_lowercase().starts_with(&prefix.to_lowercase());
        self.name_prefix
            .as_deref()
            .is_none_or(|p| starts(&u.name, p))
            && self
                .email_prefix
                .as_deref()
                .is_none_or(|p| starts(&u.email, p))
            && self
                .group
                .as_deref()
                .is_none_or(|g| u.groups.iter().any(|m| m.name.eq_ignore_ascii_case(g)))
            && self.department.as_deref().is_none_or(|d| {
                u.department
                    .as_ref()
                    .is_some_and(|x| x.name.eq_ignore_ascii_case(d))
            })
    }
}

impl User {
    /// Lower-cased, trimmed email: the identity key across connections.
    pub fn email_key(&self) -> String {
        normalize_email(&self.email)
    }

    /// Every name the account is known by: email, display name, SCIM userName, every other
    /// email, externalId. Protection and lookups consider all of them, because a policy that
    /// sees only the primary email is bypassed by naming the account another way.
    pub fn identities(&self) -> impl Iterator<Item = &str> {
        [Some(self.email.as_str()), Some(self.name.as_str())]
            .into_iter()
            .chain([self.user_name.as_deref(), self.external_id.as_deref()])
            .flatten()
            .chain(self.other_emails.iter().map(String::as_str))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// Whether `key` names this account by id or by any identity (case-insensitive).
    pub fn answers_to(&self, key: &str) -> bool {
        let key = key.trim();
        self.id == key || self.identities().any(|i| i.eq_ignore_ascii_case(key))
    }
}

/// Normalises an email or userName for matching across connections.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}
