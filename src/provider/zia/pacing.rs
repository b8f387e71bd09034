//! Client-side pacing per method weight, so a batch never meets the tenant's 429s.
//!
//! The budget is the connection's [`RateBudget`]: ZIA's published limits unless the
//! configuration names the tenant's own (`[connections.NAME.rate_limits]`).
//!
//! ZIA publishes burst and hourly limits per weight: GET 2/s and 1000/h, POST/PUT 1/s and
//! 400/h, DELETE 1/min and 4/h, activation 10/min and 40/h. Each weight gets two GCRA limiters
//! (burst and hourly). A wait longer than the ceiling fails fast with the time to retry,
//! instead of holding a tool call for an hour.
//!
//! Those limits are per tenant, not per process: with shared state (`[state] backend =
//! "redis"`) the same budgets are kept in Redis ([`SharedBudget`]) so that replicas together
//! stay inside them. If Redis cannot be reached, a write fails closed (nothing is sent) and a
//! read falls back to this process's own limiter, so reads keep working. That limiter then
//! keeps to this replica's share of the budget (`[state] replicas`): replicas that all fell
//! back at once still stay inside the tenant's limit together.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::Method;

use crate::provider::ProviderError;
use crate::state::rate::{Rate, SharedBudget};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

struct Weight {
    name: String,
    /// Names the weight's keys in the shared budget.
    key: &'static str,
    burst: DefaultDirectRateLimiter,
    hourly: DefaultDirectRateLimiter,
    burst_rate: Rate,
    hourly_rate: Rate,
}

impl Weight {
    /// `share`: how many processes split this budget when they pace locally (the shared
    /// budget in Redis is always the whole of it).
    fn new(name: String, key: &'static str, burst: Rate, per_hour: u32, share: u32) -> Self {
        // Evenly spaced, with a 2 % margin, and no burst: a tenant that counts "N per second"
        // over a sliding window refuses the (N+1)th request that a bursting limiter would let
        // through right after a full burst (seen against the simulator with two replicas).
        // Plus 2 ms a slot for the jitter between leaving here and reaching the tenant, which
        // matters only at high rates (a scaled simulator, a tenant granted more).
        let period = (burst.per / burst.count.max(1)).mul_f64(1.02) + Duration::from_millis(2);
        let share = share.max(1);
        let quota = Quota::with_period(period * share)
            .unwrap_or_else(|| Quota::per_second(nz(1)))
            .allow_burst(nz(1));
        let local_per_hour = nz(per_hour / share);
        Self {
            name,
            key,
            burst: RateLimiter::direct(quota),
            hourly: RateLimiter::direct(
                Quota::per_hour(local_per_hour).allow_burst(local_per_hour),
            ),
            burst_rate: Rate {
                count: 1,
                per: period,
            },
            hourly_rate: Rate {
                count: per_hour,
                per: Duration::from_secs(3600),
            },
        }
    }
}

const fn rate(count: u32, per_secs: u64) -> Rate {
    Rate {
        count,
        per: Duration::from_secs(per_secs),
    }
}

/// The rate budget a connection paces to, per method weight. The defaults are ZIA's published
/// limits; a tenant with different limits (Zscaler grants exceptions per endpoint and per
/// tenant) or a scaled simulator sets its own in `[connections.NAME.rate_limits]`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct RateBudget {
    /// GET (light) requests per second.
    #[schemars(range(min = 1))]
    pub get_per_second: u32,
    /// GET requests per hour.
    #[schemars(range(min = 1))]
    pub get_per_hour: u32,
    /// POST/PUT (medium) requests per second.
    #[schemars(range(min = 1))]
    pub write_per_second: u32,
    /// POST/PUT requests per hour.
    #[schemars(range(min = 1))]
    pub write_per_hour: u32,
    /// DELETE (heavy) requests per minute.
    #[schemars(range(min = 1))]
    pub delete_per_minute: u32,
    /// DELETE requests per hour.
    #[schemars(range(min = 1))]
    pub delete_per_hour: u32,
    /// `POST /status/activate` per minute.
    #[schemars(range(min = 1))]
    pub activate_per_minute: u32,
    /// `POST /status/activate` per hour.
    #[schemars(range(min = 1))]
    pub activate_per_hour: u32,
}

