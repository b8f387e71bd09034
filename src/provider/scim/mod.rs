//! A SCIM 2.0 (RFC 7643/7644) provider, with the two Zscaler flavours: ZIA SCIM and ZPA SCIM.
//!
//! Nothing here relies on Zscaler beyond what the flavour switches: the base URL is taken
//! verbatim from configuration (the admin portal's "SCIM endpoint"), paging follows the RFC's
//! 1-based `startIndex`/`count` with the `totalResults` stop rule, memberships change through
//! `PatchOp` on the group (or a read-modify-write `PUT` for servers without PATCH, found through
//! `/ServiceProviderConfig` or a 501 answer), and responses are read leniently (see `wire`).
//!
//! SCIM applies changes at once: there is no staging and nothing to activate. On ZIA SCIM,
//! `active: false` may delete the account, so deactivation there counts as destructive.

mod client;
pub mod config;
pub mod filter;
mod wire;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use crate::model::{
    ActivationState, Department, Group, GroupRef, NewUser, Page, PageRequest, User, UserFilter,
    UserUpdate,
};
use crate::provider::http::path_segment as seg;
use crate::provider::memberships::change_in_turn;
use crate::provider::outcome::decoded_after_write;
use crate::provider::{Capabilities, Provider, ProviderError};
use crate::secret::Secret;
use client::ScimClient;

/// Most resources per page: Zscaler's SCIM servers cap `count` at 100.
const PAGE: usize = 100;
/// Pages read in one walk before it is given up (5,000,000 resources), whatever
/// `totalResults` claims.
const MAX_PAGES: usize = 50_000;

/// Which Zscaler product's SCIM server this is; changes only the destructive-ness of disable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimFlavor {
    /// ZIA SCIM (`https://scim.<cloud>.net/<orgId>/<idpId>/scim`); `active:false` may delete.
    Zia,
    /// ZPA SCIM (`https://scim1.private.zscaler.com/scim/1/<idpId>/v2`).
    Zpa,
}

/// How group memberships and `active` are changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PatchMode {
    /// Ask `/ServiceProviderConfig`; if it does not say, try PATCH and fall back to PUT on 501.
    Auto,
    /// Always RFC 7644 `PatchOp`.
    Patch,
    /// Always read-modify-write with `PUT`.
    Put,
}

/// Settings of one SCIM connection.
pub struct ScimConfig {
    pub flavor: ScimFlavor,
    /// The SCIM base URL exactly as the admin portal shows it.
    pub base_url: String,
    pub token: Secret,
    pub timeout: Duration,
    /// Requests per second; Zscaler documents 5. `None` turns pacing off.
    pub requests_per_second: Option<u32>,
    pub patch: PatchMode,
}

/// The PATCH decision, once made: 0 = not yet known, 1 = PATCH, 2 = PUT.
const PATCH_UNKNOWN: u8 = 0;
const PATCH_YES: u8 = 1;
const PATCH_NO: u8 = 2;

/// What `/ServiceProviderConfig` says (asked once): PATCH and filter support.
#[derive(Clone, Copy, Default)]
struct Discovered {
    patch: Option<bool>,
    filter: Option<bool>,
}

/// A SCIM 2.0 endpoint.
pub struct ScimProvider {
    flavor: ScimFlavor,
    client: ScimClient,
    patch: AtomicU8,
    discovered: tokio::sync::OnceCell<Discovered>,
    /// Set when the server refused a pushed `sw` filter: prefixes are then matched here only.
    no_prefix_filter: std::sync::atomic::AtomicBool,
    /// How long the group list is kept (0: not at all).
    cache_ttl: Duration,
    groups: Mutex<Option<(Instant, Vec<Group>)>>,
}

/// Cursor of a user listing: the next `startIndex`, how many of that page were consumed, and
/// whether the walk is over the server-filtered listing (`scim2`) or every user (`scim1`).
fn encode_cursor(start: usize, offset: usize, filtered: bool) -> String {
    let v = if filtered { "scim2" } else { "scim1" };
    format!("{v}.{start}.{offset}")
}

