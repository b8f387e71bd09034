//! Plans and approvals, shared by the serving process and the `approve` command.
//!
//! Each plan and approval is signed with a key, so a plan edited in storage, or an approval
//! written for another plan, is refused. Two backends behind one API (call sites do not know
//! which is in use):
//! - File (default): the key is kept in the state directory (mode 0600); single use is enforced
//!   by creating a `.used` marker with `create_new`, which is atomic on every platform.
//! - Redis (`[state] backend = "redis"`), for several replicas: the key is stored in Redis,
//!   created with `SET NX` so every replica and `approve` sign with the same one; plans and
//!   approvals expire with the plan; single use is a `SET NX` of a used marker, atomic on the
//!   server, so a plan approved through one replica runs once through any. Redis calls are
//!   blocking with timeouts (see [`crate::state::RedisState::run`]); when Redis is down every
//!   method fails closed with an error naming it.
//!
//! The key has an id (a hash of the key), stamped on every signed plan and approval. The key
//! is read from its store before each signing and each check, so a store that lost its key
//! (Redis flushed or restarted empty, a key evicted, `plan.key` removed) is noticed at once:
//! the first process to notice makes a new key (`SET NX`, so all agree on it), new plans work
//! at once on every replica, and a plan or approval signed with the old key is refused as
//! signed with a key the store no longer has, never as "tampered with".
//!
//! A plan keeps every approval it was given, one per approver (an approver approving twice
//! counts once), each signed and bound to the plan's content. With named approvers configured
//! (`[approvers]`), only approvals by a configured approver, checked against the same config
//! entry the server has, count; a plan needs as many distinct ones as it says
//! (`approvals_required`, two for four-eyes).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use hmac::{KeyInit, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::approvers::{Approvers, VerifiedApprover};
use super::plan::Plan;
use super::{GuardError, now_secs};
use crate::state::RedisState;

/// How long Redis keeps a plan's keys past its expiry, so a late call is told "expired" or
/// "already used" rather than "not found".
const REDIS_GRACE_SECS: u64 = 3600;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

#[derive(Serialize, Deserialize)]
struct SignedPlan {
    plan: Plan,
    /// Id of the key that signed it (absent in plans signed before key ids existed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    key_id: String,
    signature: String,
}

/// A person's approval of one plan, signed and bound to the plan's exact content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approval {
    pub plan_id: String,
    /// Who approved: a named approver (`[approvers.NAME]`), or else the OS account that ran
    /// `approve` (`jane (uid 1000)`).
    pub approver: String,
    /// Fingerprint of the `[approvers.NAME]` entry the secret was checked against; empty for an
    /// OS-account approval.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub approver_ref: String,
    /// How: `approve-cli` (a terminal) or `approve-web` (the approval page).
    pub channel: String,
    /// The OS account of the approving process, from its real uid (never the environment).
    pub os_account: String,
    pub approved_at: u64,
    #[serde(default)]
    key_id: String,
    signature: String,
    /// With a `public_key` approver: their own Ed25519 signature of the approval, which only
    /// their secret can make (the store's HMAC above can be made by anyone holding the key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    approver_signature: String,
}

impl Approval {
    /// How the approval was given (`approve-cli`, `approve-web`): a signed field, so a name
    /// cannot pose as a channel.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Whether a named approver gave it (with their secret), rather than an OS account.
    pub fn is_named(&self) -> bool {
        !self.approver_ref.is_empty()
    }

    /// Approvers of several approvals, in words: `jane and bob`.
    pub fn names(list: &[Approval]) -> String {
        let names: Vec<&str> = list.iter().map(|a| a.approver.as_str()).collect();
        match names.as_slice() {
            [] => "nobody".into(),
            [one] => (*one).into(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }

    /// Channels of several approvals, distinct, joined with `+` (`approve-cli+approve-web`).
    pub fn channels(list: &[Approval]) -> String {
        let mut out: Vec<&str> = Vec::new();
        for a in list {
            if !out.contains(&a.channel.as_str()) {
                out.push(&a.channel);
            }
        }
        out.join("+")
    }
}

/// Who is approving, as the approving process established it. A named approver can only come
/// from a [`VerifiedApprover`] (a checked secret).
#[derive(Clone)]
pub struct Approver {
    name: String,
    approver_ref: String,
    os_account: String,
    channel: String,
    /// A `public_key` approver's key pair, derived from their secret.
    signer: Option<Arc<ring::signature::Ed25519KeyPair>>,
}

impl std::fmt::Debug for Approver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approver")
            .field("name", &self.name)
            .field("os_account", &self.os_account)
            .field("channel", &self.channel)
            .field("signs", &self.signer.is_some())
            .finish()
    }
}

impl Approver {
    /// An approval by the OS account running `approve` (no `[approvers]` configured).
    pub fn os_account(os_account: &str, channel: &str) -> Self {
        Self {
            name: os_account.into(),
            approver_ref: String::new(),
            os_account: os_account.into(),
            channel: channel.into(),
            signer: None,
        }
    }

