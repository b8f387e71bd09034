//! The rolling-hour deletion cap, kept where every process sees it.
//!
//! A cap counted in memory resets on restart and is not shared by a second process on the same
//! state directory (`serve` and `call`, two replicas), so it limits nothing an agent cannot
//! undo by waiting for a restart. The window lives in the state backend instead:
//! - file backend: `deletions.json` in the state directory, read and rewritten under an OS
//!   lock, so `serve`, `call` and every process using that directory count together;
//! - Redis: one sorted set per connection, checked and extended by one Lua script, so replicas
//!   count together and a check-then-take race cannot let two batches through.
//!
//! Deletions are *reserved* before anything is sent and released only when the tenant
//! definitely did not delete (a refusal, or a read-back that shows the account still there).
//! A budget that cannot be read or written refuses the deletion: fail closed.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::now_secs;
use crate::state::RedisState;

const HOUR: u64 = 3600;

/// Why a deletion was refused by the cap; the message is for the model and the person.
#[derive(Debug, thiserror::Error)]
pub enum CapError {
    #[error(
        "deletion refused: connection {connection} reached its cap of {cap} deletions per hour (policy.max_deletions_per_hour); try again in about {wait_minutes} minute(s) or ask an administrator to raise the cap"
    )]
    Reached {
        connection: String,
        cap: u32,
        wait_minutes: u64,
    },
    #[error(
        "deletion refused: {count} deletions would exceed connection {connection}'s cap of {cap} per hour (policy.max_deletions_per_hour; {left} left now); pass at most {left} users or ask an administrator to raise the cap"
    )]
    Exceeds {
        connection: String,
        count: usize,
        cap: u32,
        left: usize,
    },
    /// The window could not be read or written: refused rather than uncounted.
    #[error(
        "deletion refused: the deletion cap of connection {connection} cannot be checked ({message}); nothing was changed — an administrator must fix the state backend"
    )]
    Unavailable { connection: String, message: String },
}

/// Deletions taken from the budget for one write; released if the tenant did not delete.
#[derive(Debug, Clone)]
pub struct Reservation {
    connection: String,
    /// One member per deletion (`id:n`), so a partial release removes exactly what failed.
    members: Vec<String>,
}

impl Reservation {
    /// How many deletions it holds.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// The window of one state directory's file: connection → (time, member) entries.
#[derive(Debug, Default, Serialize, Deserialize)]
struct FileWindow {
    #[serde(default)]
    connections: BTreeMap<String, Vec<(u64, String)>>,
}

enum Backend {
    File(PathBuf),
    Redis(RedisState),
}

/// The deletion budget of every connection.
pub struct DeletionBudget {
    backend: Backend,
    cap: u32,
}

impl std::fmt::Debug for DeletionBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeletionBudget")
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

/// KEYS[1]: the connection's set. ARGV: now, cap, then the members to add.
/// Returns {1} when added, else {0, count in the window, oldest time in it}.
const RESERVE: &str = r#"
local now = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600)
local n = redis.call('ZCARD', KEYS[1])
local want = #ARGV - 2
if n + want > cap then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, n, tonumber(oldest[2] or now)}
end
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], now, ARGV[i])
end
redis.call('EXPIRE', KEYS[1], 3700)
return {1}
"#;

impl DeletionBudget {
    /// The budget kept in `state_dir` (file backend) or in Redis.
    pub fn new(state_dir: &Path, shared: Option<&RedisState>, cap: u32) -> Self {
        let backend = match shared {
            Some(r) => Backend::Redis(r.clone()),
            None => Backend::File(state_dir.join("deletions.json")),
        };
        Self { backend, cap }
    }

    /// Refuses `count` deletions on `connection` that would exceed the cap now, without taking
    /// anything: checked when planning, so nobody is asked to approve what cannot run.
    pub fn check(&self, connection: &str, count: usize) -> Result<(), CapError> {
        let (used, oldest) = self.window(connection)?;
        self.verdict(connection, count, used, oldest)
    }