fn decode_cursor(cursor: Option<&str>) -> Result<Option<(usize, usize, bool)>, ProviderError> {
    let Some(c) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bad = || ProviderError::Invalid {
        message: format!(
            "cursor {c:?} is not one this server issued; pass next_cursor exactly as returned, or omit it to start over"
        ),
    };
    let parts: Vec<&str> = c.split('.').collect();
    match parts.as_slice() {
        [v @ ("scim1" | "scim2"), start, offset] => {
            let start: usize = start.parse().ok().filter(|s| *s >= 1).ok_or_else(bad)?;
            let offset: usize = offset.parse().map_err(|_| bad())?;
            Ok(Some((start, offset, *v == "scim2")))
        }
        _ => Err(bad()),
    }
}

/// The ids of a page, to tell it from the previous one.
fn page_ids(batch: &[Value]) -> Vec<String> {
    batch
        .iter()
        .map(|r| {
            r.as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("id")))
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        })
        .collect()
}

/// Refuses a page with the same resources as the one before (a server ignoring `startIndex`).
fn check_advances(
    path: &str,
    start: usize,
    previous: &mut Option<Vec<String>>,
    batch: &[Value],
) -> Result<(), ProviderError> {
    let ids = page_ids(batch);
    if !ids.is_empty() && previous.as_ref() == Some(&ids) {
        return Err(ProviderError::Decode {
            message: format!(
                "GET {path} at startIndex {start} returned the same {} resources as the page before: the server or a proxy in between ignores startIndex, so the listing was stopped rather than read for ever",
                ids.len()
            ),
        });
    }
    *previous = Some(ids);
    Ok(())
}

fn endless(path: &str) -> ProviderError {
    ProviderError::Decode {
        message: format!(
            "GET {path} kept returning resources past {} pages ({} resources), more than any directory holds; the listing was stopped",
            MAX_PAGES,
            MAX_PAGES * PAGE
        ),
    }
}

fn expect_body(v: Option<Value>, what: &str) -> Result<Value, ProviderError> {
    v.ok_or_else(|| ProviderError::Decode {
        message: format!("{what}: the server answered with an empty body"),
    })
}

impl ScimProvider {
    /// No network here: discovery happens on first use.
    pub fn new(cfg: ScimConfig) -> Result<Self, ProviderError> {
        let patch = match cfg.patch {
            PatchMode::Auto => PATCH_UNKNOWN,
            PatchMode::Patch => PATCH_YES,
            PatchMode::Put => PATCH_NO,
        };
        Ok(Self {
            flavor: cfg.flavor,
            client: ScimClient::new(
                &cfg.base_url,
                cfg.token,
                cfg.timeout,
                cfg.requests_per_second,
            )?,
            patch: AtomicU8::new(patch),
            discovered: tokio::sync::OnceCell::new(),
            no_prefix_filter: std::sync::atomic::AtomicBool::new(false),
            cache_ttl: crate::provider::zia::DEFAULT_CACHE_TTL,
            groups: Mutex::new(None),
        })
    }

    /// How long the group list is kept; zero turns that off.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// `/ServiceProviderConfig`, asked once (it needs no authentication and never changes
    /// while we run); an unreadable answer says nothing.
    async fn discover(&self) -> Discovered {
        *self
            .discovered
            .get_or_init(|| async {
                match self
                    .client
                    .send(Method::GET, "/ServiceProviderConfig", &[], None)
                    .await
                {
                    Ok(Some(v)) => Discovered {
                        patch: wire::patch_supported(v.clone()),
                        filter: wire::filter_supported(v),
                    },
                    _ => Discovered::default(),
                }
            })
            .await
    }

    /// The `filter` to push for a listing, when the server says it filters and has not
    /// refused a prefix filter before: `displayName sw` for a name prefix. The exact match is
    /// still made here.
    async fn pushed_filter(&self, filter: &UserFilter) -> Option<String> {
        let prefix = filter.name_prefix.as_deref()?;
        if self.no_prefix_filter.load(Ordering::SeqCst) {
            return None;
        }
        (self.discover().await.filter == Some(true))
            .then(|| filter::starts_with("displayName", prefix))
    }

    /// Whether to use PATCH, asking the server once when configured `auto`.
    async fn use_patch(&self) -> bool {
        match self.patch.load(Ordering::SeqCst) {
            PATCH_YES => true,
            PATCH_NO => false,
            _ => {
                let said = self.discover().await.patch;
                match said {
                    Some(false) => {
                        self.patch.store(PATCH_NO, Ordering::SeqCst);
                        false
                    }
                    Some(true) => {
                        self.patch.store(PATCH_YES, Ordering::SeqCst);
                        true
                    }
                    // Unknown: try PATCH; a 501 will switch to PUT for good.
                    None => true,
                }
            }
        }
    }

