//! Building a client from a tenant's `api` entry (shared/design/CLI.md "Vendor APIs"):
//! `"square": {…, "api": {"base_url": "https://connect.squareup.com", "access_token": "…"}}`.
//! `base_url` defaults to the vendor's production URL where it has one (Square, Clover,
//! Zettle, Toast, BigCommerce with `store_hash`); WooCommerce and Shopify are per-shop URLs.
//!
//! Credential names per vendor:
//! - Square: `access_token` (a personal access token, never renewed); for an OAuth token
//!   also `client_id`, `refresh_token`, `client_secret` (code flow; absent for PKCE) and
//!   `expires_at` (RFC 3339, as ObtainToken answered): then the token is renewed through
//!   ObtainToken before it expires or after a `401` ([`crate::oauth`]).
//! - WooCommerce: `base_url`, `consumer_key`, `consumer_secret`.
//! - BigCommerce: `access_token` and `store_hash` (or `base_url`).
//! - Shopify: `base_url` (the shop), `access_token`.
//! - Clover: `merchant_id` (the `mId`), `access_token` (an OAuth or merchant API token);
//!   `base_url` defaults to `https://api.clover.com` (Europe: `https://api.eu.clover.com`).
//! - Toast: `restaurant_guid` (sent as `Toast-Restaurant-External-ID`), `access_token` (from
//!   Toast's authentication API; not refreshed here); `base_url` defaults to
//!   `https://ws-api.toasttab.com`.
//! - Zettle: `client_id` and `api_key` (the assertion grant's inputs): a token is minted and
//!   renewed from them ([`crate::oauth`]), `access_token` and `expires_at`, when given, are
//!   used until then; or only `access_token` (OAuth bearer, not renewed). `base_url`, when
//!   given, replaces `https://products.izettle.com`, `https://inventory.izettle.com` and
//!   `https://oauth.zettle.com`.
//!
//! Renewed tokens are written back through the [`CredentialStore`] given to [`connect`] /
//! [`connect_destination`] (the SecretStore port), so other processes use them.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use tillbridge_domain::{Currency, Provider, Secret, Timestamp};

use crate::api::VendorApi;
use crate::destination::Destination;
use crate::error::{ConnectorError, Result};
use crate::http::{Env, HttpConfig};
use crate::oauth::{CredentialStore, Grant, SQUARE_MARGIN, TokenSource, ZETTLE_MARGIN};
use crate::{
    BigCommerceClient, CloverClient, ShopifyClient, SquareClient, ToastClient, WooCommerceClient,
    ZettleClient,
};

/// A merchant's API credentials at one vendor. Secrets never print (`Debug` hides them).
#[derive(Clone, Default, Deserialize)]
#[serde(from = "Raw")]
pub struct ApiCredentials {
    /// The API's base URL; tests and local fakes point it elsewhere.
    pub base_url: Option<String>,
    /// Bearer/OAuth access token (Square, Shopify, BigCommerce).
    pub access_token: Option<Secret>,
    /// WooCommerce REST API consumer key (`ck_…`).
    pub consumer_key: Option<String>,
    /// WooCommerce REST API consumer secret (`cs_…`).
    pub consumer_secret: Option<Secret>,
    /// BigCommerce store hash, when `base_url` is not given.
    pub store_hash: Option<String>,
    /// Clover merchant id (`mId`).
    pub merchant_id: Option<String>,
    /// Toast restaurant GUID.
    pub restaurant_guid: Option<String>,
    /// OAuth client (application) id: Square's refresh grant, Zettle's assertion grant.
    pub client_id: Option<String>,
    /// Zettle API key (the assertion grant's JWT).
    pub api_key: Option<Secret>,
    /// Square application secret (code-flow refresh).
    pub client_secret: Option<Secret>,
    /// Square OAuth refresh token.
    pub refresh_token: Option<Secret>,
    /// When `access_token` expires (RFC 3339), when known.
    pub expires_at: Option<String>,
    /// A user name (profile vendors with `basic` or `oauth_password` auth).
    pub username: Option<String>,
    /// A password (profile vendors with `basic` or `oauth_password` auth).
    pub password: Option<Secret>,
    /// The OAuth token endpoint, replacing the profile's `token_url` (sandboxes, fakes).
    pub token_url: Option<String>,
}

