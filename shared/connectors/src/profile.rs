//! A generic REST client for a vendor described by a profile (issue 16): the profile's `api`
//! section says where the list is, how it pages and how requests authenticate; the tenant's
//! `api` entry holds the credentials; the profile's mapping makes the records canonical. Every
//! call goes through the shared [`HttpLayer`] (the profile's rate limit, backoff honouring
//! `Retry-After`, the breaker).
//!
//! Cursors handed out by [`ProfileClient::catalog_page`] are the vendor's cursor
//! (`cursor` pagination), the next page number (`page`), the next offset (`offset`) or the
//! next page's URL (`link_header`; only a URL on the base URL's origin is followed, so
//! credentials never go to another host).
//!
//! Credentials (tenant `api`): `access_token` for `bearer` and `api_key_header`; `username` and
//! `password` for `basic`; `client_id` and `client_secret` for `oauth_client_credentials`
//! (plus `username`/`password` for `oauth_password`): the token comes from the token endpoint
//! (the tenant's `api.token_url` replaces the profile's; a `/path` is on the base URL) through
//! the shared [`TokenSource`] — reused until `expires_in` runs out (renewed a minute early),
//! renewed after a `401` once, single-flight.
//!
//! Delta pulls (`api.changes`): a pull after the first sends the watermark (the newest
//! `updated_at` seen, kept in the sync state) in the profile's "updated since" parameter, on
//! every page; records with the profile's delete marker become deletions (on every pull).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;
use tillbridge_domain::{Currency, Provider, Secret, Timestamp};
use tillbridge_ports::Clock;
use tillbridge_profiles::Profile;
use tillbridge_profiles::model::{Auth, Endpoint, Pagination};

use crate::api::{
    CatalogPage, FetchedItem, Location, ObjectKind, StockLevel, Tombstone, VendorApi,
};
use crate::connect::ApiCredentials;
use crate::error::{ConnectorError, Result};
use crate::http::{CallStats, Env, HttpConfig, HttpLayer, RateLimit, Request, VendorWire};
use crate::oauth::{Grant, TokenSource};

/// A profile vendor's OAuth token is renewed this long before it expires.
pub const PROFILE_TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// A profile vendor's API.
pub struct ProfileClient {
    http: HttpLayer,
    profile: Profile,
    provider: Provider,
    base: Url,
    headers: HeaderMap,
    currency: Currency,
    clock: Arc<dyn Clock>,
}

fn text(s: &Secret) -> String {
    String::from_utf8_lossy(s.expose()).into_owned()
}

fn reason(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    [
        "/error_description",
        "/message",
        "/error/message",
        "/error",
        "/detail",
    ]
    .iter()
    .find_map(|p| v.pointer(p).and_then(Value::as_str).map(str::to_owned))
}