    /// An approval by a named approver whose secret was just verified.
    pub fn named(who: &VerifiedApprover, os_account: &str, channel: &str) -> Self {
        Self {
            name: who.name().into(),
            approver_ref: who.fingerprint().into(),
            os_account: os_account.into(),
            channel: channel.into(),
            signer: who.signer(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn os_account_name(&self) -> &str {
        &self.os_account
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }
}

/// The signing key and its id (a hash of the key: every process holding the key names it the
/// same way).
#[derive(Clone)]
struct SigningKey {
    id: String,
    bytes: Arc<[u8]>,
}

impl SigningKey {
    fn new(bytes: Vec<u8>) -> Self {
        let mut h = sha2::Sha256::new();
        h.update(b"plan-key-id\0");
        h.update(&bytes);
        Self {
            id: hex::encode(&h.finalize()[..8]),
            bytes: bytes.into(),
        }
    }

    fn mac(&self, domain: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.bytes).expect("HMAC accepts any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    fn sign(&self, domain: &str, payload: &[u8]) -> String {
        hex::encode(self.mac(domain, payload).finalize().into_bytes())
    }

    fn verify(&self, domain: &str, payload: &[u8], signature: &str) -> bool {
        let Ok(sig) = hex::decode(signature) else {
            return false;
        };
        self.mac(domain, payload).verify_slice(&sig).is_ok()
    }
}

/// The plan and approval store: a state directory or a shared Redis.
pub struct PlanStore {
    backend: Backend,
    /// The key as last read from the backend; replaced when the backend's key changes.
    key: RwLock<SigningKey>,
    /// Named approvers (name → fingerprint of their config entry); empty = OS-account approval.
    approvers: BTreeMap<String, String>,
    /// Public keys of the approvers whose approvals must carry their own signature.
    approver_keys: BTreeMap<String, [u8; 32]>,
    /// Ids of every key this process used, so what a lost key signed is refused as such rather
    /// than as forged (the backend keeps the same list for processes that never held it).
    known: std::sync::Mutex<Vec<String>>,
}

enum Backend {
    File { dir: PathBuf, key_path: PathBuf },
    Redis(RedisState),
}

impl std::fmt::Debug for PlanStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("PlanStore");
        match &self.backend {
            Backend::File { dir, .. } => d.field("dir", dir),
            Backend::Redis(r) => d.field("redis", r),
        };
        d.field("approvers", &self.approvers.keys().collect::<Vec<_>>());
        d.finish_non_exhaustive()
    }
}

fn state_err(path: &Path, e: impl std::fmt::Display) -> GuardError {
    GuardError::State {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Plan ids are typed by people: short, lowercase, unambiguous.
fn valid_plan_id(id: &str) -> bool {
    id.len() == 10 && id.starts_with("p-") && id[2..].chars().all(|c| c.is_ascii_hexdigit())
}

fn fresh_key_bytes() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

fn decode_key(text: &str, at: impl Fn(String) -> GuardError) -> Result<SigningKey, GuardError> {
    let key = hex::decode(text.trim()).map_err(|e| at(e.to_string()))?;
    if key.len() < 32 {
        return Err(at("signing key is shorter than 32 bytes".into()));
    }
    Ok(SigningKey::new(key))
}

/// Reads the key file, creating it (0600) if it does not exist; if another process created it
/// first, theirs is used.
fn file_key(key_path: &Path) -> Result<SigningKey, GuardError> {
    let at = |m: String| state_err(key_path, m);
    match fs::read_to_string(key_path) {
        Ok(text) => decode_key(&text, at),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = fresh_key_bytes();
            match create_private(key_path) {
                Ok(mut f) => {
                    f.write_all(hex::encode(&key).as_bytes())
                        .and_then(|_| f.sync_all())
                        .map_err(|e| state_err(key_path, e))?;
                    Ok(SigningKey::new(key))
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(key_path).map_err(|e| state_err(key_path, e))?;
                    decode_key(&text, at)
                }
                Err(e) => Err(state_err(key_path, e)),
            }
        }
        Err(e) => Err(state_err(key_path, e)),
    }
}

/// Reads the shared key, creating it if Redis has none (first start, or Redis was flushed):
/// `SET NX` then `GET`, so whoever creates it first, everyone uses that key.
fn redis_key(r: &RedisState) -> Result<SigningKey, GuardError> {
    let key_name = r.key("plan-key");
    let text: String = r.run(|c| {
        let current: Option<String> = redis::cmd("GET").arg(&key_name).query(c)?;
        if let Some(text) = current {
            return Ok(text);
        }
        redis::cmd("SET")
            .arg(&key_name)
            .arg(hex::encode(fresh_key_bytes()))
            .arg("NX")
            .exec(c)?;
        redis::cmd("GET").arg(&key_name).query(c)
    })?;
    decode_key(&text, |m| GuardError::State {
        path: format!("redis {key_name}"),
        message: m,
    })
}

impl PlanStore {
    /// Opens (creating if needed) the store; creates the signing key on first use.
    pub fn open(state_dir: &Path) -> Result<Self, GuardError> {
        let dir = state_dir.join("plans");
        fs::create_dir_all(&dir).map_err(|e| state_err(&dir, e))?;
        restrict_dir(state_dir)?;
        let key_path = state_dir.join("plan.key");
        let key = file_key(&key_path)?;
        Ok(Self {
            backend: Backend::File { dir, key_path },
            key: RwLock::new(key),
            approvers: BTreeMap::new(),
            approver_keys: BTreeMap::new(),
            known: Default::default(),
        })
        .map(|s| s.remembering())
    }

    /// Opens the store a replica shares with others through Redis. Needs Redis now: the signing
    /// key is read (or created, atomically, by the first process) at start-up.
    pub fn open_redis(state: RedisState) -> Result<Self, GuardError> {
        let key = redis_key(&state)?;
        Ok(Self {
            backend: Backend::Redis(state),
            key: RwLock::new(key),
            approvers: BTreeMap::new(),
            approver_keys: BTreeMap::new(),
            known: Default::default(),
        })
        .map(|s| s.remembering())
    }

    /// The store a config asks for: Redis when given, else the state directory.
    pub fn open_with(state_dir: &Path, shared: Option<&RedisState>) -> Result<Self, GuardError> {
        match shared {
            Some(r) => Self::open_redis(r.clone()),
            None => Self::open(state_dir),
        }
    }

    /// Counts only approvals by these named approvers, checked against these exact config
    /// entries (see [`Approvers`]). Without any, an OS-account approval counts.
    pub fn with_approvers(mut self, approvers: &Approvers) -> Self {
        self.approvers = approvers.fingerprints();
        self.approver_keys = approvers.public_keys();
        self
    }

    /// Whether named approvers are configured: then only they approve, and inline confirmation
    /// (MCP elicitation, MRTR, a terminal's "yes") cannot stand in for them.
    pub fn named_approvers(&self) -> bool {
        !self.approvers.is_empty()
    }

    /// Whether plans can be stored and approved right now (for `/readyz`): the plan directory
    /// exists, or Redis answers. A replica that cannot store plans must not take traffic that
    /// would end in "cannot save the plan".
    pub fn ready(&self) -> Result<(), String> {
        match &self.backend {
            Backend::File { dir, .. } => std::fs::metadata(dir)
                .map(|_| ())
                .map_err(|e| format!("plan directory {}: {e}", dir.display())),
            Backend::Redis(r) => r.ping().map_err(|e| e.to_string()),
        }
    }

    /// The key as the backend has it now. A changed key (the store was reset) replaces the one
    /// in memory, so this process signs new plans with the key every other process uses.
    fn current_key(&self) -> Result<SigningKey, GuardError> {
        let now = match &self.backend {
            Backend::File { key_path, .. } => file_key(key_path)?,
            Backend::Redis(r) => redis_key(r)?,
        };
        let old = {
            let mut held = self.key.write().unwrap_or_else(|p| p.into_inner());
            if held.id == now.id {
                return Ok(now);
            }
            std::mem::replace(&mut *held, now.clone()).id
        };
        tracing::warn!(
            old_key = %old,
            new_key = %now.id,
            "the plan signing key in the state store changed (the store was reset or lost its key): plans and approvals signed with the old key are refused; new plans use the new key"
        );
        self.remember(&old);
        self.remember(&now.id);
        Ok(now)
    }

    /// Notes the key in use as this deployment's, at open.
    fn remembering(self) -> Self {
        let id = self.held_key().id;
        self.remember(&id);
        self
    }

    /// Records a key id as one this deployment used: in memory, and (best effort) in the
    /// backend for other processes (`plan-key-ids` in Redis, `plan.key.ids` beside the key).
    fn remember(&self, id: &str) {
        {
            let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            if !known.iter().any(|k| k == id) {
                known.push(id.to_string());
            }
        }
        // Written again even when this process knew it: the backend may have lost its list.
        let recorded = match &self.backend {
            Backend::File { key_path, .. } => {
                let path = key_path.with_extension("key.ids");
                let listed =
                    fs::read_to_string(&path).is_ok_and(|t| t.lines().any(|l| l.trim() == id));
                if listed {
                    Ok(())
                } else {
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .and_then(|mut f| writeln!(f, "{id}"))
                        .map_err(|e| e.to_string())
                }
            }
            Backend::Redis(r) => {
                let set = r.key("plan-key-ids");
                r.run(|c| redis::cmd("SADD").arg(&set).arg(id).exec(c))
                    .map_err(|e| e.to_string())
            }
        };
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "cannot record the plan signing key id");
        }
    }

