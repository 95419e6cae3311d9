//! A profile vendor's share of the webhook path before normalizing: the secret-free precheck
//! (ingress), the signature check with the tenant's secrets, and the delivery identity.
//! Same rules as the built-in schemes: raw body bytes, case-insensitive headers, constant-time
//! comparison of decoded bytes, every secret tried (current, then previous).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tillbridge_domain::{Secret, Timestamp};
use tillbridge_webhooks::Headers;

use crate::Profile;
use crate::model::{
    BodyFormat, Encoding, HmacAlgorithm, HmacScheme, Locator, Part, SecretDecode, Signature,
    TimestampFormat, TokenScheme,
};
use crate::pointer;

const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Set by the ingress in place of a token scheme's header: the hex SHA-256 of the token, so
/// the token itself (the secret) is never stored in a queue or a quarantine record.
pub const PROFILE_TOKEN_DIGEST_HEADER: &str = "x-tillbridge-token-sha256";

/// Why a profile vendor's delivery was not accepted as authentic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The request: a missing or malformed signature, a timestamp outside the tolerance, a
    /// signature no secret produces. Quarantined, never retried.
    #[error("{0}")]
    Request(String),
    /// Our configuration: no secret, an unusable secret, a profile that documents no way to
    /// authenticate its webhooks, or no webhooks at all; the operator must act.
    #[error("{0}")]
    Configuration(String),
}

fn req(s: impl Into<String>) -> CheckError {
    CheckError::Request(s.into())
}

fn config(s: impl Into<String>) -> CheckError {
    CheckError::Configuration(s.into())
}

/// The webhook section or a configuration error.
fn webhooks(profile: &Profile) -> Result<&crate::model::Webhooks, CheckError> {
    profile
        .doc()
        .webhooks
        .as_ref()
        .ok_or_else(|| config(format!("profile {} describes no webhooks", profile.name())))
}

/// The body decoded as the profile says (JSON, or JSON in a form field).
///
/// # Errors
/// A description when it is not.
pub(crate) fn decode_body(profile: &Profile, body: &[u8]) -> Result<Value, String> {
    let format = profile
        .doc()
        .webhooks
        .as_ref()
        .map(|w| w.body.clone())
        .unwrap_or_default();
    match format {
        BodyFormat::Json => serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}")),
        BodyFormat::FormField(field) => {
            let pairs =
                tillbridge_webhooks::form::parse(body).ok_or_else(|| "not form data".to_owned())?;
            let (_, json) = pairs
                .iter()
                .find(|(k, _)| *k == field)
                .ok_or_else(|| format!("form data has no {field:?} field"))?;
            serde_json::from_str(json).map_err(|e| format!("form field {field:?} is not JSON: {e}"))
        }
    }
}

/// A locator's value in this delivery.
pub(crate) fn locate(headers: &Headers, body: Option<&Value>, locator: &Locator) -> Option<String> {
    match locator {
        Locator::Header(h) => headers.get(h).filter(|v| !v.is_empty()).map(str::to_owned),
        Locator::Pointer(p) => body.and_then(|b| pointer::text(b, p)),
        Locator::Constant(c) => Some(c.clone()),
    }
}

/// The cheap, secret-free checks the ingress runs: the signature (or token) is present and
/// well formed, the signed timestamp is within `tolerance_secs` of `now_unix` (Unix seconds).
///
/// # Errors
/// [`CheckError::Request`] for an unsigned or garbled request or a stale timestamp;
/// [`CheckError::Configuration`] for a profile whose webhooks cannot be authenticated.
pub fn precheck(
    profile: &Profile,
    headers: &Headers,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), CheckError> {
    match &webhooks(profile)?.signature {
        Signature::Unsigned { reason } => Err(config(format!(
            "{} webhooks are not accepted: the vendor documents no way to authenticate them ({reason})",
            profile.name()
        ))),
        Signature::Token(t) => token_value(headers, t).map(|_| ()),
        Signature::Hmac(h) => {
            let json = decode_body(profile, body).ok();
            candidates(h, headers, json.as_ref())?;
            if let Some(t) = &h.timestamp {
                check_time(headers, t, now_unix, tolerance_secs)?;
            }
            Ok(())
        }
    }
}