    /// Sends a PatchOp; `Ok(None)` means the server refused PATCH itself and PUT is needed.
    async fn try_patch(
        &self,
        path: &str,
        operations: Value,
    ) -> Result<Option<Option<Value>>, ProviderError> {
        if !self.use_patch().await {
            return Ok(None);
        }
        let body = json!({"schemas": [wire::PATCH_OP], "Operations": operations});
        match self
            .client
            .send(Method::PATCH, path, &[], Some(&body))
            .await
        {
            Ok(v) => {
                self.patch.store(PATCH_YES, Ordering::SeqCst);
                Ok(Some(v))
            }
            Err(ProviderError::Unsupported { what }) => {
                tracing::info!(detail = %what, "SCIM server refused PATCH; using PUT from now on");
                self.patch.store(PATCH_NO, Ordering::SeqCst);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ProviderError> {
        expect_body(
            self.client.send(Method::GET, path, query, None).await?,
            path,
        )
    }

    /// One page of a collection: `(resources, total)`.
    async fn page(
        &self,
        path: &str,
        start: usize,
        extra: &[(&str, String)],
    ) -> Result<(Vec<Value>, Option<usize>), ProviderError> {
        let mut query: Vec<(&str, String)> = vec![
            ("startIndex", start.to_string()),
            ("count", PAGE.to_string()),
        ];
        query.extend(extra.iter().cloned());
        let list = wire::list(self.get_json(path, &query).await?)?;
        let total = list.total();
        Ok((list.resources.unwrap_or_default(), total))
    }

    /// Every resource of a collection, page by page, with the RFC stop rule: stop on an empty
    /// page or once `startIndex` passes `totalResults` (servers may return fewer than `count`).
    /// A server (or proxy) that ignores `startIndex` answers the same page again: that, or a
    /// walk past any plausible size, is an error rather than a loop.
    async fn all(&self, path: &str, extra: &[(&str, String)]) -> Result<Vec<Value>, ProviderError> {
        let mut out = Vec::new();
        let mut start = 1;
        let mut previous: Option<Vec<String>> = None;
        for _ in 0..MAX_PAGES {
            let (batch, total) = self.page(path, start, extra).await?;
            let n = batch.len();
            check_advances(path, start, &mut previous, &batch)?;
            out.extend(batch);
            start += n;
            if n == 0 || total.is_none_or(|t| start > t) {
                return Ok(out);
            }
        }
        Err(endless(path))
    }

    async fn raw_user(&self, id: &str) -> Result<Value, ProviderError> {
        self.get_json(&format!("/Users/{}", seg(id)?), &[]).await
    }

    /// A user with memberships; servers that do not list groups on users are asked per group.
    /// Accounts whose `attrs` equal `key` (one `eq` filter each), de-duplicated, each checked
    /// on our side too: a server that ignores the filter must not make us pick the wrong
    /// person.
    async fn find_by_attributes(
        &self,
        key: &str,
        attrs: &[&str],
    ) -> Result<Vec<User>, ProviderError> {
        let mut out: Vec<User> = Vec::new();
        for attr in attrs {
            let hits = self
                .all("/Users", &[("filter", filter::eq(attr, key))])
                .await?;
            for raw in hits {
                let user = self.user_with_groups(raw).await?;
                if user.answers_to(key) && !out.iter().any(|x| x.id == user.id) {
                    out.push(user);
                }
            }
        }
        Ok(out)
    }

    async fn user_with_groups(&self, raw: Value) -> Result<User, ProviderError> {
        let (mut user, has_groups) = wire::user_with_membership_flag(raw)?;
        if !has_groups {
            let groups = self.all("/Groups", &[]).await?;
            for g in groups {
                let (group, members) = wire::group(g)?;
                if members.contains(&user.id) {
                    user.groups.push(GroupRef {
                        id: group.id,
                        name: group.name,
                    });
                }
            }
        }
        Ok(user)
    }

    /// Adds or removes one member of one group.
    async fn change_member(
        &self,
        group_id: &str,
        user_id: &str,
        add: bool,
    ) -> Result<(), ProviderError> {
        let path = format!("/Groups/{}", seg(group_id)?);
        let op = if add {
            json!([{"op": "add", "path": "members", "value": [{"value": user_id}]}])
        } else {
            json!([{"op": "remove", "path": filter::member_path(user_id)}])
        };
        if self.try_patch(&path, op).await?.is_some() {
            return Ok(());
        }
        // PUT replaces the group: read it, change only the one member, send everything back.
        let mut raw = self.get_json(&path, &[]).await?;
        let obj = raw.as_object_mut().ok_or_else(|| ProviderError::Decode {
            message: "SCIM group is not a JSON object".into(),
        })?;
        let key = obj
            .keys()
            .find(|k| k.eq_ignore_ascii_case("members"))
            .cloned()
            .unwrap_or_else(|| "members".into());
        let mut members: Vec<Value> = obj
            .get(&key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let is_user = |m: &Value| {
            m.as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")))
                .map(|(_, v)| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .as_deref()
                == Some(user_id)
        };
        members.retain(|m| !is_user(m));
        if add {
            members.push(json!({"value": user_id}));
        }
        obj.insert(key, Value::Array(members));
        obj.retain(|k, _| !k.eq_ignore_ascii_case("meta"));
        self.client
            .send(Method::PUT, &path, &[], Some(&raw))
            .await?;
        Ok(())
    }
}

impl ScimProvider {
    /// Changes the name and department of a user: one `PatchOp`, or a read-modify-write `PUT`
    /// of the whole resource where the server has no PATCH.
    async fn replace_attributes(
        &self,
        user_id: &str,
        update: &UserUpdate,
    ) -> Result<(), ProviderError> {
        let path = format!("/Users/{}", seg(user_id)?);
        let department_path = format!("{}:department", wire::ENTERPRISE);
        let mut ops = Vec::new();
        if let Some(name) = &update.name {
            ops.push(json!({"op": "replace", "path": "displayName", "value": name}));
        }
        if let Some(d) = &update.department {
            ops.push(json!({"op": "replace", "path": department_path, "value": d.name}));
        }
        if ops.is_empty() || self.try_patch(&path, Value::Array(ops)).await?.is_some() {
            return Ok(());
        }
        let mut raw = self.raw_user(user_id).await?;
        let obj = raw.as_object_mut().ok_or_else(|| ProviderError::Decode {
            message: "SCIM user is not a JSON object".into(),
        })?;
        obj.retain(|k, _| !k.eq_ignore_ascii_case("meta") && !k.eq_ignore_ascii_case("groups"));
        // Keys are case-insensitive: replace the server's own spelling of each.
        let key_of = |obj: &serde_json::Map<String, Value>, name: &str| {
            obj.keys()
                .find(|k| k.eq_ignore_ascii_case(name))
                .cloned()
                .unwrap_or_else(|| name.to_string())
        };
        if let Some(name) = &update.name {
            let k = key_of(obj, "displayName");
            obj.insert(k, json!(name));
        }
        if let Some(d) = &update.department {
            let k = key_of(obj, wire::ENTERPRISE);
            let ext = obj.entry(k).or_insert_with(|| json!({}));
            if let Some(e) = ext.as_object_mut() {
                e.retain(|k, _| !k.eq_ignore_ascii_case("department"));
                e.insert("department".into(), json!(d.name));
            }
            // A top-level copy (ZIA SCIM sends one) must not contradict the extension.
            if let Some(k) = obj
                .keys()
                .find(|k| k.eq_ignore_ascii_case("department"))
                .cloned()
            {
                obj.insert(k, json!(d.name));
            }
            let sk = key_of(obj, "schemas");
            let schemas = obj.entry(sk).or_insert_with(|| json!([wire::USER_SCHEMA]));
            if let Some(list) = schemas.as_array_mut()
                && !list.iter().any(|s| s.as_str() == Some(wire::ENTERPRISE))
            {
                list.push(json!(wire::ENTERPRISE));
            }
        }
        self.client
            .send(Method::PUT, &path, &[], Some(&raw))
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Provider for ScimProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            staged_changes: false,
            disable: true,
            delete: true,
            create: true,
            departments: false,
            create_needs_group: false,
            disable_may_delete: self.flavor == ScimFlavor::Zia,
            page_size: PAGE,
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
        let limit = page.limit.max(1);
        let (mut start, mut offset, filtered) = match decode_cursor(page.cursor.as_deref())? {
            Some(c) => c,
            None => (1, 0, self.pushed_filter(filter).await.is_some()),
        };
        let pushed = if filtered {
            match self.pushed_filter(filter).await {
                Some(f) => vec![("filter", f)],
                None => {
                    return Err(ProviderError::Invalid {
                        message: "this cursor belongs to a filtered listing the server no longer filters; call list_users again without cursor".into(),
                    });
                }
            }
        } else {
            Vec::new()
        };
        let mut items = Vec::new();
        let mut previous = None;
        for _ in 0..MAX_PAGES {
            let (batch, total) = match self.page("/Users", start, &pushed).await {
                Ok(p) => p,
                // A server that filters but not with `sw`: match here from now on.
                Err(ProviderError::Invalid { message }) if filtered && start == 1 => {
                    tracing::info!(detail = %message, "SCIM server refused a prefix filter; filtering locally");
                    self.no_prefix_filter.store(true, Ordering::SeqCst);
                    return Box::pin(self.list_users(filter, page)).await;
                }
                Err(e) => return Err(e),
            };
            let n = batch.len();
            check_advances("/Users", start, &mut previous, &batch)?;
            for (i, raw) in batch.into_iter().enumerate().skip(offset) {
                let user = wire::user(raw)?;
                if !filter.matches(&user) {
                    continue;
                }
                if items.len() == limit {
                    return Ok(Page {
                        items,
                        next_cursor: Some(encode_cursor(start, i, filtered)),
                    });
                }
                items.push(user);
            }
            start += n;
            offset = 0;
            if n == 0 || total.is_none_or(|t| start > t) {
                return Ok(Page {
                    items,
                    next_cursor: None,
                });
            }
            if items.len() == limit {
                return Ok(Page {
                    items,
                    next_cursor: Some(encode_cursor(start, 0, filtered)),
                });
            }
        }
        Err(endless("/Users"))
    }

    async fn get_user(&self, id: &str) -> Result<User, ProviderError> {
        let raw = self.raw_user(id).await?;
        self.user_with_groups(raw).await
    }

    async fn find_users_by_email(&self, email: &str) -> Result<Vec<User>, ProviderError> {
        // Whichever attribute holds the address: userName (usual) or any of the emails.
        self.find_by_attributes(email.trim(), &["userName", "emails.value"])
            .await
    }

    async fn find_users(&self, key: &str) -> Result<Vec<User>, ProviderError> {
        let key = key.trim();
        let mut out = Vec::new();
        if !key.contains('@') {
            match self.get_user(key).await {
                Ok(u) => out.push(u),
                Err(ProviderError::NotFound { .. } | ProviderError::Invalid { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let attrs: &[&str] = if key.contains('@') {
            &["userName", "emails.value", "externalId"]
        } else {
            &["userName", "externalId"]
        };
        for u in self.find_by_attributes(key, attrs).await? {
            if !out.iter().any(|x: &User| x.id == u.id) {
                out.push(u);
            }
        }
        Ok(out)
    }

    async fn list_groups(&self) -> Result<Vec<Group>, ProviderError> {
        if !self.cache_ttl.is_zero()
            && let Some((at, g)) = &*self.groups.lock().unwrap_or_else(|p| p.into_inner())
            && at.elapsed() < self.cache_ttl
        {
            return Ok(g.clone());
        }
        // Members are not needed here and can be huge; servers that ignore this send them anyway.
        let raw = self
            .all("/Groups", &[("excludedAttributes", "members".to_string())])
            .await?;
        let groups = raw
            .into_iter()
            .map(|g| wire::group(g).map(|x| x.0))
            .collect::<Result<Vec<_>, _>>()?;
        if !self.cache_ttl.is_zero() {
            *self.groups.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((Instant::now(), groups.clone()));
        }
        Ok(groups)
    }

    async fn list_departments(&self) -> Result<Vec<Department>, ProviderError> {
        Ok(Vec::new())
    }

    async fn create_user(&self, user: &NewUser) -> Result<User, ProviderError> {
        let mut body = json!({
            "schemas": [wire::USER_SCHEMA],
            "userName": user.email,
            "displayName": user.name,
            "name": {"formatted": user.name},
            "emails": [{"value": user.email, "primary": true, "type": "work"}],
            "active": true,
        });
        if let Some(d) = &user.department {
            body["schemas"] = json!([wire::USER_SCHEMA, wire::ENTERPRISE]);
            body[wire::ENTERPRISE] = json!({"department": d.name});
        }
        // The created resource is expected back: without it (or unreadable) the outcome is
        // unknown, since the server may have created the account.
        let created = decoded_after_write(
            expect_body(
                self.client
                    .send(Method::POST, "/Users", &[], Some(&body))
                    .await?,
                "POST /Users",
            )
            .and_then(wire::user),
            "POST /Users",
        )?;
        // The creation counts as done: a failed membership after it is reported as partial.
        let mut done = vec![format!("created user {} (id {})", user.email, created.id)];
        let steps: Vec<(&GroupRef, bool)> = user.groups.iter().map(|g| (g, true)).collect();
        change_in_turn(&steps, &mut done, |g, adding| {
            self.change_member(&g.id, &created.id, adding)
        })
        .await?;
        if user.groups.is_empty() {
            return Ok(created);
        }
        self.get_user(&created.id).await
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

    /// The name and department first (one PatchOp, or PUT), then each membership on its group;
    /// a failure after the first change is [`ProviderError::Partial`], naming what was done.
    async fn update_user(&self, user_id: &str, update: &UserUpdate) -> Result<User, ProviderError> {
        if update.comments.is_some() {
            return Err(ProviderError::Invalid {
                message: "SCIM users have no comments field; call again without comments".into(),
            });
        }
        let mut done: Vec<String> = Vec::new();
        if update.name.is_some() || update.department.is_some() {
            self.replace_attributes(user_id, update).await?;
            if let Some(n) = &update.name {
                done.push(format!("renamed to '{n}'"));
            }
            if let Some(d) = &update.department {
                done.push(format!("moved to department '{}'", d.name));
            }
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
                &format!("/Users/{}", seg(user_id)?),
                &[],
                None,
            )
            .await?;
        Ok(())
    }

    async fn set_active(&self, user_id: &str, active: bool) -> Result<Option<User>, ProviderError> {
        let path = format!("/Users/{}", seg(user_id)?);
        let op = json!([{"op": "replace", "path": "active", "value": active}]);
        if self.try_patch(&path, op).await?.is_none() {
            let mut raw = self.raw_user(user_id).await?;
            let obj = raw.as_object_mut().ok_or_else(|| ProviderError::Decode {
                message: "SCIM user is not a JSON object".into(),
            })?;
            obj.retain(|k, _| {
                !k.eq_ignore_ascii_case("active")
                    && !k.eq_ignore_ascii_case("meta")
                    && !k.eq_ignore_ascii_case("groups")
            });
            obj.insert("active".into(), Value::Bool(active));
            self.client
                .send(Method::PUT, &path, &[], Some(&raw))
                .await?;
        }
        // Read back rather than trust the answer: ZIA SCIM may have deleted the account.
        match self.get_user(user_id).await {
            Ok(u) => Ok(Some(u)),
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn activation_status(&self) -> Result<ActivationState, ProviderError> {
        Ok(ActivationState::Active)
    }

    fn forget_cached(&self) {
        *self.groups.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    async fn probe(&self) -> Result<String, ProviderError> {
        let list = wire::list(
            self.get_json(
                "/Users",
                &[("startIndex", "1".into()), ("count", "1".into())],
            )
            .await?,
        )?;
        let patch = if self.use_patch().await {
            "PatchOp"
        } else {
            "PUT"
        };
        Ok(format!(
            "reachable, bearer token accepted, {} users, memberships via {patch}",
            list.total()
                .map_or_else(|| "unknown number of".to_string(), |n| n.to_string())
        ))
    }

    async fn activate(&self) -> Result<ActivationState, ProviderError> {
        Ok(ActivationState::Active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        assert_eq!(
            decode_cursor(Some(&encode_cursor(101, 7, false))).expect("ok"),
            Some((101, 7, false))
        );
        assert_eq!(
            decode_cursor(Some(&encode_cursor(1, 0, true))).expect("ok"),
            Some((1, 0, true))
        );
        assert_eq!(decode_cursor(None).expect("ok"), None);
        for bad in [
            "zia1.1.0",
            "scim1.0.0",
            "scim1.x.0",
            "scim1.1",
            "scim1.1.1.1",
        ] {
            assert!(decode_cursor(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_cannot_escape_their_segment() {
        assert_eq!(seg("200001").expect("ok"), "200001");
        assert_eq!(seg("a/../b?x").expect("ok"), "a%2F..%2Fb%3Fx");
        assert!(seg("  ").is_err());
    }
}