    /// The error for something signed with key `key_id`, which is not the current key: a key
    /// this deployment had and lost (the store was reset), or one it never had (forged, or
    /// copied from another deployment).
    fn not_current_key(&self, plan_id: &str, key_id: &str) -> GuardError {
        let known = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|k| k == key_id)
            || match &self.backend {
                Backend::File { key_path, .. } => {
                    fs::read_to_string(key_path.with_extension("key.ids"))
                        .is_ok_and(|t| t.lines().any(|l| l.trim() == key_id))
                }
                Backend::Redis(r) => {
                    let set = r.key("plan-key-ids");
                    r.run(|c| {
                        redis::cmd("SISMEMBER")
                            .arg(&set)
                            .arg(key_id)
                            .query::<bool>(c)
                    })
                    .unwrap_or(false)
                }
            };
        if known {
            GuardError::KeyGone { id: plan_id.into() }
        } else {
            GuardError::BadSignature { id: plan_id.into() }
        }
    }

    /// The key in memory, for signatures that are checked by this process only (tokens are
    /// made right after the plan was saved, which refreshed it).
    fn held_key(&self) -> SigningKey {
        self.key.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A key for another purpose (e.g. sealing MCP request state), derived from the store key so
    /// that every process sharing the state directory derives the same one.
    /// The current key is read from the store (so a replaced key is followed); if the store
    /// cannot be read, the key held is used and whatever it seals fails to open elsewhere.
    pub fn derived_key(&self, purpose: &str) -> Vec<u8> {
        let key = self.current_key().unwrap_or_else(|_| self.held_key());
        let mut mac = HmacSha256::new_from_slice(&key.bytes).expect("HMAC accepts any key length");
        mac.update(b"derive\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A fresh plan id.
    pub fn new_id() -> String {
        let mut b = [0u8; 4];
        rand::rng().fill_bytes(&mut b);
        format!("p-{}", hex::encode(b))
    }

    fn path(dir: &Path, id: &str, ext: &str) -> Result<PathBuf, GuardError> {
        check_id(id)?;
        Ok(dir.join(format!("{id}.{ext}")))
    }

    /// Redis key of one plan's record of this kind (`plan`, `approvals`, `used`).
    fn rkey(r: &RedisState, id: &str, kind: &str) -> Result<String, GuardError> {
        check_id(id)?;
        Ok(r.key(&format!("plan:{id}:{kind}")))
    }

    /// Seconds Redis keeps records of a plan expiring at `expires_at`.
    fn redis_ttl(expires_at: u64) -> u64 {
        expires_at.saturating_sub(now_secs()).max(1) + REDIS_GRACE_SECS
    }

    fn canonical(plan: &Plan) -> Vec<u8> {
        serde_json::to_value(plan)
            .map(|v| v.to_string().into_bytes())
            .unwrap_or_default()
    }

    /// Stores a new plan.
    pub fn save(&self, plan: &Plan) -> Result<(), GuardError> {
        let key = self.current_key()?;
        let signed = SignedPlan {
            signature: key.sign("plan", &Self::canonical(plan)),
            key_id: key.id.clone(),
            plan: plan.clone(),
        };
        let dir = match &self.backend {
            Backend::File { dir, .. } => dir,
            Backend::Redis(r) => {
                let key = Self::rkey(r, &plan.id, "plan")?;
                let text = serde_json::to_string(&signed).map_err(|e| GuardError::State {
                    path: key.clone(),
                    message: e.to_string(),
                })?;
                let ttl = Self::redis_ttl(plan.expires_at);
                let pending = r.key("plans-pending");
                let created: Option<String> = r.run(|c| {
                    let created: Option<String> = redis::cmd("SET")
                        .arg(&key)
                        .arg(&text)
                        .arg("NX")
                        .arg("EX")
                        .arg(ttl)
                        .query(c)?;
                    if created.is_some() {
                        redis::cmd("ZADD")
                            .arg(&pending)
                            .arg(plan.created_at)
                            .arg(&plan.id)
                            .exec(c)?;
                    }
                    Ok(created)
                })?;
                return match created {
                    Some(_) => Ok(()),
                    None => Err(GuardError::State {
                        path: key,
                        message: "a plan with this id already exists".into(),
                    }),
                };
            }
        };
        let path = Self::path(dir, &plan.id, "plan.json")?;
        let text = serde_json::to_vec_pretty(&signed).map_err(|e| state_err(&path, e))?;
        let mut f = create_private(&path).map_err(|e| state_err(&path, e))?;
        f.write_all(&text)
            .and_then(|_| f.sync_all())
            .map_err(|e| state_err(&path, e))
    }

    /// Token mode's token for a plan: an HMAC with the store key over the plan id and the hash
    /// of the plan as stored, so it is worth nothing for another plan, for an edited plan, or on
    /// a server with another key. Any replica sharing the key verifies it.
    pub fn plan_token(&self, plan: &Plan) -> String {
        self.held_key().sign("plan-token", &token_payload(plan))
    }

    /// Whether `token` is this store's token for exactly this plan (constant-time comparison).
    pub fn verify_plan_token(&self, plan: &Plan, token: &str) -> bool {
        self.held_key()
            .verify("plan-token", &token_payload(plan), token)
    }

    /// Loads a plan, refusing one whose signature does not match.
    pub fn load(&self, id: &str) -> Result<Plan, GuardError> {
        let text = match &self.backend {
            Backend::File { dir, .. } => {
                let path = Self::path(dir, id, "plan.json")?;
                fs::read(&path).map_err(|_| GuardError::PlanNotFound { id: id.into() })?
            }
            Backend::Redis(r) => {
                let key = Self::rkey(r, id, "plan")?;
                let text: Option<Vec<u8>> = r.run(|c| redis::cmd("GET").arg(&key).query(c))?;
                text.ok_or_else(|| GuardError::PlanNotFound { id: id.into() })?
            }
        };
        let signed: SignedPlan = serde_json::from_slice(&text)
            .map_err(|_| GuardError::BadSignature { id: id.into() })?;
        let key = self.current_key()?;
        if !signed.key_id.is_empty() && signed.key_id != key.id && signed.plan.id == id {
            return Err(self.not_current_key(id, &signed.key_id));
        }
        if signed.plan.id != id
            || !key.verify("plan", &Self::canonical(&signed.plan), &signed.signature)
        {
            return Err(GuardError::BadSignature { id: id.into() });
        }
        Ok(signed.plan)
    }

    /// Loads a plan that may still be executed: not expired, not used.
    pub fn load_live(&self, id: &str) -> Result<Plan, GuardError> {
        let plan = self.load(id)?;
        let used = match &self.backend {
            Backend::File { dir, .. } => Self::path(dir, id, "used")?.exists(),
            Backend::Redis(r) => {
                let key = Self::rkey(r, id, "used")?;
                r.run(|c| redis::cmd("EXISTS").arg(&key).query::<bool>(c))?
            }
        };
        if used {
            return Err(GuardError::AlreadyUsed { id: id.into() });
        }
        if now_secs() >= plan.expires_at {
            return Err(GuardError::Expired { id: id.into() });
        }
        Ok(plan)
    }

    /// A signed approval of a live plan by `who`, not stored yet: the approving process
    /// journals it first, then stores it with [`PlanStore::store_approval`].
    pub fn sign_approval(&self, id: &str, who: &Approver) -> Result<(Plan, Approval), GuardError> {
        let plan = self.load_live(id)?;
        let key = self.current_key()?;
        let mut approval = Approval {
            plan_id: plan.id.clone(),
            approver: who.name.clone(),
            approver_ref: who.approver_ref.clone(),
            channel: who.channel.clone(),
            os_account: who.os_account.clone(),
            approved_at: now_secs(),
            key_id: key.id.clone(),
            signature: String::new(),
            approver_signature: String::new(),
        };
        let payload = approval_payload(&plan, &approval);
        if let Some(signer) = &who.signer {
            approval.approver_signature = hex::encode(signer.sign(&payload).as_ref());
        }
        approval.signature = key.sign("approval", &payload);
        Ok((plan, approval))
    }

    /// Stores a signed approval beside the plan's others (replacing an earlier one by the same
    /// approver), if the plan is still live.
    pub fn store_approval(&self, plan: &Plan, approval: &Approval) -> Result<(), GuardError> {
        self.load_live(&plan.id)?;
        let slot = approver_slot(approval);
        let dir = match &self.backend {
            Backend::File { dir, .. } => dir,
            Backend::Redis(r) => {
                let key = Self::rkey(r, &plan.id, "approvals")?;
                let text = serde_json::to_string(approval).map_err(|e| GuardError::State {
                    path: key.clone(),
                    message: e.to_string(),
                })?;
                let ttl = Self::redis_ttl(plan.expires_at);
                r.run(|c| {
                    redis::pipe()
                        .atomic()
                        .cmd("HSET")
                        .arg(&key)
                        .arg(&slot)
                        .arg(&text)
                        .ignore()
                        .cmd("EXPIRE")
                        .arg(&key)
                        .arg(ttl)
                        .ignore()
                        .exec(c)
                })?;
                return Ok(());
            }
        };
        let folder = Self::path(dir, &plan.id, "approvals")?;
        fs::create_dir_all(&folder).map_err(|e| state_err(&folder, e))?;
        let path = folder.join(format!("{slot}.json"));
        let text = serde_json::to_vec_pretty(approval).map_err(|e| state_err(&path, e))?;
        let tmp = folder.join(format!(
            "{slot}.{}.tmp",
            hex::encode(&fresh_key_bytes()[..4])
        ));
        let written = (|| {
            let mut f = create_private(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&folder)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(state_err(&path, e));
        }
        Ok(())
    }

    /// Signs and stores an approval in one call (no journal between the two steps).
    pub fn approve(&self, id: &str, who: &Approver) -> Result<Approval, GuardError> {
        let (plan, approval) = self.sign_approval(id, who)?;
        self.store_approval(&plan, &approval)?;
        Ok(approval)
    }

    /// Every approval of a plan that counts, one per approver, oldest first: each verified
    /// against the plan's content and the current key, and, with named approvers, given by a
    /// configured approver checked against the same config entry. An approval signed with a
    /// key the store no longer has, or tampered with, refuses the plan.
    pub fn approvals(&self, plan: &Plan) -> Result<Vec<Approval>, GuardError> {
        let texts: Vec<Vec<u8>> = match &self.backend {
            Backend::File { dir, .. } => {
                let folder = Self::path(dir, &plan.id, "approvals")?;
                match fs::read_dir(&folder) {
                    Ok(entries) => {
                        let mut texts = Vec::new();
                        for e in entries {
                            let path = e.map_err(|e| state_err(&folder, e))?.path();
                            if path.extension().is_some_and(|x| x == "json") {
                                texts.push(fs::read(&path).map_err(|e| state_err(&path, e))?);
                            }
                        }
                        texts
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => return Err(state_err(&folder, e)),
                }
            }
            Backend::Redis(r) => {
                let key = Self::rkey(r, &plan.id, "approvals")?;
                r.run(|c| redis::cmd("HVALS").arg(&key).query(c))?
            }
        };
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.current_key()?;
        let bad = || GuardError::BadSignature {
            id: plan.id.clone(),
        };
        let mut out: Vec<Approval> = Vec::new();
        for text in texts {
            let approval: Approval = serde_json::from_slice(&text).map_err(|_| bad())?;
            if approval.plan_id != plan.id {
                return Err(bad());
            }
            if !approval.key_id.is_empty() && approval.key_id != key.id {
                return Err(self.not_current_key(&plan.id, &approval.key_id));
            }
            if !key.verify(
                "approval",
                &approval_payload(plan, &approval),
                &approval.signature,
            ) {
                return Err(bad());
            }
            if !self.counts(plan, &approval) {
                tracing::warn!(
                    plan = %plan.id,
                    approver = %approval.approver,
                    "approval ignored: not given by a configured named approver (or checked against another config)"
                );
                continue;
            }
            if !out.iter().any(|a| a.approver == approval.approver) {
                out.push(approval);
            }
        }
        out.sort_by(|a, b| (a.approved_at, &a.approver).cmp(&(b.approved_at, &b.approver)));
        Ok(out)
    }

    /// Whether an approval counts under this store's rules.
    fn counts(&self, plan: &Plan, a: &Approval) -> bool {
        if self.approvers.is_empty() {
            return true;
        }
        if !(a.is_named() && self.approvers.get(&a.approver) == Some(&a.approver_ref)) {
            return false;
        }
        // A public-key approver's approval counts only with their own signature.
        match self.approver_keys.get(&a.approver) {
            Some(key) => super::approvers::verify_signature(
                key,
                &approval_payload(plan, a),
                &a.approver_signature,
            ),
            None => true,
        }
    }

    /// The approvals that let this plan execute: as many distinct approvers as it needs, or an
    /// error naming who approved so far. The gate calls this before executing.
    pub fn approvals_for(&self, plan: &Plan) -> Result<Vec<Approval>, GuardError> {
        let approvals = self.approvals(plan)?;
        let required = plan.approvals();
        if approvals.len() >= required as usize {
            return Ok(approvals);
        }
        if approvals.is_empty() && required == 1 && !self.named_approvers() {
            return Err(GuardError::NotApproved {
                id: plan.id.clone(),
            });
        }
        Err(GuardError::NeedsApprovals {
            id: plan.id.clone(),
            required,
            so_far: Approval::names(&approvals),
        })
    }

    /// Marks a plan used; fails if it already was, so a plan executes at most once even when
    /// two calls race.
    pub fn consume(&self, id: &str) -> Result<(), GuardError> {
        let dir = match &self.backend {
            Backend::File { dir, .. } => dir,
            Backend::Redis(r) => {
                let key = Self::rkey(r, id, "used")?;
                let plan_key = Self::rkey(r, id, "plan")?;
                let pending = r.key("plans-pending");
                let first: bool = r.run(|c| {
                    // Keep the marker as long as the plan itself can be read.
                    let ttl: i64 = redis::cmd("TTL").arg(&plan_key).query(c)?;
                    let marked: Option<String> = redis::cmd("SET")
                        .arg(&key)
                        .arg(now_secs())
                        .arg("NX")
                        .arg("EX")
                        .arg(if ttl > 0 {
                            ttl as u64
                        } else {
                            REDIS_GRACE_SECS
                        })
                        .query(c)?;
                    redis::cmd("ZREM").arg(&pending).arg(id).exec(c)?;
                    Ok(marked.is_some())
                })?;
                return if first {
                    Ok(())
                } else {
                    Err(GuardError::AlreadyUsed { id: id.into() })
                };
            }
        };
        let path = Self::path(dir, id, "used")?;
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(GuardError::AlreadyUsed { id: id.into() })
            }
            Err(e) => Err(state_err(&path, e)),
        }
    }

    /// Plans that are neither expired nor used, oldest first, for `approve` without an id.
    pub fn pending(&self) -> Vec<Plan> {
        let dir = match &self.backend {
            Backend::File { dir, .. } => dir,
            Backend::Redis(r) => return self.pending_redis(r),
        };
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut plans: Vec<Plan> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".plan.json")?;
                self.load_live(id).ok()
            })
            .collect();
        plans.sort_by_key(|p| p.created_at);
        plans
    }
}