/// The `api` object as written. Fields this version does not use are ignored (a tenants file
/// may carry what another tool needs); common spellings of the token are accepted.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default, alias = "token", alias = "api_token", alias = "accessToken")]
    access_token: Option<String>,
    #[serde(default)]
    consumer_key: Option<String>,
    #[serde(default)]
    consumer_secret: Option<String>,
    #[serde(default)]
    store_hash: Option<String>,
    #[serde(default)]
    merchant_id: Option<String>,
    #[serde(default)]
    restaurant_guid: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    token_url: Option<String>,
}

impl From<Raw> for ApiCredentials {
    fn from(r: Raw) -> Self {
        Self {
            base_url: r.base_url,
            access_token: r.access_token.map(Secret::new),
            consumer_key: r.consumer_key,
            consumer_secret: r.consumer_secret.map(Secret::new),
            store_hash: r.store_hash,
            merchant_id: r.merchant_id,
            restaurant_guid: r.restaurant_guid,
            client_id: r.client_id,
            api_key: r.api_key.map(Secret::new),
            client_secret: r.client_secret.map(Secret::new),
            refresh_token: r.refresh_token.map(Secret::new),
            expires_at: r.expires_at,
            username: r.username,
            password: r.password.map(Secret::new),
            token_url: r.token_url,
        }
    }
}

impl fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("base_url", &self.base_url)
            .field("access_token", &self.access_token)
            .field("consumer_key", &self.consumer_key.as_ref().map(|_| "***"))
            .field("consumer_secret", &self.consumer_secret)
            .field("store_hash", &self.store_hash)
            .field("merchant_id", &self.merchant_id)
            .field("restaurant_guid", &self.restaurant_guid)
            .field("client_id", &self.client_id)
            .field("api_key", &self.api_key)
            .field("client_secret", &self.client_secret)
            .field("refresh_token", &self.refresh_token)
            .field("expires_at", &self.expires_at)
            .field("username", &self.username.as_ref().map(|_| "***"))
            .field("password", &self.password)
            .field("token_url", &self.token_url)
            .finish()
    }
}

/// The credentials a tenant has stored for `provider` (the SecretStore port's API
/// credentials, one secret per field name), with the tenant's `api_base_url` as `base_url`
/// when it has one: how the fetcher and the destination writers build their clients.
///
/// # Errors
/// [`ConnectorError::Config`] when a stored field does not parse (fields this version does not
/// use are ignored).
pub fn stored_credentials(
    provider: Provider,
    stored: &tillbridge_ports::tenants::ApiCredentials,
    base_url: Option<String>,
) -> Result<ApiCredentials> {
    let mut fields = serde_json::Map::new();
    for name in stored.names() {
        if let Some(v) = stored.get(&name) {
            let text = String::from_utf8_lossy(v.expose()).into_owned();
            fields.insert(name, serde_json::Value::String(text));
        }
    }
    if let Some(url) = base_url {
        fields.insert("base_url".into(), serde_json::Value::String(url));
    }
    serde_json::from_value(serde_json::Value::Object(fields))
        .map_err(|e| ConnectorError::config(provider, format!("api: {e}")))
}

