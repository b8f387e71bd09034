//! SCIM 2.0 endpoints (RFC 7643/7644) in the two Zscaler flavours.
//!
//! * **ZIA SCIM** under [`ZIA_SCIM_BASE_PATH`] serves the ZIA tenant's own users and groups
//!   (the same store as the native API). SCIM writes are not staged: each one is applied to both
//!   the `live` and the `draft` copy, as a real tenant's SCIM provisioning takes effect at once.
//! * **ZPA SCIM** under [`ZPA_SCIM_BASE_PATH`] has its own directory (ZPA is a separate product)
//!   seeded with some of the same persons, and renders `active` as a JSON string like ZPA does.
//!
//! Every answer is `application/scim+json`, errors in the RFC 7644 §3.12 shape. Requests are
//! dispatched by hand from the raw path and body so no framework rejection ever leaks out.

mod api;
mod bulk;

mod dir;
mod discovery;
mod error;
mod filter;
mod model;
mod patch;
mod resources;
mod time;
mod zpa;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::time::SystemTime;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

pub(crate) use api::{fault_response, router};
pub(crate) use zpa::{ZpaDirectory, seed as seed_zpa};

/// Base path of the ZIA SCIM API (`/<orgId>/<idpId>/scim`), fixed so clients can be configured
/// with a constant URL; a real tenant's URL is copied from its admin portal.
pub const ZIA_SCIM_BASE_PATH: &str = "/24326813/61233/scim";
/// Base path of the ZPA SCIM API (`/scim/<userdb>/<idpId>/v2`), as on `scim1.private.zscaler.com`.
pub const ZPA_SCIM_BASE_PATH: &str = "/scim/1/144118148382065427/v2";
/// Bearer token the simulated ZIA SCIM API accepts by default.
pub const ZIA_SCIM_DEMO_TOKEN: &str = "demo-zia-scim-token";
/// Bearer token the simulated ZPA SCIM API accepts by default.
pub const ZPA_SCIM_DEMO_TOKEN: &str = "demo-zpa-scim-token";

/// How the SCIM endpoints behave. `Default` gives the demo tokens, PATCH on for both flavours,
/// ZIA's "inactive means deleted" rule, ZPA's string `active` and the documented 5 req/s limit.
#[derive(Clone, Debug)]
pub struct ScimOptions {
    /// Bearer token of the ZIA SCIM API.
    pub zia_token: String,
    /// Bearer token of the ZPA SCIM API.
    pub zpa_token: String,
    /// Whether ZIA answers PATCH (otherwise 501), since ZIA's PATCH support is unverified.
    pub zia_patch_supported: bool,
    /// Whether ZPA answers PATCH (otherwise 501).
    pub zpa_patch_supported: bool,
    /// ZIA deletes a user set to `active:false` (reported by IdP admins); when false the user is
    /// kept and shown as inactive in SCIM only (the native API has no such state).
    pub zia_inactive_deletes: bool,
    /// ZPA renders `active` as the JSON string `"true"`/`"false"`, as its docs show.
    pub zpa_active_as_string: bool,
    /// Requests per second each flavour accepts before answering 429 (`None` = unlimited).
    /// Zscaler documents 5 req/s for its SCIM servers.
    pub rate_limit_per_sec: Option<u32>,
}

impl Default for ScimOptions {
    fn default() -> Self {
        Self {
            zia_token: ZIA_SCIM_DEMO_TOKEN.to_string(),
            zpa_token: ZPA_SCIM_DEMO_TOKEN.to_string(),
            zia_patch_supported: true,
            zpa_patch_supported: true,
            zia_inactive_deletes: true,
            zpa_active_as_string: true,
            rate_limit_per_sec: Some(5),
        }
    }
}

/// Which SCIM API a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavour {
    Zia,
    Zpa,
}

impl Flavour {
    /// The base path the flavour is mounted at.
    pub fn base(self) -> &'static str {
        match self {
            Flavour::Zia => ZIA_SCIM_BASE_PATH,
            Flavour::Zpa => ZPA_SCIM_BASE_PATH,
        }
    }

    /// Default `count` of a list: ZIA's SDK pages by 100, ZPA's by 10.
    pub fn default_count(self) -> usize {
        match self {
            Flavour::Zia => 100,
            Flavour::Zpa => 10,
        }
    }
}

/// The fixed options plus per-flavour rate limiters (kept outside the state mutex: governor's
/// limiters are lock-free).
pub(crate) struct ScimRuntime {
    pub opts: ScimOptions,
    zia_limiter: Option<DefaultDirectRateLimiter>,
    zpa_limiter: Option<DefaultDirectRateLimiter>,
}

impl ScimRuntime {
    pub fn new(opts: ScimOptions) -> Self {
        let limiter = || {
            opts.rate_limit_per_sec.map(|n| {
                RateLimiter::direct(Quota::per_second(
                    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN),
                ))
            })
        };
        Self {
            zia_limiter: limiter(),
            zpa_limiter: limiter(),
            opts,
        }
    }

    /// Takes one request from the flavour's budget; false means "answer 429".
    pub fn admit(&self, f: Flavour) -> bool {
        let limiter = match f {
            Flavour::Zia => &self.zia_limiter,
            Flavour::Zpa => &self.zpa_limiter,
        };
        limiter.as_ref().is_none_or(|l| l.check().is_ok())
    }

    /// The flavour's bearer token.
    pub fn token(&self, f: Flavour) -> &str {
        match f {
            Flavour::Zia => &self.opts.zia_token,
            Flavour::Zpa => &self.opts.zpa_token,
        }
    }

    /// Whether the flavour answers PATCH.
    pub fn patch_supported(&self, f: Flavour) -> bool {
        match f {
            Flavour::Zia => self.opts.zia_patch_supported,
            Flavour::Zpa => self.opts.zpa_patch_supported,
        }
    }
}

/// SCIM-only facts about ZIA users the native store has no field for.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct ZiaUserSide {
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub created: Option<SystemTime>,
    pub last_modified: Option<SystemTime>,
}

/// SCIM-only facts about ZIA groups.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct ZiaGroupSide {
    pub external_id: Option<String>,
    pub created: Option<SystemTime>,
    pub last_modified: Option<SystemTime>,
}

/// The mutable SCIM state, kept in the simulator's shared `Inner`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct ScimData {
    /// ZIA: per-user SCIM extras, by native user id.
    pub zia_users: BTreeMap<u64, ZiaUserSide>,
    /// ZIA: per-group SCIM extras, by native group id.
    pub zia_groups: BTreeMap<u64, ZiaGroupSide>,
    /// ZIA users kept but marked inactive (only when inactive does not delete).
    pub zia_inactive: BTreeSet<u64>,
    /// The ZPA directory.
    pub zpa: zpa::ZpaDirectory,
    /// Last timestamp handed out; stamps are strictly increasing so `lastModified gt` works.
    last_stamp: SystemTime,
}

impl ScimData {
    /// The seeded SCIM state: empty ZIA extras and the scenario's ZPA directory.
    pub fn seeded(zpa: ZpaDirectory) -> Self {
        Self {
            zia_users: BTreeMap::new(),
            zia_groups: BTreeMap::new(),
            zia_inactive: BTreeSet::new(),
            zpa,
            last_stamp: time::seed_time(),
        }
    }

    /// A write timestamp: now at millisecond precision, but always after the previous one.
    pub fn stamp(&mut self) -> SystemTime {
        let now = time::truncate_ms(SystemTime::now());
        let min = self.last_stamp + std::time::Duration::from_millis(1);
        self.last_stamp = now.max(min);
        self.last_stamp
    }
}