impl PlanStore {
    /// Live plans listed in the shared pending set; drops ids that expired or were used.
    /// A Redis failure yields an empty list (the caller, `approve`, then finds nothing to do).
    fn pending_redis(&self, r: &RedisState) -> Vec<Plan> {
        let set = r.key("plans-pending");
        let ids: Vec<String> =
            match r.run(|c| redis::cmd("ZRANGE").arg(&set).arg(0).arg(-1).query(c)) {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list pending plans");
                    return Vec::new();
                }
            };
        let mut plans = Vec::new();
        for id in ids {
            match self.load_live(&id) {
                Ok(p) => plans.push(p),
                Err(GuardError::Backend(e)) => {
                    tracing::warn!(error = %e, "cannot list pending plans");
                    return Vec::new();
                }
                Err(_) => {
                    let _ = r.run(|c| redis::cmd("ZREM").arg(&set).arg(&id).exec(c));
                }
            }
        }
        plans.sort_by_key(|p| p.created_at);
        plans
    }
}

/// Plan ids are checked before they name a file or a key.
fn check_id(id: &str) -> Result<(), GuardError> {
    if valid_plan_id(id) {
        Ok(())
    } else {
        Err(GuardError::PlanNotFound {
            id: id.chars().take(40).collect(),
        })
    }
}

