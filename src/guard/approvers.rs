//! Named approvers: the people who may approve a plan, each proving it with their own secret.
//!
//! Without `[approvers]`, `approve` records the OS account that ran it; that stops nothing that
//! runs as the same account with a pseudo-terminal. With `[approvers.NAME]`, an approval needs
//! a configured name and that person's secret, checked here in the approving process:
//! - `secret_hash`: an Argon2id PHC string (`zscaler-lifecycle-mcp approvers hash` prints one);
//!   the secret is hashed with the string's salt and parameters and compared in constant time.
//! - `secret = { file = ... }`: the secret itself in a file only that person can read; the
//!   given secret and the file's are compared in constant time (through SHA-256, so their
//!   lengths do not show).
//!
//! - `public_key` (the strongest): the Ed25519 public key of a key pair derived from the secret
//!   (Argon2id, salted with the approver's name). `approve` derives the private key from the
//!   secret typed, and signs the approval with it; the server counts the approval only with a
//!   valid signature under the configured public key. Nothing on disk can forge one: neither
//!   the state directory (the plan key only makes the store's own HMAC) nor the config.
//!
//! Each approval is signed with a fingerprint of the entry its secret was checked against, and
//! the server counts it only when that fingerprint matches its own config: an `approve` run with
//! another config (one with no approvers, or with a made-up hash for `jane`) approves nothing.
//! With `secret_hash` or a secret file, that check is the store's HMAC, which anyone who can
//! read the plan key can also make; with `public_key` it is the approver's own signature.

use std::collections::BTreeMap;
use std::path::PathBuf;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::config::ApproverConfig;
use crate::secret::Secret;

/// The shortest secret `approvers hash` accepts.
pub const MIN_SECRET_CHARS: usize = 12;

/// Why a person could not be verified as an approver; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ApproverError {
    #[error("no approver is named {name:?}; the configured approvers are: {known}")]
    Unknown { name: String, known: String },
    #[error("that is not {name}'s secret")]
    WrongSecret { name: String },
    #[error("approver {name}'s secret cannot be checked: {message}")]
    Unreadable { name: String, message: String },
    #[error(
        "the secret is too short: use at least {MIN_SECRET_CHARS} characters (a passphrase of a few words is best)"
    )]
    TooShort,
    #[error("cannot hash the secret: {0}")]
    Hash(String),
}

/// What an approver's secret is checked against.
#[derive(Clone)]
enum Check {
    Hash(String),
    File(PathBuf),
    /// The Ed25519 public key the secret must derive.
    PublicKey([u8; 32]),
}

/// The prefix of a configured public key.
const KEY_PREFIX: &str = "ed25519:";

/// Whether `key` is a public key line this build can verify against.
pub fn check_public_key(key: &str) -> Result<(), String> {
    parse_public_key(key).map(|_| ())
}

fn parse_public_key(key: &str) -> Result<[u8; 32], String> {
    let hexed = key.trim().strip_prefix(KEY_PREFIX).ok_or_else(|| {
        format!("a public key starts with {KEY_PREFIX}; paste the line `zscaler-lifecycle-mcp approvers hash --as NAME` prints")
    })?;
    let bytes = hex::decode(hexed).map_err(|e| format!("not hex after {KEY_PREFIX}: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| "an Ed25519 public key is 32 bytes (64 hex digits)".to_string())
}

/// The 32-byte Ed25519 seed a secret derives for an approver: Argon2id, salted with the
/// approver's name, so the same secret gives each name its own key.
fn derive_seed(name: &str, secret: &Secret) -> Result<Zeroizing<[u8; 32]>, ApproverError> {
    let salt = Sha256::digest(format!("zscaler-lifecycle-mcp approver key\0{name}").as_bytes());
    let mut seed = Zeroizing::new([0u8; 32]);
    Argon2::default()
        .hash_password_into(secret.expose().as_bytes(), &salt[..16], seed.as_mut())
        .map_err(|e| ApproverError::Hash(e.to_string()))?;
    Ok(seed)
}

fn key_pair(seed: &[u8; 32]) -> Result<ring::signature::Ed25519KeyPair, ApproverError> {
    ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
        .map_err(|e| ApproverError::Hash(e.to_string()))
}

/// The `public_key` line for `[approvers.NAME]`: the public half of the key pair `secret`
/// derives for `name`.
pub fn public_key_line(name: &str, secret: &Secret) -> Result<String, ApproverError> {
    use ring::signature::KeyPair;
    if secret.expose().chars().count() < MIN_SECRET_CHARS {
        return Err(ApproverError::TooShort);
    }
    let pair = key_pair(&*derive_seed(name, secret)?)?;
    Ok(format!(
        "{KEY_PREFIX}{}",
        hex::encode(pair.public_key().as_ref())
    ))
}

/// Whether `signature` (hex) is `name`'s Ed25519 signature of `payload` under `public_key`.
pub fn verify_signature(public_key: &[u8; 32], payload: &[u8], signature: &str) -> bool {
    let Ok(sig) = hex::decode(signature) else {
        return false;
    };
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
        .verify(payload, &sig)
        .is_ok()
}

#[derive(Clone)]
struct Entry {
    check: Check,
    fingerprint: String,
}

/// The configured approvers, by name.
#[derive(Clone, Default)]
pub struct Approvers {
    entries: BTreeMap<String, Entry>,
}

impl std::fmt::Debug for Approvers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.keys()).finish()
    }
}

