//! Standard Webhooks (standardwebhooks.com, v1.0.0; also Svix).
//!
//! Signature (standard-webhooks/standard-webhooks `spec/standard-webhooks.md`): headers
//! `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64> …`
//! (space separated), base64 HMAC-SHA256 over `id.timestamp.body`. The secret is `whsec_` +
//! base64 of the key. Svix sends the same under `svix-*`. The reference libraries check the
//! timestamp first, 5 minutes either way, then the signature. Delivery identity: the message id.

use base64::Engine as _;

use crate::Headers;
use crate::precheck::Precheck;
#[cfg(feature = "signing")]
use crate::sign::{SignOptions, hmac_sha256};
use crate::signature::{
    B64, Secret, Verified, VerifyError, VerifyOptions, hmac_sha256_any, require, verified,
};
use crate::vendors::Vendor;

/// Standard Webhooks in the vendor table (`crate::vendors::vendor`).
/// No normalizer: tillbridge maps none of its events (they are acknowledged as unhandled).
pub(crate) const VENDOR: Vendor = Vendor {
    verify,
    precheck: |headers, _, now, tolerance| precheck_headers(headers, true, now, tolerance),
    delivery_id: |headers, _| delivery_id(headers),
    normalize: None,
    #[cfg(feature = "signing")]
    sign,
};

pub(crate) fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
    opts: &VerifyOptions<'_>,
) -> Result<Verified, VerifyError> {
    let keys = secrets.iter().map(key).collect::<Result<Vec<_>, _>>()?;
    verify_with_keys(headers, body, &keys, opts, &["webhook", "svix"])
        .map(|i| verified("standard-webhooks-v1", i))
}

/// The HMAC key of a Standard Webhooks secret: `whsec_` + base64 → the decoded bytes.
pub(crate) fn key(secret: &Secret) -> Result<Vec<u8>, VerifyError> {
    let text =
        std::str::from_utf8(secret.expose()).map_err(|_| VerifyError::BadSecret("not UTF-8"))?;
    let b64 = text.strip_prefix("whsec_").unwrap_or(text);
    B64.decode(b64.trim()).map_err(|_| {
        VerifyError::BadSecret("a Standard Webhooks secret is whsec_ followed by base64")
    })
}

/// `webhook-signature: v1,<b64> [v1,<b64> …]` (space separated; `v1a` entries ignored).
pub(crate) fn parse_signatures(
    header: &'static str,
    value: &str,
) -> Result<Vec<Vec<u8>>, VerifyError> {
    let mut sigs = Vec::new();
    let mut saw_any = false;
    for entry in value.split_ascii_whitespace() {
        saw_any = true;
        if let Some(b64) = entry.strip_prefix("v1,")
            && let Ok(bytes) = B64.decode(b64)
        {
            sigs.push(bytes);
        }
    }
    if !saw_any {
        return Err(VerifyError::MalformedHeader {
            header,
            reason: "empty".into(),
        });
    }
    if sigs.is_empty() {
        return Err(VerifyError::MalformedHeader {
            header,
            reason: "no v1,<base64> signature".into(),
        });
    }
    Ok(sigs)
}

pub(crate) fn verify_with_keys(
    headers: &Headers,
    body: &[u8],
    keys: &[Vec<u8>],
    opts: &VerifyOptions<'_>,
    prefixes: &[&str],
) -> Result<usize, VerifyError> {
    // Pick the header family present (webhook-* or svix-*).
    let prefix = prefixes
        .iter()
        .find(|p| headers.get(&format!("{p}-signature")).is_some())
        .copied()
        .unwrap_or(prefixes[0]);
    let (id_h, ts_h, sig_h): (&'static str, &'static str, &'static str) = if prefix == "svix" {
        ("svix-id", "svix-timestamp", "svix-signature")
    } else {
        ("webhook-id", "webhook-timestamp", "webhook-signature")
    };
    let id = require(headers, id_h)?;
    let ts_text = require(headers, ts_h)?;
    let sig_text = require(headers, sig_h)?;
    let ts: i64 = ts_text.parse().map_err(|_| VerifyError::MalformedHeader {
        header: ts_h,
        reason: "not an integer Unix timestamp".into(),
    })?;
    // As in the reference libraries: timestamp first (both directions), then signature.
    if opts.tolerance_secs > 0
        && (opts.now_unix.saturating_sub(ts) > opts.tolerance_secs
            || ts.saturating_sub(opts.now_unix) > opts.tolerance_secs)
    {
        return Err(VerifyError::OutsideTolerance {
            timestamp: ts,
            now: opts.now_unix,
            tolerance: opts.tolerance_secs,
        });
    }
    let candidates = parse_signatures(sig_h, sig_text)?;
    hmac_sha256_any(
        keys.iter().cloned(),
        &[id.as_bytes(), b".", ts_text.as_bytes(), b".", body],
        &candidates,
    )
    .ok_or(VerifyError::Mismatch(
        "no v1 signature matches HMAC-SHA256 of id.timestamp.body",
    ))
}

/// Precheck: id, timestamp (inside the window, both ways) and a well-formed signature list.
/// `svix` allows the `svix-*` header family when its signature header is present.
pub(crate) fn precheck_headers(
    headers: &Headers,
    svix: bool,
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<Precheck, VerifyError> {
    let svix = svix && headers.get("svix-signature").is_some();
    let (id_h, ts_h, sig_h) = if svix {
        ("svix-id", "svix-timestamp", "svix-signature")
    } else {
        ("webhook-id", "webhook-timestamp", "webhook-signature")
    };
    require(headers, id_h)?;
    let ts: i64 = require(headers, ts_h)?
        .parse()
        .map_err(|_| VerifyError::MalformedHeader {
            header: ts_h,
            reason: "not an integer Unix timestamp".into(),
        })?;
    if tolerance_secs > 0
        && (now_unix.saturating_sub(ts) > tolerance_secs
            || ts.saturating_sub(now_unix) > tolerance_secs)
    {
        return Err(VerifyError::OutsideTolerance {
            timestamp: ts,
            now: now_unix,
            tolerance: tolerance_secs,
        });
    }
    parse_signatures(sig_h, require(headers, sig_h)?)?;
    Ok(Precheck::Signed)
}

/// Delivery identity: `webhook-id` (or `svix-id`).
pub(crate) fn delivery_id(headers: &Headers) -> Option<String> {
    headers
        .get_any(&["webhook-id", "svix-id"])
        .map(str::to_owned)
}

/// `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64>` with the raw key.
#[cfg(feature = "signing")]
pub(crate) fn sign_with_key(
    key: &[u8],
    body: &[u8],
    opts: &SignOptions<'_>,
) -> Vec<(String, String)> {
    let id = opts.message_id(body);
    let ts = opts.timestamp.to_string();
    let sig = hmac_sha256(key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    vec![
        ("webhook-id".into(), id),
        ("webhook-timestamp".into(), ts),
        (
            "webhook-signature".into(),
            format!("v1,{}", B64.encode(sig)),
        ),
    ]
}

/// Signs with the key a `whsec_<base64>` secret stands for.
#[cfg(feature = "signing")]
pub(crate) fn sign(
    secret: &[u8],
    body: &[u8],
    opts: &SignOptions<'_>,
) -> Result<Vec<(String, String)>, VerifyError> {
    Ok(sign_with_key(&key(&Secret::new(secret))?, body, opts))
}
