//! The ZIdentity admin API adapter: the users and groups of tenants migrated to ZIdentity,
//! through `https://{vanity}-admin.zslogin.net/admin/api/v1` (or the OneAPI gateway's
//! `/ziam/admin/api/v1`) with a OneAPI bearer token (client secret or private-key JWT, the code
//! the ZIA adapter uses too).
//!
//! Facts it honours (each with its source in docs/ZIDENTITY.md): lists page by `offset`/`limit`
//! (at most 1,000) in an envelope with `results_total` (`totalRecord` through the gateway) and a
//! `next_link` that is never followed (it may name another host, and the token would go with
//! it); server-side filters (`loginName`, `loginName[like]`, `displayName[like]`,
//! `primaryEmail[like]`) only narrow the transfer, and exact matching stays client-side, since
//! the SDKs disagree on their spelling and an ignored filter returns everyone; a user record has
//! no groups, so memberships come from `/users/{id}/groups` (one user, or each row of a short
//! listing) or from each group's members (a long listing, read once for all its pages); a user is disabled and restored by writing its whole record back with
//! `status` changed; nothing is staged, so nothing waits for activation.

mod client;
pub mod config;
mod wire;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

pub use client::ZidentityLimits;
pub use config::{admin_api_url, api_root, from_connection};

use crate::model::{
    ActivationState, Department, Group, GroupRef, NewUser, Page, PageRequest, User, UserFilter,
    UserUpdate, normalize_email,
};
use crate::provider::http::path_segment as seg;
use crate::provider::memberships::change_in_turn;
use crate::provider::oneapi::OneApiCredentials;
use crate::provider::{Capabilities, Provider, ProviderError};
use client::ZidClient;
use wire::{WireGroup, WirePage, WireUser};

/// Most records one page may hold (go `common.go` MaxPageSize; the help pages).
pub const MAX_PAGE: usize = 1000;
/// How long the memberships read for a listing serve its later pages.
const LISTING_TTL: Duration = Duration::from_secs(600);
/// Listings whose memberships are kept at once (others are read again when paged).
const LISTINGS_KEPT: usize = 4;
/// Users whose groups are read at once when a listing reads them per row.
const FILL_CONCURRENCY: usize = 8;

/// Settings of one ZIdentity connection.
pub struct ZidentityConfig {
    /// The API root: `https://{vanity}-admin.zslogin.net/admin/api/v1`, the gateway's
    /// `…/ziam/admin/api/v1`, or the simulator's (see [`api_root`]).
    pub api_url: String,
    pub credentials: OneApiCredentials,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The limit to pace to; `None` = no client-side pacing.
    pub rate_limits: Option<ZidentityLimits>,
    /// Records per page, 1..=1000 (the maximum: a tenant of N users costs ⌈N/1,000⌉ pages).
    pub page_size: usize,
}

/// Every user's groups as one listing read them, and which groups carry admin entitlements.
#[derive(Debug, Default)]
struct Memberships {
    by_user: HashMap<String, Vec<GroupRef>>,
    admin_groups: HashSet<String>,
}

impl Memberships {
    fn of(&self, user_id: &str) -> (Vec<GroupRef>, bool) {
        let groups = self.by_user.get(user_id).cloned().unwrap_or_default();
        let admin = groups.iter().any(|g| self.admin_groups.contains(&g.id));
        (groups, admin)
    }
}

/// The memberships of recent listings, by listing number.
#[derive(Default)]
struct Listings {
    next: u64,
    recent: VecDeque<(u64, Instant, Arc<Memberships>)>,
}

/// A ZIdentity tenant.
pub struct ZidentityProvider {
    client: ZidClient,
    page_size: usize,
    listings: Mutex<Listings>,
}

/// Cursor of a user listing: the next record offset and the listing whose memberships apply.
fn encode_cursor(offset: usize, listing: u64) -> String {
    format!("zid1.{offset}.{listing}")
}

fn decode_cursor(cursor: Option<&str>) -> Result<(usize, Option<u64>), ProviderError> {
    let Some(c) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok((0, None));
    };
    let bad = || ProviderError::Invalid {
        message: format!(
            "cursor {c:?} is not one this server issued; pass next_cursor exactly as returned, or omit it to start over"
        ),
    };
    match c.split('.').collect::<Vec<_>>().as_slice() {
        ["zid1", offset, listing] => Ok((
            offset.parse().map_err(|_| bad())?,
            Some(listing.parse().map_err(|_| bad())?),
        )),
        _ => Err(bad()),
    }
}

