//! The directory cache of one native ZIA connection: the `/users` pages this process has read,
//! an index from every identity key (email, display name) to the accounts holding it, the group
//! and department lists, and the last user read by id.
//!
//! Why: ZIA allows 2 GETs a second and 1,000 an hour, `/users` pages hold 10,000 rows and have
//! no email filter. Without a cache, paging a listing 500 rows at a time downloads each
//! 10,000-row page twenty times, and every lookup by email reads the whole tenant.
//!
//! What keeps it correct:
//! - **TTL** (`cache_ttl_secs` per connection, 0 = off): a listing expires as a whole, so it is
//!   never older than the TTL.
//! - **This server's own writes** update it (create appends, a membership change or a read by
//!   id rewrites the row, a delete removes it); a write whose outcome is unknown drops it.
//! - **Writes never trust it**: a lookup by email only finds the id here, then reads the
//!   account by id; a PUT is built from a read by id made moments before (see
//!   [`DirectoryCache::recent_raw`]); the guard re-checks the plan's fingerprint.
//!
//! Memory: rows are compact (one string arena per page, interned group and department
//! references), about 100 bytes per account, and at most [`MAX_ROWS`] rows are held; a larger
//! tenant is read without caching past that.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::model::{Department, DepartmentRef, Group, GroupRef, User, normalize_email};

/// Most user rows the cache holds, over every listing: a 300,000-user tenant fits (about
/// 30 MB); past that, pages are read without being kept.
pub const MAX_ROWS: usize = 300_000;
/// Filtered listings (pushed `name`/`dept`/`group` queries) kept besides the full one.
const MAX_FILTERED: usize = 4;
/// Page fingerprints remembered for the repeated-page check, cache on or off.
const MAX_FINGERPRINTS: usize = 64;
/// "No department" in a row.
const NONE: u32 = u32::MAX;

/// A span of a page's string arena.
#[derive(Clone, Copy, Default)]
struct Span(u32, u32);

#[derive(Clone)]
struct Row {
    id: i64,
    name: Span,
    email: Span,
    comments: Option<Span>,
    /// Index into the interned references, or [`NONE`].
    dept: u32,
    /// Range of the page's `groups`.
    groups: (u32, u32),
    admin: bool,
    /// Deleted by this server since the page was read: skipped, keeping later offsets.
    gone: bool,
}

/// One `/users` page as read, in the tenant's order.
struct CachedPage {
    fetched: Instant,
    arena: String,
    groups: Vec<u32>,
    rows: Vec<Row>,
}

impl CachedPage {
    fn text(&self, s: Span) -> &str {
        self.arena
            .get(s.0 as usize..s.1 as usize)
            .unwrap_or_default()
    }

    fn push_text(&mut self, t: &str) -> Span {
        let start = self.arena.len();
        self.arena.push_str(t);
        Span(start as u32, self.arena.len() as u32)
    }

    fn push_row(&mut self, refs: &mut Interner, u: &User) -> Option<Row> {
        // Spans are u32: a page arena past 4 GiB (never: 10,000 rows) is not cached.
        if self.arena.len() + u.name.len() + u.email.len() > u32::MAX as usize / 2 {
            return None;
        }
        let id = u.id.parse::<i64>().ok()?;
        let name = self.push_text(&u.name);
        let email = self.push_text(&u.email);
        let comments = u.comments.as_deref().map(|c| self.push_text(c));
        let dept = u
            .department
            .as_ref()
            .map_or(NONE, |d| refs.intern(&d.id, &d.name));
        let start = self.groups.len() as u32;
        for g in &u.groups {
            let r = refs.intern(&g.id, &g.name);
            self.groups.push(r);
        }
        Some(Row {
            id,
            name,
            email,
            comments,
            dept,
            groups: (start, self.groups.len() as u32),
            admin: u.admin,
            gone: false,
        })
    }

