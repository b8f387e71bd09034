//! The journal key: what makes a record's MAC and the head's MAC unforgeable by someone who can
//! only edit files. Kept apart from the journal: `[server] journal_key = { file = "…" }` or
//! `{ env = "…" }`; by default `journal.key` in the state directory, made once.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};

use crate::config::SecretRef;
use crate::secret::Secret;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// MAC domains, so that a record's MAC can never pass as a head's.
pub const RECORD: &[u8] = b"zlm-journal-record\n";
pub const HEAD: &[u8] = b"zlm-journal-head\n";

/// The shortest key accepted, in characters (e.g. `openssl rand -hex 32` gives 64).
pub const MIN_KEY_CHARS: usize = 32;

/// Why the key cannot be had; the message names where it was looked for.
#[derive(Debug, thiserror::Error)]
#[error("journal key {source_}: {message}")]
pub struct KeyError {
    /// Where the key comes from (a path or an environment variable), never the key.
    pub source_: String,
    pub message: String,
}

/// The key records and heads are MACed with. `Debug` never shows it.
#[derive(Clone)]
pub struct JournalKey {
    secret: Secret,
    /// First 8 hex digits of the key's SHA-256, stored in the head so a wrong key is named as
    /// such rather than as tampering.
    id: String,
    source: String,
}

impl std::fmt::Debug for JournalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalKey")
            .field("id", &self.id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The default key file in a state directory.
pub fn default_key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("journal.key")
}

impl JournalKey {
    /// A key from its text (surrounding whitespace ignored); `source` names it in messages.
    pub fn from_text(text: &str, source: &str) -> Result<Self, KeyError> {
        let t = text.trim();
        if t.chars().count() < MIN_KEY_CHARS {
            return Err(KeyError {
                source_: source.to_string(),
                message: format!(
                    "is {} characters; a journal key needs at least {MIN_KEY_CHARS} (e.g. `openssl rand -hex 32`)",
                    t.chars().count()
                ),
            });
        }
        let id = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(t.as_bytes()))[..8].to_string();
        Ok(Self {
            secret: Secret::new(t),
            id,
            source: source.to_string(),
        })
    }

    /// The configured key, or the state directory's `journal.key`, made now (mode 0600) if it
    /// does not exist yet. Processes starting together agree on one key: it is written under a
    /// temporary name and linked into place, so no process ever reads a half-written key.
    pub fn for_server(configured: Option<&SecretRef>, state_dir: &Path) -> Result<Self, KeyError> {
        if let Some(r) = configured {
            return Self::configured(r);
        }
        let path = default_key_path(state_dir);
        if !path.exists() {
            create_key_file(&path)?;
        }
        Self::read_file(&path)
    }

    /// The key `journal verify` checks with: the configured one or the existing default file.
    /// Never makes one: a missing key is an error.
    pub fn existing(configured: Option<&SecretRef>, state_dir: &Path) -> Result<Self, KeyError> {
        match configured {
            Some(r) => Self::configured(r),
            None => Self::read_file(&default_key_path(state_dir)),
        }
    }

    fn configured(r: &SecretRef) -> Result<Self, KeyError> {
        let source = match (&r.env, &r.file) {
            (Some(var), _) => format!("(environment variable {var})"),
            (_, Some(path)) => path.display().to_string(),
            _ => "([server] journal_key)".to_string(),
        };
        let secret = r
            .resolve("[server] journal_key")
            .map_err(|message| KeyError {
                source_: source.clone(),
                message,
            })?;
        Self::from_text(secret.expose(), &source)
    }

    fn read_file(path: &Path) -> Result<Self, KeyError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| KeyError {
            source_: source.clone(),
            message: format!("cannot read it: {e}"),
        })?;
        Self::from_text(&text, &source)
    }

    /// Hex HMAC-SHA256 of `data` in a domain.
    pub fn mac(&self, domain: &[u8], data: &[u8]) -> String {
        let mut m = self.hmac();
        m.update(domain);
        m.update(data);
        hex::encode(m.finalize().into_bytes())
    }

    /// Whether `mac_hex` is the MAC of `data` (compared in constant time).
    pub fn verify(&self, domain: &[u8], data: &[u8], mac_hex: &str) -> bool {
        let Ok(expected) = hex::decode(mac_hex) else {
            return false;
        };
        let mut m = self.hmac();
        m.update(domain);
        m.update(data);
        m.verify_slice(&expected).is_ok()
    }

    fn hmac(&self) -> HmacSha256 {
        match HmacSha256::new_from_slice(self.secret.expose().as_bytes()) {
            Ok(m) => m,
            // HMAC takes keys of any length; this arm cannot be reached.
            Err(_) => unreachable!("HMAC accepts any key length"),
        }
    }

    /// Short public identifier of the key (not secret: 32 bits of its SHA-256).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the key comes from, for messages.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Writes a new random key to `path` (mode 0600) unless another process got there first.
fn create_key_file(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |message: String| KeyError {
        source_: path.display().to_string(),
        message,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| err(format!("cannot create its directory: {e}")))?;
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let tmp = path.with_file_name(format!(
        ".journal.key.{}.{}",
        std::process::id(),
        hex::encode(&bytes[..4])
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())?;
            f.sync_all()
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(format!("cannot write a new key: {e}")));
    }
    // A hard link fails if the key exists: the first process wins, the others read its key.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "journal key created");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(err(format!("cannot create it: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_key_is_made_once_private_and_shared() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let keys: Vec<JournalKey> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| JournalKey::for_server(None, dir.path()).expect("key")))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert!(keys.windows(2).all(|w| w[0].id() == w[1].id()), "one key");
        let path = default_key_path(dir.path());
        let mode = std::fs::metadata(&path).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            1,
            "no temporary files left"
        );
        let again = JournalKey::existing(None, dir.path()).expect("existing");
        assert_eq!(again.id(), keys[0].id());
        assert!(
            !format!("{again:?}").contains(&std::fs::read_to_string(&path).expect("read")[..16])
        );
    }

    #[test]
    fn missing_short_and_configured_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = JournalKey::existing(None, dir.path()).expect_err("missing");
        assert!(e.to_string().contains("journal.key") && e.to_string().contains("cannot read"));
        let short = dir.path().join("short");
        std::fs::write(&short, "abc").expect("write");
        let r = SecretRef {
            env: None,
            file: Some(short),
            value: None,
        };
        let e = JournalKey::existing(Some(&r), dir.path()).expect_err("short");
        assert!(e.to_string().contains("at least 32"), "{e}");
        let k = JournalKey::from_text(&"k".repeat(40), "t").expect("key");
        let mac = k.mac(RECORD, b"body");
        assert!(k.verify(RECORD, b"body", &mac));
        assert!(!k.verify(HEAD, b"body", &mac), "domains differ");
        assert!(!k.verify(RECORD, b"bodY", &mac));
        assert!(!k.verify(RECORD, b"body", "zz"));
    }
}