impl ZidentityProvider {
    /// No network here: the token is fetched on first use.
    pub fn new(cfg: ZidentityConfig) -> Result<Self, ProviderError> {
        Ok(Self {
            client: ZidClient::new(&cfg.api_url, cfg.credentials, cfg.timeout, cfg.rate_limits)?,
            page_size: cfg.page_size.clamp(1, MAX_PAGE),
            listings: Mutex::new(Listings::default()),
        })
    }

    fn paging(&self, offset: usize) -> Vec<(&'static str, String)> {
        vec![
            ("offset", offset.to_string()),
            ("limit", self.page_size.to_string()),
        ]
    }

    /// One page of a collection from `offset`: its records, and whether more follow. More
    /// follow while the page is non-empty and the server says so (`next_link`, or a total past
    /// this page), or, when it says neither, while pages come back full.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        offset: usize,
        extra: &[(&'static str, String)],
    ) -> Result<(Vec<T>, bool), ProviderError> {
        let mut query = self.paging(offset);
        query.extend(extra.iter().cloned());
        let page: WirePage<T> = self.client.json(Method::GET, path, &query, None).await?;
        let n = page.records.len();
        let more = n > 0
            && (page.next_link.as_deref().is_some_and(|l| !l.is_empty())
                || page
                    .total()
                    .map_or(n >= self.page_size, |t| ((offset + n) as u64) < t));
        Ok((page.records, more))
    }

    /// Every record of a collection.
    async fn all<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        extra: &[(&'static str, String)],
    ) -> Result<Vec<T>, ProviderError> {
        let mut out = Vec::new();
        loop {
            let (batch, more) = self.page::<T>(path, out.len(), extra).await?;
            out.extend(batch);
            if !more {
                return Ok(out);
            }
        }
    }

    /// Every membership of `groups`, read group by group (a user record carries none).
    async fn read_memberships(&self, groups: Vec<WireGroup>) -> Result<Memberships, ProviderError> {
        let mut m = Memberships::default();
        for g in groups {
            let admin = g.admin();
            let group = g.into_group()?;
            if admin {
                m.admin_groups.insert(group.id.clone());
            }
            let members: Vec<WireUser> = self
                .all(&format!("/groups/{}/users", seg(&group.id)?), &[])
                .await?;
            for u in members {
                m.by_user.entry(u.id()?).or_default().push(GroupRef {
                    id: group.id.clone(),
                    name: group.name.clone(),
                });
            }
        }
        Ok(m)
    }

    /// Where a listing's rows get their groups. A cursor's listing keeps the memberships read
    /// at its first page. A new listing reads the groups (one page per 1,000), then either every
    /// group's members, or, when a short slice (under a full page) asks for fewer rows than there
    /// are groups and no group filter needs every membership, each returned row's own groups:
    /// whichever costs fewer requests.
    async fn memberships(
        &self,
        listing: Option<u64>,
        filter: &UserFilter,
        limit: usize,
    ) -> Result<Option<(u64, Arc<Memberships>)>, ProviderError> {
        if let Some(n) = listing.filter(|n| *n > 0) {
            let l = self.listings.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, _, m)) = l
                .recent
                .iter()
                .find(|(id, at, _)| *id == n && at.elapsed() < LISTING_TTL)
            {
                return Ok(Some((n, m.clone())));
            }
        }
        let groups: Vec<WireGroup> = self.all("/groups", &[]).await?;
        // A full page is a scan (the audit pages by 1,000): members read once serve every page.
        if filter.group.is_none() && limit < groups.len() && limit < MAX_PAGE {
            return Ok(None);
        }
        let m = Arc::new(self.read_memberships(groups).await?);
        let mut l = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        l.next += 1;
        let n = l.next;
        l.recent.push_back((n, Instant::now(), m.clone()));
        while l.recent.len() > LISTINGS_KEPT {
            l.recent.pop_front();
        }
        Ok(Some((n, m)))
    }

