//! WooCommerce webhooks.
//!
//! Signature (woocommerce/woocommerce `includes/class-wc-webhook.php`, `generate_signature()`;
//! woocommerce-rest-api-docs `_webhooks.md`): header `X-WC-Webhook-Signature`, base64 of
//! HMAC-SHA256 over the raw body, keyed with the stored secret after
//! `wp_specialchars_decode`. Creating a webhook POSTs `webhook_id=<id>` unsigned
//! (`deliver_ping()`). Delivery identity: `X-WC-Webhook-Delivery-ID`.
//!
//! Normalizer: WooCommerce: product.* and order.* (bodies are the REST v3 resources; the topic is in
//! the X-WC-Webhook-Topic header).

#[cfg(feature = "signing")]
use base64::Engine as _;
use serde_json::Value;
use tillbridge_domain::CatalogItem;
use tillbridge_domain::event::{EventData, ItemDeleted, ItemUpserted, OrderLine, OrderUpserted};

use crate::Headers;
use crate::normalize::*;
use crate::precheck::{Handshake, Precheck};
#[cfg(feature = "signing")]
use crate::sign::hmac_sha256;
#[cfg(feature = "signing")]
use crate::signature::B64;
use crate::signature::{Secret, Verified, VerifyError, decode_b64, hmac_sha256_any, verified};
use crate::vendors::{Vendor, parse_json};
use tillbridge_domain::Timestamp;

/// WooCommerce in the vendor table (`crate::vendors::vendor`).
pub(crate) const VENDOR: Vendor = Vendor {
    verify: |headers, body, secrets, _| verify(headers, body, secrets),
    precheck: |headers, body, _, _| precheck(headers, body),
    delivery_id: |headers, _| delivery_id(headers),
    normalize: Some(|ctx, body| normalize(ctx, &parse_json(body)?)),
    #[cfg(feature = "signing")]
    sign: |secret, body, _| Ok(sign(secret, body)),
};

pub(crate) fn verify(
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
) -> Result<Verified, VerifyError> {
    let Some(value) = headers
        .get("x-wc-webhook-signature")
        .filter(|v| !v.is_empty())
    else {
        if ping_id(body).is_some() {
            return Err(VerifyError::Unsigned(
                "WooCommerce creation ping: unsigned by design; the receiver answers 200 and ignores it",
            ));
        }
        return Err(VerifyError::MissingHeader("x-wc-webhook-signature"));
    };
    let sig = decode_b64("x-wc-webhook-signature", value)?;
    // WooCommerce runs the stored secret through wp_specialchars_decode before use; try the
    // decoded form first, then the secret as given.
    for (i, s) in secrets.iter().enumerate() {
        let decoded = wp_specialchars_decode(s.expose());
        let keys = if decoded == s.expose() {
            vec![decoded]
        } else {
            vec![decoded, s.expose().to_vec()]
        };
        if hmac_sha256_any(keys.into_iter(), &[body], std::slice::from_ref(&sig)).is_some() {
            return Ok(verified("woocommerce-hmac-sha256", i));
        }
    }
    Err(VerifyError::Mismatch("HMAC-SHA256 of the body"))
}

/// WordPress's `wp_specialchars_decode($text, ENT_QUOTES)` (wp-includes/formatting.php),
/// which WooCommerce applies to the stored secret before it signs: `&lt;` `&gt;` `&amp;`
/// `&quot;`, the decimal forms of `< > & " '` with any number of leading zeros (`&#060;`,
/// `&#38;`, `&#0039;`) and the hex forms of `& " '` (`&#x26;`, case-insensitive `x`). One pass,
/// like PHP's `strtr`: `&amp;lt;` becomes `&lt;`, not `<`.
fn wp_specialchars_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match (s[i] == b'&').then(|| entity_at(&s[i..])).flatten() {
            Some((ch, len)) => {
                out.push(ch);
                i += len;
            }
            None => {
                out.push(s[i]);
                i += 1;
            }
        }
    }
    out
}