/// What a token is bound to: the plan id and the SHA-256 of the plan's canonical form.
fn token_payload(plan: &Plan) -> Vec<u8> {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(PlanStore::canonical(plan));
    let mut payload = plan.id.as_bytes().to_vec();
    payload.push(0);
    payload.extend_from_slice(hex::encode(hash).as_bytes());
    payload
}

/// An approval covers this exact plan content, so re-signing a changed plan voids it.
/// Every field of an approval but its signature, JSON-encoded so no field can bleed into the next.
fn approval_payload(plan: &Plan, a: &Approval) -> Vec<u8> {
    let mut payload = PlanStore::canonical(plan);
    payload.extend_from_slice(b"\0approval-v2\0");
    let fields = serde_json::json!([
        a.plan_id,
        a.approver,
        a.approver_ref,
        a.channel,
        a.os_account,
        a.approved_at
    ]);
    payload.extend_from_slice(fields.to_string().as_bytes());
    payload
}

/// Where one approver's approval of a plan is kept: a hash of the name and the config entry
/// it was checked against, safe as a file name or a Redis hash field whatever the name holds
/// (an OS account has spaces). The same approver approving again replaces their approval; an
/// approval that would not count (checked against another config) cannot replace one that does.
fn approver_slot(a: &Approval) -> String {
    let mut h = sha2::Sha256::new();
    h.update(a.approver.as_bytes());
    h.update([0]);
    h.update(a.approver_ref.as_bytes());
    hex::encode(&h.finalize()[..8])
}