    /// A user's groups and whether one of them carries admin entitlements.
    async fn groups_of(&self, user_id: &str) -> Result<(Vec<GroupRef>, bool), ProviderError> {
        let groups: Vec<WireGroup> = self
            .all(&format!("/users/{}/groups", seg(user_id)?), &[])
            .await?;
        let mut admin = false;
        let mut refs = Vec::with_capacity(groups.len());
        for g in groups {
            admin |= g.admin();
            let g = g.into_group()?;
            refs.push(GroupRef {
                id: g.id,
                name: g.name,
            });
        }
        Ok((refs, admin))
    }

    /// Fills the groups of rows read without them, a few users at a time.
    async fn fill_groups(&self, users: &mut [User]) -> Result<(), ProviderError> {
        use futures::StreamExt;
        let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
        let found: Vec<Result<(Vec<GroupRef>, bool), ProviderError>> = futures::stream::iter(
            ids.into_iter()
                .map(|id| async move { self.groups_of(&id).await }),
        )
        .buffered(FILL_CONCURRENCY)
        .collect()
        .await;
        for (u, r) in users.iter_mut().zip(found) {
            let (groups, admin) = r?;
            u.groups = groups;
            u.admin = admin;
        }
        Ok(())
    }

    /// One user as it is now: its record, its groups and whether it is an administrator (admin
    /// entitlements of its own, or membership of a group with admin entitlements).
    async fn complete(&self, w: WireUser) -> Result<User, ProviderError> {
        let id = w.id()?;
        let entitlements_path = format!("/users/{}/admin-entitlements", seg(&id)?);
        let ((groups, group_admin), entitlements) = tokio::try_join!(
            self.groups_of(&id),
            self.client.send(Method::GET, &entitlements_path, &[], None)
        )?;
        let own_admin = entitlements
            .as_ref()
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        w.into_user(groups, group_admin || own_admin)
    }

    async fn raw_user(&self, id: &str) -> Result<Value, ProviderError> {
        self.client
            .send(Method::GET, &format!("/users/{}", seg(id)?), &[], None)
            .await?
            .ok_or_else(|| ProviderError::Decode {
                message: format!("GET /users/{id}: the answer had no body"),
            })
    }

    /// Adds (`true`) or removes one membership.
    async fn change_member(
        &self,
        group_id: &str,
        user_id: &str,
        add: bool,
    ) -> Result<(), ProviderError> {
        let path = format!("/groups/{}/users/{}", seg(group_id)?, seg(user_id)?);
        let method = if add { Method::POST } else { Method::DELETE };
        let body = add.then(|| json!({}));
        self.client.send(method, &path, &[], body.as_ref()).await?;
        Ok(())
    }
}