    fn user(&self, refs: &Interner, r: &Row) -> User {
        let reference = |i: u32| refs.get(i);
        User {
            id: r.id.to_string(),
            name: self.text(r.name).to_string(),
            email: self.text(r.email).to_string(),
            department: (r.dept != NONE).then(|| {
                let (id, name) = reference(r.dept);
                DepartmentRef { id, name }
            }),
            groups: self
                .groups
                .get(r.groups.0 as usize..r.groups.1 as usize)
                .unwrap_or_default()
                .iter()
                .map(|g| {
                    let (id, name) = reference(*g);
                    GroupRef { id, name }
                })
                .collect(),
            active: None,
            admin: r.admin,
            comments: r.comments.map(|c| self.text(c).to_string()),
            external_id: None,
            ..Default::default()
        }
    }
}

/// Group and department references as users carry them, stored once.
#[derive(Default)]
struct Interner {
    refs: Vec<(String, String)>,
    index: HashMap<(String, String), u32>,
}

impl Interner {
    fn intern(&mut self, id: &str, name: &str) -> u32 {
        if let Some(i) = self.index.get(&(id.to_string(), name.to_string())) {
            return *i;
        }
        let i = self.refs.len() as u32;
        self.refs.push((id.to_string(), name.to_string()));
        self.index.insert((id.to_string(), name.to_string()), i);
        i
    }

    fn get(&self, i: u32) -> (String, String) {
        self.refs.get(i as usize).cloned().unwrap_or_default()
    }
}

/// Which identity a key of the index is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Email,
    Name,
}

fn norm_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn key_hash(kind: KeyKind, key: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (kind as u8).hash(&mut h);
    key.hash(&mut h);
    h.finish()
}

/// The pages of one query (`""`: every user; else the pushed `name`/`dept`/`group` filters).
struct Listing {
    query: String,
    created: Instant,
    pages: BTreeMap<u32, CachedPage>,
    /// The page shorter than a full one: the listing ends there.
    last: Option<u32>,
    /// (hash of a normalised email or name, page, row), sorted; built once the listing is
    /// complete.
    index: Option<Vec<(u64, u32, u32)>>,
}

impl Listing {
    fn rows(&self) -> usize {
        self.pages.values().map(|p| p.rows.len()).sum()
    }

    fn complete(&self) -> bool {
        self.last
            .is_some_and(|last| (1..=last).all(|p| self.pages.contains_key(&p)))
    }

    fn index_keys(page: &CachedPage, row: &Row) -> [(KeyKind, String); 2] {
        [
            (KeyKind::Email, normalize_email(page.text(row.email))),
            (KeyKind::Name, norm_name(page.text(row.name))),
        ]
    }

    fn build_index(&mut self) {
        let mut index = Vec::with_capacity(self.rows() * 2);
        for (p, page) in &self.pages {
            for (i, row) in page.rows.iter().enumerate() {
                for (kind, key) in Self::index_keys(page, row) {
                    if !key.is_empty() {
                        index.push((key_hash(kind, &key), *p, i as u32));
                    }
                }
            }
        }
        index.sort_unstable();
        self.index = Some(index);
    }

    fn index_row(&mut self, p: u32, i: u32) {
        let Some(page) = self.pages.get(&p) else {
            return;
        };
        let Some(row) = page.rows.get(i as usize) else {
            return;
        };
        let keys = Self::index_keys(page, row);
        if let Some(index) = &mut self.index {
            for (kind, key) in keys {
                if key.is_empty() {
                    continue;
                }
                let entry = (key_hash(kind, &key), p, i);
                if let Err(at) = index.binary_search(&entry) {
                    index.insert(at, entry);
                }
            }
        }
    }