/// A person whose secret was just verified. Only [`Approvers::verify`] makes one, so a named
/// approval cannot be recorded without the check.
pub struct VerifiedApprover {
    name: String,
    fingerprint: String,
    /// With a `public_key` entry: the key pair the secret derived, to sign the approval.
    signer: Option<std::sync::Arc<ring::signature::Ed25519KeyPair>>,
}

impl std::fmt::Debug for VerifiedApprover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedApprover")
            .field("name", &self.name)
            .field("signs", &self.signer.is_some())
            .finish()
    }
}

impl VerifiedApprover {
    /// The key pair the secret derived, where the entry is a public key: approvals are
    /// signed with it.
    pub fn signer(&self) -> Option<std::sync::Arc<ring::signature::Ed25519KeyPair>> {
        self.signer.clone()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fingerprint of the config entry the secret was checked against.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// Whether a name can name an approver: typed after `--as`, journaled, shown on the page.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Whether `hash` is an Argon2id PHC string this build can verify against.
pub fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash.trim()).map_err(|e| {
        format!(
            "not a PHC string ({e}); paste the line `zscaler-lifecycle-mcp approvers hash` prints"
        )
    })?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "the hash uses {}, not argon2id; make a new one with `zscaler-lifecycle-mcp approvers hash`",
            parsed.algorithm
        ));
    }
    argon2::Params::try_from(&parsed)
        .map(|_| ())
        .map_err(|e| format!("its Argon2 parameters are not usable: {e}"))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("the PHC string has no salt or no hash".into());
    }
    Ok(())
}

/// The Argon2id PHC string of a secret (random salt, the crate's recommended parameters), for
/// `secret_hash` in the config.
pub fn hash_secret(secret: &Secret) -> Result<String, ApproverError> {
    if secret.expose().chars().count() < MIN_SECRET_CHARS {
        return Err(ApproverError::TooShort);
    }
    Argon2::default()
        .hash_password(secret.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApproverError::Hash(e.to_string()))
}