impl ProfileClient {
    /// A client of `profile`'s API with the tenant's `credentials` (whose `base_url`, when
    /// given, replaces the profile's). `config` defaults to the profile's rate limit with the
    /// usual retries.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when the profile has no `api` section, a credential its auth
    /// needs is missing, or the base URL is not a URL (or keeps a `{placeholder}`).
    pub fn new(
        profile: Profile,
        credentials: &ApiCredentials,
        currency: Currency,
        config: Option<HttpConfig>,
        env: &Env,
    ) -> Result<Self> {
        let provider = Provider::Profile(profile.name());
        let cfg = |m: &str| ConnectorError::config(provider, m.to_owned());
        let api = profile
            .doc()
            .api
            .clone()
            .ok_or_else(|| cfg("the profile has no api section (the vendor is not pulled)"))?;
        let base_text = credentials
            .base_url
            .clone()
            .unwrap_or_else(|| api.base_url.clone());
        if base_text.contains('{') {
            return Err(cfg(
                "the base URL has a {placeholder}: set the tenant's api.base_url",
            ));
        }
        let base = Url::parse(base_text.trim_end_matches('/'))
            .map_err(|e| cfg(&format!("api.base_url: {e}")))?;
        let missing = |what: &str| cfg(&format!("api.{what} is required by the profile's auth"));
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        for (k, v) in &api.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| cfg(&format!("api.headers: {k:?} is not a header name")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| cfg(&format!("api.headers.{k}: not a header value")))?;
            headers.insert(name, value);
        }
        let secret_header = |text: String| -> Result<HeaderValue> {
            let mut v = HeaderValue::from_str(&text)
                .map_err(|_| cfg("a credential is not a valid header value"))?;
            v.set_sensitive(true);
            Ok(v)
        };
        let token_url = |profile_url: &str| -> Result<String> {
            let text = credentials.token_url.as_deref().unwrap_or(profile_url);
            let url = if text.starts_with('/') {
                Url::parse(&format!("{}{text}", base.as_str().trim_end_matches('/')))
            } else {
                Url::parse(text)
            };
            url.map(|u| u.to_string())
                .map_err(|e| cfg(&format!("api.auth.token_url: {e}")))
        };
        let mut grant = None;
        let mut credential: Vec<u8> = Vec::new();
        match &api.auth {
            Auth::Bearer => {
                let t = credentials
                    .access_token
                    .as_ref()
                    .ok_or_else(|| missing("access_token"))?;
                headers.insert(AUTHORIZATION, secret_header(format!("Bearer {}", text(t)))?);
                credential = t.expose().to_vec();
            }
            Auth::ApiKeyHeader { header, prefix } => {
                let t = credentials
                    .access_token
                    .as_ref()
                    .or(credentials.api_key.as_ref())
                    .ok_or_else(|| missing("access_token"))?;
                let name = HeaderName::from_bytes(header.as_bytes())
                    .map_err(|_| cfg("api.auth.header: not a header name"))?;
                let value = format!("{}{}", prefix.as_deref().unwrap_or_default(), text(t));
                headers.insert(name, secret_header(value)?);
                credential = t.expose().to_vec();
            }
            Auth::Basic => {
                let user = credentials
                    .username
                    .as_deref()
                    .ok_or_else(|| missing("username"))?;
                let pass = credentials.password.as_ref().map(text).unwrap_or_default();
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                headers.insert(AUTHORIZATION, secret_header(format!("Basic {encoded}"))?);
                credential = format!("{user}:{pass}").into_bytes();
            }
            Auth::OauthClientCredentials {
                token_url: url,
                scope,
            } => {
                let id = credentials
                    .client_id
                    .clone()
                    .ok_or_else(|| missing("client_id"))?;
                let secret = credentials
                    .client_secret
                    .as_ref()
                    .ok_or_else(|| missing("client_secret"))?;
                let mut fields = vec![
                    ("grant_type", Secret::new("client_credentials")),
                    ("client_secret", secret.clone()),
                ];
                if let Some(s) = scope {
                    fields.push(("scope", Secret::new(s.as_str())));
                }
                grant = Some((
                    token_url(url)?,
                    Grant::Form {
                        vendor: provider,
                        client_id: id,
                        fields,
                    },
                ));
            }
            Auth::OauthPassword { token_url: url } => {
                let id = credentials
                    .client_id
                    .clone()
                    .ok_or_else(|| missing("client_id"))?;
                let fields = vec![
                    ("grant_type", Secret::new("password")),
                    (
                        "client_secret",
                        credentials
                            .client_secret
                            .clone()
                            .unwrap_or_else(|| Secret::new("")),
                    ),
                    (
                        "username",
                        Secret::new(
                            credentials
                                .username
                                .clone()
                                .ok_or_else(|| missing("username"))?,
                        ),
                    ),
                    (
                        "password",
                        credentials
                            .password
                            .clone()
                            .ok_or_else(|| missing("password"))?,
                    ),
                ];
                grant = Some((
                    token_url(url)?,
                    Grant::Form {
                        vendor: provider,
                        client_id: id,
                        fields,
                    },
                ));
            }
        }
        let config = config.unwrap_or_else(|| {
            let mut c = HttpConfig::for_vendor(provider);
            if let Some(r) = api.rate_limit {
                c.rate = RateLimit {
                    per_second: std::num::NonZeroU32::new(r.per_second)
                        .unwrap_or(std::num::NonZeroU32::MIN),
                    burst: std::num::NonZeroU32::new(r.burst).unwrap_or(std::num::NonZeroU32::MIN),
                };
            }
            c
        });
        let timeout = config.timeout;
        let source = grant
            .map(|(url, grant)| {
                TokenSource::new(
                    url,
                    grant,
                    None,
                    None,
                    PROFILE_TOKEN_MARGIN,
                    env.clock.clone(),
                    None,
                    timeout,
                )
            })
            .transpose()?
            .map(Arc::new);
        if let Some(s) = &source {
            credential = s.identity().to_vec();
        }
        let mut http = HttpLayer::new(
            VendorWire::plain(provider, reason),
            &credential,
            config,
            env,
        )?;
        if let Some(s) = source {
            http = http.with_auth(s);
        }
        Ok(Self {
            http,
            profile,
            provider,
            base,
            headers,
            currency,
            clock: env.clock.clone(),
        })
    }

    fn api(&self) -> Result<&tillbridge_profiles::model::Api> {
        self.profile
            .doc()
            .api
            .as_ref()
            .ok_or_else(|| ConnectorError::config(self.provider, "the profile has no api section"))
    }

    fn url(&self, endpoint: &Endpoint, id: Option<&str>) -> Result<Url> {
        let mut path = endpoint.path.clone();
        if let Some(id) = id {
            let escaped: String = url_escape(id);
            path = path.replace("{id}", &escaped);
        }
        let text = format!("{}{}", self.base.as_str().trim_end_matches('/'), path);
        let mut url = Url::parse(&text)
            .map_err(|e| ConnectorError::config(self.provider, format!("endpoint URL: {e}")))?;
        if !endpoint.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &endpoint.query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends a request to the vendor's API with the profile's auth (an OAuth token comes from
    /// the layer's token source, renewed once after a 401).
    async fn call(&self, method: &str, url: &Url) -> Result<crate::http::Response> {
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| ConnectorError::config(self.provider, "endpoint method"))?;
        let request = Request {
            body: (method == Method::POST).then(|| b"{}".to_vec()),
            method,
            url: url.to_string(),
            headers: self.headers.clone(),
            cost: 1,
        };
        self.http.send(&request).await
    }

    fn records(&self, body: &[u8], pointer: &str, what: &str) -> Result<Vec<Value>> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ConnectorError::malformed(self.provider, what, e.to_string()))?;
        Ok(match v.pointer(pointer) {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(one) => vec![one.clone()],
        })
    }

    /// One page of the list from `cursor`; `since` asks for the changes after it when the
    /// profile says how (`api.changes`).
    async fn list_page(
        &self,
        cursor: Option<&str>,
        since: Option<Timestamp>,
    ) -> Result<CatalogPage> {
        let api = self.api()?;
        let malformed_cursor =
            || ConnectorError::malformed(self.provider, "cursor", "not a page position");
        let mut url = self.url(&api.list, None)?;
        if let (Some(since), Some(changes)) = (since, &api.changes) {
            let mut q = url.query_pairs_mut();
            for (k, v) in &changes.query {
                q.append_pair(k, v);
            }
            q.append_pair(
                &changes.param,
                &tillbridge_profiles::since_value(changes.format, since),
            );
        }
        let mut following = None;
        match &api.pagination {
            Pagination::None => {}
            Pagination::Cursor {
                param,
                size_param,
                size,
                ..
            } => {
                let mut q = url.query_pairs_mut();
                if let (Some(p), Some(n)) = (size_param, size) {
                    q.append_pair(p, &n.to_string());
                }
                if let Some(c) = cursor {
                    q.append_pair(param, c);
                }
            }
            Pagination::Page {
                param,
                start,
                size_param,
                size,
            } => {
                let n = match cursor {
                    Some(c) => c.parse::<u64>().map_err(|_| malformed_cursor())?,
                    None => u64::from(*start),
                };
                url.query_pairs_mut()
                    .append_pair(param, &n.to_string())
                    .append_pair(size_param, &size.to_string());
            }
            Pagination::Offset {
                param,
                size_param,
                size,
            } => {
                let n = match cursor {
                    Some(c) => c.parse::<u64>().map_err(|_| malformed_cursor())?,
                    None => 0,
                };
                url.query_pairs_mut()
                    .append_pair(param, &n.to_string())
                    .append_pair(size_param, &size.to_string());
            }
            Pagination::LinkHeader => {
                if let Some(c) = cursor {
                    let next = Url::parse(c).map_err(|_| malformed_cursor())?;
                    if next.origin() != self.base.origin() {
                        return Err(ConnectorError::malformed(
                            self.provider,
                            "Link",
                            "the next page is on another host; not followed",
                        ));
                    }
                    following = Some(next);
                }
            }
        }
        let url = following.unwrap_or(url);
        let resp = self.call(&api.list.method, &url).await?;
        let records = self.records(&resp.body, &api.list.records, &api.list.records)?;
        let count = records.len() as u64;
        let mut page = self.page_of(&records);
        let full = |size: u32| count >= u64::from(size) && count > 0;
        page.next_cursor = match &api.pagination {
            Pagination::None => None,
            Pagination::Cursor { next, .. } => {
                let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
                match v.pointer(next) {
                    Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                }
                .filter(|_| count > 0)
            }
            Pagination::Page { start, size, .. } => {
                let n = match cursor {
                    Some(c) => c.parse::<u64>().unwrap_or(u64::from(*start)),
                    None => u64::from(*start),
                };
                full(*size).then(|| (n + 1).to_string())
            }
            Pagination::Offset { size, .. } => {
                let n = cursor.and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
                full(*size).then(|| (n + count).to_string())
            }
            Pagination::LinkHeader => next_link(&resp.headers)
                .and_then(|l| url.join(&l).ok())
                .map(|u| u.to_string()),
        };
        Ok(page)
    }

    fn page_of(&self, records: &[Value]) -> CatalogPage {
        let mut page = CatalogPage {
            fetched: records.len() as u64,
            ..CatalogPage::default()
        };
        let mut refused = 0usize;
        let marker = self
            .profile
            .doc()
            .api
            .as_ref()
            .and_then(|a| a.changes.as_ref())
            .and_then(|c| c.deleted.as_ref());
        let mut live = Vec::with_capacity(records.len());
        for record in records {
            match marker.map(|m| tillbridge_profiles::deleted(m, record)) {
                Some(Ok(Some(gone))) => {
                    page.watermark = page.watermark.max(gone.at);
                    let deleted_at = gone.at.unwrap_or_else(|| self.clock.now());
                    // The items the mapping makes of the record (a product's variants, when
                    // the deleted record still lists them); else the record's id.
                    let mapped: Vec<String> = tillbridge_profiles::items(
                        &self.profile,
                        self.currency,
                        std::slice::from_ref(record),
                    )
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|i| i.external_id)
                    .filter(|id| !id.is_empty())
                    .collect();
                    let ids = if mapped.is_empty() {
                        vec![gone.id]
                    } else {
                        mapped
                    };
                    page.tombstones
                        .extend(ids.into_iter().map(|external_id| Tombstone {
                            external_id,
                            kind: ObjectKind::Variation,
                            deleted_at,
                        }));
                }
                Some(Err(_)) => refused += 1,
                Some(Ok(None)) | None => live.push(record.clone()),
            }
        }
        for result in tillbridge_profiles::items(&self.profile, self.currency, &live) {
            match result {
                Ok(items) => {
                    for item in items {
                        let stock = item.stock_by_location.clone();
                        page.push_dated(FetchedItem {
                            item,
                            stock_by_location: stock,
                            inventory_item_id: None,
                        });
                    }
                }
                Err(_) => refused += 1,
            }
        }
        if refused > 0 {
            // Counts only: a record's values may be customer-facing text.
            tracing::warn!(vendor = %self.provider, refused, "records the profile's mapping refused");
        }
        page
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `rel="next"` target of RFC 8288 `Link` headers.
fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            let (target, params) = part.split_once(';')?;
            let is_next = params.split(';').any(|p| {
                let p = p.trim().to_ascii_lowercase();
                p == "rel=\"next\"" || p == "rel=next"
            });
            is_next.then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
        })
}