    /// Rows whose `kind` key equals `key` (already normalised), with when their page was read.
    fn find(&self, kind: KeyKind, key: &str) -> Vec<(u32, u32)> {
        let Some(index) = &self.index else {
            return Vec::new();
        };
        let h = key_hash(kind, key);
        let from = index.partition_point(|e| e.0 < h);
        index[from..]
            .iter()
            .take_while(|e| e.0 == h)
            .filter(|(_, p, i)| {
                self.pages
                    .get(p)
                    .and_then(|page| page.rows.get(*i as usize).map(|r| (page, r)))
                    .is_some_and(|(page, r)| {
                        !r.gone
                            && match kind {
                                KeyKind::Email => normalize_email(page.text(r.email)) == key,
                                KeyKind::Name => norm_name(page.text(r.name)) == key,
                            }
                    })
            })
            .map(|(_, p, i)| (*p, *i))
            .collect()
    }

    fn locate(&self, id: i64) -> Option<(u32, u32)> {
        self.pages.iter().find_map(|(p, page)| {
            page.rows
                .iter()
                .position(|r| r.id == id && !r.gone)
                .map(|i| (*p, i as u32))
        })
    }
}

/// A user read by id, kept a few seconds so that a membership change right after the lookup
/// builds its PUT from that read instead of reading again.
struct RecentRead {
    id: i64,
    at: Instant,
    raw: Value,
}

#[derive(Default)]
struct State {
    refs: Interner,
    listings: Vec<Listing>,
    groups: Option<(Instant, Vec<Group>)>,
    departments: Option<(Instant, Vec<Department>)>,
    recent: Option<RecentRead>,
    /// (query, page, fingerprint) of the pages read last, for the repeated-page check.
    fingerprints: VecDeque<(String, u32, u64)>,
}

/// A user found through the index, and whether its row is fresh enough to use as read.
pub struct Found {
    pub user: User,
    /// When the page holding the row was read.
    pub read_at: Instant,
}

/// The cache of one connection. Every method is short and synchronous: nothing is awaited
/// while the lock is held.
pub struct DirectoryCache {
    ttl: Duration,
    state: Mutex<State>,
    /// Serialises whole-directory reads, so two concurrent lookups read the tenant once.
    pub fill: tokio::sync::Mutex<()>,
}

/// The fingerprint of a page: its ids in order.
pub fn fingerprint(ids: impl Iterator<Item = i64>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut n = 0u64;
    for id in ids {
        id.hash(&mut h);
        n += 1;
    }
    n.hash(&mut h);
    h.finish()
}

impl DirectoryCache {
    /// `ttl` zero turns caching off (the repeated-page check stays on).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            state: Mutex::new(State::default()),
            fill: tokio::sync::Mutex::new(()),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live(&self, since: Instant) -> bool {
        since.elapsed() < self.ttl
    }

    /// Drops what the TTL has expired.
    fn expire(&self, s: &mut State) {
        let ttl = self.ttl;
        s.listings.retain(|l| l.created.elapsed() < ttl);
        if s.groups.as_ref().is_some_and(|(t, _)| t.elapsed() >= ttl) {
            s.groups = None;
        }
        if s.departments
            .as_ref()
            .is_some_and(|(t, _)| t.elapsed() >= ttl)
        {
            s.departments = None;
        }
    }

    /// Records a page's fingerprint and returns the page number of an earlier page of the same
    /// query with the same rows (a tenant or proxy that ignores `page`), if any.
    pub fn repeated_page(&self, query: &str, page: u32, fp: u64) -> Option<u32> {
        let mut s = self.lock();
        let earlier = s
            .fingerprints
            .iter()
            .find(|(q, p, f)| q == query && *p != page && *f == fp)
            .map(|(_, p, _)| *p);
        s.fingerprints
            .retain(|(q, p, _)| !(q == query && *p == page));
        s.fingerprints.push_back((query.to_string(), page, fp));
        while s.fingerprints.len() > MAX_FINGERPRINTS {
            s.fingerprints.pop_front();
        }
        earlier
    }

