//! Client-side pacing per method weight, so a batch never meets the tenant's 429s.
//!
//! ZIA publishes burst and hourly limits per weight: GET 2/s and 1000/h, POST/PUT 1/s and
//! 400/h, DELETE 1/min and 4/h, activation 10/min and 40/h. Each weight gets two GCRA limiters
//! (burst and hourly). A wait longer than the ceiling fails fast with the time to retry,
//! instead of holding a tool call for an hour.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::Method;

use crate::provider::ProviderError;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

struct Weight {
    name: &'static str,
    burst: DefaultDirectRateLimiter,
    hourly: DefaultDirectRateLimiter,
}

impl Weight {
    fn new(name: &'static str, burst: Quota, per_hour: u32) -> Self {
        Self {
            name,
            burst: RateLimiter::direct(burst),
            hourly: RateLimiter::direct(Quota::per_hour(nz(per_hour)).allow_burst(nz(per_hour))),
        }
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
}

impl Pacer {
    pub fn zia(ceiling: Duration) -> Self {
        Self {
            get: Weight::new("GET (2/s, 1000/h)", Quota::per_second(nz(2)), 1000),
            write: Weight::new("POST/PUT (1/s, 400/h)", Quota::per_second(nz(1)), 400),
            delete: Weight::new("DELETE (1/min, 4/h)", Quota::per_minute(nz(1)), 4),
            activate: Weight::new("activation (10/min, 40/h)", Quota::per_minute(nz(10)), 40),
            ceiling,
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
        for limiter in [&w.hourly, &w.burst] {
            loop {
                match limiter.check() {
                    Ok(()) => break,
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(DefaultClock::default().now());
                        if wait > self.ceiling {
                            return Err(ProviderError::RateLimited {
                                message: format!(
                                    "the tenant's {} limit is used up for now; retry in {} s",
                                    w.name,
                                    wait.as_secs().max(1)
                                ),
                                retry_after: Some(wait),
                            });
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
        let p = Pacer::zia(Duration::from_secs(5));
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
