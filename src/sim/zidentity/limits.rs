//! The ZIdentity admin API's rate limit as the recorded traffic announces it (no ZIdentity limit
//! is documented): `x-ratelimit-limit: 150, 150;w=1, 10000;w=60` on the admin host, i.e. 150
//! requests in any second and 10,000 in any minute, per tenant, with `x-ratelimit-remaining`
//! and `x-ratelimit-reset` on every answer. Over it the answer is 429 with `Retry-After` (whole
//! seconds) and the same headers. Each window is an exact sliding log of admitted requests.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The tenant's limits. [`ZidLimits::observed`] gives the recorded figures; tests lower them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZidLimits {
    /// Requests admitted in any one-second window (0 refuses everything).
    pub per_second: u32,
    /// Requests admitted in any one-minute window.
    pub per_minute: u32,
}

impl ZidLimits {
    /// 150 per second and 10,000 per minute, as the admin host's `x-ratelimit-limit` says.
    pub const fn observed() -> Self {
        Self {
            per_second: 150,
            per_minute: 10_000,
        }
    }

    /// The `x-ratelimit-limit` value (IETF RateLimit header fields draft, as recorded).
    pub fn header(&self) -> String {
        format!(
            "{}, {};w=1, {};w=60",
            self.per_second, self.per_second, self.per_minute
        )
    }
}

/// What the limiter decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Served; `remaining` requests left in the tighter window, which frees a slot in
    /// `reset_secs`.
    Admitted { remaining: u32, reset_secs: u64 },
    /// Refused with 429; come back in `retry_after_secs`.
    Refused { retry_after_secs: u64 },
}

/// Sliding logs of the two windows.
#[derive(Debug)]
pub(crate) struct ZidLimiter {
    pub limits: ZidLimits,
    second: VecDeque<Instant>,
    minute: VecDeque<Instant>,
    /// 429s answered so far (for `/__sim/zidentity/status`).
    pub refused: u64,
}

fn prune(log: &mut VecDeque<Instant>, now: Instant, per: Duration) {
    while log.front().is_some_and(|t| now.duration_since(*t) >= per) {
        log.pop_front();
    }
}

/// Whole seconds until the oldest entry leaves a window of `per` (at least 1).
fn wait(log: &VecDeque<Instant>, now: Instant, per: Duration) -> u64 {
    log.front()
        .map(|t| {
            (per.saturating_sub(now.duration_since(*t)))
                .as_secs_f64()
                .ceil() as u64
        })
        .unwrap_or(1)
        .max(1)
}

impl ZidLimiter {
    pub fn new(limits: ZidLimits) -> Self {
        Self {
            limits,
            second: VecDeque::new(),
            minute: VecDeque::new(),
            refused: 0,
        }
    }

    /// Admits one request at `now`, or says how long to wait.
    pub fn admit(&mut self, now: Instant) -> Admission {
        let (s, m) = (Duration::from_secs(1), Duration::from_secs(60));
        prune(&mut self.second, now, s);
        prune(&mut self.minute, now, m);
        let sec_full = self.second.len() as u64 >= u64::from(self.limits.per_second);
        let min_full = self.minute.len() as u64 >= u64::from(self.limits.per_minute);
        if sec_full || min_full {
            self.refused += 1;
            let mut retry = 1;
            if min_full {
                retry = retry.max(wait(&self.minute, now, m));
            }
            if sec_full {
                retry = retry.max(wait(&self.second, now, s));
            }
            return Admission::Refused {
                retry_after_secs: retry,
            };
        }
        self.second.push_back(now);
        self.minute.push_back(now);
        let left_s = self.limits.per_second - self.second.len() as u32;
        let left_m = self.limits.per_minute - self.minute.len() as u32;
        let (remaining, reset_secs) = if left_m < left_s {
            (left_m, wait(&self.minute, now, m))
        } else {
            (left_s, 1)
        };
        Admission::Admitted {
            remaining,
            reset_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_windows_count_and_refusals_say_when_to_return() {
        let mut l = ZidLimiter::new(ZidLimits {
            per_second: 2,
            per_minute: 3,
        });
        let t0 = Instant::now();
        assert_eq!(
            l.admit(t0),
            Admission::Admitted {
                remaining: 1,
                reset_secs: 1
            }
        );
        assert!(matches!(
            l.admit(t0),
            Admission::Admitted { remaining: 0, .. }
        ));
        assert_eq!(
            l.admit(t0),
            Admission::Refused {
                retry_after_secs: 1
            }
        );
        let t1 = t0 + Duration::from_millis(1100);
        assert!(matches!(
            l.admit(t1),
            Admission::Admitted { remaining: 0, .. }
        ));
        // The minute window is full now: wait until the first request leaves it.
        match l.admit(t1 + Duration::from_millis(1100)) {
            Admission::Refused { retry_after_secs } => {
                assert!((57..=60).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(l.refused, 2);
        assert_eq!(ZidLimits::observed().header(), "150, 150;w=1, 10000;w=60");
    }
}