    /// Forgets the fingerprints of a query, when a new walk of it starts at page 1.
    pub fn restart_walk(&self, query: &str) {
        self.lock().fingerprints.retain(|(q, _, _)| q != query);
    }

    /// Walks a cached, live page from row `offset`, handing `visit` each user still present
    /// with its position, until `visit` returns false. `None` when the page is not cached;
    /// else where the walk stopped (if it did) and whether this page is the listing's last.
    pub fn scan(
        &self,
        query: &str,
        page: u32,
        offset: usize,
        mut visit: impl FnMut(usize, User) -> bool,
    ) -> Option<(Option<usize>, bool)> {
        if !self.enabled() {
            return None;
        }
        let mut s = self.lock();
        self.expire(&mut s);
        let s = &*s;
        let listing = s.listings.iter().find(|l| l.query == query)?;
        let p = listing.pages.get(&page)?;
        let last = listing.last == Some(page);
        for (i, r) in p.rows.iter().enumerate().skip(offset) {
            if !r.gone && !visit(i, p.user(&s.refs, r)) {
                return Some((Some(i), last));
            }
        }
        Some((None, last))
    }

    /// The users of a cached page in order (`None` for a row deleted since), for tests.
    #[cfg(test)]
    fn page(&self, query: &str, page: u32) -> Option<(Vec<Option<User>>, bool)> {
        let mut rows = Vec::new();
        let mut at = 0;
        let (_, last) = self.scan(query, page, 0, |i, u| {
            while at < i {
                rows.push(None);
                at += 1;
            }
            rows.push(Some(u));
            at += 1;
            true
        })?;
        let s = self.lock();
        let total = s
            .listings
            .iter()
            .find(|l| l.query == query)
            .and_then(|l| l.pages.get(&page))
            .map_or(0, |p| p.rows.len());
        rows.resize(total, None);
        Some((rows, last))
    }

    /// Keeps a page just read; `last` when it is shorter than a full page.
    pub fn put_page(&self, query: &str, page: u32, users: &[User], last: bool) {
        if !self.enabled() {
            return;
        }
        let mut s = self.lock();
        self.expire(&mut s);
        let held: usize = s.listings.iter().map(Listing::rows).sum();
        if held + users.len() > MAX_ROWS {
            // Make room from the filtered listings first; the full one is worth more.
            s.listings.retain(|l| l.query.is_empty());
            let held: usize = s.listings.iter().map(Listing::rows).sum();
            if held + users.len() > MAX_ROWS {
                return;
            }
        }
        let state = &mut *s;
        let mut cached = CachedPage {
            fetched: Instant::now(),
            arena: String::new(),
            groups: Vec::new(),
            rows: Vec::with_capacity(users.len()),
        };
        for u in users {
            match cached.push_row(&mut state.refs, u) {
                Some(r) => cached.rows.push(r),
                None => return,
            }
        }
        cached.arena.shrink_to_fit();
        cached.groups.shrink_to_fit();
        let pos = match state.listings.iter().position(|l| l.query == query) {
            Some(i) => i,
            None => {
                if !query.is_empty() {
                    let filtered = state
                        .listings
                        .iter()
                        .filter(|l| !l.query.is_empty())
                        .count();
                    if filtered >= MAX_FILTERED
                        && let Some(oldest) = state
                            .listings
                            .iter()
                            .enumerate()
                            .filter(|(_, l)| !l.query.is_empty())
                            .min_by_key(|(_, l)| l.created)
                            .map(|(i, _)| i)
                    {
                        state.listings.remove(oldest);
                    }
                }
                state.listings.push(Listing {
                    query: query.to_string(),
                    created: Instant::now(),
                    pages: BTreeMap::new(),
                    last: None,
                    index: None,
                });
                state.listings.len() - 1
            }
        };
        let listing = &mut state.listings[pos];
        listing.pages.insert(page, cached);
        if last {
            listing.last = Some(page);
            listing.pages.retain(|p, _| *p <= page);
        }
        listing.index = None;
        if listing.query.is_empty() && listing.complete() {
            listing.build_index();
        }
    }

