//! Signed outbound webhooks per the Standard Webhooks specification, and their retry
//! schedule.
//!
//! Each delivery carries `webhook-id` (stable across retries, so receivers dedupe),
//! `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`:
//! `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`, keyed with the bytes the
//! endpoint's `whsec_<base64>` secret stands for. During a secret rotation both the new
//! and the old secret sign, space separated, so receivers accept either.
//!
//! Retries follow [`retry_delay`]: exponential from 5 s by a factor of 4, capped at 6 h,
//! with "equal jitter" (a delay between half and all of the step) so endpoints that failed
//! together do not all come back at once. The jitter is derived from the message id and
//! attempt, so the schedule is reproducible (a replay or a test computes the same times)
//! while still spread across messages. After [`MAX_ATTEMPTS`] attempts (between about 10 and 20 h
//! after the first) the message is given up and reported.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Attempts in all, the first included.
pub const MAX_ATTEMPTS: u32 = 10;
/// The first retry's step, seconds.
pub const BASE_DELAY_SECS: u64 = 5;
/// Each step is this many times the previous.
pub const FACTOR: u64 = 4;
/// No step is longer than this, seconds (6 h).
pub const MAX_DELAY_SECS: u64 = 6 * 60 * 60;

/// Why a message could not be signed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SignError {
    /// The secret is not `whsec_` followed by base64.
    #[error("a Standard Webhooks secret is whsec_ followed by base64")]
    BadSecret,
    /// The message id would break the signed content or the header (`.`, whitespace).
    #[error("a webhook id must be non-empty and contain no '.', ',' or whitespace")]
    BadId,
}

/// The three headers of one signed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`.
    pub signature: String,
}

impl SignedHeaders {
    /// As (name, value) pairs for an HTTP client.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            ("webhook-id", &self.id),
            ("webhook-timestamp", &self.timestamp),
            ("webhook-signature", &self.signature),
        ]
    }
}

fn key(secret: &str) -> Result<Vec<u8>, SignError> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    match B64.decode(b64) {
        Ok(k) if !k.is_empty() => Ok(k),
        _ => Err(SignError::BadSecret),
    }
}

/// Signs `body` for delivery `id` at `timestamp_unix` with each secret (current first,
/// then the previous one during a rotation).
pub fn sign(
    secrets: &[&str],
    id: &str,
    timestamp_unix: i64,
    body: &[u8],
) -> Result<SignedHeaders, SignError> {
    if id.is_empty()
        || id
            .chars()
            .any(|c| c == '.' || c == ',' || c.is_whitespace())
    {
        return Err(SignError::BadId);
    }
    if secrets.is_empty() {
        return Err(SignError::BadSecret);
    }
    let timestamp = timestamp_unix.to_string();
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&key(secret)?).map_err(|_| SignError::BadSecret)?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        signatures.push(format!("v1,{}", B64.encode(mac.finalize().into_bytes())));
    }
    Ok(SignedHeaders {
        id: id.to_owned(),
        timestamp,
        signature: signatures.join(" "),
    })
}

/// The un-jittered step before attempt `attempt` (2 = the first retry): 5 s, 20 s, 80 s,
/// 320 s, 1280 s, 5120 s, 20480 s, then 6 h.
pub fn retry_step_secs(attempt: u32) -> u64 {
    let n = attempt.saturating_sub(2);
    FACTOR
        .checked_pow(n)
        .and_then(|f| f.checked_mul(BASE_DELAY_SECS))
        .map_or(MAX_DELAY_SECS, |d| d.min(MAX_DELAY_SECS))
}