    /// Takes `count` deletions from the budget, atomically with the check, before the tenant
    /// is asked to delete.
    pub fn reserve(&self, connection: &str, count: usize) -> Result<Reservation, CapError> {
        let tag = {
            let mut b = [0u8; 6];
            rand::rng().fill_bytes(&mut b);
            hex::encode(b)
        };
        let members: Vec<String> = (0..count).map(|i| format!("{tag}:{i}")).collect();
        let now = now_secs();
        match &self.backend {
            Backend::Redis(r) => {
                let key = r.key(&format!("deletions:{connection}"));
                let answer: Vec<u64> = r
                    .run(|c| {
                        let script = redis::Script::new(RESERVE);
                        let mut cmd = script.prepare_invoke();
                        cmd.key(&key).arg(now).arg(self.cap);
                        for m in &members {
                            cmd.arg(m);
                        }
                        cmd.invoke(c)
                    })
                    .map_err(|e| unavailable(connection, e))?;
                if answer.first() != Some(&1) {
                    let used = answer.get(1).copied().unwrap_or(0) as usize;
                    let oldest = answer.get(2).copied();
                    self.verdict(connection, count, used, oldest)?;
                    // The script said no, yet the numbers say yes: refuse rather than guess.
                    return Err(unavailable(connection, "the shared counter disagreed"));
                }
            }
            Backend::File(path) => {
                self.with_file(connection, path, |w| {
                    let list = w.connections.entry(connection.to_string()).or_default();
                    list.retain(|(t, _)| t + HOUR > now);
                    let oldest = list.iter().map(|(t, _)| *t).min();
                    self.verdict(connection, count, list.len(), oldest)?;
                    list.extend(members.iter().map(|m| (now, m.clone())));
                    Ok(true)
                })?;
            }
        }
        Ok(Reservation {
            connection: connection.to_string(),
            members,
        })
    }

    /// Gives back `count` deletions of a reservation that the tenant did not carry out (refused,
    /// or still present on read-back). Best effort: a failure keeps the budget lower, never
    /// higher.
    pub fn release(&self, reservation: &mut Reservation, count: usize) {
        let n = count.min(reservation.members.len());
        let gone: Vec<String> = reservation.members.drain(..n).collect();
        if gone.is_empty() {
            return;
        }
        let connection = reservation.connection.clone();
        let result = match &self.backend {
            Backend::Redis(r) => {
                let key = r.key(&format!("deletions:{connection}"));
                r.run(|c| redis::cmd("ZREM").arg(&key).arg(&gone).exec(c))
                    .map_err(|e| unavailable(&connection, e))
            }
            Backend::File(path) => self
                .with_file(&connection, path, |w| {
                    if let Some(list) = w.connections.get_mut(&connection) {
                        list.retain(|(_, m)| !gone.contains(m));
                    }
                    Ok(true)
                })
                .map(|_| ()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, connection, "deletion budget not released; the cap stays lower until the hour passes");
        }
    }

    /// Deletions counted in the last hour, and the oldest time among them.
    fn window(&self, connection: &str) -> Result<(usize, Option<u64>), CapError> {
        let now = now_secs();
        match &self.backend {
            Backend::Redis(r) => {
                let key = r.key(&format!("deletions:{connection}"));
                let scores: Vec<(String, u64)> = r
                    .run(|c| {
                        redis::cmd("ZRANGEBYSCORE")
                            .arg(&key)
                            .arg(now.saturating_sub(HOUR) + 1)
                            .arg("+inf")
                            .arg("WITHSCORES")
                            .query(c)
                    })
                    .map_err(|e| unavailable(connection, e))?;
                Ok((scores.len(), scores.iter().map(|(_, t)| *t).min()))
            }
            Backend::File(path) => {
                let mut out = (0, None);
                self.with_file(connection, path, |w| {
                    let list = w.connections.get(connection).cloned().unwrap_or_default();
                    let live: Vec<u64> = list
                        .iter()
                        .map(|(t, _)| *t)
                        .filter(|t| t + HOUR > now)
                        .collect();
                    out = (live.len(), live.iter().min().copied());
                    Ok(false)
                })?;
                Ok(out)
            }
        }
    }