/// The writer of `provider` for these credentials (shared/design/CLI.md "Destination"):
/// Square ([`SquareClient`]), BigCommerce ([`BigCommerceClient`]: Catalog API v3 products,
/// variants, categories, storefront redirects) and WooCommerce ([`WooCommerceClient`]: REST
/// API v3 product and variation batches) and Shopify ([`ShopifyClient`]: Admin GraphQL
/// `productSet`, `inventorySetQuantities`, URL redirects). Credentials as for [`connect`]. `currency` is the
/// tenant's, the store currency of vendors whose amounts carry none (BigCommerce,
/// WooCommerce, Shopify): an item priced in another currency is not written there (its outcome says
/// so). Zettle ([`ZettleClient`]: Product Library products with client-chosen UUIDs,
/// `If-Match` updates, Inventory v3 movements) with an access token or the assertion grant's
/// `client_id` + `api_key`. Clover and Toast take no writes yet. Renewed OAuth tokens
/// (Square) are written to `store` when given.
///
/// # Errors
/// [`ConnectorError::Config`] when a credential is missing or invalid, or the vendor takes
/// no writes yet.
pub fn connect_destination(
    provider: Provider,
    credentials: &ApiCredentials,
    currency: Currency,
    config: Option<HttpConfig>,
    env: &Env,
    store: Option<CredentialStore>,
) -> Result<Box<dyn Destination>> {
    match provider {
        Provider::Square
        | Provider::BigCommerce
        | Provider::WooCommerce
        | Provider::Shopify
        | Provider::Zettle => {}
        _ => {
            return Err(ConnectorError::config(
                provider,
                "no destination writer for this vendor yet",
            ));
        }
    }
    let config = config.unwrap_or_else(|| HttpConfig::for_vendor(provider));
    let missing = |what: &str| ConnectorError::config(provider, format!("api.{what} is required"));
    let token = || {
        credentials
            .access_token
            .as_ref()
            .ok_or_else(|| missing("access_token"))
    };
    if matches!(provider, Provider::Square | Provider::Zettle)
        && let Some(tokens) = token_source(provider, credentials, &config, env, store)?
    {
        let base = credentials.base_url.as_deref();
        return Ok(if provider == Provider::Zettle {
            Box::new(ZettleClient::with_token_source(base, tokens, config, env)?)
        } else {
            Box::new(SquareClient::with_token_source(base, tokens, config, env)?)
        });
    }
    Ok(match provider {
        Provider::BigCommerce => Box::new(bigcommerce_client(credentials, currency, config, env)?),
        Provider::WooCommerce => Box::new(woocommerce_client(credentials, currency, config, env)?),
        Provider::Shopify => {
            let base = credentials
                .base_url
                .as_deref()
                .ok_or_else(|| missing("base_url"))?;
            Box::new(ShopifyClient::new(base, token()?, currency, config, env)?)
        }
        Provider::Zettle => Box::new(ZettleClient::new(
            credentials.base_url.as_deref(),
            token()?,
            config,
            env,
        )?),
        _ => Box::new(SquareClient::new(
            credentials.base_url.as_deref(),
            token()?,
            config,
            env,
        )?),
    })
}

fn bigcommerce_client(
    credentials: &ApiCredentials,
    currency: Currency,
    config: HttpConfig,
    env: &Env,
) -> Result<BigCommerceClient> {
    let p = Provider::BigCommerce;
    let base = match (&credentials.base_url, &credentials.store_hash) {
        (Some(url), _) => url.clone(),
        (None, Some(hash)) => format!("{}/stores/{hash}", crate::bigcommerce::API_HOST),
        (None, None) => {
            return Err(ConnectorError::config(
                p,
                "api.base_url or api.store_hash is required",
            ));
        }
    };
    let token = credentials
        .access_token
        .as_ref()
        .ok_or_else(|| ConnectorError::config(p, "api.access_token is required"))?;
    BigCommerceClient::new(&base, token, currency, config, env)
}

fn woocommerce_client(
    credentials: &ApiCredentials,
    currency: Currency,
    config: HttpConfig,
    env: &Env,
) -> Result<WooCommerceClient> {
    let p = Provider::WooCommerce;
    let missing = |what: &str| ConnectorError::config(p, format!("api.{what} is required"));
    WooCommerceClient::new(
        credentials
            .base_url
            .as_deref()
            .ok_or_else(|| missing("base_url"))?,
        credentials
            .consumer_key
            .as_deref()
            .ok_or_else(|| missing("consumer_key"))?,
        credentials
            .consumer_secret
            .as_ref()
            .ok_or_else(|| missing("consumer_secret"))?,
        currency,
        config,
        env,
    )
}