fn create_private(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn restrict_dir(dir: &Path) -> Result<(), GuardError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| state_err(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApproverConfig;

    fn plan(id: &str, ttl: i64) -> Plan {
        Plan {
            id: id.into(),
            tool: "deactivate".into(),
            connection: "demo".into(),
            arguments: serde_json::json!({"user": "a@x.example"}),
            input: String::new(),
            caller: "local".into(),
            changes: vec!["Delete a".into()],
            targets: vec![],
            created_at: now_secs(),
            expires_at: (now_secs() as i64 + ttl) as u64,
            approvals_required: 1,
        }
    }

    fn by(name: &str) -> Approver {
        Approver::os_account(name, "approve-cli")
    }

    fn cheap_hash(secret: &str) -> String {
        use argon2::password_hash::PasswordHasher;
        let params = argon2::Params::new(1024, 1, 1, None).expect("params");
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(secret.as_bytes())
            .expect("hash")
            .to_string()
    }

    fn approvers(names: &[&str]) -> Approvers {
        let map = names
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    ApproverConfig {
                        secret_hash: Some(cheap_hash(&format!("{n}'s long secret"))),
                        secret: None,
                        public_key: None,
                    },
                )
            })
            .collect();
        Approvers::from_config(&map)
    }

    fn named(a: &Approvers, name: &str, channel: &str) -> Approver {
        let who = a
            .verify(
                name,
                &crate::secret::Secret::new(format!("{name}'s long secret")),
            )
            .expect("verified");
        Approver::named(&who, "tester (uid 1)", channel)
    }

    #[test]
    fn save_approve_consume_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PlanStore::open(dir.path()).expect("open");
        let id = PlanStore::new_id();
        let p = plan(&id, 300);
        store.save(&p).expect("save");
        assert!(matches!(
            store.approvals_for(&p),
            Err(GuardError::NotApproved { .. })
        ));
        store.approve(&id, &by("alice")).expect("approve");
        let got = store.approvals_for(&p).expect("approved");
        assert_eq!(got[0].approver, "alice");
        assert_eq!(got[0].channel(), "approve-cli");
        store.consume(&id).expect("first use");
        assert!(matches!(
            store.consume(&id),
            Err(GuardError::AlreadyUsed { .. })
        ));
        assert!(matches!(
            store.load_live(&id),
            Err(GuardError::AlreadyUsed { .. })
        ));
    }

    #[test]
    fn tampered_plan_and_foreign_key_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PlanStore::open(dir.path()).expect("open");
        let id = PlanStore::new_id();
        store.save(&plan(&id, 300)).expect("save");
        let path = dir.path().join("plans").join(format!("{id}.plan.json"));
        let text = fs::read_to_string(&path).expect("read");
        fs::write(&path, text.replace("a@x.example", "b@x.example")).expect("write");
        assert!(matches!(
            store.load(&id),
            Err(GuardError::BadSignature { .. })
        ));

        let other = tempfile::tempdir().expect("tempdir");
        let other_store = PlanStore::open(other.path()).expect("open");
        let id2 = PlanStore::new_id();
        other_store.save(&plan(&id2, 300)).expect("save");
        fs::copy(
            other.path().join("plans").join(format!("{id2}.plan.json")),
            dir.path().join("plans").join(format!("{id2}.plan.json")),
        )
        .expect("copy");
        // Signed by a key this store never had: forged, whatever its key id says.
        assert!(matches!(
            store.load(&id2),
            Err(GuardError::BadSignature { .. })
        ));
    }

    #[test]
    fn approvals_are_bound_to_the_plan_channel_and_approver() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PlanStore::open(dir.path()).expect("open");
        let p = plan(&PlanStore::new_id(), 300);
        store.save(&p).expect("save");
        store
            .approve(
                &p.id,
                &Approver::os_account("jane (uid 1000)", "approve-web"),
            )
            .expect("approve");
        let folder = dir.path().join("plans").join(format!("{}.approvals", p.id));
        let file = fs::read_dir(&folder)
            .expect("folder")
            .next()
            .expect("one approval")
            .expect("entry")
            .path();
        let text = fs::read_to_string(&file).expect("read");
        for (from, to) in [
            ("approve-web", "approve-cli"),
            ("jane (uid 1000)", "CISO Jane"),
        ] {
            fs::write(&file, text.replace(from, to)).expect("write");
            assert!(
                matches!(store.approvals(&p), Err(GuardError::BadSignature { .. })),
                "{from} -> {to}"
            );
        }
        fs::write(&file, &text).expect("restore");
        // The approval of one plan does not approve an edited plan with the same id.
        let mut edited = p.clone();
        edited.changes.push("and more".into());
        assert!(store.approvals(&edited).is_err());
        assert_eq!(store.approvals(&p).expect("ok")[0].channel(), "approve-web");
    }

    #[test]
    fn four_eyes_needs_two_distinct_named_approvers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let team = approvers(&["jane", "bob"]);
        let store = PlanStore::open(dir.path())
            .expect("open")
            .with_approvers(&team);
        assert!(store.named_approvers());
        let mut p = plan(&PlanStore::new_id(), 300);
        p.approvals_required = 2;
        store.save(&p).expect("save");
        let e = store.approvals_for(&p).expect_err("none yet").to_string();
        assert!(
            e.contains("needs 2 distinct approvers; approved so far by nobody"),
            "{e}"
        );
        // An OS-account approval (an `approve` run with a config without approvers) counts
        // for nothing here.
        store.approve(&p.id, &by("root (uid 0)")).expect("stored");
        assert!(store.approvals(&p).expect("ok").is_empty());
        store
            .approve(&p.id, &named(&team, "jane", "approve-cli"))
            .expect("jane");
        store
            .approve(&p.id, &named(&team, "jane", "approve-web"))
            .expect("jane again");
        let e = store
            .approvals_for(&p)
            .expect_err("one approver")
            .to_string();
        assert!(e.contains("approved so far by jane:"), "{e}");
        // A "jane" checked against another config's entry for jane counts for nothing.
        let forged = approvers(&["jane"]);
        store
            .approve(&p.id, &named(&forged, "jane", "approve-cli"))
            .expect("stored");
        assert!(store.approvals_for(&p).is_err());
        store
            .approve(&p.id, &named(&team, "bob", "approve-web"))
            .expect("bob");
        let ok = store.approvals_for(&p).expect("two approvers");
        let mut names: Vec<&str> = ok.iter().map(|a| a.approver.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["bob", "jane"]);
        assert_eq!(Approval::channels(&ok), "approve-web");
    }

    #[test]
    fn a_public_key_approver_counts_only_with_their_own_signature() {
        let secret = "jane's long secret";
        let line =
            super::super::approvers::public_key_line("jane", &crate::secret::Secret::new(secret))
                .expect("key");
        let mut map = BTreeMap::new();
        map.insert(
            "jane".to_string(),
            ApproverConfig {
                secret_hash: None,
                secret: None,
                public_key: Some(line),
            },
        );
        let team = Approvers::from_config(&map);
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PlanStore::open(dir.path())
            .expect("open")
            .with_approvers(&team);
        let p = plan(&PlanStore::new_id(), 300);
        store.save(&p).expect("save");
        // Someone who can read the plan key (the state directory) writes an approval in jane's
        // name, with the right entry fingerprint and a valid store HMAC: it counts for nothing.
        let forged = Approver {
            name: "jane".into(),
            approver_ref: team.fingerprints()["jane"].clone(),
            os_account: "agent (uid 1000)".into(),
            channel: "approve-cli".into(),
            signer: None,
        };
        store.approve(&p.id, &forged).expect("stored");
        assert!(store.approvals_for(&p).is_err(), "no approver signature");
        // Nor with a key pair of their own.
        let own = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).expect("key");
        let forged = Approver {
            signer: Some(Arc::new(own)),
            ..forged
        };
        store.approve(&p.id, &forged).expect("stored");
        assert!(store.approvals_for(&p).is_err(), "another key's signature");
        // Jane, with her secret, approves.
        let jane = team
            .verify("jane", &crate::secret::Secret::new(secret))
            .expect("jane's secret derives her key");
        assert!(
            team.verify("jane", &crate::secret::Secret::new("not jane's secret"))
                .is_err()
        );
        store
            .approve(
                &p.id,
                &Approver::named(&jane, "jane (uid 1001)", "approve-cli"),
            )
            .expect("jane");
        let ok = store
            .approvals_for(&p)
            .expect("jane's signed approval counts");
        assert_eq!(ok[0].approver, "jane");
    }

    #[test]
    fn a_lost_key_is_replaced_and_plans_signed_with_it_are_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PlanStore::open(dir.path()).expect("open");
        let old = plan(&PlanStore::new_id(), 300);
        store.save(&old).expect("save");
        store.approve(&old.id, &by("alice")).expect("approve");
        fs::remove_file(dir.path().join("plan.key")).expect("key lost");
        // Another process (`approve`) opens the store and makes a new key. It never held the
        // old one, yet knows it was this deployment's.
        let other = PlanStore::open(dir.path()).expect("open again");
        assert!(matches!(
            other.load(&old.id),
            Err(GuardError::KeyGone { .. })
        ));
        assert!(matches!(
            store.load(&old.id),
            Err(GuardError::KeyGone { .. })
        ));
        let msg = store.load(&old.id).expect_err("gone").to_string();
        assert!(
            msg.contains("no longer has") && msg.contains("without plan_id"),
            "{msg}"
        );
        // New plans work at once, in both processes, with the new key.
        let new = plan(&PlanStore::new_id(), 300);
        store.save(&new).expect("save");
        other
            .approve(&new.id, &by("alice"))
            .expect("approve via the other");
        store.approvals_for(&new).expect("approved");
    }

    #[test]
    fn plan_tokens_bind_the_plan_and_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PlanStore::open(dir.path()).expect("open");
        let a = plan(&PlanStore::new_id(), 300);
        let b = plan(&PlanStore::new_id(), 300);
        let token = store.plan_token(&a);
        assert!(store.verify_plan_token(&a, &token));
        assert!(!store.verify_plan_token(&b, &token), "another plan");
        let mut edited = a.clone();
        edited.changes.push("and more".into());
        assert!(!store.verify_plan_token(&edited, &token), "an edited plan");
        assert!(!store.verify_plan_token(&a, "00"), "a made-up token");
        assert!(!store.verify_plan_token(&a, "not hex"));
        let other = tempfile::tempdir().expect("tempdir");
        let other = PlanStore::open(other.path()).expect("open");
        assert!(!other.verify_plan_token(&a, &token), "another server key");
    }

    #[test]
    fn expired_plans_and_bad_ids_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PlanStore::open(dir.path()).expect("open");
        let id = PlanStore::new_id();
        store.save(&plan(&id, -1)).expect("save");
        assert!(matches!(
            store.load_live(&id),
            Err(GuardError::Expired { .. })
        ));
        assert!(store.approve(&id, &by("alice")).is_err());
        assert!(matches!(
            store.load("../../etc/passwd"),
            Err(GuardError::PlanNotFound { .. })
        ));
        assert!(store.pending().is_empty());
    }
}
