//! Clover webhooks.
//!
//! No signature (<https://docs.clover.com/docs/webhooks>): every delivery carries the app's
//! auth code verbatim in `X-Clover-Auth`; it is compared by SHA-256 digest so neither length
//! nor content leaks through timing. Our ingress replaces it with its hex SHA-256 in
//! [`CLOVER_AUTH_DIGEST_HEADER`] so the code never sits in a queue. Setting up a webhook POSTs
//! `{"verificationCode": "…"}` unsigned, once. No delivery id: identity is the body hash.
//!
//! Normalizer: Clover: thin notifications `{appId, merchants: {id: [{objectId: "I:ID", type, ts}]}}`.
//! Only ids travel; every change becomes a fetch request, except item deletions, which
//! are complete as they are.

use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tillbridge_domain::event::{Change, EventData, FetchRequested, ItemDeleted};

use crate::Headers;
use crate::normalize::*;
use crate::precheck::{Handshake, Precheck};
use crate::signature::{
    CLOVER_AUTH_DIGEST_HEADER, Secret, Verified, VerifyError, decode_hex, verified,
};
use crate::vendors::{Vendor, no_delivery_id, parse_json};

/// Clover in the vendor table (`crate::vendors::vendor`).
pub(crate) const VENDOR: Vendor = Vendor {
    verify: |headers, body, secrets, _| verify(headers, body, secrets),
    precheck: |headers, body, _, _| precheck(headers, body),
    delivery_id: no_delivery_id,
    normalize: Some(|ctx, body| normalize(ctx, &parse_json(body)?)),
    #[cfg(feature = "signing")]
    sign: |secret, _, _| Ok(sign(secret)),
};

pub(crate) fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
) -> Result<Verified, VerifyError> {
    if let Some(digest) = headers.get(CLOVER_AUTH_DIGEST_HEADER) {
        let given = decode_hex(CLOVER_AUTH_DIGEST_HEADER, digest)?;
        return secrets
            .iter()
            .position(|s| bool::from(Sha256::digest(s.expose()).as_slice().ct_eq(&given)))
            .map(|i| verified("clover-auth-code", i))
            .ok_or(VerifyError::Mismatch(
                "X-Clover-Auth is not the app's auth code",
            ));
    }
    let Some(code) = headers.get("x-clover-auth").filter(|v| !v.is_empty()) else {
        if verification_code(body).is_some() {
            return Err(VerifyError::Unsigned(
                "Clover verification request: unsigned by design; the receiver answers 200 and stores the code",
            ));
        }
        return Err(VerifyError::MissingHeader("x-clover-auth"));
    };
    // Compare digests so neither the length nor the content leaks through timing.
    let given = Sha256::digest(code.as_bytes());
    secrets
        .iter()
        .position(|s| bool::from(Sha256::digest(s.expose()).ct_eq(&given)))
        .map(|i| verified("clover-auth-code", i))
        .ok_or(VerifyError::Mismatch(
            "X-Clover-Auth is not the app's auth code",
        ))
}

/// Precheck: `X-Clover-Auth` is present, or the body is the one-time verification request.
pub(crate) fn precheck(headers: &Headers, body: &[u8]) -> Result<Precheck, VerifyError> {
    if headers
        .get("x-clover-auth")
        .filter(|v| !v.is_empty())
        .is_none()
    {
        return match verification_code(body) {
            Some(code) => Ok(Precheck::Handshake(Handshake::CloverVerification { code })),
            None => Err(VerifyError::MissingHeader("x-clover-auth")),
        };
    }
    Ok(Precheck::Signed)
}

/// The code of a Clover verification request: a JSON object whose only key is
/// `verificationCode`, a short string.
pub(crate) fn verification_code(body: &[u8]) -> Option<String> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    if map.len() != 1 {
        return None;
    }
    match map.get("verificationCode")? {
        serde_json::Value::String(s) if !s.is_empty() && s.len() <= 200 => Some(s.clone()),
        _ => None,
    }
}

/// `X-Clover-Auth`: the auth code itself (Clover signs nothing).
#[cfg(feature = "signing")]
pub(crate) fn sign(secret: &[u8]) -> Vec<(String, String)> {
    vec![(
        "X-Clover-Auth".into(),
        String::from_utf8_lossy(secret).into_owned(),
    )]
}

// ---- normalizer ----

fn object_type(prefix: &str) -> &str {
    match prefix {
        "I" => "item",
        "IC" => "category",
        "IG" => "modifier_group",
        "IM" => "modifier",
        "O" => "order",
        "P" => "payment",
        "C" => "customer",
        "M" => "merchant",
        "A" => "app",
        "E" => "employee",
        "CA" => "cash_adjustment",
        other => other,
    }
}

pub(crate) fn normalize(
    ctx: &NormalizeContext<'_>,
    json: &Value,
) -> Result<Normalized, NormalizeError> {
    let merchants = json
        .get("merchants")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("no \"merchants\" object"))?;
    let mut events = Vec::new();
    for (merchant_id, updates) in merchants {
        let updates = updates
            .as_array()
            .ok_or_else(|| malformed("merchant updates are not a list"))?;
        for u in updates {
            let object_id = required_id(u, "objectId", "update")?;
            let (prefix, id) = object_id
                .split_once(':')
                .filter(|(p, i)| !p.is_empty() && !i.is_empty())
                .ok_or_else(|| malformed(format!("objectId {object_id:?} is not KEY:ID")))?;
            let change = match text(u, "type").as_deref() {
                Some("CREATE") => Change::Created,
                Some("UPDATE") => Change::Updated,
                Some("DELETE") => Change::Deleted,
                other => return Err(malformed(format!("unknown update type {other:?}"))),
            };
            let at = time(u, "ts").unwrap_or(ctx.received_at);
            // Clover sends no ids: one update is (merchant, object, type, ts).
            let dedupe_key = Some(format!(
                "{merchant_id}/{object_id}/{change:?}/{}",
                at.unix_nanos()
            ));
            let data = if prefix == "I" && change == Change::Deleted {
                EventData::CatalogItemDeleted(ItemDeleted {
                    external_id: id.to_owned(),
                    deleted_at: at,
                })
            } else {
                EventData::FetchRequested(FetchRequested {
                    object_type: object_type(prefix).to_owned(),
                    object_id: Some(id.to_owned()),
                    change,
                    vendor_event: format!("{prefix}:{change:?}").to_ascii_lowercase(),
                })
            };
            events.push(NormalizedEvent {
                data,
                entity_id: id.to_owned(),
                occurred_at: at,
                dedupe_key,
            });
        }
    }
    Ok(Normalized::handled("clover.notification", events))
}
