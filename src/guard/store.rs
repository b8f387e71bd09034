//! Plans and approvals, shared by the serving process and the `approve` command.
//!
//! Each plan and approval is signed with a key, so a plan edited in storage, or an approval
//! written for another plan, is refused. Two backends behind one API (call sites do not know
//! which is in use):
//! - File (default): the key is kept in the state directory (mode 0600); single use is enforced
//!   by creating a `.used` marker with `create_new`, which is atomic on every platform.
//! - Redis (`[state] backend = "redis"`), for several replicas: the key is stored in Redis,
//!   created once with `SET NX` so every replica and `approve` sign with the same one; plans and
//!   approvals expire with the plan; single use is a `SET NX` of a used marker, atomic on the
//!   server, so a plan approved through one replica runs once through any. Redis calls are
//!   blocking with timeouts (see [`crate::state::RedisState::run`]); when Redis is down every
//!   method fails closed with an error naming it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};

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
    signature: String,
}

/// A human's approval of one plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approval {
    pub plan_id: String,
    /// Who approved: the OS user that ran `approve`.
    pub approver: String,
    pub approved_at: u64,
    signature: String,
}

/// The plan and approval store: a state directory or a shared Redis.
pub struct PlanStore {
    backend: Backend,
    key: Vec<u8>,
}

enum Backend {
    File { dir: PathBuf },
    Redis(RedisState),
}

impl std::fmt::Debug for PlanStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("PlanStore");
        match &self.backend {
            Backend::File { dir } => d.field("dir", dir),
            Backend::Redis(r) => d.field("redis", r),
        };
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

impl PlanStore {
    /// Opens (creating if needed) the store; creates the signing key on first use.
    pub fn open(state_dir: &Path) -> Result<Self, GuardError> {
        let dir = state_dir.join("plans");
        fs::create_dir_all(&dir).map_err(|e| state_err(&dir, e))?;
        restrict_dir(state_dir)?;
        let key_path = state_dir.join("plan.key");
        let key = match fs::read_to_string(&key_path) {
            Ok(text) => hex::decode(text.trim()).map_err(|e| state_err(&key_path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; 32];
                rand::rng().fill_bytes(&mut key);
                match create_private(&key_path) {
                    Ok(mut f) => {
                        f.write_all(hex::encode(&key).as_bytes())
                            .and_then(|_| f.sync_all())
                            .map_err(|e| state_err(&key_path, e))?;
                        key
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let text =
                            fs::read_to_string(&key_path).map_err(|e| state_err(&key_path, e))?;
                        hex::decode(text.trim()).map_err(|e| state_err(&key_path, e))?
                    }
                    Err(e) => return Err(state_err(&key_path, e)),
                }
            }
            Err(e) => return Err(state_err(&key_path, e)),
        };
        if key.len() < 32 {
            return Err(state_err(&key_path, "signing key is shorter than 32 bytes"));
        }
        Ok(Self {
            backend: Backend::File { dir },
            key,
        })
    }

