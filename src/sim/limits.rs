//! Native ZIA rate limits by method weight (reference §3), off unless
//! [`SimOptions::zia_limits`](super::SimOptions::zia_limits) is set.
//!
//! Zscaler documents a burst limit and a long-window (hourly) limit per weight: GET is light,
//! POST/PUT medium, DELETE heavy, and `POST /status/activate` has its own 10/min and 40/h.
//! The budget is per tenant, shared by every session, because that is how a real tenant counts.
//! Each window is an exact sliding log of admitted requests (at most `max` instants, so the
//! largest, the 1000/h GET log, stays small); refused requests do not use budget. Requests
//! are counted before authentication, as a gateway in front of the API would.
//!
//! Over a limit the answer is 429 `{"code":"RATE_LIMIT_EXCEEDED","message":…}` with the
//! `Retry-After` variant chosen by [`RetryStyle`]: real tenants and SDKs disagree on its form,
//! and a client must survive all of them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// How a 429 tells the client when to come back. Every variant occurs in the wild (reference
/// §3); `Header` is what tf-zia documents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RetryStyle {
    /// `Retry-After: N` (whole seconds).
    #[default]
    Header,
    /// `Retry-After: N seconds`, the legacy API's spelling.
    HeaderSeconds,
    /// `Retry-After: 0 seconds` whatever the real wait is: the observed ZIA bug that makes
    /// naive clients retry immediately (and breaks py-wheel's OneAPI parser).
    ZeroSeconds,
    /// No header; `"Retry-After": "N seconds"` in the JSON body (go-sdk legacy reads it there).
    Body,
    /// No hint at all: the client must back off on its own.
    None,
    /// `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds), the
    /// OneAPI headers; these also go on admitted responses so clients can pace themselves.
    RateLimitHeaders,
}

/// At most `max` requests in any sliding `per` window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowLimit {
    /// Requests admitted per window; 0 refuses everything of this weight.
    pub max: u32,
    /// Window length.
    pub per: Duration,
}

impl WindowLimit {
    /// `max` per second.
    pub const fn per_second(max: u32) -> Self {
        Self {
            max,
            per: Duration::from_secs(1),
        }
    }

    /// `max` per minute.
    pub const fn per_minute(max: u32) -> Self {
        Self {
            max,
            per: Duration::from_secs(60),
        }
    }

    /// `max` per hour.
    pub const fn per_hour(max: u32) -> Self {
        Self {
            max,
            per: Duration::from_secs(3600),
        }
    }
}

/// The two limits of one weight: a burst window (per second or minute) and the long window
/// (per hour), whose 429 is the "hourly limit reached" shape (a `Retry-After` of minutes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeightLimits {
    /// The short window.
    pub burst: WindowLimit,
    /// The long (hourly) window.
    pub hourly: WindowLimit,
}

/// Per-weight limits of the native ZIA API and the 429 style. Tests scale the fields down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZiaLimits {
    /// Light: GET (including `GET /authenticatedSession`, which py-wheel polls before every call).
    pub get: WeightLimits,
    /// Medium: POST and PUT (including `POST /users/bulkDelete`, a POST).
    pub write: WeightLimits,
    /// Heavy: DELETE.
    pub delete: WeightLimits,
    /// `POST /status/activate`, limited on its own and not counted as a medium POST.
    pub activate: WeightLimits,
    /// How a 429 carries its retry hint.
    pub style: RetryStyle,
}

impl ZiaLimits {
    /// The documented limits: GET 2/s and 1000/h, POST/PUT 1/s and 400/h, DELETE 1/min and
    /// 4/h, activation 10/min and 40/h; `Retry-After: N`.
    pub fn documented() -> Self {
        Self {
            get: WeightLimits {
                burst: WindowLimit::per_second(2),
                hourly: WindowLimit::per_hour(1000),
            },
            write: WeightLimits {
                burst: WindowLimit::per_second(1),
                hourly: WindowLimit::per_hour(400),
            },
            delete: WeightLimits {
                burst: WindowLimit::per_minute(1),
                hourly: WindowLimit::per_hour(4),
            },
            activate: WeightLimits {
                burst: WindowLimit::per_minute(10),
                hourly: WindowLimit::per_hour(40),
            },
            style: RetryStyle::Header,
        }
    }

    /// Every count multiplied by `factor` (windows unchanged), so a test or demo can run the
    /// documented shape of the limits `factor` times faster: `documented().scaled(20)` allows
    /// 20 writes per second and 8,000 per hour.
    pub fn scaled(mut self, factor: u32) -> Self {
        let f = factor.max(1);
        for w in [
            &mut self.get,
            &mut self.write,
            &mut self.delete,
            &mut self.activate,
        ] {
            w.burst.max = w.burst.max.saturating_mul(f);
            w.hourly.max = w.hourly.max.saturating_mul(f);
        }
        self
    }

