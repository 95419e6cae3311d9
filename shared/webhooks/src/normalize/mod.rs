//! Vendor payloads → canonical events.
//!
//! Each vendor's normalizer (in `crate::vendors`) reads the payload as loosely typed JSON (vendors add fields, send
//! numbers as strings and vice versa) and builds strictly typed canonical events. Money is
//! converted exactly or the event is refused; unknown event types are reported as unhandled,
//! never as errors.

use rust_decimal::Decimal;
use serde_json::Value;
use thiserror::Error;
use tillbridge_domain::event::{EventData, SCHEMA_VERSION, derive_event_id};
use tillbridge_domain::money::parse_decimal;
use tillbridge_domain::{
    CorrelationId, Currency, DomainError, Envelope, Provider, TenantId, Timestamp,
};

use crate::Headers;
use crate::vendors;

/// What a normalizer needs besides the payload.
#[derive(Debug, Clone, Copy)]
pub struct NormalizeContext<'a> {
    /// The tenant's currency: amounts without their own currency are in it.
    pub currency: Currency,
    /// The delivery's headers (some vendors carry the event type or ids there, e.g.
    /// Shopify's `x-shopify-topic`).
    pub headers: &'a Headers,
    /// When tillbridge accepted the delivery; the fallback when the vendor gives no time.
    pub received_at: Timestamp,
}

/// One canonical event before it is wrapped in an envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedEvent {
    /// The canonical event (item upserted, stock changed, order placed, …), amounts in
    /// minor units of their currency.
    pub data: EventData,
    /// The vendor's id of the entity the event is about (item, variant, order), as text;
    /// events of one entity are processed in order.
    pub entity_id: String,
    /// When the change happened at the vendor, or `received_at` when the payload has no
    /// time.
    pub occurred_at: Timestamp,
    /// A vendor identity of this event when it has its own (e.g. one update in a Clover
    /// batch); otherwise the event id derives from the delivery and position.
    pub dedupe_key: Option<String>,
}

/// The outcome of normalizing one delivery: zero or more canonical events.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// The vendor's name for what happened (`products/update`, `inventory.count.updated`).
    pub vendor_event: String,
    /// The canonical events, in payload order (empty for unhandled types, and possibly for
    /// handled ones that carry nothing tillbridge keeps).
    pub events: Vec<NormalizedEvent>,
    /// True when the event type is not one tillbridge maps; it is acknowledged and recorded.
    pub unhandled: bool,
}

impl Normalized {
    pub(crate) fn handled(vendor_event: impl Into<String>, events: Vec<NormalizedEvent>) -> Self {
        Self {
            vendor_event: vendor_event.into(),
            events,
            unhandled: false,
        }
    }

    pub(crate) fn unhandled(vendor_event: impl Into<String>) -> Self {
        Self {
            vendor_event: vendor_event.into(),
            events: Vec::new(),
            unhandled: true,
        }
    }

    /// Wraps the events in envelopes. Event ids are deterministic, so normalizing a
    /// redelivery yields the same ids.
    pub fn into_envelopes(
        self,
        tenant_id: &TenantId,
        provider: Provider,
        delivery_key: &str,
        received_at: Timestamp,
        correlation_id: &CorrelationId,
    ) -> Vec<Envelope> {
        self.events
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let event_id = match &e.dedupe_key {
                    Some(k) => derive_event_id(&format!("{tenant_id}/{provider}/{k}"), 0),
                    None => derive_event_id(&format!("{tenant_id}/{provider}/{delivery_key}"), i),
                };
                Envelope {
                    event_id,
                    body: e.data,
                    schema_version: SCHEMA_VERSION,
                    tenant_id: tenant_id.clone(),
                    provider: Some(provider),
                    entity_id: e.entity_id,
                    occurred_at: e.occurred_at,
                    received_at,
                    correlation_id: correlation_id.clone(),
                    delivery_key: Some(delivery_key.to_owned()),
                }
            })
            .collect()
    }
}