fn fingerprint(name: &str, what: &str, value: &str) -> String {
    let mut h = Sha256::new();
    for part in ["approver", name, what, value] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

impl Approvers {
    /// The approvers of a config (already checked by `Config::parse`; an entry it would refuse
    /// is left out rather than trusted).
    pub fn from_config(map: &BTreeMap<String, ApproverConfig>) -> Self {
        let entries = map
            .iter()
            .filter_map(|(name, a)| {
                let (check, fp) = match (&a.secret_hash, &a.secret, &a.public_key) {
                    (Some(h), None, None) => {
                        let h = h.trim().to_string();
                        let fp = fingerprint(name, "argon2id", &h);
                        (Check::Hash(h), fp)
                    }
                    (None, Some(r), None) if r.env.is_none() && r.value.is_none() => {
                        let path = r.file.clone()?;
                        let fp = fingerprint(name, "file", &path.display().to_string());
                        (Check::File(path), fp)
                    }
                    (None, None, Some(k)) => {
                        let key = parse_public_key(k).ok()?;
                        let fp = fingerprint(name, "ed25519", &hex::encode(key));
                        (Check::PublicKey(key), fp)
                    }
                    _ => return None,
                };
                Some((
                    name.clone(),
                    Entry {
                        check,
                        fingerprint: fp,
                    },
                ))
            })
            .collect();
        Self { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn names(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    /// Name → fingerprint of each entry: what the server compares signed approvals with.
    pub fn fingerprints(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .map(|(n, e)| (n.clone(), e.fingerprint.clone()))
            .collect()
    }

    /// Name → public key of each approver whose approvals must carry their own signature.
    pub fn public_keys(&self) -> BTreeMap<String, [u8; 32]> {
        self.entries
            .iter()
            .filter_map(|(n, e)| match &e.check {
                Check::PublicKey(k) => Some((n.clone(), *k)),
                _ => None,
            })
            .collect()
    }

    /// Whether `name` is configured (before asking that person for a secret).
    pub fn knows(&self, name: &str) -> Result<(), ApproverError> {
        if self.entries.contains_key(name) {
            Ok(())
        } else {
            Err(ApproverError::Unknown {
                name: name.chars().take(64).collect(),
                known: self.names().join(", "),
            })
        }
    }

    /// Checks a person's secret (slow on purpose: Argon2id with the hash's parameters).
    pub fn verify(&self, name: &str, secret: &Secret) -> Result<VerifiedApprover, ApproverError> {
        self.knows(name)?;
        let Some(entry) = self.entries.get(name) else {
            return Err(ApproverError::WrongSecret { name: name.into() });
        };
        let mut signer = None;
        let ok = match &entry.check {
            Check::PublicKey(want) => {
                use ring::signature::KeyPair;
                let pair = key_pair(&*derive_seed(name, secret)?)?;
                let ok = bool::from(pair.public_key().as_ref().ct_eq(want.as_slice()));
                signer = Some(std::sync::Arc::new(pair));
                ok
            }
            Check::Hash(hash) => {
                let parsed = PasswordHash::new(hash).map_err(|e| ApproverError::Unreadable {
                    name: name.into(),
                    message: e.to_string(),
                })?;
                Argon2::default()
                    .verify_password(secret.expose().as_bytes(), &parsed)
                    .is_ok()
            }
            Check::File(path) => {
                let stored = std::fs::read_to_string(path).map_err(|e| {
                    ApproverError::Unreadable {
                        name: name.into(),
                        message: format!(
                            "{} cannot be read by this account ({e}); that person must approve from their own account",
                            path.display()
                        ),
                    }
                })?;
                let a = Sha256::digest(stored.trim().as_bytes());
                let b = Sha256::digest(secret.expose().trim().as_bytes());
                !stored.trim().is_empty() && bool::from(a.as_slice().ct_eq(b.as_slice()))
            }
        };
        if !ok {
            return Err(ApproverError::WrongSecret { name: name.into() });
        }
        Ok(VerifiedApprover {
            name: name.to_string(),
            fingerprint: entry.fingerprint.clone(),
            signer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretRef;

    fn cheap_hash(secret: &str) -> String {
        // Small parameters: this test checks the logic, not the cost.
        let params = argon2::Params::new(1024, 1, 1, None).expect("params");
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(secret.as_bytes())
            .expect("hash")
            .to_string()
    }

    #[test]
    fn hash_and_file_secrets_verify_only_the_right_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bob");
        std::fs::write(&file, "bob's long secret\n").expect("write");
        let mut map = BTreeMap::new();
        map.insert(
            "jane".to_string(),
            ApproverConfig {
                secret_hash: Some(cheap_hash("jane's long secret")),
                secret: None,
                public_key: None,
            },
        );
        map.insert(
            "bob".to_string(),
            ApproverConfig {
                secret_hash: None,
                secret: Some(SecretRef {
                    env: None,
                    file: Some(file.clone()),
                    value: None,
                }),
                public_key: None,
            },
        );
        let a = Approvers::from_config(&map);
        assert_eq!(a.names(), ["bob", "jane"]);
        let jane = a
            .verify("jane", &Secret::new("jane's long secret"))
            .expect("jane");
        assert_eq!(jane.name(), "jane");
        assert_eq!(jane.fingerprint(), a.fingerprints()["jane"]);
        assert!(matches!(
            a.verify("jane", &Secret::new("bob's long secret")),
            Err(ApproverError::WrongSecret { .. })
        ));
        a.verify("bob", &Secret::new("bob's long secret"))
            .expect("bob");
        assert!(a.verify("bob", &Secret::new("")).is_err());
        assert!(matches!(
            a.verify("mallory", &Secret::new("x")),
            Err(ApproverError::Unknown { .. })
        ));
        std::fs::remove_file(&file).expect("rm");
        assert!(matches!(
            a.verify("bob", &Secret::new("bob's long secret")),
            Err(ApproverError::Unreadable { .. })
        ));
    }

    #[test]
    fn fingerprints_change_with_the_entry() {
        let entry = |h: String| {
            let mut m = BTreeMap::new();
            m.insert(
                "jane".to_string(),
                ApproverConfig {
                    secret_hash: Some(h),
                    secret: None,
                    public_key: None,
                },
            );
            Approvers::from_config(&m).fingerprints()["jane"].clone()
        };
        assert_ne!(
            entry(cheap_hash("one long secret")),
            entry(cheap_hash("one long secret"))
        );
    }

    #[test]
    fn hashes_are_checked_and_short_secrets_refused() {
        assert!(check_hash(&cheap_hash("a long enough secret")).is_ok());
        assert!(
            check_hash("$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").is_err()
        );
        assert!(check_hash("hunter2").is_err());
        assert!(matches!(
            hash_secret(&Secret::new("short")),
            Err(ApproverError::TooShort)
        ));
        assert!(valid_name("jane.doe-2"));
        assert!(!valid_name("-jane") && !valid_name("jane doe") && !valid_name(""));
    }
}