    /// Every user with this email (case-insensitive) or, with `names`, this display name,
    /// from the full listing; `None` when the full listing is not complete and live.
    fn find(&self, key: &str, names: bool) -> Option<Vec<Found>> {
        if !self.enabled() {
            return None;
        }
        let mut s = self.lock();
        self.expire(&mut s);
        let s = &*s;
        let listing = s
            .listings
            .iter()
            .find(|l| l.query.is_empty() && l.index.is_some())?;
        let mut hits = listing.find(KeyKind::Email, &normalize_email(key));
        if names {
            for h in listing.find(KeyKind::Name, &norm_name(key)) {
                if !hits.contains(&h) {
                    hits.push(h);
                }
            }
        }
        Some(
            hits.into_iter()
                .filter_map(|(p, i)| {
                    let page = listing.pages.get(&p)?;
                    let row = page.rows.get(i as usize)?;
                    Some(Found {
                        user: page.user(&s.refs, row),
                        read_at: page.fetched,
                    })
                })
                .collect(),
        )
    }

    /// The accounts whose email is `email`, if the whole directory is cached.
    pub fn by_email(&self, email: &str) -> Option<Vec<Found>> {
        self.find(email, false)
    }

    /// The accounts holding `key` as any identity (email or display name), if the whole
    /// directory is cached.
    pub fn by_identity(&self, key: &str) -> Option<Vec<Found>> {
        self.find(key, true)
    }

    /// Whether every page of the full listing is cached and live.
    pub fn directory_complete(&self) -> bool {
        if !self.enabled() {
            return false;
        }
        let mut s = self.lock();
        self.expire(&mut s);
        s.listings
            .iter()
            .any(|l| l.query.is_empty() && l.complete())
    }

    /// Whether this page of this query is cached (whatever its age: for the fill loop).
    pub fn has_page(&self, query: &str, page: u32) -> bool {
        self.enabled()
            && self
                .lock()
                .listings
                .iter()
                .any(|l| l.query == query && l.pages.contains_key(&page))
    }

    /// The first page of the full listing not cached yet (1-based), or `None` when complete.
    pub fn next_missing_page(&self) -> Option<u32> {
        let mut s = self.lock();
        self.expire(&mut s);
        let Some(l) = s.listings.iter().find(|l| l.query.is_empty()) else {
            return Some(1);
        };
        if l.complete() {
            return None;
        }
        (1..).find(|p| !l.pages.contains_key(p))
    }

    /// The display name of a cached account, as a `name` query hint.
    pub fn cached_name(&self, id: i64) -> Option<String> {
        let s = self.lock();
        let l = s.listings.iter().find(|l| l.query.is_empty())?;
        let (p, i) = l.locate(id)?;
        let page = l.pages.get(&p)?;
        Some(page.text(page.rows[i as usize].name).to_string())
    }

    /// This server wrote or read `user` (fresh from the tenant): rewrites its row, or appends
    /// it to a complete listing; filtered listings are dropped (their membership may change).
    pub fn user_changed(&self, user: &User) {
        let Ok(id) = user.id.parse::<i64>() else {
            return;
        };
        let mut s = self.lock();
        if let Some(r) = &s.recent
            && r.id == id
        {
            s.recent = None;
        }
        let state = &mut *s;
        state.listings.retain(|l| l.query.is_empty());
        let Some(listing) = state.listings.first_mut() else {
            return;
        };
        let target = match listing.locate(id) {
            Some((p, i)) => {
                if let Some(page) = listing.pages.get_mut(&p)
                    && let Some(row) = page.push_row(&mut state.refs, user)
                {
                    page.rows[i as usize] = row;
                }
                Some((p, i))
            }
            None if listing.complete() => {
                let p = listing.last.unwrap_or(1);
                listing.pages.get_mut(&p).and_then(|page| {
                    let row = page.push_row(&mut state.refs, user)?;
                    page.rows.push(row);
                    Some((p, page.rows.len() as u32 - 1))
                })
            }
            None => None,
        };
        if let Some((p, i)) = target {
            listing.index_row(p, i);
        }
    }