/// The token a token scheme's header carries, without its prefix.
fn token_value<'h>(headers: &'h Headers, t: &TokenScheme) -> Result<&'h str, CheckError> {
    let v = headers
        .get(&t.header)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| req(format!("missing {} header", t.header.to_ascii_lowercase())))?;
    let v = match &t.prefix {
        Some(p) => strip_prefix_ci(v, p).ok_or_else(|| {
            req(format!(
                "malformed {} header: does not start with {p:?}",
                t.header.to_ascii_lowercase()
            ))
        })?,
        None => v,
    };
    if v.trim().is_empty() {
        return Err(req(format!(
            "malformed {} header: empty token",
            t.header.to_ascii_lowercase()
        )));
    }
    Ok(v.trim())
}

fn strip_prefix_ci<'a>(v: &'a str, prefix: &str) -> Option<&'a str> {
    let head = v.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| v.get(prefix.len()..))
        .flatten()
}

/// For the ingress: the header to forward in place of a token scheme's header (which carries
/// the secret): (`x-tillbridge-token-sha256`, hex SHA-256 of the token). None for other
/// schemes or when the header is absent.
pub fn forwarded_token(profile: &Profile, headers: &Headers) -> Option<(String, String)> {
    let Signature::Token(t) = &profile.doc().webhooks.as_ref()?.signature else {
        return None;
    };
    let token = token_value(headers, t).ok()?;
    Some((
        PROFILE_TOKEN_DIGEST_HEADER.to_owned(),
        hex::encode(Sha256::digest(token.as_bytes())),
    ))
}

/// The signature candidates of a delivery, decoded.
fn candidates(
    h: &HmacScheme,
    headers: &Headers,
    json: Option<&Value>,
) -> Result<Vec<Vec<u8>>, CheckError> {
    let name = match &h.signature {
        Locator::Header(n) => n.to_ascii_lowercase(),
        Locator::Pointer(p) => format!("body {p}"),
        Locator::Constant(_) => "constant".to_owned(),
    };
    let text = locate(headers, json, &h.signature)
        .ok_or_else(|| req(format!("missing signature ({name})")))?;
    let decode = |s: &str| -> Option<Vec<u8>> {
        let s = s.trim();
        let bytes = match h.encoding {
            Encoding::Hex => hex::decode(s).ok()?,
            Encoding::Base64 => B64.decode(s).ok()?,
        };
        (!bytes.is_empty()).then_some(bytes)
    };
    let out: Vec<Vec<u8>> = match &h.separator {
        Some(sep) => text
            .split(sep.as_str())
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(|e| match &h.prefix {
                Some(p) => e.strip_prefix(p.as_str()),
                None => Some(e),
            })
            .filter_map(decode)
            .collect(),
        None => {
            let t = text.trim();
            let t = match &h.prefix {
                Some(p) => t.strip_prefix(p.as_str()).ok_or_else(|| {
                    req(format!(
                        "malformed signature ({name}): does not start with {p:?}"
                    ))
                })?,
                None => t,
            };
            decode(t).into_iter().collect()
        }
    };
    if out.is_empty() {
        return Err(req(format!(
            "malformed signature ({name}): no {} signature",
            match h.encoding {
                Encoding::Hex => "hex",
                Encoding::Base64 => "base64",
            }
        )));
    }
    Ok(out)
}

/// Checks the timestamp header against now; returns its text (signed as received).
fn check_time<'h>(
    headers: &'h Headers,
    t: &crate::model::TimestampSpec,
    now_unix: i64,
    tolerance: i64,
) -> Result<&'h str, CheckError> {
    let h = t.header.to_ascii_lowercase();
    let text = headers
        .get(&t.header)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| req(format!("missing timestamp header {h}")))?;
    let ts = match t.format {
        TimestampFormat::UnixSeconds => text.parse::<i64>().ok(),
        TimestampFormat::UnixMillis => text.parse::<i64>().ok().map(|ms| ms.div_euclid(1000)),
        TimestampFormat::Rfc3339 => Timestamp::parse_lenient(text)
            .ok()
            .map(|t| t.unix_seconds()),
    }
    .ok_or_else(|| req(format!("malformed timestamp header {h}: {:?}", clip(text))))?;
    if tolerance > 0
        && (now_unix.saturating_sub(ts) > tolerance || ts.saturating_sub(now_unix) > tolerance)
    {
        return Err(req(format!(
            "timestamp {ts} is outside the tolerance of {tolerance} s (now {now_unix})"
        )));
    }
    Ok(text)
}