/// Why a verified payload could not be turned into events. Permanent: the same bytes fail
/// the same way, so a redelivery does not help (tillbridge-sync quarantines the delivery).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NormalizeError {
    /// The payload is not JSON (or form data, for Lightspeed), or lacks the structure the
    /// vendor documents for this event type; the text says what is missing.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// One value could not be converted exactly (an amount with more decimals than its
    /// currency has, an unknown currency); money is never rounded to fit.
    #[error("{field}: {source}")]
    Value {
        /// The payload field, as the vendor names it (`price`, `currency`).
        field: &'static str,
        /// The domain's reason.
        #[source]
        source: DomainError,
    },
}

pub(crate) fn malformed(reason: impl Into<String>) -> NormalizeError {
    NormalizeError::Malformed(reason.into())
}

/// Normalizes one verified payload (raw body bytes, exactly as received). Unknown event
/// types are not errors: they come back with [`Normalized::unhandled`] set.
///
/// # Errors
///
/// [`NormalizeError::Malformed`] when the body is not the vendor's payload shape,
/// [`NormalizeError::Value`] when a field's value cannot be converted exactly.
pub fn normalize(
    provider: Provider,
    ctx: &NormalizeContext<'_>,
    body: &[u8],
) -> Result<Normalized, NormalizeError> {
    match vendors::vendor(provider).normalize {
        Some(normalize) => normalize(ctx, body),
        // No normalizer: every event of the vendor is acknowledged as unhandled.
        None => {
            let json = vendors::parse_json(body)?;
            let kind = json
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            Ok(Normalized::unhandled(kind))
        }
    }
}

// ---- loose JSON readers shared by the vendor modules ----

/// A non-empty string field; numbers are accepted and rendered as text (ids often are).
pub(crate) fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An id field that must be present.
pub(crate) fn required_id(v: &Value, key: &str, what: &str) -> Result<String, NormalizeError> {
    text(v, key).ok_or_else(|| malformed(format!("{what} has no \"{key}\"")))
}

pub(crate) fn boolean(v: &Value, key: &str) -> Option<bool> {
    v.get(key)?.as_bool()
}

/// A decimal from a JSON number (by its shortest text, never its binary value) or string.
pub(crate) fn decimal(v: &Value, key: &str) -> Option<Decimal> {
    match v.get(key)? {
        Value::Number(n) => parse_decimal(&n.to_string()),
        Value::String(s) => parse_decimal(s.trim()),
        _ => None,
    }
}

/// A major-unit amount ("29.99" or 29.99) converted exactly to minor units.
pub(crate) fn major_amount(
    v: &Value,
    key: &'static str,
    currency: Currency,
) -> Result<Option<i64>, NormalizeError> {
    let text = match v.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(malformed(format!("\"{key}\" is not an amount"))),
    };
    currency
        .to_minor(&text)
        .map(Some)
        .map_err(|source| NormalizeError::Value { field: key, source })
}

/// An amount already in minor units (integer).
pub(crate) fn minor_amount(v: &Value, key: &'static str) -> Result<Option<i64>, NormalizeError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| malformed(format!("\"{key}\" is not an integer amount"))),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| malformed(format!("\"{key}\" is not an integer amount"))),
        Some(_) => Err(malformed(format!("\"{key}\" is not an amount"))),
    }
}

pub(crate) fn time(v: &Value, key: &str) -> Option<Timestamp> {
    match v.get(key)? {
        Value::String(s) => Timestamp::parse_lenient(s).ok(),
        Value::Number(n) => n.as_i64().and_then(Timestamp::from_epoch_guess),
        _ => None,
    }
}

pub(crate) fn currency_field(v: &Value, key: &str) -> Result<Option<Currency>, NormalizeError> {
    match text(v, key) {
        None => Ok(None),
        Some(code) => Currency::parse(&code.to_ascii_uppercase())
            .map(Some)
            .map_err(|source| NormalizeError::Value {
                field: "currency",
                source,
            }),
    }
}

pub(crate) fn array<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests;