    fn of(&self, w: Weight) -> WeightLimits {
        match w {
            Weight::Get => self.get,
            Weight::Write => self.write,
            Weight::Delete => self.delete,
            Weight::Activate => self.activate,
        }
    }
}

/// The rate-limit class of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Weight {
    Get,
    Write,
    Delete,
    Activate,
}

impl Weight {
    const ALL: [Weight; 4] = [Weight::Get, Weight::Write, Weight::Delete, Weight::Activate];

    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Weight::Get => "get",
            Weight::Write => "write",
            Weight::Delete => "delete",
            Weight::Activate => "activate",
        }
    }

    /// The weight of `method` on a ZIA route template, or `None` for requests that are not
    /// limited: login and logout (a client must always be able to start and end a session,
    /// and logout is what activates) and unknown routes.
    pub fn of(method: &Method, template: &str) -> Option<Weight> {
        match (method, template) {
            (_, "(unmatched)") => None,
            (&Method::GET, _) => Some(Weight::Get),
            (_, "/api/v1/authenticatedSession") => None,
            (&Method::POST, "/api/v1/status/activate") => Some(Weight::Activate),
            (&Method::POST | &Method::PUT, _) => Some(Weight::Write),
            (&Method::DELETE, _) => Some(Weight::Delete),
            _ => None,
        }
    }
}

/// A sliding log of admitted request instants for one window.
#[derive(Debug, Default)]
struct Window {
    admitted: VecDeque<Instant>,
}

impl Window {
    fn prune(&mut self, now: Instant, per: Duration) {
        while self
            .admitted
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= per)
        {
            self.admitted.pop_front();
        }
    }

    /// Time until one slot frees (zero when one is free now).
    fn wait(&self, now: Instant, limit: WindowLimit) -> Option<Duration> {
        if self.admitted.len() < limit.max as usize {
            return None;
        }
        let oldest = self.admitted.front().copied().unwrap_or(now);
        Some((oldest + limit.per).saturating_duration_since(now))
    }

    /// Seconds until the oldest admitted request leaves the window (the `x-ratelimit-reset`).
    fn reset_secs(&self, now: Instant, per: Duration) -> u64 {
        self.admitted
            .front()
            .map_or(0, |t| ceil_secs((*t + per).saturating_duration_since(now)))
    }
}

/// Whole seconds, rounded up, so a client that waits that long is admitted.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// What an admitted request may report in `x-ratelimit-*` headers (its burst window).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    limit: u32,
    remaining: u32,
    reset_secs: u64,
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refusal {
    weight: Weight,
    hourly: bool,
    limit: u32,
    retry_after_secs: u64,
}

/// The tenant's rate-limit state: two windows per weight and counters of 429s sent.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: ZiaLimits,
    windows: [[Window; 2]; 4],
    refused: [u64; 4],
}

impl Limiter {
    pub fn new(limits: ZiaLimits) -> Self {
        Self {
            limits,
            windows: Default::default(),
            refused: [0; 4],
        }
    }

    /// Takes one request of weight `w` from the budget, or says why not. Both windows must have
    /// room; the hourly one is reported first because its wait is the one that matters.
    pub fn admit(&mut self, w: Weight, now: Instant) -> Result<Budget, Refusal> {
        let l = self.limits.of(w);
        let [burst, hourly] = &mut self.windows[w.index()];
        burst.prune(now, l.burst.per);
        hourly.prune(now, l.hourly.per);
        let refusal = |limit: WindowLimit, wait: Duration, is_hourly| Refusal {
            weight: w,
            hourly: is_hourly,
            limit: limit.max,
            retry_after_secs: ceil_secs(wait).max(1),
        };
        let refused = if let Some(wait) = hourly.wait(now, l.hourly) {
            Some(refusal(l.hourly, wait, true))
        } else {
            burst
                .wait(now, l.burst)
                .map(|wait| refusal(l.burst, wait, false))
        };
        if let Some(r) = refused {
            self.refused[w.index()] += 1;
            return Err(r);
        }
        burst.admitted.push_back(now);
        hourly.admitted.push_back(now);
        Ok(Budget {
            limit: l.burst.max,
            remaining: l.burst.max.saturating_sub(burst.admitted.len() as u32),
            reset_secs: burst.reset_secs(now, l.burst.per),
        })
    }

    pub fn style(&self) -> RetryStyle {
        self.limits.style
    }