fn clip(s: &str) -> String {
    s.chars().take(32).collect()
}

/// Verifies one delivery against the tenant's secrets (current first). `url` is the
/// tenant's notification URL (for schemes that sign it), `now_unix` the time of receipt and
/// `tolerance_secs` the accepted clock difference. Returns the index of the secret that
/// matched (0 current, 1 previous).
///
/// # Errors
/// [`CheckError::Request`] for a missing, malformed or non-matching signature or a stale
/// timestamp; [`CheckError::Configuration`] when `secrets` is empty or unusable, the scheme
/// signs the URL and none is configured, or the profile's webhooks cannot be authenticated.
pub fn verify(
    profile: &Profile,
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
    url: Option<&str>,
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<usize, CheckError> {
    if secrets.is_empty() {
        return Err(config("no secret is configured"));
    }
    match &webhooks(profile)?.signature {
        Signature::Unsigned { reason } => Err(config(format!(
            "{} webhooks cannot be authenticated ({reason})",
            profile.name()
        ))),
        Signature::Token(_) => {
            let digest = headers
                .get(PROFILE_TOKEN_DIGEST_HEADER)
                .and_then(|d| hex::decode(d).ok())
                .ok_or_else(|| req("missing token"))?;
            secrets
                .iter()
                .position(|s| {
                    let text = String::from_utf8_lossy(s.expose());
                    let mine = Sha256::digest(text.trim().as_bytes());
                    bool::from(mine.as_slice().ct_eq(&digest))
                })
                .ok_or_else(|| req("token does not match"))
        }
        Signature::Hmac(h) => {
            let json = decode_body(profile, body).ok();
            let candidates = candidates(h, headers, json.as_ref())?;
            let ts = match &h.timestamp {
                Some(t) => Some(check_time(headers, t, now_unix, tolerance_secs)?),
                None => None,
            };
            let mut message = Vec::with_capacity(body.len() + 64);
            for part in &h.signed {
                match part {
                    Part::Body => message.extend_from_slice(body),
                    Part::Url => message.extend_from_slice(
                        url.ok_or_else(|| {
                            config("the notification URL is required for this signature")
                        })?
                        .as_bytes(),
                    ),
                    Part::Timestamp => message.extend_from_slice(ts.unwrap_or_default().as_bytes()),
                    Part::Header(name) => message.extend_from_slice(
                        headers
                            .get(name)
                            .ok_or_else(|| {
                                req(format!(
                                    "missing signed header {}",
                                    name.to_ascii_lowercase()
                                ))
                            })?
                            .as_bytes(),
                    ),
                    Part::Pointer(p) => {
                        let v = json
                            .as_ref()
                            .and_then(|j| j.pointer(p))
                            .ok_or_else(|| req(format!("body has no signed field {p}")))?;
                        match v {
                            Value::String(s) => message.extend_from_slice(s.as_bytes()),
                            other => message.extend_from_slice(other.to_string().as_bytes()),
                        }
                    }
                    Part::Literal(l) => message.extend_from_slice(l.as_bytes()),
                }
            }
            for (i, s) in secrets.iter().enumerate() {
                let key = key_of(h, s)?;
                if candidates
                    .iter()
                    .any(|c| mac_matches(h.algorithm, &key, &message, c))
                {
                    return Ok(i);
                }
            }
            Err(req(format!(
                "signature does not match (HMAC-{} of {})",
                match h.algorithm {
                    HmacAlgorithm::Sha1 => "SHA1",
                    HmacAlgorithm::Sha256 => "SHA256",
                    HmacAlgorithm::Sha512 => "SHA512",
                },
                describe(&h.signed)
            )))
        }
    }
}

fn describe(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Body => "body".to_owned(),
            Part::Url => "url".to_owned(),
            Part::Timestamp => "timestamp".to_owned(),
            Part::Header(h) => format!("header {}", h.to_ascii_lowercase()),
            Part::Pointer(p) => format!("body {p}"),
            Part::Literal(l) => format!("{l:?}"),
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn key_of(h: &HmacScheme, s: &Secret) -> Result<Vec<u8>, CheckError> {
    let text = std::str::from_utf8(s.expose())
        .map_err(|_| config("secret is unusable: not UTF-8"))?
        .trim();
    let text = match &h.secret.strip_prefix {
        Some(p) => text.strip_prefix(p.as_str()).unwrap_or(text),
        None => text,
    };
    match h.secret.decode {
        SecretDecode::Utf8 => Ok(text.as_bytes().to_vec()),
        SecretDecode::Base64 => B64
            .decode(text)
            .map_err(|_| config("secret is unusable: not base64")),
        SecretDecode::Hex => {
            hex::decode(text).map_err(|_| config("secret is unusable: not hexadecimal"))
        }
    }
}

fn mac_matches(alg: HmacAlgorithm, key: &[u8], message: &[u8], candidate: &[u8]) -> bool {
    match alg {
        HmacAlgorithm::Sha1 => Hmac::<sha1::Sha1>::new_from_slice(key)
            .map(|m| m.chain_update(message).verify_slice(candidate).is_ok())
            .unwrap_or(false),
        HmacAlgorithm::Sha256 => Hmac::<Sha256>::new_from_slice(key)
            .map(|m| m.chain_update(message).verify_slice(candidate).is_ok())
            .unwrap_or(false),
        HmacAlgorithm::Sha512 => Hmac::<sha2::Sha512>::new_from_slice(key)
            .map(|m| m.chain_update(message).verify_slice(candidate).is_ok())
            .unwrap_or(false),
    }
}

/// The HMAC a vendor following this profile would send, encoded with the scheme's encoding
/// and prefix (tests, `tillbridge profile check --sign`, the README's example).
pub fn sign_hmac(
    profile: &Profile,
    secret: &[u8],
    headers: &Headers,
    body: &[u8],
    url: Option<&str>,
) -> Option<String> {
    let Signature::Hmac(h) = &profile.doc().webhooks.as_ref()?.signature else {
        return None;
    };
    let json = decode_body(profile, body).ok();
    let key = key_of(h, &Secret::new(secret)).ok()?;
    let mut message = Vec::new();
    for part in &h.signed {
        match part {
            Part::Body => message.extend_from_slice(body),
            Part::Url => message.extend_from_slice(url?.as_bytes()),
            Part::Timestamp => {
                message.extend_from_slice(headers.get(&h.timestamp.as_ref()?.header)?.as_bytes())
            }
            Part::Header(n) => message.extend_from_slice(headers.get(n)?.as_bytes()),
            Part::Pointer(p) => match json.as_ref()?.pointer(p)? {
                Value::String(s) => message.extend_from_slice(s.as_bytes()),
                other => message.extend_from_slice(other.to_string().as_bytes()),
            },
            Part::Literal(l) => message.extend_from_slice(l.as_bytes()),
        }
    }
    let mac = match h.algorithm {
        HmacAlgorithm::Sha1 => Hmac::<sha1::Sha1>::new_from_slice(&key)
            .ok()?
            .chain_update(&message)
            .finalize()
            .into_bytes()
            .to_vec(),
        HmacAlgorithm::Sha256 => Hmac::<Sha256>::new_from_slice(&key)
            .ok()?
            .chain_update(&message)
            .finalize()
            .into_bytes()
            .to_vec(),
        HmacAlgorithm::Sha512 => Hmac::<sha2::Sha512>::new_from_slice(&key)
            .ok()?
            .chain_update(&message)
            .finalize()
            .into_bytes()
            .to_vec(),
    };
    let encoded = match h.encoding {
        Encoding::Hex => hex::encode(mac),
        Encoding::Base64 => B64.encode(mac),
    };
    Some(format!("{}{encoded}", h.prefix.as_deref().unwrap_or("")))
}

/// The vendor's identity of a delivery (idempotency key): `id:<vendor delivery id>` where the
/// profile locates one, else `sha256:<hex of the body>`.
pub fn delivery_key(profile: &Profile, headers: &Headers, body: &[u8]) -> String {
    let id = profile
        .doc()
        .webhooks
        .as_ref()
        .and_then(|w| w.delivery_id.as_ref())
        .and_then(|l| {
            let json = decode_body(profile, body).ok();
            locate(headers, json.as_ref(), l)
        });
    match id.filter(|v| !v.is_empty() && v.len() <= 200) {
        Some(id) => format!("id:{id}"),
        None => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    }
}