    fn verdict(
        &self,
        connection: &str,
        count: usize,
        used: usize,
        oldest: Option<u64>,
    ) -> Result<(), CapError> {
        let cap = self.cap as usize;
        if used + count <= cap {
            return Ok(());
        }
        let left = cap.saturating_sub(used);
        if count <= 1 || left == 0 {
            let wait_minutes = oldest
                .map(|t| (t + HOUR).saturating_sub(now_secs()) / 60 + 1)
                .unwrap_or(60);
            Err(CapError::Reached {
                connection: connection.to_string(),
                cap: self.cap,
                wait_minutes,
            })
        } else {
            Err(CapError::Exceeds {
                connection: connection.to_string(),
                count,
                cap: self.cap,
                left,
            })
        }
    }

    /// Runs `f` on the window file under an exclusive lock; writes it back (fsynced) when `f`
    /// returns true.
    fn with_file(
        &self,
        connection: &str,
        path: &Path,
        f: impl FnOnce(&mut FileWindow) -> Result<bool, CapError>,
    ) -> Result<(), CapError> {
        let fail =
            |e: &dyn std::fmt::Display| unavailable(connection, format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let mut file = open_private(path).map_err(|e| fail(&e))?;
        file.lock().map_err(|e| fail(&e))?;
        let result = (|| {
            let mut text = String::new();
            file.read_to_string(&mut text).map_err(|e| fail(&e))?;
            let mut window: FileWindow = if text.trim().is_empty() {
                FileWindow::default()
            } else {
                // An unreadable window is refused, never reset: resetting would lift the cap.
                serde_json::from_str(&text).map_err(|e| fail(&e))?
            };
            if f(&mut window)? {
                let now = now_secs();
                for list in window.connections.values_mut() {
                    list.retain(|(t, _)| t + HOUR > now);
                }
                window.connections.retain(|_, l| !l.is_empty());
                let body = serde_json::to_vec(&window).map_err(|e| fail(&e))?;
                file.seek(SeekFrom::Start(0)).map_err(|e| fail(&e))?;
                file.set_len(0).map_err(|e| fail(&e))?;
                file.write_all(&body)
                    .and_then(|_| file.sync_data())
                    .map_err(|e| fail(&e))?;
            }
            Ok(())
        })();
        let _ = file.unlock();
        result
    }
}

fn unavailable(connection: &str, e: impl std::fmt::Display) -> CapError {
    CapError::Unavailable {
        connection: connection.to_string(),
        message: e.to_string(),
    }
}

fn open_private(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_shared_by_every_budget_on_one_directory_and_released_on_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = DeletionBudget::new(dir.path(), None, 3);
        let b = DeletionBudget::new(dir.path(), None, 3);
        let mut first = a.reserve("zia", 2).expect("2 of 3");
        assert!(matches!(
            b.check("zia", 2),
            Err(CapError::Exceeds { left: 1, .. })
        ));
        b.check("other", 3).expect("per connection");
        b.reserve("zia", 1).expect("the last one");
        assert!(matches!(a.reserve("zia", 1), Err(CapError::Reached { .. })));
        a.release(&mut first, 1);
        assert_eq!(first.len(), 1);
        // A restarted process reads the same window.
        let c = DeletionBudget::new(dir.path(), None, 3);
        c.reserve("zia", 1).expect("the released one");
        assert!(c.check("zia", 1).is_err());
    }

    #[test]
    fn an_unreadable_window_refuses() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("deletions.json"), "{torn").expect("write");
        let b = DeletionBudget::new(dir.path(), None, 3);
        assert!(matches!(
            b.check("zia", 1),
            Err(CapError::Unavailable { .. })
        ));
        assert!(matches!(
            b.reserve("zia", 1),
            Err(CapError::Unavailable { .. })
        ));
    }

    #[test]
    fn a_cap_of_zero_refuses_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = DeletionBudget::new(dir.path(), None, 0);
        assert!(b.check("zia", 1).is_err());
    }
}
