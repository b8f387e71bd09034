//! The ZIdentity admin API (users and groups), mounted at [`ZIDENTITY_BASE_PATH`] (the admin
//! host's `/admin/api/v1`) and at [`ZIDENTITY_GATEWAY_PATH`] (the OneAPI gateway's
//! `/ziam/admin/api/v1`): both doors serve the same directory, as both are recorded in the
//! official SDKs' traffic.
//!
//! Bearer tokens come from the OneAPI token endpoint the simulator already has
//! (`POST /oauth2/v1/token`); a token is valid until the `expires_in` it was issued with, and
//! `POST /__sim/zidentity/expire-tokens` ends them all at once (for renewal tests). ZIdentity
//! writes apply at once: nothing is staged, nothing needs activation.
//!
//! Every fact (paths, fields, paging, filters, status codes, rate limit) and every choice made
//! where the SDKs are silent is listed with its source in docs/ZIDENTITY.md. This module
//! shares no code with the provider adapter in `provider::zidentity`.

mod api;
mod limits;
mod model;
mod seed;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::Instant;

pub use limits::ZidLimits;

pub(crate) use api::router;
pub(crate) use model::ZidDirectory;
pub(crate) use seed::directory as seed;

use limits::ZidLimiter;

/// Path prefix of the ZIdentity admin API on the admin host
/// (`https://{vanity}-admin.zslogin.net/admin/api/v1`).
pub const ZIDENTITY_BASE_PATH: &str = "/admin/api/v1";
/// Path prefix of the same API through the OneAPI gateway
/// (`https://api.zsapi.net/ziam/admin/api/v1`).
pub const ZIDENTITY_GATEWAY_PATH: &str = "/ziam/admin/api/v1";

/// The ZIdentity part of the simulator's mutable state.
#[derive(Debug)]
pub(crate) struct ZidState {
    pub dir: ZidDirectory,
    /// Bearer tokens the token endpoint issued, with when each expires.
    tokens: HashMap<String, Instant>,
    /// Tokens issued since start (for renewal tests).
    pub tokens_issued: u64,
    /// The rate limit, when on.
    pub limiter: Option<ZidLimiter>,
}

impl ZidState {
    /// The scenario's directory, with no tokens and no limit yet.
    pub fn new(dir: ZidDirectory) -> Self {
        Self {
            dir,
            tokens: HashMap::new(),
            tokens_issued: 0,
            limiter: None,
        }
    }

    /// Turns the rate limit on (or off with `None`).
    pub fn set_limits(&mut self, limits: Option<ZidLimits>) {
        self.limiter = limits.map(ZidLimiter::new);
    }

    /// Records a token the OneAPI token endpoint just issued; forgets expired ones.
    pub fn register_token(&mut self, token: &str, expires: Instant) {
        let now = Instant::now();
        self.tokens.retain(|_, e| *e > now);
        self.tokens.insert(token.to_string(), expires);
        self.tokens_issued += 1;
    }

    /// Whether `token` was issued and has not expired.
    pub fn token_valid(&self, token: &str, now: Instant) -> bool {
        self.tokens.get(token).is_some_and(|e| *e > now)
    }

    /// Ends every token now; returns how many were valid.
    pub fn expire_tokens(&mut self) -> usize {
        let now = Instant::now();
        let n = self.tokens.values().filter(|e| **e > now).count();
        self.tokens.clear();
        n
    }
}
