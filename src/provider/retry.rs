//! Retry arithmetic every HTTP adapter shares: what a `Retry-After` means, how long to back off,
//! and which requests are safe to repeat.

use std::time::{Duration, SystemTime};

use reqwest::Method;

/// Exponential backoff from 500 ms, capped at 10 s, with ±25 % jitter.
pub fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << attempt.min(5)).min(10_000);
    jitter(Duration::from_millis(base))
}

/// ±25 % so that many clients backing off together do not retry in lock-step. Only for waits
/// of our own choosing: a wait the tenant asked for goes through [`honour_retry_after`].
fn jitter(d: Duration) -> Duration {
    use rand::Rng;
    let f: f64 = rand::rng().random_range(0.75..1.25);
    d.mul_f64(f)
}

/// The wait before repeating a request the tenant answered with `Retry-After`: what it asked
/// for (at least `floor`), plus up to 25 % so that clients told the same time do not return in
/// lock-step. Never less than asked: coming back early earns another 429.
pub fn honour_retry_after(asked: Duration, floor: Duration) -> Duration {
    use rand::Rng;
    let f: f64 = rand::rng().random_range(1.0..1.25);
    asked.max(floor).mul_f64(f)
}

/// Writes are never repeated after an unknown outcome: a second POST could create a twin.
pub fn is_write(method: &Method) -> bool {
    method != Method::GET && method != Method::HEAD
}

/// Parses the Retry-After forms ZIA uses: `5`, `5s`, `5 seconds`, `0 seconds`, and an HTTP-date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        // RFC 9110 also allows an HTTP-date.
        let at = httpdate::parse_http_date(v).ok()?;
        return Some(
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        );
    }
    let rest = v[digits.len()..].trim().to_ascii_lowercase();
    if !(rest.is_empty() || rest == "s" || rest == "sec" || rest == "second" || rest == "seconds") {
        return None;
    }
    digits.parse().ok().map(Duration::from_secs)
}

/// reqwest errors include the URL; keep messages short and free of query strings.
pub fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg.replace(url.as_str(), "");
    }
    msg.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn retry_after_never_panics(s in proptest::prelude::any::<String>()) {
            let _ = parse_retry_after(&s);
        }

        #[test]
        fn a_wait_the_tenant_asked_for_is_never_shortened(asked_ms in 0u64..3_600_000, floor_ms in 0u64..2_000) {
            let asked = Duration::from_millis(asked_ms);
            let floor = Duration::from_millis(floor_ms);
            let wait = honour_retry_after(asked, floor);
            proptest::prop_assert!(wait >= asked && wait >= floor, "{wait:?} < {asked:?} or {floor:?}");
            proptest::prop_assert!(wait <= asked.max(floor).mul_f64(1.25), "{wait:?} too long for {asked:?}");
        }

        #[test]
        fn retry_after_reads_every_seconds_spelling(n in 0u64..10_000_000, unit in proptest::sample::select(vec!["", "s", " s", " seconds", "second", " sec"])) {
            proptest::prop_assert_eq!(parse_retry_after(&format!(" {n}{unit} ")), Some(Duration::from_secs(n)));
        }
    }

    #[test]
    fn retry_after_one_second_waits_at_least_one_second() {
        for _ in 0..1_000 {
            let wait = honour_retry_after(
                parse_retry_after("1").expect("seconds"),
                Duration::from_millis(500),
            );
            assert!(wait >= Duration::from_secs(1), "{wait:?}");
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("13s"), Some(Duration::from_secs(13)));
        assert_eq!(parse_retry_after("0 seconds"), Some(Duration::from_secs(0)));
        assert_eq!(parse_retry_after("soon"), None);
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let d = parse_retry_after(&later).expect("HTTP-date");
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("5 minutes"), None);
    }
}