/// The delay before attempt `attempt` (1-based; attempt 1 goes immediately) of message
/// `id`, seconds; None when there is no such attempt (past [`MAX_ATTEMPTS`]).
///
/// Equal jitter: `step/2 + u·step/2` with `u` in [0, 1) from SHA-256 of `id` and
/// `attempt`.
pub fn retry_delay(id: &str, attempt: u32) -> Option<u64> {
    if attempt == 0 || attempt > MAX_ATTEMPTS {
        return None;
    }
    if attempt == 1 {
        return Some(0);
    }
    let step = retry_step_secs(attempt);
    let digest = Sha256::new()
        .chain_update(id.as_bytes())
        .chain_update(attempt.to_be_bytes())
        .finalize();
    let mut word = [0u8; 8];
    word.copy_from_slice(&digest[..8]);
    let u = u64::from_be_bytes(word);
    let half = step / 2;
    // u / 2^64 * (step - half), in integers.
    let jitter = ((u128::from(u) * u128::from(step - half)) >> 64) as u64;
    Some(half + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tillbridge_domain::Provider;
    use tillbridge_webhooks::{Headers, Secret, VerifyOptions, verify};

    // The specification's published example (standard-webhooks libraries' test_sign_function).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specification_test_vector() {
        let h = sign(&[SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY).expect("signs");
        assert_eq!(h.signature, SPEC_SIGNATURE);
        assert_eq!(h.timestamp, "1614265330");
        assert_eq!(h.id, SPEC_ID);
    }

    #[test]
    fn our_inbound_verifier_accepts_it_including_during_rotation() {
        let new = "whsec_c2VjcmV0LW5ldy1rZXktMzItYnl0ZXMtbG9uZyEhIQ==";
        let body = br#"{"type":"migration.applied"}"#;
        let h = sign(&[new, SPEC_SECRET], "evt_1", 1_780_000_000, body).expect("signs");
        let headers = h
            .pairs()
            .into_iter()
            .fold(Headers::new(), |acc, (k, v)| acc.with(k, v));
        let opts = VerifyOptions {
            url: None,
            now_unix: 1_780_000_010,
            tolerance_secs: 300,
        };
        for secret in [new, SPEC_SECRET] {
            assert!(
                verify(
                    Provider::StandardWebhooks,
                    &headers,
                    body,
                    &[Secret::new(secret)],
                    &opts
                )
                .is_ok()
            );
        }
        assert!(
            verify(
                Provider::StandardWebhooks,
                &headers,
                b"{}",
                &[Secret::new(new)],
                &opts
            )
            .is_err()
        );
    }

    #[test]
    fn rejects_bad_secrets_and_ids() {
        assert_eq!(sign(&["whsec_%%%"], "m", 1, b""), Err(SignError::BadSecret));
        assert_eq!(sign(&[], "m", 1, b""), Err(SignError::BadSecret));
        assert_eq!(sign(&[SPEC_SECRET], "a.b", 1, b""), Err(SignError::BadId));
        assert_eq!(sign(&[SPEC_SECRET], "", 1, b""), Err(SignError::BadId));
    }

    #[test]
    fn retry_schedule_is_exponential_jittered_and_bounded() {
        assert_eq!(retry_delay("m", 0), None);
        assert_eq!(retry_delay("m", 1), Some(0));
        assert_eq!(retry_delay("m", MAX_ATTEMPTS + 1), None);
        let steps: Vec<u64> = (2..=MAX_ATTEMPTS).map(retry_step_secs).collect();
        assert_eq!(steps, [5, 20, 80, 320, 1280, 5120, 20480, 21600, 21600]);
        assert_eq!(retry_step_secs(40), MAX_DELAY_SECS);
        for id in ["a", "b", "evt_123"] {
            for attempt in 2..=MAX_ATTEMPTS {
                let d = retry_delay(id, attempt).expect("in range");
                let step = retry_step_secs(attempt);
                assert!(d >= step / 2 && d <= step, "{id} {attempt}: {d}");
                // Reproducible.
                assert_eq!(retry_delay(id, attempt), Some(d));
            }
        }
        // Spread across messages.
        let spread: std::collections::HashSet<_> =
            (0..50).map(|i| retry_delay(&format!("m{i}"), 7)).collect();
        assert!(spread.len() > 25);
        let total: u64 = (1..=MAX_ATTEMPTS).filter_map(|a| retry_delay("m", a)).sum();
        assert!((70_505 / 2..=70_505).contains(&total), "{total}");
    }
}