    /// This server deleted the account (or a read by id found it gone).
    pub fn user_gone(&self, id: &str) {
        let Ok(id) = id.trim().parse::<i64>() else {
            return;
        };
        let mut s = self.lock();
        if s.recent.as_ref().is_some_and(|r| r.id == id) {
            s.recent = None;
        }
        s.listings.retain(|l| l.query.is_empty());
        if let Some(l) = s.listings.first_mut()
            && let Some((p, i)) = l.locate(id)
            && let Some(page) = l.pages.get_mut(&p)
        {
            page.rows[i as usize].gone = true;
        }
    }

    /// A write's outcome is unknown: forget every user listing rather than guess.
    pub fn users_unknown(&self) {
        let mut s = self.lock();
        s.listings.clear();
        s.recent = None;
    }

    /// Forgets everything (an audit reads the tenant afresh).
    pub fn clear(&self) {
        let mut s = self.lock();
        s.listings.clear();
        s.groups = None;
        s.departments = None;
        s.recent = None;
    }

    pub fn groups(&self) -> Option<Vec<Group>> {
        if !self.enabled() {
            return None;
        }
        let s = self.lock();
        s.groups
            .as_ref()
            .filter(|(t, _)| self.live(*t))
            .map(|(_, g)| g.clone())
    }

    pub fn put_groups(&self, groups: &[Group]) {
        if self.enabled() {
            self.lock().groups = Some((Instant::now(), groups.to_vec()));
        }
    }

    pub fn departments(&self) -> Option<Vec<Department>> {
        if !self.enabled() {
            return None;
        }
        let s = self.lock();
        s.departments
            .as_ref()
            .filter(|(t, _)| self.live(*t))
            .map(|(_, d)| d.clone())
    }

    pub fn put_departments(&self, departments: &[Department]) {
        if self.enabled() {
            self.lock().departments = Some((Instant::now(), departments.to_vec()));
        }
    }

    /// Keeps the raw answer of a read by id.
    pub fn remember_raw(&self, id: i64, raw: &Value) {
        if self.enabled() {
            self.lock().recent = Some(RecentRead {
                id,
                at: Instant::now(),
                raw: raw.clone(),
            });
        }
    }

