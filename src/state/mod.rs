//! State that several replicas of the server share, kept in Redis.
//!
//! Zscaler's rate limits and its edit lock are per tenant, not per process, and a plan approved
//! through one replica must be executable through another exactly once. With `[state] backend =
//! "redis"` the plan store, the activation ledger, the per-tenant rate budget and a per-tenant
//! write lock all live in one Redis; with the default file backend nothing here is used.
//!
//! Failing closed: when Redis cannot be reached every write path (saving a plan, approving,
//! consuming, taking the write lock or a write's rate budget) fails with [`StateError`], whose
//! message names Redis. Reads of the tenant do not need Redis.

pub mod lock;
pub mod rate;
mod redis_conn;

pub use redis_conn::RedisState;

use crate::config::{StateBackendKind, StateConfig};

/// Why shared state could not be used; messages name the backend so operators know what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state backend redis at {at} unreachable: {message}; writes are refused until it is back"
    )]
    Unreachable { at: String, message: String },
    #[error("state backend redis at {at} failed: {message}; writes are refused until it is fixed")]
    Failed { at: String, message: String },
    #[error("state backend redis: {message}")]
    Config { message: String },
}

/// The shared state a config asks for: `None` for the file backend.
pub fn from_config(cfg: &StateConfig) -> Result<Option<RedisState>, StateError> {
    match cfg.backend {
        StateBackendKind::File => Ok(None),
        StateBackendKind::Redis => {
            let url = cfg
                .url
                .as_ref()
                .ok_or_else(|| StateError::Config {
                    message: "backend = \"redis\" needs url".into(),
                })?
                .resolve("[state] url")
                .map_err(|message| StateError::Config { message })?;
            RedisState::new(
                &url,
                &cfg.key_prefix,
                std::time::Duration::from_millis(cfg.timeout_ms.max(1)),
            )
            .map(Some)
        }
    }
}

/// This process's replica id: the configured one, else one made once and kept in the state
/// directory (`replica.id`), so a restarted replica keeps appending to its own journal chain.
pub fn replica_id(cfg: &StateConfig, state_dir: &std::path::Path) -> std::io::Result<String> {
    if let Some(id) = &cfg.replica_id {
        return Ok(id.clone());
    }
    let path = state_dir.join("replica.id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if crate::config::valid_replica_id(id) {
            return Ok(id.to_string());
        }
    }
    std::fs::create_dir_all(state_dir)?;
    let host: String = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    let mut b = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    let id = if host.is_empty() {
        format!("r-{}", hex::encode(b))
    } else {
        format!("{host}-{}", hex::encode(b))
    };
    // Two processes starting together: the first writer wins, the other reads its id.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    match opts.open(&path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(id.as_bytes())?;
            f.sync_all()?;
            Ok(id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path)?;
            let id = text.trim();
            if crate::config::valid_replica_id(id) {
                Ok(id.to_string())
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} does not hold a valid replica id; delete it or set [state] replica_id",
                        path.display()
                    ),
                ))
            }
        }
        Err(e) => Err(e),
    }
}
