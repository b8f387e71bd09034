//! The native ZIA API adapter (legacy API-key session login).
//!
//! Facts it honours (see the project's API reference): lists are flat arrays with no total, so
//! a page shorter than `pageSize` is the last; `/users` takes up to 10,000 per page, other
//! collections 1,000; PUT replaces the whole user, so membership changes read the user and write
//! every field back; writes are staged until activation or until the session ends.
//!
//! Reads go through the connection's [`directory`] cache (pages, an email index, groups and
//! departments), so that a tenant of N users costs ⌈N/10,000⌉ + 1 GETs per TTL however it is
//! paged or searched. A tenant or proxy that ignores `page` (the same page every time) is
//! detected and refused instead of read for ever.

mod auth;
mod client;
pub mod config;
mod cursor;
pub mod directory;
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
    UserUpdate,
};
use crate::provider::outcome::decoded_after_write;
use crate::provider::{Capabilities, Provider, ProviderError};
use client::ZiaClient;
use cursor::Walk;
use directory::{DirectoryCache, fingerprint};
use wire::{Keyed, WireDepartment, WireGroup, WireStatus, WireUser};

/// Users per `/users` page: the API maximum, so a tenant of N users costs ⌈N/10,000⌉ calls.
const USER_PAGE: usize = 10_000;
/// Items per page of the other collections (their API maximum).
const OTHER_PAGE: usize = 1_000;
/// `/users` pages read in one walk before it is given up: 5,000,000 users, past any tenant.
const MAX_USER_PAGES: u32 = 500;
/// Pages of groups or departments read in one walk before it is given up (200,000 items).
const MAX_OTHER_PAGES: u32 = 200;
/// How recent a read by id must be for a membership change to build its PUT from it instead
/// of reading the user again. The PUT replaces the whole user either way; this keeps the
/// window between that read and the PUT as short as the pacing already makes it.
const REUSE_READ: Duration = Duration::from_secs(3);
/// How long the directory cache keeps what it read, unless `cache_ttl_secs` says otherwise.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
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