    /// The raw answer of a read of `id` made less than `max_age` ago, taken (used once).
    pub fn recent_raw(&self, id: i64, max_age: Duration) -> Option<Value> {
        let mut s = self.lock();
        match &s.recent {
            Some(r) if r.id == id && r.at.elapsed() < max_age => s.recent.take().map(|r| r.raw),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::zia::wire::WireUser;

    fn wire(id: i64, name: &str, email: &str) -> WireUser {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "email": email,
            "department": {"id": 7, "name": "Sales"},
            "groups": [{"id": 1, "name": "All Staff"}, {"id": 2, "name": "Team"}],
        }))
        .expect("row")
    }

    fn put(c: &DirectoryCache, page: u32, rows: Vec<WireUser>, last: bool) {
        let users: Vec<User> = rows.into_iter().map(User::from).collect();
        c.put_page("", page, &users, last);
    }

    #[test]
    fn pages_round_trip_and_the_index_finds_every_identity() {
        let c = DirectoryCache::new(Duration::from_secs(60));
        put(
            &c,
            1,
            vec![
                wire(1, "Jane Doe", "Jane.Doe@acme.example"),
                wire(2, "John Roe", "jr@acme.example"),
            ],
            false,
        );
        assert!(
            c.by_email("jane.doe@acme.example").is_none(),
            "incomplete: no index"
        );
        assert_eq!(c.next_missing_page(), Some(2));
        put(
            &c,
            2,
            vec![wire(3, "Jane  DOE", "jane2@acme.example")],
            true,
        );
        assert!(c.directory_complete());
        let (users, last) = c.page("", 1).expect("cached");
        assert!(!last);
        let jane = users[0].clone().expect("row");
        assert_eq!(
            jane,
            User::from(wire(1, "Jane Doe", "Jane.Doe@acme.example"))
        );
        let hits = c.by_email(" JANE.DOE@acme.example ").expect("index");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].user.id, "1");
        let named = c.by_identity("jane doe").expect("index");
        let mut ids: Vec<&str> = named.iter().map(|f| f.user.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["1", "3"]);
    }

    #[test]
    fn own_writes_keep_it_true() {
        let c = DirectoryCache::new(Duration::from_secs(60));
        put(&c, 1, vec![wire(1, "Jane Doe", "jane@acme.example")], true);
        let mut jane = c
            .by_email("jane@acme.example")
            .expect("index")
            .remove(0)
            .user;
        jane.email = "jane.new@acme.example".into();
        jane.groups.pop();
        c.user_changed(&jane);
        assert!(c.by_email("jane@acme.example").expect("index").is_empty());
        let again = c.by_email("jane.new@acme.example").expect("index");
        assert_eq!(again[0].user.groups.len(), 1);
        let new = User::from(wire(9, "New Person", "new@acme.example"));
        c.user_changed(&new);
        assert_eq!(c.by_email("new@acme.example").expect("index").len(), 1);
        c.user_gone("9");
        assert!(c.by_email("new@acme.example").expect("index").is_empty());
        let (rows, _) = c.page("", 1).expect("page");
        assert_eq!(rows.len(), 2, "a deleted row keeps its slot");
        assert!(rows[1].is_none());
        c.users_unknown();
        assert!(c.page("", 1).is_none());
    }

    #[test]
    fn ttl_zero_is_off_and_expiry_drops_everything() {
        let off = DirectoryCache::new(Duration::ZERO);
        put(&off, 1, vec![wire(1, "A", "a@x.example")], true);
        assert!(off.page("", 1).is_none());
        assert!(off.by_email("a@x.example").is_none());
        let short = DirectoryCache::new(Duration::from_millis(30));
        put(&short, 1, vec![wire(1, "A", "a@x.example")], true);
        short.put_groups(&[]);
        assert!(short.page("", 1).is_some() && short.groups().is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(short.page("", 1).is_none() && short.groups().is_none());
    }

    #[test]
    fn repeated_pages_are_recognised() {
        let c = DirectoryCache::new(Duration::ZERO);
        let a = fingerprint([1i64, 2, 3].into_iter());
        let b = fingerprint([4i64, 5].into_iter());
        assert_eq!(c.repeated_page("", 1, a), None);
        assert_eq!(c.repeated_page("", 2, b), None);
        assert_eq!(c.repeated_page("", 3, a), Some(1));
        assert_eq!(c.repeated_page("name=x", 2, a), None, "per query");
        c.restart_walk("");
        assert_eq!(c.repeated_page("", 2, a), None);
    }

    #[test]
    fn a_recent_read_is_used_once_and_only_while_fresh() {
        let c = DirectoryCache::new(Duration::from_secs(60));
        c.remember_raw(5, &serde_json::json!({"id": 5}));
        assert!(c.recent_raw(6, Duration::from_secs(3)).is_none());
        assert!(c.recent_raw(5, Duration::from_secs(3)).is_some());
        assert!(
            c.recent_raw(5, Duration::from_secs(3)).is_none(),
            "used once"
        );
        c.remember_raw(5, &serde_json::json!({"id": 5}));
        std::thread::sleep(Duration::from_millis(20));
        assert!(c.recent_raw(5, Duration::from_millis(10)).is_none());
    }
}
