//! OAuth access tokens that expire, refreshed where the vendor uses it.
//!
//! - Square: OAuth access tokens expire after 30 days; `POST /oauth2/token` (ObtainToken)
//!   with a JSON body `{"client_id", "client_secret", "grant_type": "refresh_token",
//!   "refresh_token"}` (the PKCE flow sends no `client_secret`) answers `{"access_token",
//!   "token_type": "bearer", "expires_at": "<ISO 8601>", "merchant_id", "refresh_token", …}`;
//!   the code flow returns the same refresh token, the PKCE flow a new one
//!   (<https://developer.squareup.com/reference/square/o-auth/obtain-token>,
//!   <https://developer.squareup.com/reference/square/objects/ObtainTokenResponse>). Square
//!   recommends renewing every 7 days or less
//!   (<https://developer.squareup.com/docs/oauth-api/refresh-revoke-limit-scope>), so a
//!   token is renewed once it expires within [`SQUARE_MARGIN`] (23 days). Personal access
//!   tokens never expire: without `client_id` and `refresh_token` nothing is refreshed.
//!   Errors carry Square's body `{"errors": [{"category", "code", "detail"}]}`.
//! - Zettle: the assertion grant `POST https://oauth.zettle.com/token`, form-encoded
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&client_id=…&assertion=<API
//!   key>`, answers `{"access_token", "expires_in": 7200}` (seconds) and no refresh token: a
//!   new token is minted with the same API key. Errors follow RFC 6749 §5.2, `400
//!   {"error": "invalid_grant", "error_description": …}`
//!   (<https://github.com/iZettle/api-documentation/blob/master/authorization.md>). A token is
//!   renewed once it expires within [`ZETTLE_MARGIN`] (5 minutes).
//!
//! Behaviour ([`TokenSource`]): a token known to expire within the margin (or none yet) is
//! renewed before the call; a `401` answer leads to exactly one renewal and one retry of
//! that call (the HTTP layer, [`crate::http::HttpLayer::with_auth`]); a refused renewal is
//! [`ConnectorError::Refused`] naming the token endpoint and the vendor's reason, never a
//! loop. Renewals are single-flight in the process: concurrent calls that find the token
//! stale wait for one renewal and use its token. The new token (and a rotated refresh token)
//! is written back through the SecretStore port ([`CredentialStore`]) so other containers
//! and processes use it; before minting, a token another process stored is adopted instead.
//! Tokens are never logged; errors name the endpoint, never a credential.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tillbridge_domain::{Provider, Secret, TenantId, Timestamp};
use tillbridge_ports::tenants::ApiCredentials as StoredFields;
use tillbridge_ports::{Clock, SecretStore};

use crate::error::{ConnectorError, Result};

/// Square tokens are renewed once they expire within 23 days (30-day tokens renewed after 7).
pub const SQUARE_MARGIN: Duration = Duration::from_secs(23 * 24 * 3600);
/// Zettle tokens (2 hours) are renewed once they expire within 5 minutes.
pub const ZETTLE_MARGIN: Duration = Duration::from_secs(5 * 60);
/// Zettle's OAuth service.
pub const ZETTLE_OAUTH_URL: &str = "https://oauth.zettle.com";
/// The Zettle assertion grant's `grant_type`.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The stored credential field that records which credentials a refreshed set came from
/// (the [`digest`] of them), so that a tenants file loaded again does not replace a newer
/// token with the one it was refreshed from ([`keeps_refreshed`]).
pub const REFRESHED_FROM: &str = "refreshed_from";