/// The character and length of the entity `s` starts with, if WordPress decodes it.
fn entity_at(s: &[u8]) -> Option<(u8, usize)> {
    const NAMED: [(&[u8], u8); 4] = [
        (b"&lt;", b'<'),
        (b"&gt;", b'>'),
        (b"&amp;", b'&'),
        (b"&quot;", b'"'),
    ];
    if let Some((ent, ch)) = NAMED.iter().find(|(ent, _)| s.starts_with(ent)) {
        return Some((*ch, ent.len()));
    }
    let rest = s.strip_prefix(b"&#")?;
    let (hex, digits_at) = match rest.first() {
        Some(b'x' | b'X') => (true, 3),
        _ => (false, 2),
    };
    let digits = &s[digits_at..];
    let n = digits
        .iter()
        .take_while(|b| {
            if hex {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        })
        .count();
    if n == 0 || digits.get(n) != Some(&b';') {
        return None;
    }
    let text = std::str::from_utf8(&digits[..n]).ok()?;
    let value = u32::from_str_radix(text, if hex { 16 } else { 10 }).ok()?;
    let decoded = if hex {
        [b'&', b'"', b'\''].as_slice()
    } else {
        b"<>&\"'".as_slice()
    };
    let ch = u8::try_from(value).ok().filter(|c| decoded.contains(c))?;
    Some((ch, digits_at + n + 1))
}

/// Precheck: `X-WC-Webhook-Signature` is base64, or the body is the creation ping.
pub(crate) fn precheck(headers: &Headers, body: &[u8]) -> Result<Precheck, VerifyError> {
    match headers
        .get("x-wc-webhook-signature")
        .filter(|v| !v.is_empty())
    {
        Some(v) => {
            decode_b64("x-wc-webhook-signature", v)?;
        }
        None => {
            return match ping_id(body) {
                Some(webhook_id) => Ok(Precheck::Handshake(Handshake::WooCommercePing {
                    webhook_id,
                })),
                None => Err(VerifyError::MissingHeader("x-wc-webhook-signature")),
            };
        }
    }
    Ok(Precheck::Signed)
}

/// The webhook id of a creation ping: a form body `webhook_id=<digits>` and nothing else.
fn ping_id(body: &[u8]) -> Option<String> {
    match crate::form::parse(body)?.as_slice() {
        [(k, v)]
            if k == "webhook_id"
                && !v.is_empty()
                && v.len() <= 20
                && v.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(v.clone())
        }
        _ => None,
    }
}

/// Delivery identity: `X-WC-Webhook-Delivery-ID`.
pub(crate) fn delivery_id(headers: &Headers) -> Option<String> {
    headers.get("x-wc-webhook-delivery-id").map(str::to_owned)
}

/// `X-WC-Webhook-Signature`: base64 HMAC-SHA256 of the body, keyed with the secret as given.
#[cfg(feature = "signing")]
pub(crate) fn sign(secret: &[u8], body: &[u8]) -> Vec<(String, String)> {
    vec![(
        "X-WC-Webhook-Signature".into(),
        B64.encode(hmac_sha256(secret, &[body])),
    )]
}

// ---- normalizer ----

pub(crate) fn normalize(
    ctx: &NormalizeContext<'_>,
    json: &Value,
) -> Result<Normalized, NormalizeError> {
    let topic = ctx
        .headers
        .get("x-wc-webhook-topic")
        .unwrap_or("")
        .to_ascii_lowercase();
    match topic.as_str() {
        "product.created" | "product.updated" | "product.restored" => product(ctx, json, &topic),
        "product.deleted" => {
            let id = required_id(json, "id", "product")?;
            let at = gmt(json, "date_modified_gmt").unwrap_or(ctx.received_at);
            Ok(Normalized::handled(
                topic,
                vec![NormalizedEvent {
                    data: EventData::CatalogItemDeleted(ItemDeleted {
                        external_id: id.clone(),
                        deleted_at: at,
                    }),
                    entity_id: id,
                    occurred_at: at,
                    dedupe_key: None,
                }],
            ))
        }
        t if t.starts_with("order.") => order(ctx, json, t),
        "" => Err(malformed("no X-WC-Webhook-Topic header")),
        other => Ok(Normalized::unhandled(other)),
    }
}

/// WooCommerce's `*_gmt` fields are UTC without an offset.
fn gmt(v: &Value, key: &str) -> Option<Timestamp> {
    time(v, key)
}