/// The client of `provider` for these credentials, with the vendor's documented limits
/// ([`HttpConfig::for_vendor`]) unless `config` says otherwise. Renewed OAuth tokens are
/// written to `store` when given. `currency` is the tenant's:
/// the currency of vendors whose amounts carry none (WooCommerce, BigCommerce, Shopify,
/// Clover, Toast).
///
/// # Errors
/// [`ConnectorError::Config`] when a credential or URL the vendor needs is missing or
/// invalid, or the vendor has no connector yet.
pub fn connect(
    provider: Provider,
    credentials: &ApiCredentials,
    currency: Currency,
    config: Option<HttpConfig>,
    env: &Env,
    store: Option<CredentialStore>,
) -> Result<Box<dyn VendorApi>> {
    let config = config.unwrap_or_else(|| HttpConfig::for_vendor(provider));
    if let Some(tokens) = token_source(provider, credentials, &config, env, store)? {
        let base = credentials.base_url.as_deref();
        return Ok(match provider {
            Provider::Zettle => {
                Box::new(ZettleClient::with_token_source(base, tokens, config, env)?)
            }
            _ => Box::new(SquareClient::with_token_source(base, tokens, config, env)?),
        });
    }
    let missing = |what: &str| ConnectorError::config(provider, format!("api.{what} is required"));
    let token = || {
        credentials
            .access_token
            .as_ref()
            .ok_or_else(|| missing("access_token"))
    };
    let base = || {
        credentials
            .base_url
            .as_deref()
            .ok_or_else(|| missing("base_url"))
    };
    Ok(match provider {
        Provider::Square => Box::new(SquareClient::new(
            credentials.base_url.as_deref(),
            token()?,
            config,
            env,
        )?),
        Provider::WooCommerce => Box::new(woocommerce_client(credentials, currency, config, env)?),
        Provider::BigCommerce => Box::new(bigcommerce_client(credentials, currency, config, env)?),
        Provider::Shopify => Box::new(ShopifyClient::new(
            base()?,
            token()?,
            currency,
            config,
            env,
        )?),
        Provider::Clover => Box::new(CloverClient::new(
            credentials.base_url.as_deref(),
            credentials
                .merchant_id
                .as_deref()
                .ok_or_else(|| missing("merchant_id"))?,
            token()?,
            currency,
            config,
            env,
        )?),
        Provider::Toast => Box::new(ToastClient::new(
            credentials.base_url.as_deref(),
            credentials
                .restaurant_guid
                .as_deref()
                .ok_or_else(|| missing("restaurant_guid"))?,
            token()?,
            currency,
            config,
            env,
        )?),
        Provider::Zettle => Box::new(ZettleClient::new(
            credentials.base_url.as_deref(),
            token()?,
            config,
            env,
        )?),
        other => {
            return Err(ConnectorError::config(
                other,
                "no API connector for this vendor yet",
            ));
        }
    })
}

