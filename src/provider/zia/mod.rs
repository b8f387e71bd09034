//! The native ZIA API adapter (legacy API-key session login).
//!
//! Facts it honours (see the project's API reference): lists are flat arrays with no total, so
//! a page shorter than `pageSize` is the last; `/users` takes up to 10,000 per page, other
//! collections 1,000; PUT replaces the whole user, so membership changes read the user and write
//! every field back; writes are staged until activation or until the session ends.

mod auth;
mod client;
mod cursor;
mod pacing;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

/// The OneAPI token code, shared with the ZIdentity provider; kept reachable here for callers.
pub use crate::provider::oneapi;
pub use crate::provider::retry::parse_retry_after;
pub use auth::obfuscate_api_key;
pub use client::{DEFAULT_SESSION_TIMEOUT, ReportedRate, ZiaAuth};
pub use pacing::RateBudget;

use crate::model::{
    ActivationState, Department, Group, GroupRef, NewUser, Page, PageRequest, User, UserFilter,
};
use crate::provider::{Capabilities, Provider, ProviderError, ProviderKind};
use client::ZiaClient;
use wire::{WireDepartment, WireGroup, WireStatus, WireUser};

/// Users per `/users` page: the API maximum, so a tenant of N users costs ⌈N/10,000⌉ calls.
const USER_PAGE: usize = 10_000;
/// Items per page of the other collections (their API maximum).
const OTHER_PAGE: usize = 1_000;
/// `POST /users/bulkDelete` silently ignores ids past this many (go-sdk `maxBulkDeleteIDs`).
pub const MAX_BULK_DELETE: usize = 500;

/// Settings of one ZIA connection.
pub struct ZiaConfig {
    /// `https://zsapi.<cloud>.net`, the OneAPI gateway, an override URL, or the simulator;
    /// `/api/v1` (session) or `/zia/api/v1` (OneAPI) is appended.
    pub base_url: String,
    pub auth: ZiaAuth,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The rate budget to pace requests to: the tenant's published limits
    /// ([`RateBudget::documented`]) for real tenants, `None` for no client-side pacing.
    pub rate_limits: Option<RateBudget>,
    /// The tenant's "API Session Timeout Duration" (5 to 20 minutes, default 5): a session
    /// idle this long has ended, and its staged changes were activated.
    pub session_timeout: Duration,
}

/// The API base URL of a ZIA cloud, as every official SDK builds it.
pub fn cloud_base_url(cloud: &str) -> Option<String> {
    const CLOUDS: [&str; 9] = [
        "zscaler",
        "zscalerone",
        "zscalertwo",
        "zscalerthree",
        "zscloud",
        "zscalerbeta",
        "zscalergov",
        "zscalerten",
        "zspreview",
    ];
    let c = cloud.trim().to_ascii_lowercase();
    if !CLOUDS.contains(&c.as_str()) {
        return None;
    }
    Some(if c == "zspreview" {
        "https://admin.zspreview.net".to_string()
    } else {
        format!("https://zsapi.{c}.net")
    })
}

/// A native ZIA tenant.
pub struct ZiaProvider {
    client: ZiaClient,
}

impl ZiaProvider {
    /// No network here: the session is opened on first use.
    pub fn new(cfg: ZiaConfig) -> Result<Self, ProviderError> {
        Ok(Self {
            client: ZiaClient::new(
                &format!(
                    "{}{}",
                    cfg.base_url.trim_end_matches('/'),
                    match cfg.auth {
                        ZiaAuth::Session { .. } => "/api/v1",
                        ZiaAuth::OneApi(_) => "/zia/api/v1",
                    }
                ),
                cfg.auth,
                cfg.timeout,
                cfg.rate_limits,
                cfg.session_timeout,
            )?,
        })
    }

    /// Shares this tenant's rate budget and write lock with other replicas through Redis.
    pub fn with_shared_state(mut self, state: crate::state::RedisState, base_url: &str) -> Self {
        self.client.share_state(state, base_url);
        self
    }