    /// 429s sent, per weight, for `/__sim/requests` and `/__sim/status`.
    pub fn refused_json(&self) -> serde_json::Value {
        let m: serde_json::Map<String, serde_json::Value> = Weight::ALL
            .iter()
            .map(|w| (w.name().to_string(), json!(self.refused[w.index()])))
            .collect();
        serde_json::Value::Object(m)
    }
}

fn set_header(resp: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

/// Adds the `x-ratelimit-*` headers to an admitted response when the style asks for them.
pub(crate) fn decorate(resp: &mut Response, style: RetryStyle, b: Budget) {
    if style == RetryStyle::RateLimitHeaders {
        set_header(resp, "x-ratelimit-limit", b.limit.to_string());
        set_header(resp, "x-ratelimit-remaining", b.remaining.to_string());
        set_header(resp, "x-ratelimit-reset", b.reset_secs.to_string());
    }
}

/// The 429 for a refusal, in the configured style.
pub(crate) fn too_many_requests(r: Refusal, style: RetryStyle) -> Response {
    let n = r.retry_after_secs;
    let message = if r.hourly {
        format!(
            "Hourly rate limit of {} {} requests exceeded; retry after {n} seconds",
            r.limit,
            r.weight.name().to_uppercase()
        )
    } else {
        format!(
            "Rate limit of {} {} requests exceeded; retry after {n} seconds",
            r.limit,
            r.weight.name().to_uppercase()
        )
    };
    let mut body = json!({ "code": "RATE_LIMIT_EXCEEDED", "message": message });
    if style == RetryStyle::Body {
        body["Retry-After"] = json!(format!("{n} seconds"));
    }
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    match style {
        RetryStyle::Header => set_header(&mut resp, "retry-after", n.to_string()),
        RetryStyle::HeaderSeconds => set_header(&mut resp, "retry-after", format!("{n} seconds")),
        RetryStyle::ZeroSeconds => set_header(&mut resp, "retry-after", "0 seconds".into()),
        RetryStyle::RateLimitHeaders => {
            set_header(&mut resp, "x-ratelimit-limit", r.limit.to_string());
            set_header(&mut resp, "x-ratelimit-remaining", "0".into());
            set_header(&mut resp, "x-ratelimit-reset", n.to_string());
        }
        RetryStyle::Body | RetryStyle::None => {}
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_method_and_route() {
        let w = |m: Method, t: &str| Weight::of(&m, t);
        assert_eq!(w(Method::GET, "/api/v1/users"), Some(Weight::Get));
        assert_eq!(
            w(Method::GET, "/api/v1/authenticatedSession"),
            Some(Weight::Get)
        );
        assert_eq!(w(Method::POST, "/api/v1/authenticatedSession"), None);
        assert_eq!(w(Method::DELETE, "/api/v1/authenticatedSession"), None);
        assert_eq!(
            w(Method::POST, "/api/v1/status/activate"),
            Some(Weight::Activate)
        );
        assert_eq!(w(Method::PUT, "/api/v1/users/{id}"), Some(Weight::Write));
        assert_eq!(
            w(Method::POST, "/api/v1/users/bulkDelete"),
            Some(Weight::Write)
        );
        assert_eq!(
            w(Method::DELETE, "/api/v1/users/{id}"),
            Some(Weight::Delete)
        );
        assert_eq!(w(Method::GET, "(unmatched)"), None);
    }

    #[test]
    fn sliding_window_admits_again_after_the_window() {
        let mut l = Limiter::new(ZiaLimits::documented());
        let t0 = Instant::now();
        assert!(l.admit(Weight::Get, t0).is_ok());
        assert!(l.admit(Weight::Get, t0).is_ok());
        let r = l
            .admit(Weight::Get, t0)
            .err()
            .map(|r| (r.hourly, r.retry_after_secs));
        assert_eq!(r, Some((false, 1)));
        assert!(l.admit(Weight::Get, t0 + Duration::from_secs(1)).is_ok());
        assert!(l.admit(Weight::Delete, t0).is_ok());
        let r = l.admit(Weight::Delete, t0 + Duration::from_secs(30));
        assert_eq!(r.err().map(|r| r.retry_after_secs), Some(30));
        assert_eq!(l.refused, [1, 0, 1, 0]);
    }

    #[test]
    fn hourly_window_reports_the_long_wait() {
        let mut l = Limiter::new(ZiaLimits::documented());
        let t0 = Instant::now();
        for i in 0..4 {
            assert!(
                l.admit(Weight::Delete, t0 + Duration::from_secs(60 * i))
                    .is_ok()
            );
        }
        let r = l
            .admit(Weight::Delete, t0 + Duration::from_secs(240))
            .err()
            .map(|r| (r.hourly, r.retry_after_secs));
        assert_eq!(r, Some((true, 3600 - 240)));
    }
}