impl Default for RateBudget {
    fn default() -> Self {
        Self::documented()
    }
}

impl RateBudget {
    /// ZIA's published limits: GET 2/s and 1000/h, POST/PUT 1/s and 400/h, DELETE 1/min and
    /// 4/h, activation 10/min and 40/h.
    pub const fn documented() -> Self {
        Self {
            get_per_second: 2,
            get_per_hour: 1000,
            write_per_second: 1,
            write_per_hour: 400,
            delete_per_minute: 1,
            delete_per_hour: 4,
            activate_per_minute: 10,
            activate_per_hour: 40,
        }
    }

    /// Every figure multiplied by `factor` (for a simulator run with scaled limits).
    pub fn scaled(self, factor: u32) -> Self {
        let f = factor.max(1);
        Self {
            get_per_second: self.get_per_second.saturating_mul(f),
            get_per_hour: self.get_per_hour.saturating_mul(f),
            write_per_second: self.write_per_second.saturating_mul(f),
            write_per_hour: self.write_per_hour.saturating_mul(f),
            delete_per_minute: self.delete_per_minute.saturating_mul(f),
            delete_per_hour: self.delete_per_hour.saturating_mul(f),
            activate_per_minute: self.activate_per_minute.saturating_mul(f),
            activate_per_hour: self.activate_per_hour.saturating_mul(f),
        }
    }

    /// A zero figure would refuse every request of its weight forever; say so at start-up.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("get_per_second", self.get_per_second),
            ("get_per_hour", self.get_per_hour),
            ("write_per_second", self.write_per_second),
            ("write_per_hour", self.write_per_hour),
            ("delete_per_minute", self.delete_per_minute),
            ("delete_per_hour", self.delete_per_hour),
            ("activate_per_minute", self.activate_per_minute),
            ("activate_per_hour", self.activate_per_hour),
        ];
        match fields.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(format!(
                "rate_limits.{name} must be at least 1 (set rate_limits = false to turn pacing off)"
            )),
            None => Ok(()),
        }
    }

    /// One line for `check`: the budget this connection paces to.
    pub fn describe(&self) -> String {
        format!(
            "GET {}/s {}/h, POST/PUT {}/s {}/h, DELETE {}/min {}/h, activation {}/min {}/h",
            self.get_per_second,
            self.get_per_hour,
            self.write_per_second,
            self.write_per_hour,
            self.delete_per_minute,
            self.delete_per_hour,
            self.activate_per_minute,
            self.activate_per_hour
        )
    }
}

/// The tenant's budget as seen from this process.
pub struct Pacer {
    get: Weight,
    write: Weight,
    delete: Weight,
    activate: Weight,
    /// Longest wait a call accepts before failing with "retry after".
    ceiling: Duration,
    /// The tenant's budget shared with other replicas, when configured.
    shared: Option<SharedBudget>,
    budget: RateBudget,
    /// Until when reads skip the shared budget after Redis failed (each failed attempt costs
    /// the Redis client's retries; reads pace locally meanwhile).
    shared_down_until: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How long reads pace locally after the shared budget failed, before trying Redis again.
const SHARED_RETRY_AFTER: Duration = Duration::from_secs(5);

impl Pacer {
    /// Paces to `b`, failing fast when a wait would exceed `ceiling`.
    pub fn new(b: &RateBudget, ceiling: Duration) -> Self {
        Self::with_share(b, ceiling, 1)
    }

    /// Like [`Pacer::new`], pacing locally to `1/share` of `b`.
    fn with_share(b: &RateBudget, ceiling: Duration, share: u32) -> Self {
        Self {
            get: Weight::new(
                format!("GET ({}/s, {}/h)", b.get_per_second, b.get_per_hour),
                "get",
                rate(b.get_per_second, 1),
                b.get_per_hour,
                share,
            ),
            write: Weight::new(
                format!(
                    "POST/PUT ({}/s, {}/h)",
                    b.write_per_second, b.write_per_hour
                ),
                "write",
                rate(b.write_per_second, 1),
                b.write_per_hour,
                share,
            ),
            delete: Weight::new(
                format!(
                    "DELETE ({}/min, {}/h)",
                    b.delete_per_minute, b.delete_per_hour
                ),
                "delete",
                rate(b.delete_per_minute, 60),
                b.delete_per_hour,
                share,
            ),
            activate: Weight::new(
                format!(
                    "activation ({}/min, {}/h)",
                    b.activate_per_minute, b.activate_per_hour
                ),
                "activate",
                rate(b.activate_per_minute, 60),
                b.activate_per_hour,
                share,
            ),
            ceiling,
            shared: None,
            budget: *b,
            shared_down_until: std::sync::Mutex::new(None),
        }
    }