    /// Ends the admin session. On ZIA this ACTIVATES every pending change, like activation.
    pub async fn logout(&self) -> Result<(), ProviderError> {
        self.client.logout().await
    }

    fn check_id(id: &str) -> Result<i64, ProviderError> {
        id.trim()
            .parse::<i64>()
            .map_err(|_| ProviderError::Invalid {
                message: format!("ZIA user ids are numbers, got {id:?}"),
            })
    }

    async fn all_pages<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        page_size: usize,
    ) -> Result<Vec<T>, ProviderError> {
        let mut out = Vec::new();
        for page in 1.. {
            let batch: Vec<T> = self
                .client
                .json(
                    Method::GET,
                    path,
                    &[
                        ("page", page.to_string()),
                        ("pageSize", page_size.to_string()),
                    ],
                    None,
                )
                .await?;
            let n = batch.len();
            out.extend(batch);
            if n < page_size {
                break;
            }
        }
        Ok(out)
    }

    /// `GET /users/{id}` with plain-text name and email. On ZIdentity-migrated tenants that
    /// endpoint answers both encoded (the list endpoint does not), and a PUT built from it would
    /// rename the user to the encoded text; so an email without `@` is replaced, with the name,
    /// by the list endpoint's values for the same id.
    async fn raw_user(&self, id: &str) -> Result<Value, ProviderError> {
        let n = Self::check_id(id)?;
        let mut raw: Value = self
            .client
            .json(Method::GET, &format!("/users/{n}"), &[], None)
            .await?;
        let plain = raw
            .get("email")
            .and_then(Value::as_str)
            .is_some_and(|e| e.contains('@'));
        if plain {
            return Ok(raw);
        }
        tracing::debug!("per-id user read came back encoded (ZIdentity tenant); using the list");
        let listed: Vec<WireUser> = self.all_pages("/users", USER_PAGE).await?;
        let row =
            listed
                .into_iter()
                .find(|u| u.id == n)
                .ok_or_else(|| ProviderError::NotFound {
                    what: format!("user {n} (absent from the user list)"),
                })?;
        if let Some(obj) = raw.as_object_mut() {
            for (field, v) in [("name", row.name), ("email", row.email)] {
                if let Some(v) = v {
                    obj.insert(field.into(), Value::String(v));
                }
            }
        }
        Ok(raw)
    }
}

fn to_user(v: Value) -> Result<User, ProviderError> {
    serde_json::from_value::<WireUser>(v)
        .map(User::from)
        .map_err(|e| ProviderError::Decode {
            message: format!("user: {e}"),
        })
}

fn parse_status(s: Option<String>) -> Result<ActivationState, ProviderError> {
    match s.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("ACTIVE") => Ok(ActivationState::Active),
        Some("PENDING") => Ok(ActivationState::Pending),
        Some("INPROGRESS") => Ok(ActivationState::InProgress),
        other => Err(ProviderError::Decode {
            message: format!("unknown activation status {other:?}"),
        }),
    }
}