#[async_trait]
impl Provider for ZidentityProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            staged_changes: false,
            disable: true,
            delete: true,
            create: true,
            departments: false,
            create_needs_group: false,
            disable_may_delete: false,
            page_size: self.page_size,
            bulk_delete_max: 0,
            lookup_scans_pages: false,
            comments: false,
        }
    }

    async fn list_users(
        &self,
        filter: &UserFilter,
        page: &PageRequest,
    ) -> Result<Page<User>, ProviderError> {
        let (mut offset, listing) = decode_cursor(page.cursor.as_deref())?;
        let limit = page.limit.max(1);
        let index = self.memberships(listing, filter, limit).await?;
        let listing = index.as_ref().map_or(0, |(n, _)| *n);
        // Partial matches narrow the transfer; the exact prefix test stays client-side.
        let mut extra: Vec<(&'static str, String)> = Vec::new();
        if let Some(p) = &filter.email_prefix {
            extra.push(("loginName[like]", p.clone()));
        }
        if let Some(p) = &filter.name_prefix {
            extra.push(("displayName[like]", p.clone()));
        }
        let mut items = Vec::new();
        let next_cursor = 'pages: loop {
            let (batch, more) = self.page::<WireUser>("/users", offset, &extra).await?;
            let n = batch.len();
            for (i, w) in batch.into_iter().enumerate() {
                let (groups, admin) = match &index {
                    Some((_, m)) => m.of(&w.id()?),
                    // Filled below, for the rows returned only (no group filter here).
                    None => (Vec::new(), false),
                };
                let user = w.into_user(groups, admin)?;
                if !filter.matches(&user) {
                    continue;
                }
                if items.len() == limit {
                    break 'pages Some(encode_cursor(offset + i, listing));
                }
                items.push(user);
            }
            offset += n;
            if !more {
                break None;
            }
            if items.len() == limit {
                break Some(encode_cursor(offset, listing));
            }
        };
        if index.is_none() {
            self.fill_groups(&mut items).await?;
        }
        Ok(Page { items, next_cursor })
    }

    async fn get_user(&self, id: &str) -> Result<User, ProviderError> {
        let raw = self.raw_user(id).await?;
        let w: WireUser = serde_json::from_value(raw).map_err(|e| ProviderError::Decode {
            message: format!("ZIdentity user: {e}"),
        })?;
        self.complete(w).await
    }

    /// Every account one of whose addresses (login name, primary or secondary email) is
    /// `email`: the login name and primary email are asked of the server (two filters, only
    /// hints to it), and every candidate is compared here. A secondary email has no server
    /// filter, so an account is not found by it (docs/ZIDENTITY.md).
    async fn find_users_by_email(&self, email: &str) -> Result<Vec<User>, ProviderError> {
        let wanted = normalize_email(email);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let login = [("loginName", wanted.clone())];
        let mail = [("primaryEmail[like]", wanted.clone())];
        let (by_login, by_mail) = tokio::try_join!(
            self.all::<WireUser>("/users", &login),
            self.all::<WireUser>("/users", &mail),
        )?;
        let mut hits: Vec<WireUser> = Vec::new();
        for u in by_login.into_iter().chain(by_mail) {
            if u.answers_to(&wanted) && !hits.iter().any(|h| h.id == u.id) {
                hits.push(u);
            }
        }
        let mut out = Vec::with_capacity(hits.len());
        for w in hits {
            out.push(self.complete(w).await?);
        }
        Ok(out)
    }

    async fn list_groups(&self) -> Result<Vec<Group>, ProviderError> {
        let all: Vec<WireGroup> = self.all("/groups", &[]).await?;
        all.into_iter().map(WireGroup::into_group).collect()
    }

    async fn list_departments(&self) -> Result<Vec<Department>, ProviderError> {
        Ok(Vec::new())
    }

    async fn create_user(&self, user: &NewUser) -> Result<User, ProviderError> {
        if user.password.is_some() {
            return Err(ProviderError::Invalid {
                message: "ZIdentity users are not created with a password here; omit it (people sign in through ZIdentity or their IdP)".into(),
            });
        }
        if user.comments.is_some() {
            return Err(ProviderError::Invalid {
                message: "ZIdentity users have no comments field; call again without comments"
                    .into(),
            });
        }
        let body = json!({
            "loginName": user.email.trim(),
            "displayName": user.name,
            "primaryEmail": user.email.trim(),
            "status": true,
            "department": user.department.as_ref().map_or_else(|| json!({}), |d| json!({"name": d.name})),
            "customAttrsInfo": {},
        });
        let created = self
            .client
            .send(Method::POST, "/users", &[], Some(&body))
            .await?
            .ok_or_else(|| ProviderError::OutcomeUnknown {
                message: format!(
                    "POST /users for {} answered without the created user",
                    user.email
                ),
            })?;
        let w: WireUser =
            serde_json::from_value(created).map_err(|e| ProviderError::OutcomeUnknown {
                message: format!("the created user {} could not be read ({e})", user.email),
            })?;
        let id = w.id().map_err(|_| ProviderError::OutcomeUnknown {
            message: format!("POST /users for {} answered without an id", user.email),
        })?;
        // The creation counts as done: a failed membership after it is reported as partial.
        let mut done = vec![format!("created user {} (id {id})", user.email)];
        let steps: Vec<(&GroupRef, bool)> = user.groups.iter().map(|g| (g, true)).collect();
        change_in_turn(&steps, &mut done, |g, adding| {
            self.change_member(&g.id, &id, adding)
        })
        .await?;
        self.get_user(&id).await
    }

    async fn change_groups(
        &self,
        user_id: &str,
        add: &[GroupRef],
        remove: &[GroupRef],
    ) -> Result<User, ProviderError> {
        let update = UserUpdate {
            add_groups: add.to_vec(),
            remove_groups: remove.to_vec(),
            ..UserUpdate::default()
        };
        self.update_user(user_id, &update).await
    }

    /// The display name and department by writing the whole record back with only those
    /// changed (as `set_active` does), then each membership; a failure after the first change
    /// is [`ProviderError::Partial`], naming what was done.
    async fn update_user(&self, user_id: &str, update: &UserUpdate) -> Result<User, ProviderError> {
        if update.comments.is_some() {
            return Err(ProviderError::Invalid {
                message: "ZIdentity users have no comments field; call again without comments"
                    .into(),
            });
        }
        let mut done: Vec<String> = Vec::new();
        if update.name.is_some() || update.department.is_some() {
            let mut raw = self.raw_user(user_id).await?;
            let obj = raw.as_object_mut().ok_or_else(|| ProviderError::Decode {
                message: "ZIdentity user is not a JSON object".into(),
            })?;
            if let Some(n) = &update.name {
                obj.insert("displayName".into(), json!(n));
                done.push(format!("renamed to '{n}'"));
            }
            if let Some(d) = &update.department {
                // By name: the tenant finds (or makes) the department it names.
                obj.insert("department".into(), json!({"name": d.name}));
                done.push(format!("moved to department '{}'", d.name));
            }
            self.client
                .send(
                    Method::PUT,
                    &format!("/users/{}", seg(user_id)?),
                    &[],
                    Some(&raw),
                )
                .await?;
        }
        let steps: Vec<(&GroupRef, bool)> = update
            .add_groups
            .iter()
            .map(|g| (g, true))
            .chain(update.remove_groups.iter().map(|g| (g, false)))
            .collect();
        change_in_turn(&steps, &mut done, |g, adding| {
            self.change_member(&g.id, user_id, adding)
        })
        .await?;
        self.get_user(user_id).await
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), ProviderError> {
        self.client
            .send(
                Method::DELETE,
                &format!("/users/{}", seg(user_id)?),
                &[],
                None,
            )
            .await?;
        Ok(())
    }

    /// Disables (`status: false`) or restores a user by writing its whole record back with
    /// only `status` changed (whether PUT replaces or merges is not documented: sending every
    /// field is right either way), then reads it back.
    async fn set_active(&self, user_id: &str, active: bool) -> Result<Option<User>, ProviderError> {
        let mut raw = self.raw_user(user_id).await?;
        let obj = raw.as_object_mut().ok_or_else(|| ProviderError::Decode {
            message: "ZIdentity user is not a JSON object".into(),
        })?;
        obj.insert("status".into(), Value::Bool(active));
        self.client
            .send(
                Method::PUT,
                &format!("/users/{}", seg(user_id)?),
                &[],
                Some(&raw),
            )
            .await?;
        match self.get_user(user_id).await {
            Ok(u) => Ok(Some(u)),
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn activation_status(&self) -> Result<ActivationState, ProviderError> {
        Ok(ActivationState::Active)
    }

    async fn activate(&self) -> Result<ActivationState, ProviderError> {
        Ok(ActivationState::Active)
    }

    /// Gets a token and reads one user: proves the credentials and the admin API scope.
    async fn probe(&self) -> Result<String, ProviderError> {
        let page: WirePage<WireUser> = self
            .client
            .json(
                Method::GET,
                "/users",
                &[("offset", "0".into()), ("limit", "1".into())],
                None,
            )
            .await?;
        Ok(format!(
            "reachable, OneAPI token accepted, {} users, nothing staged (changes apply at once); rate headroom: {}",
            page.total()
                .map_or_else(|| "an unknown number of".to_string(), |n| n.to_string()),
            self.client.headroom()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(
            decode_cursor(Some(&encode_cursor(1234, 7))).expect("ok"),
            (1234, Some(7))
        );
        assert_eq!(decode_cursor(None).expect("ok"), (0, None));
        assert_eq!(decode_cursor(Some("  ")).expect("ok"), (0, None));
        for bad in ["scim1.1.0", "zid1.x.1", "zid1.1", "zid1.1.1.1", "zid1.-1.2"] {
            assert!(decode_cursor(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_cannot_escape_their_segment() {
        assert_eq!(seg("iidkfk0g906h3").expect("ok"), "iidkfk0g906h3");
        assert_eq!(seg("a/../b?x").expect("ok"), "a%2F..%2Fb%3Fx");
        assert!(seg(" ").is_err());
    }
}