    /// Keeps the budget in Redis, shared with every replica pacing the same tenant.
    pub fn with_shared(mut self, budget: SharedBudget) -> Self {
        self.shared = Some(budget);
        self
    }

    /// How many replicas split the budget when Redis is unreachable and each paces on its own:
    /// this process then keeps to `1/replicas` of it.
    pub fn with_replicas(self, replicas: u32) -> Self {
        Self {
            shared: self.shared,
            ..Self::with_share(&self.budget, self.ceiling, replicas)
        }
    }

    fn too_long(&self, w: &Weight, wait: Duration) -> Option<ProviderError> {
        (wait > self.ceiling).then(|| ProviderError::RateLimited {
            message: format!(
                "the tenant's {} limit is used up for now; retry in {} s",
                w.name,
                wait.as_secs().max(1)
            ),
            retry_after: Some(wait),
        })
    }

    /// The shared budget: `Ok(true)` when a slot was taken, `Ok(false)` to fall back to the
    /// local limiter (a read while Redis is unreachable).
    async fn acquire_shared(
        &self,
        budget: &SharedBudget,
        w: &Weight,
        method: &Method,
    ) -> Result<bool, ProviderError> {
        loop {
            match budget.try_take(w.key, w.burst_rate, w.hourly_rate).await {
                Ok(None) => return Ok(true),
                Ok(Some(wait)) => {
                    if let Some(e) = self.too_long(w, wait) {
                        return Err(e);
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(e) if *method == Method::GET => {
                    tracing::warn!(error = %e, "shared rate budget unavailable; pacing reads locally to this replica's share");
                    *self
                        .shared_down_until
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) =
                        Some(std::time::Instant::now() + SHARED_RETRY_AFTER);
                    return Ok(false);
                }
                // Nothing was sent: the caller may safely try again once Redis is back.
                Err(e) => {
                    return Err(ProviderError::StateStore {
                        message: e.to_string(),
                    });
                }
            }
        }
    }

    fn weight(&self, method: &Method, path: &str) -> &Weight {
        if path.ends_with("/status/activate") {
            &self.activate
        } else if *method == Method::GET {
            &self.get
        } else if *method == Method::DELETE {
            &self.delete
        } else {
            &self.write
        }
    }

    /// Waits for a slot of this request's weight, or fails when the wait exceeds the ceiling.
    pub async fn acquire(&self, method: &Method, path: &str) -> Result<(), ProviderError> {
        let w = self.weight(method, path);
        let shared_down = *method == Method::GET
            && self
                .shared_down_until
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some_and(|until| std::time::Instant::now() < until);
        if let Some(budget) = &self.shared
            && !shared_down
            && self.acquire_shared(budget, w, method).await?
        {
            return Ok(());
        }
        for limiter in [&w.hourly, &w.burst] {
            loop {
                match limiter.check() {
                    Ok(()) => break,
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(DefaultClock::default().now());
                        if let Some(e) = self.too_long(w, wait) {
                            return Err(e);
                        }
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hourly_delete_budget_fails_fast_with_retry_time() {
        let p = Pacer::new(&RateBudget::documented(), Duration::from_secs(5));
        p.acquire(&Method::DELETE, "/users/1")
            .await
            .expect("first delete is free");
        match p.acquire(&Method::DELETE, "/users/2").await {
            Err(ProviderError::RateLimited {
                retry_after: Some(w),
                message,
            }) => {
                assert!(w > Duration::from_secs(5), "{w:?}");
                assert!(message.contains("DELETE"), "{message}");
            }
            other => panic!("expected fail-fast, got {other:?}"),
        }
    }
}