#[async_trait]
impl VendorApi for ProfileClient {
    fn provider(&self) -> Provider {
        self.provider
    }

    fn stats(&self) -> CallStats {
        self.http.stats()
    }

    async fn catalog_page(&self, cursor: Option<&str>) -> Result<CatalogPage> {
        self.list_page(cursor, None).await
    }

    /// With `api.changes`, the list asked for what changed since `since` (on every page, the
    /// last page's records included); without, the whole list with only the records changed
    /// strictly after `since` kept (by their mapped `updated_at`; records without one always).
    /// Deletions the delete marker finds are kept either way.
    async fn changes_page(&self, since: Timestamp, cursor: Option<&str>) -> Result<CatalogPage> {
        let mut page = self.list_page(cursor, Some(since)).await?;
        page.items
            .retain(|f| f.item.updated_at.is_none_or(|t| t > since));
        Ok(page)
    }

    async fn fetch(&self, ids: &[String]) -> Result<CatalogPage> {
        let api = self.api()?;
        let Some(get) = &api.get else {
            return Err(ConnectorError::config(
                self.provider,
                "the profile's api has no get endpoint (fetch-on-notify); run a sync",
            ));
        };
        let mut out = CatalogPage::default();
        for id in ids {
            let url = self.url(get, Some(id))?;
            match self.call(&get.method, &url).await {
                Ok(resp) => {
                    let records = self.records(&resp.body, &get.records, &get.records)?;
                    let page = self.page_of(&records);
                    out.fetched += page.fetched;
                    for item in page.items {
                        out.push_dated(item);
                    }
                }
                Err(ConnectorError::NotFound { .. }) => out.missing.push(id.clone()),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Stock comes with the records, through the mapping (`quantity_on_hand`,
    /// `stock_by_location`); there is no separate stock call.
    async fn stock(&self, _variation_ids: &[String]) -> Result<Vec<StockLevel>> {
        Ok(Vec::new())
    }

    async fn locations(&self) -> Result<Vec<Location>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deleted product that still lists its variants deletes the variants (the catalog's
    /// items); one reduced to its id and marker deletes that id.
    #[test]
    fn deleted_records_delete_the_items_their_mapping_makes_else_their_id() {
        let profile = Profile::parse(
            &serde_json::json!({
                "name": "var-pos", "version": 1, "title": "Var POS", "sources": ["docs"],
                "api": {"base_url": "http://127.0.0.1:9", "auth": {"type": "bearer"},
                    "list": {"path": "/items", "records": "/items"},
                    "pagination": {"type": "none"},
                    "changes": {"param": "since",
                        "deleted": {"pointer": "/deleted_at", "id": "/id"}}},
                "mapping": {"fields": [
                    {"source": "variants[].id", "target": "external_id"},
                    {"source": "name", "target": "name"}]}
            })
            .to_string(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let clock = std::sync::Arc::new(tillbridge_ports::ManualClock::new(Timestamp::UNIX_EPOCH));
        let env = Env {
            table: std::sync::Arc::new(tillbridge_ports::memory::MemoryTable::new(clock.clone())),
            clock,
        };
        let client = ProfileClient::new(
            profile,
            &ApiCredentials {
                access_token: Some(Secret::new("t")),
                ..ApiCredentials::default()
            },
            Currency::USD,
            None,
            &env,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let page = client.page_of(&[
            serde_json::json!({"id": "p1", "name": "Tee", "deleted_at": "2026-01-02T00:00:00Z",
                "variants": [{"id": "p1-s"}, {"id": "p1-m"}]}),
            serde_json::json!({"id": "p2", "deleted_at": "2026-01-03T00:00:00Z"}),
            serde_json::json!({"id": "p3", "name": "Cap", "variants": [{"id": "p3-x"}]}),
        ]);
        let gone: Vec<&str> = page
            .tombstones
            .iter()
            .map(|t| t.external_id.as_str())
            .collect();
        assert_eq!(gone, ["p1-s", "p1-m", "p2"]);
        let live: Vec<&str> = page
            .items
            .iter()
            .map(|f| f.item.external_id.as_str())
            .collect();
        assert_eq!(live, ["p3-x"]);
        assert_eq!(
            page.watermark,
            Timestamp::parse_rfc3339("2026-01-03T00:00:00Z").ok()
        );
    }

    #[test]
    fn the_next_link_is_found_among_several() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(
                r#"<https://v.example/p?page=1>; rel="prev", <https://v.example/p?page=3>; rel="next""#,
            ),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://v.example/p?page=3"));
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(r#"<https://v.example/p?page=1>; rel="prev""#),
        );
        assert_eq!(next_link(&h), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn path_values_are_escaped() {
        assert_eq!(url_escape("a b&c=d"), "a%20b%26c%3Dd");
        assert_eq!(url_escape("x/../y"), "x%2F..%2Fy");
    }
}