/// How a vendor mints a new access token.
#[derive(Clone)]
pub enum Grant {
    /// Square ObtainToken with `grant_type = refresh_token`.
    SquareRefresh {
        /// The application id.
        client_id: String,
        /// The application secret (code flow); `None` for the PKCE flow.
        client_secret: Option<Secret>,
        /// The seller's refresh token (rotated by the PKCE flow).
        refresh_token: Secret,
    },
    /// Zettle's assertion grant with the merchant's API key.
    ZettleAssertion {
        /// The `client_id` of the assertion (or of a tracked application).
        client_id: String,
        /// The API key (a JWT).
        assertion: Secret,
    },
    /// An RFC 6749 form grant at a profile vendor's token endpoint (issue 16): client
    /// credentials (§4.4) or the resource owner password grant (§4.3), form-encoded, answered
    /// `{"access_token", "expires_in"}` (seconds; absent: valid until refused).
    Form {
        /// The profile vendor.
        vendor: Provider,
        /// The client id (sent as `client_id`).
        client_id: String,
        /// The grant's other form fields: `grant_type`, `client_secret`, `scope`, `username`,
        /// `password`.
        fields: Vec<(&'static str, Secret)>,
    },
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SquareRefresh { client_id, .. } => f
                .debug_struct("SquareRefresh")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            Self::ZettleAssertion { client_id, .. } => f
                .debug_struct("ZettleAssertion")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            Self::Form {
                vendor, client_id, ..
            } => f
                .debug_struct("Form")
                .field("vendor", vendor)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

impl Grant {
    fn vendor(&self) -> Provider {
        match self {
            Self::SquareRefresh { .. } => Provider::Square,
            Self::ZettleAssertion { .. } => Provider::Zettle,
            Self::Form { vendor, .. } => *vendor,
        }
    }

    /// What stays the same across renewals: the limiter and breaker key of the client.
    fn identity(&self) -> Vec<u8> {
        let mut id = b"oauth:".to_vec();
        match self {
            Self::SquareRefresh {
                client_id,
                refresh_token,
                ..
            } => {
                id.extend_from_slice(client_id.as_bytes());
                id.push(b':');
                id.extend_from_slice(refresh_token.expose());
            }
            Self::ZettleAssertion {
                client_id,
                assertion,
            } => {
                id.extend_from_slice(client_id.as_bytes());
                id.push(b':');
                id.extend_from_slice(assertion.expose());
            }
            Self::Form {
                client_id, fields, ..
            } => {
                id.extend_from_slice(client_id.as_bytes());
                for (name, value) in fields {
                    id.push(b':');
                    id.extend_from_slice(name.as_bytes());
                    id.push(b'=');
                    id.extend_from_slice(value.expose());
                }
            }
        }
        id
    }
}

/// Where renewed credentials are written back: the tenant's API credentials for `provider`
/// in the SecretStore port (Secrets Manager in the cloud, `STATE/secrets.json` locally).
#[derive(Clone)]
pub struct CredentialStore {
    /// The secret store.
    pub secrets: Arc<dyn SecretStore>,
    /// The tenant.
    pub tenant: TenantId,
    /// The vendor.
    pub provider: Provider,
}

/// A token as minted or stored.
#[derive(Clone)]
struct Minted {
    access: Secret,
    expires_at: Option<Timestamp>,
    refresh_token: Option<Secret>,
}

impl CredentialStore {
    async fn load(&self) -> Result<Option<StoredFields>> {
        Ok(self
            .secrets
            .api_credentials(&self.tenant, self.provider)
            .await?)
    }

    /// The stored credentials with `minted` merged in: `access_token`, `expires_at`, a
    /// rotated `refresh_token`, and [`REFRESHED_FROM`] kept or set to the digest of what was
    /// stored before the first renewal. Other fields are kept as they are.
    async fn save(&self, minted: &Minted) -> Result<()> {
        let stored = self.load().await?.unwrap_or_default();
        let mut fields: std::collections::BTreeMap<String, Secret> = stored
            .names()
            .into_iter()
            .filter_map(|n| Some((n.clone(), stored.get(&n)?.clone())))
            .collect();
        if !fields.contains_key(REFRESHED_FROM) && !stored.is_empty() {
            fields.insert(REFRESHED_FROM.into(), Secret::new(digest(&stored)));
        }
        fields.insert("access_token".into(), minted.access.clone());
        match minted.expires_at {
            Some(t) => fields.insert("expires_at".into(), Secret::new(t.to_rfc3339())),
            None => fields.remove("expires_at"),
        };
        if let Some(r) = &minted.refresh_token {
            fields.insert("refresh_token".into(), r.clone());
        }
        self.secrets
            .put_api_credentials(&self.tenant, self.provider, &StoredFields::new(fields))
            .await?;
        Ok(())
    }
}

/// The digest of a set of credentials (every field but [`REFRESHED_FROM`]): hex SHA-256.
pub fn digest(fields: &StoredFields) -> String {
    let mut hasher = Sha256::new();
    for name in fields.names() {
        if name == REFRESHED_FROM {
            continue;
        }
        if let Some(v) = fields.get(&name) {
            hasher.update((name.len() as u64).to_be_bytes());
            hasher.update(name.as_bytes());
            hasher.update((v.expose().len() as u64).to_be_bytes());
            hasher.update(v.expose());
        }
    }
    hex::encode(hasher.finalize())
}

/// True when `stored` was renewed from exactly `file` (its [`REFRESHED_FROM`] is `file`'s
/// digest): loading `file` again must keep `stored`, whose token is newer. A changed file
/// (a new token or key written by the operator) replaces it.
pub fn keeps_refreshed(stored: &StoredFields, file: &StoredFields) -> bool {
    stored
        .get(REFRESHED_FROM)
        .is_some_and(|d| d.expose() == digest(file).as_bytes())
}

struct Current {
    access: Option<Secret>,
    expires_at: Option<Timestamp>,
    grant: Grant,
}

/// The access token of one client, renewed as the module docs say.
pub struct TokenSource {
    vendor: Provider,
    token_url: String,
    margin: Duration,
    current: Mutex<Current>,
    refreshing: tokio::sync::Mutex<()>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    store: Option<CredentialStore>,
    requests: AtomicU64,
    renewals: AtomicU64,
    identity: Vec<u8>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("vendor", &self.vendor)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// ObtainToken's answer (the fields read).
#[derive(Deserialize)]
struct SquareToken {
    access_token: String,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// The assertion grant's answer.
#[derive(Deserialize)]
struct ZettleToken {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

impl TokenSource {
    /// A token source minting through `grant` at `token_url` (Square: `{base}/oauth2/token`;
    /// Zettle: `https://oauth.zettle.com/token`), starting from `access` (which expires at
    /// `expires_at`, when known; `None`: mint before the first call), renewing `margin`
    /// before expiry, writing renewals to `store` when given. `timeout` bounds each token
    /// request.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when the HTTP client cannot be built.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        token_url: String,
        grant: Grant,
        access: Option<Secret>,
        expires_at: Option<Timestamp>,
        margin: Duration,
        clock: Arc<dyn Clock>,
        store: Option<CredentialStore>,
        timeout: Duration,
    ) -> Result<Self> {
        let vendor = grant.vendor();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("tillbridge-connectors/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::config(vendor, format!("HTTP client: {e}")))?;
        Ok(Self {
            vendor,
            token_url,
            margin,
            identity: grant.identity(),
            current: Mutex::new(Current {
                access: access.filter(|a| !a.expose().is_empty()),
                expires_at,
                grant,
            }),
            refreshing: tokio::sync::Mutex::new(()),
            http,
            clock,
            store,
            requests: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
        })
    }

    /// What identifies the credential across renewals (the client id with its refresh token
    /// or API key): the HTTP layer keys its limiter and breaker by this, not by the token.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// Requests sent to the token endpoint so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Tokens minted or adopted from the store so far.
    pub fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True when a token expiring at `at` must be renewed now.
    fn expiring(&self, at: Option<Timestamp>) -> bool {
        let margin = i64::try_from(self.margin.as_secs()).unwrap_or(i64::MAX);
        at.is_some_and(|t| {
            t.unix_seconds()
                .saturating_sub(self.clock.now().unix_seconds())
                < margin
        })
    }

    /// The token to send now: the current one, or a renewed one when the current is known
    /// to expire within the margin or there is none yet.
    ///
    /// # Errors
    /// As [`TokenSource::refresh`].
    pub async fn bearer(&self) -> Result<Secret> {
        let stale = {
            let cur = self.lock();
            match &cur.access {
                Some(a) if !self.expiring(cur.expires_at) => return Ok(a.clone()),
                other => other.clone(),
            }
        };
        self.refresh(stale.as_ref()).await
    }

    /// Renews the token after `stale` was refused or found expiring. Single-flight: when
    /// another call renewed it meanwhile, its token is returned without a new request; a
    /// fresher token another process stored is adopted the same way.
    ///
    /// # Errors
    /// [`ConnectorError::Refused`] when the token endpoint refuses the grant (a revoked or
    /// wrong refresh token or API key: permanent), [`ConnectorError::Exhausted`] when it
    /// answers 429/5xx or not at all, [`ConnectorError::Malformed`] for an answer not of
    /// the documented shape, [`ConnectorError::Store`] when reading the store fails.
    pub async fn refresh(&self, stale: Option<&Secret>) -> Result<Secret> {
        let _flight = self.refreshing.lock().await;
        {
            let cur = self.lock();
            if let Some(a) = &cur.access
                && Some(a) != stale
                && !self.expiring(cur.expires_at)
            {
                return Ok(a.clone());
            }
        }
        if let Some(adopted) = self.adopt_stored(stale).await? {
            return Ok(adopted);
        }
        let grant = self.lock().grant.clone();
        let minted = self.mint(&grant).await?;
        self.install(&minted);
        self.renewals.fetch_add(1, Ordering::Relaxed);
        if let Some(store) = &self.store
            && let Err(e) = store.save(&minted).await
        {
            // The token works in this process; the next renewal tries to store again.
            tracing::error!(vendor = self.vendor.as_str(), error = %e, "renewed token not stored");
        }
        tracing::info!(vendor = self.vendor.as_str(), "access token renewed");
        Ok(minted.access)
    }

    fn install(&self, minted: &Minted) {
        let mut cur = self.lock();
        cur.access = Some(minted.access.clone());
        cur.expires_at = minted.expires_at;
        if let (Some(new), Grant::SquareRefresh { refresh_token, .. }) =
            (&minted.refresh_token, &mut cur.grant)
        {
            refresh_token.clone_from(new);
        }
    }

    /// A token another process stored that is neither `stale` nor expiring: installed and
    /// returned. A refresh token rotated there is picked up either way.
    async fn adopt_stored(&self, stale: Option<&Secret>) -> Result<Option<Secret>> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let Some(stored) = store.load().await? else {
            return Ok(None);
        };
        let text = |name: &str| {
            stored
                .get(name)
                .map(|v| String::from_utf8_lossy(v.expose()).into_owned())
        };
        let refresh_token = stored.get("refresh_token").cloned();
        if let (Some(new), Grant::SquareRefresh { refresh_token, .. }) =
            (&refresh_token, &mut self.lock().grant)
        {
            refresh_token.clone_from(new);
        }
        let Some(access) = stored.get("access_token").cloned() else {
            return Ok(None);
        };
        let expires_at = text("expires_at").and_then(|t| Timestamp::parse_lenient(&t).ok());
        if Some(&access) == stale || self.expiring(expires_at) || access.expose().is_empty() {
            return Ok(None);
        }
        if self.lock().access.as_ref() == Some(&access) {
            return Ok(None);
        }
        self.install(&Minted {
            access: access.clone(),
            expires_at,
            refresh_token: None,
        });
        self.renewals.fetch_add(1, Ordering::Relaxed);
        Ok(Some(access))
    }

    /// One request to the token endpoint.
    async fn mint(&self, grant: &Grant) -> Result<Minted> {
        let vendor = self.vendor;
        let text = |s: &Secret| String::from_utf8_lossy(s.expose()).into_owned();
        let builder = self.http.post(&self.token_url);
        let builder = match grant {
            Grant::SquareRefresh {
                client_id,
                client_secret,
                refresh_token,
            } => {
                let mut body = serde_json::json!({
                    "client_id": client_id,
                    "grant_type": "refresh_token",
                    "refresh_token": text(refresh_token),
                });
                if let Some(s) = client_secret {
                    body["client_secret"] = serde_json::Value::String(text(s));
                }
                builder
                    .header("square-version", crate::square::SQUARE_VERSION)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string())
            }
            Grant::ZettleAssertion {
                client_id,
                assertion,
            } => builder.form(&[
                ("grant_type", JWT_BEARER.to_owned()),
                ("client_id", client_id.clone()),
                ("assertion", text(assertion)),
            ]),
            Grant::Form {
                client_id, fields, ..
            } => {
                let mut form = vec![("client_id", client_id.clone())];
                form.extend(fields.iter().map(|(k, v)| (*k, text(v))));
                builder.form(&form)
            }
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let exhausted = |status: Option<u16>, reason: String| ConnectorError::Exhausted {
            vendor,
            attempts: 1,
            last_status: status,
            last_reason: format!("token endpoint: {reason}"),
        };
        let answer = builder
            .send()
            .await
            .map_err(|e| exhausted(None, transport(&e)))?;
        let status = answer.status().as_u16();
        let body = answer
            .bytes()
            .await
            .map_err(|e| exhausted(Some(status), transport(&e)))?;
        let reason = || {
            token_error_reason(vendor, &body).unwrap_or_else(|| {
                reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("")
                    .to_owned()
            })
        };
        match status {
            200..=299 => {}
            429 | 500..=599 => return Err(exhausted(Some(status), reason())),
            _ => {
                return Err(ConnectorError::Refused {
                    vendor,
                    status,
                    vendor_reason: format!("access token renewal refused: {}", reason()),
                });
            }
        }
        match grant {
            Grant::SquareRefresh { .. } => {
                let t: SquareToken = crate::api::decode(vendor, &body)?;
                let expires_at = t
                    .expires_at
                    .as_deref()
                    .map(|e| crate::api::vendor_time(vendor, "expires_at", e))
                    .transpose()?;
                Ok(Minted {
                    access: Secret::new(t.access_token),
                    expires_at,
                    refresh_token: t.refresh_token.map(Secret::new),
                })
            }
            Grant::ZettleAssertion { .. } | Grant::Form { .. } => {
                let t: ZettleToken = crate::api::decode(vendor, &body)?;
                Ok(Minted {
                    access: Secret::new(t.access_token),
                    expires_at: t.expires_in.map(|s| self.clock.now().plus_seconds(s)),
                    refresh_token: None,
                })
            }
        }
    }
}

fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "transport error".into()
    }
}

/// The reason in a token endpoint's error body: Square's `errors[0]` (`code: detail`), or
/// RFC 6749's `error: error_description`.
fn token_error_reason(vendor: Provider, body: &[u8]) -> Option<String> {
    if vendor == Provider::Square
        && let Some(r) = crate::square::wire::reason(body)
    {
        return Some(r);
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?.as_str()?;
    Some(match v.get("error_description").and_then(|d| d.as_str()) {
        Some(d) => format!("{error}: {d}"),
        None => error.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> StoredFields {
        StoredFields::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn a_file_loaded_again_keeps_the_token_renewed_from_it_but_a_changed_file_wins() {
        let file = fields(&[("access_token", "old"), ("refresh_token", "rt")]);
        let renewed = fields(&[
            ("access_token", "new"),
            ("refresh_token", "rt"),
            (REFRESHED_FROM, &digest(&file)),
        ]);
        assert!(keeps_refreshed(&renewed, &file));
        let edited = fields(&[("access_token", "pasted"), ("refresh_token", "rt")]);
        assert!(!keeps_refreshed(&renewed, &edited));
        assert!(
            !keeps_refreshed(&file, &file),
            "never renewed: the file wins"
        );
    }

    #[test]
    fn the_digest_ignores_its_own_marker_and_separates_fields() {
        let a = fields(&[("ab", "c")]);
        let b = fields(&[("a", "bc")]);
        assert_ne!(digest(&a), digest(&b));
        let marked = fields(&[("ab", "c"), (REFRESHED_FROM, "x")]);
        assert_eq!(digest(&a), digest(&marked));
    }

    #[test]
    fn grants_never_print_their_secrets() {
        let grant = Grant::SquareRefresh {
            client_id: "app".into(),
            client_secret: Some(Secret::new("sq0csp-SECRET")),
            refresh_token: Secret::new("rt-SECRET"),
        };
        let printed = format!("{grant:?}");
        assert!(!printed.contains("SECRET"), "{printed}");
    }
}