fn product(
    ctx: &NormalizeContext<'_>,
    p: &Value,
    topic: &str,
) -> Result<Normalized, NormalizeError> {
    let id = required_id(p, "id", "product")?;
    let parent = text(p, "parent_id").filter(|v| v != "0");
    let price = match major_amount(p, "price", ctx.currency)? {
        Some(v) => Some(v),
        None => major_amount(p, "regular_price", ctx.currency)?,
    };
    let item = CatalogItem {
        external_id: id.clone(),
        sku: text(p, "sku"),
        name: text(p, "name"),
        description: text(p, "description").or_else(|| text(p, "short_description")),
        category: array(p, "categories").first().and_then(|c| text(c, "name")),
        price_minor: price,
        currency: Some(ctx.currency),
        quantity_on_hand: decimal(p, "stock_quantity"),
        is_active: text(p, "status").map(|s| s == "publish"),
        image_url: array(p, "images").first().and_then(|i| text(i, "src")),
        parent_id: parent,
        weight: decimal(p, "weight"),
        created_at: gmt(p, "date_created_gmt"),
        updated_at: gmt(p, "date_modified_gmt"),
        ..CatalogItem::default()
    };
    let at = item.updated_at.unwrap_or(ctx.received_at);
    // WooCommerce does not retry and its delivery ids change per delivery; the resource
    // version (id, modified time) identifies the event.
    let dedupe_key = item
        .updated_at
        .map(|t| format!("{topic}/{id}/{}", t.unix_nanos()));
    Ok(Normalized::handled(
        topic,
        vec![NormalizedEvent {
            data: EventData::CatalogItemUpserted(Box::new(ItemUpserted {
                item,
                inventory_item_id: None,
                parent_variants: None,
                product_variants: None,
            })),
            entity_id: id,
            occurred_at: at,
            dedupe_key,
        }],
    ))
}

fn order(ctx: &NormalizeContext<'_>, o: &Value, topic: &str) -> Result<Normalized, NormalizeError> {
    let id = required_id(o, "id", "order")?;
    let currency = currency_field(o, "currency")?.unwrap_or(ctx.currency);
    let line_items = array(o, "line_items")
        .iter()
        .map(|l| {
            let variation = text(l, "variation_id").filter(|v| v != "0");
            Ok(OrderLine {
                external_id: variation.or_else(|| text(l, "product_id")),
                sku: text(l, "sku"),
                quantity: decimal(l, "quantity"),
                unit_price_minor: major_amount(l, "price", currency)?,
            })
        })
        .collect::<Result<Vec<_>, NormalizeError>>()?;
    let updated_at = gmt(o, "date_modified_gmt").unwrap_or(ctx.received_at);
    let status = if topic == "order.deleted" {
        Some("deleted".to_owned())
    } else {
        text(o, "status")
    };
    Ok(Normalized::handled(
        topic,
        vec![NormalizedEvent {
            data: EventData::OrderUpserted(OrderUpserted {
                order_id: id.clone(),
                status,
                currency: Some(currency),
                total_minor: major_amount(o, "total", currency)?,
                line_items,
                version: None,
                created_at: gmt(o, "date_created_gmt"),
                updated_at,
            }),
            entity_id: id,
            occurred_at: updated_at,
            dedupe_key: None,
        }],
    ))
}

#[cfg(test)]
mod tests {
    use super::wp_specialchars_decode;

    fn decode(s: &str) -> String {
        String::from_utf8_lossy(&wp_specialchars_decode(s.as_bytes())).into_owned()
    }

    /// The stored forms of one secret in ../shared/cases/web-06 (WordPress escapes what an
    /// admin types), each decoding to the key WooCommerce signs with.
    #[test]
    fn stored_secrets_decode_as_wordpress_decodes_them() {
        let key = "K7>pd&Rw\"x;Q<m'9;";
        assert_eq!(decode(key), key);
        assert_eq!(decode("K7&gt;pd&amp;Rw&quot;x;Q&lt;m&#039;9;"), key);
        assert_eq!(decode("K7&#062;pd&#038;Rw&#034;x;Q&#060;m&#39;9;"), key);
        assert_eq!(decode("ab&#038;cd"), "ab&cd");
        assert_eq!(decode("a&#x26;b&#X22;c&#x0027;d&#0000039;"), "a&b\"c'd'");
    }

    #[test]
    fn one_pass_and_only_the_entities_wordpress_decodes() {
        assert_eq!(decode("&amp;lt;"), "&lt;");
        assert_eq!(decode("&#65;&#x41;&eacute;&#38"), "&#65;&#x41;&eacute;&#38");
        assert_eq!(decode("&#x3c;&LT;&#;&#x;"), "&#x3c;&LT;&#;&#x;");
    }
}