    /// Opens the store a replica shares with others through Redis. Needs Redis now: the signing
    /// key is read (or created, atomically, by the first process ever) at start-up.
    pub fn open_redis(state: RedisState) -> Result<Self, GuardError> {
        let key_name = state.key("plan-key");
        let mut fresh = vec![0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        let text: String = state.run(|c| {
            // SET NX then GET: whoever created it first, everyone uses that key.
            redis::cmd("SET")
                .arg(&key_name)
                .arg(hex::encode(&fresh))
                .arg("NX")
                .exec(c)?;
            redis::cmd("GET").arg(&key_name).query(c)
        })?;
        let key = hex::decode(text.trim()).map_err(|e| GuardError::State {
            path: format!("redis {}", state.key("plan-key")),
            message: e.to_string(),
        })?;
        if key.len() < 32 {
            return Err(GuardError::State {
                path: format!("redis {}", state.key("plan-key")),
                message: "signing key is shorter than 32 bytes".into(),
            });
        }
        Ok(Self {
            backend: Backend::Redis(state),
            key,
        })
    }

    /// The store a config asks for: Redis when given, else the state directory.
    /// Whether plans can be stored and approved right now (for `/readyz`): the plan directory
    /// exists, or Redis answers. A replica that cannot store plans must not take traffic that
    /// would end in "cannot save the plan".
    pub fn ready(&self) -> Result<(), String> {
        match &self.backend {
            Backend::File { dir } => std::fs::metadata(dir)
                .map(|_| ())
                .map_err(|e| format!("plan directory {}: {e}", dir.display())),
            Backend::Redis(r) => r.ping().map_err(|e| e.to_string()),
        }
    }

    pub fn open_with(state_dir: &Path, shared: Option<&RedisState>) -> Result<Self, GuardError> {
        match shared {
            Some(r) => Self::open_redis(r.clone()),
            None => Self::open(state_dir),
        }
    }

    /// A key for another purpose (e.g. sealing MCP request state), derived from the store key so
    /// that every process sharing the state directory derives the same one.
    pub fn derived_key(&self, purpose: &str) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
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

    fn sign(&self, domain: &str, payload: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        hex::encode(mac.finalize().into_bytes())
    }

    fn verify(&self, domain: &str, payload: &[u8], signature: &str) -> bool {
        let Ok(sig) = hex::decode(signature) else {
            return false;
        };
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac.verify_slice(&sig).is_ok()
    }

    fn path(dir: &Path, id: &str, ext: &str) -> Result<PathBuf, GuardError> {
        check_id(id)?;
        Ok(dir.join(format!("{id}.{ext}")))
    }

    /// Redis key of one plan's record of this kind (`plan`, `approval`, `used`).
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
        let signed = SignedPlan {
            signature: self.sign("plan", &Self::canonical(plan)),
            plan: plan.clone(),
        };
        let dir = match &self.backend {
            Backend::File { dir } => dir,
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
        self.sign("plan-token", &token_payload(plan))
    }

    /// Whether `token` is this store's token for exactly this plan (constant-time comparison).
    pub fn verify_plan_token(&self, plan: &Plan, token: &str) -> bool {
        self.verify("plan-token", &token_payload(plan), token)
    }

    /// Loads a plan, refusing one whose signature does not match.
    pub fn load(&self, id: &str) -> Result<Plan, GuardError> {
        let text = match &self.backend {
            Backend::File { dir } => {
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
        if signed.plan.id != id
            || !self.verify("plan", &Self::canonical(&signed.plan), &signed.signature)
        {
            return Err(GuardError::BadSignature { id: id.into() });
        }
        Ok(signed.plan)
    }

    /// Loads a plan that may still be executed: not expired, not used.
    pub fn load_live(&self, id: &str) -> Result<Plan, GuardError> {
        let plan = self.load(id)?;
        let used = match &self.backend {
            Backend::File { dir } => Self::path(dir, id, "used")?.exists(),
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

    /// Records a human's approval of a live plan.
    pub fn approve(&self, id: &str, approver: &str) -> Result<Approval, GuardError> {
        let plan = self.load_live(id)?;
        let approved_at = now_secs();
        let payload = approval_payload(&plan, approver, approved_at);
        let approval = Approval {
            plan_id: plan.id.clone(),
            approver: approver.to_string(),
            approved_at,
            signature: self.sign("approval", &payload),
        };
        let dir = match &self.backend {
            Backend::File { dir } => dir,
            Backend::Redis(r) => {
                let key = Self::rkey(r, id, "approval")?;
                let text = serde_json::to_string(&approval).map_err(|e| GuardError::State {
                    path: key.clone(),
                    message: e.to_string(),
                })?;
                let ttl = Self::redis_ttl(plan.expires_at);
                r.run(|c| {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(&text)
                        .arg("EX")
                        .arg(ttl)
                        .exec(c)
                })?;
                return Ok(approval);
            }
        };
        let path = Self::path(dir, id, "approval.json")?;
        let text = serde_json::to_vec_pretty(&approval).map_err(|e| state_err(&path, e))?;
        let tmp = Self::path(dir, id, "approval.tmp")?;
        fs::write(&tmp, text).map_err(|e| state_err(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| state_err(&path, e))?;
        Ok(approval)
    }

    /// The verified approval of a plan, if a human gave one.
    pub fn approval(&self, plan: &Plan) -> Result<Approval, GuardError> {
        let not_approved = || GuardError::NotApproved {
            id: plan.id.clone(),
        };
        let text = match &self.backend {
            Backend::File { dir } => {
                let path = Self::path(dir, &plan.id, "approval.json")?;
                fs::read(&path).map_err(|_| not_approved())?
            }
            Backend::Redis(r) => {
                let key = Self::rkey(r, &plan.id, "approval")?;
                let text: Option<Vec<u8>> = r.run(|c| redis::cmd("GET").arg(&key).query(c))?;
                text.ok_or_else(not_approved)?
            }
        };
        let approval: Approval =
            serde_json::from_slice(&text).map_err(|_| GuardError::BadSignature {
                id: plan.id.clone(),
            })?;
        let payload = approval_payload(plan, &approval.approver, approval.approved_at);
        if approval.plan_id != plan.id || !self.verify("approval", &payload, &approval.signature) {
            return Err(GuardError::BadSignature {
                id: plan.id.clone(),
            });
        }
        Ok(approval)
    }

    /// Marks a plan used; fails if it already was, so a plan executes at most once even when
    /// two calls race.
    pub fn consume(&self, id: &str) -> Result<(), GuardError> {
        let dir = match &self.backend {
            Backend::File { dir } => dir,
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
            Backend::File { dir } => dir,
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
fn approval_payload(plan: &Plan, approver: &str, at: u64) -> Vec<u8> {
    let mut payload = PlanStore::canonical(plan);
    payload.extend_from_slice(format!("\0{approver}\0{at}").as_bytes());
    payload
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
        }
    }

    #[test]
    fn save_approve_consume_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PlanStore::open(dir.path()).expect("open");
        let id = PlanStore::new_id();
        let p = plan(&id, 300);
        store.save(&p).expect("save");
        assert!(matches!(
            store.approval(&p),
            Err(GuardError::NotApproved { .. })
        ));
        store.approve(&id, "alice").expect("approve");
        assert_eq!(store.approval(&p).expect("approved").approver, "alice");
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
        assert!(matches!(
            store.load(&id2),
            Err(GuardError::BadSignature { .. })
        ));
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
        assert!(store.approve(&id, "alice").is_err());
        assert!(matches!(
            store.load("../../etc/passwd"),
            Err(GuardError::PlanNotFound { .. })
        ));
        assert!(store.pending().is_empty());
    }
}
