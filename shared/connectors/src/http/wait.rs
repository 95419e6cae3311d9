//! How long to wait before a retry: full-jitter exponential backoff, and the vendor's own
//! `Retry-After` (seconds or HTTP-date, RFC 9110 §10.2.3) which always wins when longer.
//!
//! Full jitter (<https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>):
//! the n-th wait is uniform in `[0, min(cap, base · 2ⁿ)]`. The exponential schedule comes
//! from `backon`; the jitter is applied here so it is full, not additive.

use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// When to retry and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// HTTP requests per call at most, the first included (the seed's schedule: 10).
    pub max_attempts: u32,
    /// The first backoff ceiling (1 s in production).
    pub base_delay: Duration,
    /// The largest backoff ceiling (15 min in production). `Retry-After` is NOT capped by
    /// it: a vendor that asks for longer is waited for, up to `max_retry_after`.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this ends the call as exhausted at once instead of
    /// sleeping (a Lambda cannot sleep for a day); 1 h by default.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            max_retry_after: Duration::from_secs(60 * 60),
        }
    }
}

impl RetryPolicy {
    /// The backoff ceilings of the retries of one call (attempts 2..=max), without jitter.
    pub(crate) fn schedule(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .build()
    }
}

/// Full jitter: uniform in `[0, ceiling]`.
pub(crate) fn full_jitter(ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand::u64(0..=nanos))
}

/// The wait a `Retry-After` header asks for: delay-seconds, or an HTTP-date measured
/// against `now` (a date in the past means "now").
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).expect("ascii"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(90)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&past).expect("ascii"));
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn schedule_doubles_to_the_cap_and_jitter_stays_below_the_ceiling() {
        let policy = RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let ceilings: Vec<u64> = policy.schedule().map(|d| d.as_secs()).collect();
        assert_eq!(ceilings, vec![1, 2, 4, 8, 10]);
        for _ in 0..1000 {
            assert!(full_jitter(Duration::from_secs(4)) <= Duration::from_secs(4));
        }
    }
}
