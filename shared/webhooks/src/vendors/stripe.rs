//! Stripe webhooks (the reference scheme).
//!
//! Signature (<https://docs.stripe.com/webhooks#verify-manually>, stripe-python
//! `tests/test_webhook.py`): header `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`, hex
//! HMAC-SHA256 keyed with the endpoint secret (`whsec_…`, used as is) over `t` + `.` + raw body.
//! As in the SDKs, only a too-old `t` is rejected. Delivery identity: the event's `id`.

use crate::Headers;
use crate::precheck::Precheck;
#[cfg(feature = "signing")]
use crate::sign::{SignOptions, hmac_sha256};
use crate::signature::{
    Secret, Verified, VerifyError, VerifyOptions, hmac_sha256_any, require, verified,
};
use crate::vendors::Vendor;

/// Stripe in the vendor table (`crate::vendors::vendor`).
/// No normalizer: tillbridge maps none of its events (they are acknowledged as unhandled).
pub(crate) const VENDOR: Vendor = Vendor {
    verify,
    precheck: |headers, _, now, tolerance| precheck(headers, now, tolerance),
    delivery_id: |_, body| delivery_id(body),
    normalize: None,
    #[cfg(feature = "signing")]
    sign: |secret, body, opts| Ok(sign(secret, body, opts)),
};

/// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…][,v0=…]`
pub(crate) fn parse_header(value: &str) -> Result<(i64, Vec<Vec<u8>>), VerifyError> {
    const H: &str = "stripe-signature";
    let mut t = None;
    let mut v1 = Vec::new();
    for part in value.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k.trim() {
            "t" => {
                t = Some(
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| VerifyError::MalformedHeader {
                            header: H,
                            reason: "t is not an integer".into(),
                        })?,
                )
            }
            // A v1 that is not hex cannot match; skip it like the SDKs do.
            "v1" => v1.extend(hex::decode(v.trim()).ok()),
            _ => {}
        }
    }
    let t = t.ok_or(VerifyError::MalformedHeader {
        header: H,
        reason: "no t= timestamp".into(),
    })?;
    if v1.is_empty() {
        return Err(VerifyError::MalformedHeader {
            header: H,
            reason: "no v1 signature".into(),
        });
    }
    Ok((t, v1))
}

pub(crate) fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
    opts: &VerifyOptions<'_>,
) -> Result<Verified, VerifyError> {
    let (t, candidates) = parse_header(require(headers, "stripe-signature")?)?;
    let t_text = t.to_string();
    // As in Stripe's SDKs: signature first, then the age (only too old is rejected).
    let i = hmac_sha256_any(
        secrets.iter().map(|s| s.expose().to_vec()),
        &[t_text.as_bytes(), b".", body],
        &candidates,
    )
    .ok_or(VerifyError::Mismatch(
        "no v1 signature matches HMAC-SHA256 of t.body",
    ))?;
    if opts.tolerance_secs > 0 && t < opts.now_unix.saturating_sub(opts.tolerance_secs) {
        return Err(VerifyError::OutsideTolerance {
            timestamp: t,
            now: opts.now_unix,
            tolerance: opts.tolerance_secs,
        });
    }
    Ok(verified("stripe-v1", i))
}

/// Precheck: `Stripe-Signature` is well formed and `t` is not too old.
pub(crate) fn precheck(
    headers: &Headers,
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<Precheck, VerifyError> {
    let (t, _) = parse_header(require(headers, "stripe-signature")?)?;
    if tolerance_secs > 0 && t < now_unix.saturating_sub(tolerance_secs) {
        return Err(VerifyError::OutsideTolerance {
            timestamp: t,
            now: now_unix,
            tolerance: tolerance_secs,
        });
    }
    Ok(Precheck::Signed)
}

/// Delivery identity: the event's `id`.
pub(crate) fn delivery_id(body: &[u8]) -> Option<String> {
    crate::identity::json_str(body, "id")
}

/// `Stripe-Signature: t=<timestamp>,v1=<hex HMAC-SHA256 of t.body>`.
#[cfg(feature = "signing")]
pub(crate) fn sign(secret: &[u8], body: &[u8], opts: &SignOptions<'_>) -> Vec<(String, String)> {
    let t = opts.timestamp.to_string();
    let sig = hex::encode(hmac_sha256(secret, &[t.as_bytes(), b".", body]));
    vec![("Stripe-Signature".into(), format!("t={t},v1={sig}"))]
}