#[async_trait]
impl Provider for ZiaProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Zia
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            staged_changes: true,
            disable: false,
            delete: true,
            create: true,
            departments: true,
            disable_may_delete: false,
        }
    }

    async fn list_users(
        &self,
        filter: &UserFilter,
        page: &PageRequest,
    ) -> Result<Page<User>, ProviderError> {
        let (mut api_page, mut offset) = cursor::decode(page.cursor.as_deref())?;
        let limit = page.limit.max(1);
        let mut query_base: Vec<(&str, String)> = vec![("pageSize", USER_PAGE.to_string())];
        // Server-side starts-with filters narrow the transfer; exact matching stays client-side.
        if let Some(p) = &filter.name_prefix {
            query_base.push(("name", p.clone()));
        }
        if let Some(d) = &filter.department {
            query_base.push(("dept", d.clone()));
        }
        if let Some(g) = &filter.group {
            query_base.push(("group", g.clone()));
        }
        let mut items = Vec::new();
        loop {
            let mut query = query_base.clone();
            query.push(("page", api_page.to_string()));
            // Straight into typed rows: a 10,000-user page never exists as a JSON tree.
            let batch: Vec<WireUser> = self
                .client
                .json(Method::GET, "/users", &query, None)
                .await?;
            let n = batch.len();
            for (i, row) in batch.into_iter().enumerate().skip(offset) {
                let user = User::from(row);
                if !filter.matches(&user) {
                    continue;
                }
                if items.len() == limit {
                    return Ok(Page {
                        items,
                        next_cursor: Some(cursor::encode(api_page, i)),
                    });
                }
                items.push(user);
            }
            if n < USER_PAGE {
                return Ok(Page {
                    items,
                    next_cursor: None,
                });
            }
            api_page += 1;
            offset = 0;
            if items.len() == limit {
                return Ok(Page {
                    items,
                    next_cursor: Some(cursor::encode(api_page, 0)),
                });
            }
        }
    }

    async fn get_user(&self, id: &str) -> Result<User, ProviderError> {
        to_user(self.raw_user(id).await?)
    }

    async fn find_users_by_email(&self, email: &str) -> Result<Vec<User>, ProviderError> {
        let wanted = crate::model::normalize_email(email);
        let all: Vec<WireUser> = self.all_pages("/users", USER_PAGE).await?;
        Ok(all
            .into_iter()
            .map(User::from)
            .filter(|u| u.email_key() == wanted)
            .collect())
    }

    async fn list_groups(&self) -> Result<Vec<Group>, ProviderError> {
        let all: Vec<WireGroup> = self.all_pages("/groups", OTHER_PAGE).await?;
        Ok(all.into_iter().map(Group::from).collect())
    }

    async fn list_departments(&self) -> Result<Vec<Department>, ProviderError> {
        let all: Vec<WireDepartment> = self.all_pages("/departments", OTHER_PAGE).await?;
        Ok(all.into_iter().map(Department::from).collect())
    }

    async fn create_user(&self, user: &NewUser) -> Result<User, ProviderError> {
        let id = |s: &str| {
            s.parse::<i64>().map_err(|_| ProviderError::Invalid {
                message: format!("ZIA ids are numbers, got {s:?}"),
            })
        };
        let department = user
            .department
            .as_ref()
            .ok_or_else(|| ProviderError::Invalid {
                message: "ZIA needs a department for a new user".into(),
            })?;
        let mut body = json!({
            "name": user.name,
            "email": user.email,
            "department": {"id": id(&department.id)?},
            "groups": user.groups.iter().map(|g| id(&g.id).map(|n| json!({"id": n}))).collect::<Result<Vec<_>, _>>()?,
        });
        if let Some(c) = &user.comments {
            body["comments"] = json!(c);
        }
        if let Some(p) = &user.password {
            body["password"] = json!(p.expose());
        }
        let created: Value = self
            .client
            .json(Method::POST, "/users", &[], Some(&body))
            .await?;
        self.client.staged_write();
        to_user(created)
    }

    async fn change_groups(
        &self,
        user_id: &str,
        add: &[GroupRef],
        remove: &[GroupRef],
    ) -> Result<User, ProviderError> {
        let n = Self::check_id(user_id)?;
        let mut raw = self.raw_user(user_id).await?;
        let current: Vec<Value> = raw
            .get("groups")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let gid = |v: &Value| {
            v.get("id")
                .map(|x| x.to_string().trim_matches('"').to_string())
        };
        let mut groups: Vec<Value> = current
            .into_iter()
            .filter(|g| {
                !remove
                    .iter()
                    .any(|r| gid(g).as_deref() == Some(r.id.as_str()))
            })
            .collect();
        for g in add {
            if !groups
                .iter()
                .any(|m| gid(m).as_deref() == Some(g.id.as_str()))
            {
                let id: i64 = g.id.parse().map_err(|_| ProviderError::Invalid {
                    message: format!("ZIA group ids are numbers, got {:?}", g.id),
                })?;
                groups.push(json!({"id": id, "name": g.name}));
            }
        }
        // PUT replaces the whole user: send back every field we read, with only groups changed.
        let obj = raw.as_object_mut().ok_or_else(|| ProviderError::Decode {
            message: "user is not a JSON object".into(),
        })?;
        obj.insert("groups".into(), Value::Array(groups));
        let updated: Value = self
            .client
            .json(Method::PUT, &format!("/users/{n}"), &[], Some(&raw))
            .await?;
        self.client.staged_write();
        to_user(updated)
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), ProviderError> {
        let n = Self::check_id(user_id)?;
        self.client
            .call(Method::DELETE, &format!("/users/{n}"), &[], None)
            .await?;
        self.client.staged_write();
        Ok(())
    }

    async fn delete_users(&self, user_ids: &[String]) -> Result<(), ProviderError> {
        let ids = user_ids
            .iter()
            .map(|id| Self::check_id(id))
            .collect::<Result<Vec<i64>, _>>()?;
        for chunk in ids.chunks(MAX_BULK_DELETE) {
            // 204 with no body or 200 with the deleted ids: either way the caller reads back.
            self.client
                .call(
                    Method::POST,
                    "/users/bulkDelete",
                    &[],
                    Some(&json!({ "ids": chunk })),
                )
                .await?;
            for _ in chunk {
                self.client.staged_write();
            }
        }
        Ok(())
    }

    async fn activation_status(&self) -> Result<ActivationState, ProviderError> {
        let s: WireStatus = self.client.json(Method::GET, "/status", &[], None).await?;
        parse_status(s.status)
    }

    fn take_notices(&self) -> Vec<String> {
        self.client.take_notices()
    }

    /// Logs in, reads the activation status, and reports the rate headroom: the tenant's own
    /// `x-ratelimit-*` counters when it sends them, else the budget this connection paces to.
    async fn probe(&self) -> Result<String, ProviderError> {
        let status = self.activation_status().await?;
        let headroom = match (self.client.reported_rate(), self.client.budget()) {
            (Some(r), _) => format!(
                "tenant reports {} request(s) left{}{}",
                r.remaining,
                r.limit.map(|l| format!(" of {l}")).unwrap_or_default(),
                r.reset_secs
                    .map(|s| format!(", window resets in {s} s"))
                    .unwrap_or_default()
            ),
            (None, Some(b)) => format!("tenant sends no rate headers; pacing to {}", b.describe()),
            (None, None) => "tenant sends no rate headers; pacing off (rate_limits = false)".into(),
        };
        Ok(format!(
            "reachable, credentials accepted, tenant status {status:?}; rate headroom: {headroom}"
        ))
    }

    fn take_activated_by_session_end(&self) -> usize {
        self.client.take_activated_by_session_end()
    }

    async fn activate(&self) -> Result<ActivationState, ProviderError> {
        let s: WireStatus = self
            .client
            .json(Method::POST, "/status/activate", &[], Some(&json!({})))
            .await?;
        self.client.activated();
        parse_status(s.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_urls() {
        assert_eq!(
            cloud_base_url("zscalertwo").as_deref(),
            Some("https://zsapi.zscalertwo.net")
        );
        assert_eq!(
            cloud_base_url("ZSCALER").as_deref(),
            Some("https://zsapi.zscaler.net")
        );
        assert_eq!(
            cloud_base_url("zspreview").as_deref(),
            Some("https://admin.zspreview.net")
        );
        for c in [
            "zscalerone",
            "zscalerthree",
            "zscloud",
            "zscalerbeta",
            "zscalergov",
            "zscalerten",
        ] {
            assert_eq!(cloud_base_url(c), Some(format!("https://zsapi.{c}.net")));
        }
        assert_eq!(cloud_base_url("example"), None);
    }
}
