//! Optional persistence of the tenant (`SimOptions::state_file`, `sim --state FILE`): loaded on
//! start, saved after every write, so a demo or a manual test session survives a restart.
//!
//! The snapshot holds both tenant copies (so pending, un-activated changes stay pending), the
//! next user id, the SCIM state (ZIA extras and the ZPA directory) and the ZIdentity directory. Sessions are not saved:
//! a restart ends them without activation, like a process exit. Files are written to a
//! temporary sibling and renamed over the target, so a crash never leaves half a snapshot.
//! Saving is synchronous and serializes the whole tenant, which suits demo-sized tenants; a
//! 100,000-user tenant costs a noticeable fraction of a second per write.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::scim::ScimData;
use super::store::Tenant;
use super::zidentity::ZidDirectory;

/// Format version written in every snapshot; a different one is refused on load.
const VERSION: u32 = 1;

/// What is saved, borrowed from the live state (serialized under the state lock).
#[derive(Serialize)]
pub(crate) struct SnapshotRef<'a> {
    pub version: u32,
    pub live: &'a Tenant,
    pub draft: &'a Tenant,
    pub next_user_id: u64,
    pub scim: &'a ScimData,
    pub zid: &'a ZidDirectory,
}

impl SnapshotRef<'_> {
    pub const VERSION: u32 = VERSION;
}

/// What is loaded.
#[derive(Deserialize)]
pub(crate) struct Snapshot {
    pub version: u32,
    pub live: Tenant,
    pub draft: Tenant,
    pub next_user_id: u64,
    pub scim: ScimData,
    /// Absent from files written before the ZIdentity API existed: the seeded directory then.
    #[serde(default = "super::zidentity::seed")]
    pub zid: ZidDirectory,
}

/// Reads a snapshot; `Ok(None)` when the file does not exist yet.
pub(crate) fn load(path: &Path) -> Result<Option<Snapshot>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let snap: Snapshot = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a simulator state file: {e}", path.display()))?;
    if snap.version != VERSION {
        return Err(format!(
            "{} has state format {}, this simulator reads {VERSION}",
            path.display(),
            snap.version
        ));
    }
    Ok(Some(snap))
}

/// Writes snapshots to one file, in order: the mutex holds the sequence number of the last
/// snapshot written, so an older snapshot that loses a race is skipped, never written last.
#[derive(Debug)]
pub(crate) struct Persister {
    path: PathBuf,
    written: Mutex<u64>,
}

impl Persister {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            written: Mutex::new(0),
        }
    }

    /// Writes snapshot number `seq` unless a newer one is already on disk.
    pub fn save(&self, seq: u64, bytes: &[u8]) -> std::io::Result<()> {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if seq <= *written {
            return Ok(());
        }
        let mut tmp_name = self.path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = self.path.with_file_name(tmp_name);
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        *written = seq;
        Ok(())
    }
}