/// The ZIA clouds of the legacy session login.
pub const CLOUDS: [&str; 9] = [
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

/// The API base URL of a ZIA cloud, as every official SDK builds it.
pub fn cloud_base_url(cloud: &str) -> Option<String> {
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
    cache: DirectoryCache,
}

/// The `name`/`dept`/`group` filters the tenant applies itself ("starts with",
/// case-insensitive; the exact match is made here afterwards), and the key naming that query.
fn pushed(filter: &UserFilter) -> (Vec<(&'static str, String)>, String) {
    let mut query = Vec::new();
    for (param, value) in [
        ("name", &filter.name_prefix),
        ("dept", &filter.department),
        ("group", &filter.group),
    ] {
        if let Some(v) = value {
            query.push((param, v.clone()));
        }
    }
    let key = query
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join("&");
    (query, key)
}

/// A write refused with one of these did not change the tenant, so the cache stays true.
fn not_applied(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::NotFound { .. }
            | ProviderError::Duplicate { .. }
            | ProviderError::Invalid { .. }
            | ProviderError::Auth { .. }
            | ProviderError::RateLimited { .. }
            | ProviderError::QuotaExhausted { .. }
            | ProviderError::Maintenance { .. }
            | ProviderError::EditLocked { .. }
            | ProviderError::Unsupported { .. }
    )
}

fn endless(path: &str, max_pages: u32, page_size: usize) -> ProviderError {
    ProviderError::Decode {
        message: format!(
            "GET {path} kept returning full pages past page {max_pages} ({} items), more than any tenant holds; the tenant or a proxy in between is not paging correctly, so the listing was stopped",
            max_pages as usize * page_size
        ),
    }
}

fn repeated(path: &str, page: u32, earlier: u32, n: usize) -> ProviderError {
    ProviderError::Decode {
        message: format!(
            "GET {path} page {page} returned the same {n} items as page {earlier}: the tenant or a proxy in between ignores the page parameter, so the listing was stopped rather than read for ever"
        ),
    }
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
            cache: DirectoryCache::new(DEFAULT_CACHE_TTL),
        })
    }

    /// How long the directory cache keeps pages, indexes, groups and departments; zero turns
    /// it off (every read goes to the tenant).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache = DirectoryCache::new(ttl);
        self
    }

    /// Shares this tenant's rate budget and write lock with other replicas through Redis.
    pub fn with_shared_state(mut self, state: crate::state::RedisState, base_url: &str) -> Self {
        self.client.share_state(state, base_url);
        self
    }

    /// How many replicas serve this tenant: while Redis is unreachable, each paces its reads to
    /// its share of the budget, so that together they still meet no 429.
    pub fn with_replicas(mut self, replicas: u32) -> Self {
        self.client.set_replicas(replicas);
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

    /// Every item of a collection, page by page, stopping at a short page; a repeated page or
    /// a walk past any plausible size is an error, not a loop.
    async fn all_pages<T: serde::de::DeserializeOwned + Keyed>(
        &self,
        path: &str,
        page_size: usize,
    ) -> Result<Vec<T>, ProviderError> {
        let mut out = Vec::new();
        self.cache.restart_walk(path);
        for page in 1.. {
            if page > MAX_OTHER_PAGES {
                return Err(endless(path, MAX_OTHER_PAGES, page_size));
            }
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
            if n > 0
                && let Some(earlier) =
                    self.cache
                        .repeated_page(path, page, fingerprint(batch.iter().map(Keyed::key)))
            {
                return Err(repeated(path, page, earlier, n));
            }
            out.extend(batch);
            if n < page_size {
                break;
            }
        }
        Ok(out)
    }

    /// One `/users` page of a query (`key` names it: empty for every user), read from the
    /// tenant and kept in the cache.
    async fn fetch_user_page(
        &self,
        query: &[(&'static str, String)],
        key: &str,
        page: u32,
    ) -> Result<Vec<User>, ProviderError> {
        if page > MAX_USER_PAGES {
            return Err(endless("/users", MAX_USER_PAGES, USER_PAGE));
        }
        if page == 1 {
            self.cache.restart_walk(key);
        }
        let mut q = query.to_vec();
        q.push(("page", page.to_string()));
        q.push(("pageSize", USER_PAGE.to_string()));
        // Straight into typed rows: a 10,000-user page never exists as a JSON tree.
        let batch: Vec<WireUser> = self.client.json(Method::GET, "/users", &q, None).await?;
        let n = batch.len();
        if n > 0 {
            let fp = fingerprint(batch.iter().map(|u| u.id));
            if let Some(earlier) = self.cache.repeated_page(key, page, fp) {
                return Err(repeated("/users", page, earlier, n));
            }
        }
        let users: Vec<User> = batch.into_iter().map(User::from).collect();
        self.cache.put_page(key, page, &users, n < USER_PAGE);
        Ok(users)
    }

    /// Reads the pages of the full listing the cache lacks; `false` when the tenant is too
    /// large to keep (the caller then streams).
    async fn fill_directory(&self) -> Result<bool, ProviderError> {
        let _one_at_a_time = self.cache.fill.lock().await;
        while let Some(p) = self.cache.next_missing_page() {
            self.fetch_user_page(&[], "", p).await?;
            if !self.cache.has_page("", p) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Every user whose email is `wanted` (normalised), reading every page without keeping
    /// them: the path for a cache turned off or a tenant too large for it.
    /// Pages the cache holds are not read again.
    async fn scan_for_email(&self, wanted: &str) -> Result<Vec<User>, ProviderError> {
        let mut out = Vec::new();
        for page in 1.. {
            let mut take = |_: usize, u: User| {
                if u.email_key() == wanted {
                    out.push(u);
                }
                true
            };
            let last = match self.cache.scan("", page, 0, &mut take) {
                Some((_, last)) => last,
                None => {
                    let users = self.fetch_user_page(&[], "", page).await?;
                    let last = users.len() < USER_PAGE;
                    for u in users {
                        take(0, u);
                    }
                    last
                }
            };
            if last {
                break;
            }
        }
        Ok(out)
    }

    /// Records what a write did to the tenant's users in the cache.
    fn after_write<T>(&self, result: &Result<T, ProviderError>, done: impl FnOnce(&T)) {
        match result {
            Ok(v) => done(v),
            Err(e) if not_applied(e) => {}
            Err(_) => self.cache.users_unknown(),
        }
    }

    /// Counts writes the tenant staged, or may have staged (outcome unknown): a session that
    /// ends now would activate them.
    fn count_staged<T>(&self, result: &Result<T, ProviderError>, n: usize) {
        if matches!(result, Ok(_) | Err(ProviderError::OutcomeUnknown { .. })) {
            for _ in 0..n {
                self.client.staged_write();
            }
        }
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
        let row = self.listed_row(n).await?;
        if let Some(obj) = raw.as_object_mut() {
            for (field, v) in [("name", row.name), ("email", row.email)] {
                obj.insert(field.into(), Value::String(v));
            }
        }
        Ok(raw)
    }

    /// The user as the list endpoint shows it now (plain name and email), read fresh: through
    /// a `name` query when the cache knows the name, else through every page.
    async fn listed_row(&self, n: i64) -> Result<User, ProviderError> {
        let id = n.to_string();
        if let Some(hint) = self.cache.cached_name(n).filter(|h| !h.is_empty()) {
            let query = [("name", hint)];
            let key = format!("name={:?}#{n}", query[0].1);
            let rows = self.fetch_user_page(&query, &key, 1).await?;
            if let Some(u) = rows.into_iter().find(|u| u.id == id) {
                return Ok(u);
            }
        }
        self.cache.users_unknown();
        for page in 1.. {
            let users = self.fetch_user_page(&[], "", page).await?;
            let count = users.len();
            if let Some(u) = users.into_iter().find(|u| u.id == id) {
                return Ok(u);
            }
            if count < USER_PAGE {
                break;
            }
        }
        Err(ProviderError::NotFound {
            what: format!("user {n} (absent from the user list)"),
        })
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
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            staged_changes: true,
            disable: false,
            delete: true,
            create: true,
            departments: true,
            create_needs_group: true,
            disable_may_delete: false,
            page_size: USER_PAGE,
            bulk_delete_max: MAX_BULK_DELETE,
            lookup_scans_pages: true,
            comments: true,
        }
    }

    async fn list_users(
        &self,
        filter: &UserFilter,
        page: &PageRequest,
    ) -> Result<Page<User>, ProviderError> {
        let limit = page.limit.max(1);
        let (pushed_query, pushed_key) = pushed(filter);
        let (walk, mut api_page, mut offset) = match cursor::decode(page.cursor.as_deref())? {
            Some(c) => c,
            // A filtered listing over a fully cached directory costs no request at all.
            None if !pushed_key.is_empty() && self.cache.directory_complete() => (Walk::All, 1, 0),
            None => (Walk::Query, 1, 0),
        };
        let (query, key) = match walk {
            Walk::All => (Vec::new(), String::new()),
            Walk::Query => (pushed_query, pushed_key),
        };
        let mut items = Vec::new();
        loop {
            // Rows of this page from `offset` go to `items` until the limit is passed: then
            // the row that did not fit is where the next cursor points.
            let mut stopped_at = None;
            let mut take = |i: usize, user: User| {
                if !filter.matches(&user) {
                    return true;
                }
                if items.len() == limit {
                    stopped_at = Some(i);
                    return false;
                }
                items.push(user);
                true
            };
            let last = match self.cache.scan(&key, api_page, offset, &mut take) {
                Some((_, last)) => last,
                None => {
                    let users = self.fetch_user_page(&query, &key, api_page).await?;
                    let last = users.len() < USER_PAGE;
                    for (i, user) in users.into_iter().enumerate().skip(offset) {
                        if !take(i, user) {
                            break;
                        }
                    }
                    last
                }
            };
            if let Some(i) = stopped_at {
                return Ok(Page {
                    items,
                    next_cursor: Some(cursor::encode(walk, api_page, i)),
                });
            }
            if last {
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
                    next_cursor: Some(cursor::encode(walk, api_page, 0)),
                });
            }
        }
    }

    /// Always read from the tenant (this is the read-back of every write); the answer
    /// refreshes the cache and is kept a few seconds for a membership change to build on.
    async fn get_user(&self, id: &str) -> Result<User, ProviderError> {
        let n = Self::check_id(id)?;
        match self.raw_user(id).await {
            Ok(raw) => {
                let user = to_user(raw.clone())?;
                self.cache.user_changed(&user);
                self.cache.remember_raw(n, &raw);
                Ok(user)
            }
            Err(e @ ProviderError::NotFound { .. }) => {
                self.cache.user_gone(id);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// The id comes from the cached directory (read once per TTL: ⌈N/10,000⌉ + 1 GETs); the
    /// account itself is read by id unless its page was read during this very call.
    async fn find_users_by_email(&self, email: &str) -> Result<Vec<User>, ProviderError> {
        let wanted = crate::model::normalize_email(email);
        let started = std::time::Instant::now();
        if !self.cache.enabled() || !self.fill_directory().await? {
            return self.scan_for_email(&wanted).await;
        }
        let Some(found) = self.cache.by_email(&wanted) else {
            return self.scan_for_email(&wanted).await;
        };
        let mut out = Vec::new();
        for f in found {
            if f.read_at >= started {
                out.push(f.user);
                continue;
            }
            match self.get_user(&f.user.id).await {
                Ok(u) if u.email_key() == wanted => out.push(u),
                // Renamed or deleted since the page was read (the cache now knows).
                Ok(_) | Err(ProviderError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// ZIA accounts answer to their id, email and display name. A name is looked up in the
    /// cached directory's identity index when it is complete, else through the tenant's `name`
    /// filter (one request); a single account found is returned as read fresh, several (an
    /// ambiguous name) as listed.
    async fn find_users(&self, key: &str) -> Result<Vec<User>, ProviderError> {
        let key = key.trim();
        if key.contains('@') {
            return self.find_users_by_email(key).await;
        }
        if key.parse::<i64>().is_ok() {
            return match self.get_user(key).await {
                Ok(u) => Ok(vec![u]),
                Err(ProviderError::NotFound { .. }) => Ok(Vec::new()),
                Err(e) => Err(e),
            };
        }
        if key.is_empty() {
            return Ok(Vec::new());
        }
        let started = std::time::Instant::now();
        let candidates: Vec<(User, bool)> = match self.cache.by_identity(key) {
            Some(found) => found
                .into_iter()
                .map(|f| (f.user, f.read_at >= started))
                .collect(),
            None => {
                let query = [("name", key.to_string())];
                let qkey = format!("name={key:?}");
                let mut out = Vec::new();
                for page in 1.. {
                    let users = self.fetch_user_page(&query, &qkey, page).await?;
                    let n = users.len();
                    out.extend(users.into_iter().map(|u| (u, true)));
                    if n < USER_PAGE {
                        break;
                    }
                }
                out
            }
        };
        let candidates: Vec<(User, bool)> = candidates
            .into_iter()
            .filter(|(u, _)| u.answers_to(key))
            .collect();
        // Several accounts named alike (a common name: dozens on a large tenant) make the key
        // ambiguous whatever their fresh state; reading each by id would only spend budget.
        if candidates.len() > 1 {
            return Ok(candidates.into_iter().map(|(u, _)| u).collect());
        }
        let mut out = Vec::new();
        for (user, fresh) in candidates {
            if fresh {
                out.push(user);
                continue;
            }
            match self.get_user(&user.id).await {
                Ok(u) if u.answers_to(key) => out.push(u),
                Ok(_) | Err(ProviderError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn list_groups(&self) -> Result<Vec<Group>, ProviderError> {
        if let Some(g) = self.cache.groups() {
            return Ok(g);
        }
        let all: Vec<WireGroup> = self.all_pages("/groups", OTHER_PAGE).await?;
        let groups: Vec<Group> = all.into_iter().map(Group::from).collect();
        self.cache.put_groups(&groups);
        Ok(groups)
    }

    async fn list_departments(&self) -> Result<Vec<Department>, ProviderError> {
        if let Some(d) = self.cache.departments() {
            return Ok(d);
        }
        let all: Vec<WireDepartment> = self.all_pages("/departments", OTHER_PAGE).await?;
        let departments: Vec<Department> = all.into_iter().map(Department::from).collect();
        self.cache.put_departments(&departments);
        Ok(departments)
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
        let created: Result<Value, ProviderError> = self
            .client
            .json(Method::POST, "/users", &[], Some(&body))
            .await;
        self.after_write(&created, |_| {});
        self.count_staged(&created, 1);
        let created = decoded_after_write(to_user(created?), "POST /users");
        match &created {
            Ok(u) => self.cache.user_changed(u),
            Err(_) => self.cache.users_unknown(),
        }
        created
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

    /// One read-modify-write PUT of the whole user: every field read is sent back, with only
    /// the name, department, comments and memberships the update names changed.
    async fn update_user(&self, user_id: &str, update: &UserUpdate) -> Result<User, ProviderError> {
        let n = Self::check_id(user_id)?;
        let number = |what: &str, s: &str| {
            s.trim().parse::<i64>().map_err(|_| ProviderError::Invalid {
                message: format!("ZIA {what} ids are numbers, got {s:?}"),
            })
        };
        // Checked before anything is read or sent.
        let department = update
            .department
            .as_ref()
            .map(|d| number("department", &d.id).map(|id| json!({"id": id, "name": d.name})))
            .transpose()?;
        let added = update
            .add_groups
            .iter()
            .map(|g| number("group", &g.id).map(|id| (g, id)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut raw = match self.cache.recent_raw(n, REUSE_READ) {
            Some(raw) => raw,
            None => self.raw_user(user_id).await?,
        };
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
                !update
                    .remove_groups
                    .iter()
                    .any(|r| gid(g).as_deref() == Some(r.id.as_str()))
            })
            .collect();
        for (g, id) in added {
            if !groups
                .iter()
                .any(|m| gid(m).as_deref() == Some(g.id.as_str()))
            {
                groups.push(json!({"id": id, "name": g.name}));
            }
        }
        // PUT replaces the whole user: send back every field we read, with only these changed.
        let obj = raw.as_object_mut().ok_or_else(|| ProviderError::Decode {
            message: "user is not a JSON object".into(),
        })?;
        obj.insert("groups".into(), Value::Array(groups));
        if let Some(name) = &update.name {
            obj.insert("name".into(), json!(name));
        }
        if let Some(d) = department {
            obj.insert("department".into(), d);
        }
        if let Some(c) = &update.comments {
            obj.insert("comments".into(), json!(c));
        }
        let updated: Result<Value, ProviderError> = self
            .client
            .json(Method::PUT, &format!("/users/{n}"), &[], Some(&raw))
            .await;
        self.after_write(&updated, |_| {});
        self.count_staged(&updated, 1);
        let updated = decoded_after_write(to_user(updated?), "PUT /users/{id}");
        match &updated {
            Ok(u) => self.cache.user_changed(u),
            Err(_) => self.cache.users_unknown(),
        }
        updated
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), ProviderError> {
        let n = Self::check_id(user_id)?;
        let done = self
            .client
            .call(Method::DELETE, &format!("/users/{n}"), &[], None)
            .await;
        self.after_write(&done, |_| self.cache.user_gone(user_id));
        self.count_staged(&done, 1);
        done.map(drop)
    }

    async fn delete_users(&self, user_ids: &[String]) -> Result<(), ProviderError> {
        let ids = user_ids
            .iter()
            .map(|id| Self::check_id(id))
            .collect::<Result<Vec<i64>, _>>()?;
        for chunk in ids.chunks(MAX_BULK_DELETE) {
            // 204 with no body or 200 with the deleted ids: either way the caller reads back.
            let done = self
                .client
                .call(
                    Method::POST,
                    "/users/bulkDelete",
                    &[],
                    Some(&json!({ "ids": chunk })),
                )
                .await;
            self.after_write(&done, |_| {
                for id in chunk {
                    self.cache.user_gone(&id.to_string());
                }
            });
            self.count_staged(&done, chunk.len());
            done?;
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

    fn forget_cached(&self) {
        self.cache.clear();
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
        decoded_after_write(parse_status(s.status), "POST /status/activate")
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