/// The token source of credentials whose tokens are renewed here: Square with `client_id`
/// and `refresh_token`, Zettle with `client_id` and `api_key`; `None` for the rest.
///
/// # Errors
/// [`ConnectorError::Config`] for an `expires_at` that is not a timestamp or a bad URL.
fn token_source(
    provider: Provider,
    credentials: &ApiCredentials,
    config: &HttpConfig,
    env: &Env,
    store: Option<CredentialStore>,
) -> Result<Option<Arc<TokenSource>>> {
    let base = credentials.base_url.as_deref();
    let (grant, token_url, margin) = match (provider, &credentials.client_id) {
        (Provider::Square, Some(client_id)) => match &credentials.refresh_token {
            Some(refresh_token) => (
                Grant::SquareRefresh {
                    client_id: client_id.clone(),
                    client_secret: credentials.client_secret.clone(),
                    refresh_token: refresh_token.clone(),
                },
                SquareClient::token_url(base)?,
                SQUARE_MARGIN,
            ),
            None => return Ok(None),
        },
        (Provider::Zettle, Some(client_id)) => match &credentials.api_key {
            Some(api_key) => (
                Grant::ZettleAssertion {
                    client_id: client_id.clone(),
                    assertion: api_key.clone(),
                },
                ZettleClient::token_url(base)?,
                ZETTLE_MARGIN,
            ),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let expires_at = credentials
        .expires_at
        .as_deref()
        .map(Timestamp::parse_lenient)
        .transpose()
        .map_err(|e| ConnectorError::config(provider, format!("api.expires_at: {e}")))?;
    Ok(Some(Arc::new(TokenSource::new(
        token_url,
        grant,
        credentials.access_token.clone(),
        expires_at,
        margin,
        env.clock.clone(),
        store,
        config.timeout,
    )?)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tillbridge_ports::memory::MemoryTable;
    use tillbridge_ports::{Clock, SystemClock};

    use super::*;

    fn env() -> Env {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Env {
            table: Arc::new(MemoryTable::new(clock.clone())),
            clock,
        }
    }

    #[test]
    fn credentials_parse_from_the_tenants_file_and_never_print_secrets() {
        let creds: ApiCredentials = serde_json::from_str(
            r#"{"base_url": "http://127.0.0.1:9", "access_token": "EAAA-secret", "consumer_secret": "cs_x", "api_key": "zk_secret"}"#,
        )
        .expect("parses");
        let printed = format!("{creds:?}");
        assert!(
            !printed.contains("EAAA-secret")
                && !printed.contains("cs_x")
                && !printed.contains("zk_secret"),
            "{printed}"
        );
        let aliased: ApiCredentials =
            serde_json::from_str(r#"{"token": "x", "shop_plan": "plus"}"#)
                .expect("a token spelling and an unused field are accepted");
        assert_eq!(aliased.access_token, Some(Secret::new("x")));
    }

    #[test]
    fn clover_needs_its_merchant_id() {
        let creds: ApiCredentials =
            serde_json::from_str(r#"{"access_token": "t", "merchant_id": "MID1"}"#)
                .expect("parses");
        let client = connect(Provider::Clover, &creds, Currency::USD, None, &env(), None);
        assert_eq!(client.map(|c| c.provider()).ok(), Some(Provider::Clover));
    }

    #[test]
    fn toast_needs_its_restaurant_guid() {
        let creds: ApiCredentials =
            serde_json::from_str(r#"{"access_token": "t", "restaurant_guid": "r-1"}"#)
                .expect("parses");
        let client = connect(Provider::Toast, &creds, Currency::USD, None, &env(), None);
        assert_eq!(client.map(|c| c.provider()).ok(), Some(Provider::Toast));
    }

    #[test]
    fn each_vendor_gets_its_client_or_a_clear_config_error() {
        let creds: ApiCredentials =
            serde_json::from_str(r#"{"access_token": "t", "store_hash": "abc"}"#).expect("parses");
        let env = env();
        for (provider, ok) in [
            (Provider::Square, true),
            (Provider::BigCommerce, true),
            (Provider::Shopify, false),
            (Provider::WooCommerce, false),
            (Provider::Clover, false),
            (Provider::Toast, false),
            (Provider::Zettle, true),
        ] {
            let client = connect(provider, &creds, Currency::USD, None, &env, None);
            assert_eq!(client.is_ok(), ok, "{provider}");
            if let Ok(c) = client {
                assert_eq!(c.provider(), provider);
            } else if let Err(e) = client {
                assert!(matches!(e, ConnectorError::Config { .. }), "{e}");
            }
        }
    }

    #[test]
    fn square_bigcommerce_woocommerce_shopify_and_zettle_take_writes() {
        let creds: ApiCredentials = serde_json::from_str(
            r#"{"base_url": "http://127.0.0.1:9", "access_token": "t", "consumer_key": "ck", "consumer_secret": "cs"}"#,
        )
        .expect("parses");
        let env = env();
        for (provider, ok) in [
            (Provider::Square, true),
            (Provider::BigCommerce, true),
            (Provider::WooCommerce, true),
            (Provider::Shopify, true),
            (Provider::Zettle, true),
            (Provider::Toast, false),
        ] {
            let dest = connect_destination(provider, &creds, Currency::USD, None, &env, None);
            assert_eq!(
                dest.as_ref().map(|d| d.provider()).ok(),
                ok.then_some(provider)
            );
        }
        let no_secret: ApiCredentials =
            serde_json::from_str(r#"{"base_url": "http://x", "consumer_key": "ck"}"#)
                .expect("parses");
        let err = connect_destination(
            Provider::WooCommerce,
            &no_secret,
            Currency::USD,
            None,
            &env,
            None,
        );
        assert!(matches!(err, Err(ConnectorError::Config { .. })));
    }

    /// A tenants file's `api` entry may carry fields another tool needs and spell the token
    /// its own way; neither stops a sync.
    #[test]
    fn extra_fields_and_token_spellings_are_accepted() {
        let file = r#"{"tenants":[{"tenant_id":"t1","currency":"USD","providers":{"square":{"secret":"s",
            "api":{"base_url":"http://127.0.0.1:9","token":"tok","location_ids":["L1"],"version":2}}}}]}"#;
        let dir = tillbridge_ports::tenants::StaticDirectory::from_json(file)
            .unwrap_or_else(|e| panic!("{e}"));
        let entry = &dir.entries[0].providers[&Provider::Square];
        let stored = entry
            .api_credentials()
            .unwrap_or_else(|| panic!("credentials"));
        assert_eq!(stored.names(), ["token", "version"]);
        let creds =
            stored_credentials(Provider::Square, &stored, Some("http://127.0.0.1:9".into()))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(creds.access_token, Some(Secret::new("tok")));
        assert!(connect(Provider::Square, &creds, Currency::USD, None, &env(), None).is_ok());
    }
}
