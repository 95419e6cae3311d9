//! The one HTTP layer every vendor client sends through.
//!
//! Per call: the breaker admits it ([`breaker`]), the vendor-and-credential limiter paces it
//! ([`limits`]), it is sent with a timeout, and the answer is classified: 2xx → done;
//! 401/403 → [`ConnectorError::Refused`] with the vendor's reason; 404 →
//! [`ConnectorError::NotFound`]; other 4xx → [`ConnectorError::Rejected`]; 429, 5xx,
//! timeouts and connection errors → retried after full-jitter backoff or the vendor's
//! `Retry-After` (whichever is longer, [`wait`]) until [`RetryPolicy::max_attempts`], then
//! [`ConnectorError::Exhausted`]. Counters of calls and retries are kept per client.
//! Credentials travel only in headers built by the vendor client, or, for a client whose
//! tokens expire ([`HttpLayer::with_auth`]), in the `Authorization: Bearer` header set here
//! on every attempt from its [`TokenSource`]: a token known to be expiring is renewed before
//! the attempt, and a `401` is answered by one renewal and one more attempt of the same call
//! (a second `401` is [`ConnectorError::Refused`]). Nothing here logs a header or a URL
//! query.

pub mod breaker;
pub mod limits;
pub mod wait;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use governor::DefaultDirectRateLimiter;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use tillbridge_domain::Provider;
use tillbridge_ports::{Clock, Table};

pub use breaker::{Breaker, BreakerPolicy, BreakerState};
pub use limits::{RateLimit, fingerprint};
pub use wait::{RetryPolicy, retry_after};

use crate::error::{ConnectorError, Result};
use crate::oauth::TokenSource;

/// Everything a client's HTTP layer is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    /// Requests per second for this vendor and credential.
    pub rate: RateLimit,
    /// Retries and backoff.
    pub retry: RetryPolicy,
    /// Circuit breaker thresholds.
    pub breaker: BreakerPolicy,
    /// Whole-request timeout (30 s).
    pub timeout: Duration,
    /// Connect timeout (10 s).
    pub connect_timeout: Duration,
}

impl HttpConfig {
    /// Production defaults for `vendor`: its documented rate limit, 10 attempts 1 s → 15 min,
    /// breaker 5 failures / 60 s, 30 s timeout.
    pub fn for_vendor(vendor: Provider) -> Self {
        Self {
            rate: RateLimit::documented(vendor),
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// [`HttpConfig::for_vendor`] with retries bounded to seconds — at most 5 attempts, 0.5 s
    /// doubling to 8 s, a `Retry-After` of up to a minute — for calls an operator watches or
    /// that must end inside one Lambda invocation (the queue's redelivery spaces later
    /// attempts out).
    pub fn bounded(vendor: Provider) -> Self {
        let mut config = Self::for_vendor(vendor);
        config.retry.max_attempts = 5;
        config.retry.base_delay = Duration::from_millis(500);
        config.retry.max_delay = Duration::from_secs(8);
        config.retry.max_retry_after = Duration::from_secs(60);
        config
    }
}

/// Where the breaker state lives and where "now" comes from: the ports a client needs.
#[derive(Clone)]
pub struct Env {
    /// The table holding breaker state (DynamoDB in the cloud, embedded locally).
    pub table: Arc<dyn Table>,
    /// The clock the breaker reads.
    pub clock: Arc<dyn Clock>,
}

/// API calls and retries of one client so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallStats {
    /// HTTP requests sent, retries included.
    pub api_calls: u64,
    /// How many of those were retries.
    pub retries: u64,
}

/// What the vendor says in its error bodies and throttling answers: one per vendor client.
#[derive(Debug, Clone, Copy)]
pub struct VendorWire {
    /// The vendor.
    pub vendor: Provider,
    /// The human reason in an error body (`None`: the body has none).
    pub reason: fn(&[u8]) -> Option<String>,
    /// A wait the vendor asks for in its own headers or body, besides `Retry-After`
    /// (BigCommerce's `X-Rate-Limit-Time-Reset-Ms`).
    pub wait_hint: fn(&HeaderMap, &[u8]) -> Option<Duration>,
    /// True when a 2xx answer is really a throttle (Shopify GraphQL's `THROTTLED`).
    pub throttled_ok: fn(&[u8]) -> bool,
}

impl VendorWire {
    /// No hints, no 2xx throttles.
    pub const fn plain(vendor: Provider, reason: fn(&[u8]) -> Option<String>) -> Self {
        Self {
            vendor,
            reason,
            wait_hint: |_, _| None,
            throttled_ok: |_| false,
        }
    }
}

/// One request, rebuilt for every attempt.
#[derive(Debug, Clone)]
pub struct Request {
    /// GET, POST, …
    pub method: Method,
    /// Full URL.
    pub url: String,
    /// Headers (credentials included: never logged).
    pub headers: HeaderMap,
    /// JSON body, if any.
    pub body: Option<Vec<u8>>,
    /// Rate-limit cells it uses: 1 for a REST call, the estimated query cost of a GraphQL
    /// call whose vendor limits by cost (Shopify); capped at the limit's burst.
    pub cost: u32,
}

impl Request {
    /// A `GET` of `url` with `headers`, costing one cell.
    pub fn get(url: String, headers: &HeaderMap) -> Self {
        Self {
            method: Method::GET,
            url,
            headers: headers.clone(),
            body: None,
            cost: 1,
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// 2xx status.
    pub status: StatusCode,
    /// Its headers (pagination links, totals).
    pub headers: HeaderMap,
    /// Its body.
    pub body: Vec<u8>,
}

/// The shared HTTP layer of one vendor client (one credential).
#[derive(Clone)]
pub struct HttpLayer {
    client: reqwest::Client,
    wire: VendorWire,
    limiter: Arc<DefaultDirectRateLimiter>,
    burst: NonZeroU32,
    breaker: Breaker,
    retry: RetryPolicy,
    api_calls: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
    auth: Option<Arc<TokenSource>>,
}

/// One attempt's outcome that calls for another attempt.
struct Retryable {
    status: Option<u16>,
    reason: String,
    wait: Option<Duration>,
    /// Counts toward the breaker (5xx, timeouts), unlike a 429.
    unwell: bool,
}

impl HttpLayer {
    /// A layer for `wire.vendor` and the credential `credential` (only its fingerprint is
    /// kept).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when the TLS client cannot be built.
    pub fn new(wire: VendorWire, credential: &[u8], config: HttpConfig, env: &Env) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("tillbridge-connectors/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::config(wire.vendor, format!("HTTP client: {e}")))?;
        let fp = fingerprint(credential);
        Ok(Self {
            client,
            limiter: limits::limiter(wire.vendor, &fp, config.rate),
            burst: config.rate.burst,
            breaker: Breaker::new(
                env.table.clone(),
                env.clock.clone(),
                wire.vendor,
                &fp,
                config.breaker,
            ),
            wire,
            retry: config.retry,
            api_calls: Arc::default(),
            retries: Arc::default(),
            auth: None,
        })
    }

    /// This layer sending `Authorization: Bearer <token>` from `auth` on every attempt,
    /// renewing the token as the module docs say. Build the layer with
    /// [`TokenSource::identity`] as its credential so the limiter and the breaker outlive
    /// renewals.
    #[must_use]
    pub fn with_auth(mut self, auth: Arc<TokenSource>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The token source, for a client whose tokens are renewed.
    pub fn auth(&self) -> Option<&Arc<TokenSource>> {
        self.auth.as_ref()
    }

    /// Calls and retries so far; calls to a token endpoint count as calls.
    pub fn stats(&self) -> CallStats {
        let token_calls = self.auth.as_ref().map_or(0, |a| a.requests());
        CallStats {
            api_calls: self.api_calls.load(Ordering::Relaxed) + token_calls,
            retries: self.retries.load(Ordering::Relaxed),
        }
    }

    /// The breaker of this vendor and credential.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Sends `request`, retrying as the module docs say.
    ///
    /// # Errors
    /// [`ConnectorError::Refused`], [`ConnectorError::NotFound`],
    /// [`ConnectorError::Rejected`], [`ConnectorError::Exhausted`],
    /// [`ConnectorError::CircuitOpen`], [`ConnectorError::Store`].
    pub async fn send(&self, request: &Request) -> Result<Response> {
        self.send_with(request, true).await
    }

    /// Sends a request that must not be replayed once the vendor may have executed it (a
    /// create without idempotency key): retried only when the vendor answered that it did
    /// not run it (`429`, a throttled answer); a `5xx`, a timeout or a dropped connection is
    /// [`ConnectorError::Exhausted`] at once, and the caller finds out whether it landed.
    ///
    /// # Errors
    /// As [`HttpLayer::send`].
    pub async fn send_once(&self, request: &Request) -> Result<Response> {
        self.send_with(request, false).await
    }

    async fn send_with(&self, request: &Request, replay: bool) -> Result<Response> {
        let vendor = self.wire.vendor;
        let mut schedule = self.retry.schedule();
        let mut attempts: u32 = 0;
        let mut renewed = false;
        loop {
            let token = match &self.auth {
                Some(auth) => Some(auth.bearer().await?),
                None => None,
            };
            let admission = self.breaker.admit().await?;
            let cells =
                NonZeroU32::new(request.cost.clamp(1, self.burst.get())).unwrap_or(NonZeroU32::MIN);
            if self.limiter.until_n_ready(cells).await.is_err() {
                // Cannot happen (cells ≤ burst); pace by one cell rather than not at all.
                self.limiter.until_ready().await;
            }
            if attempts > 0 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            attempts += 1;
            self.api_calls.fetch_add(1, Ordering::Relaxed);
            tillbridge_ports::metrics::count(
                "FetchCalls",
                &[("provider", vendor.as_str())],
                None,
                1,
            );
            let retry = match self.attempt(request, token.as_ref()).await {
                Ok(Ok(response)) => {
                    self.breaker.success(admission).await?;
                    return Ok(response);
                }
                Ok(Err(ConnectorError::Refused { status: 401, .. }))
                    if !renewed && self.auth.is_some() =>
                {
                    // An expired or revoked token: one renewal, one more attempt.
                    self.breaker.success(admission).await?;
                    renewed = true;
                    if let Some(auth) = &self.auth {
                        auth.refresh(token.as_ref()).await?;
                    }
                    continue;
                }
                Ok(Err(permanent)) => {
                    // A 4xx is an answer from a vendor that is up.
                    self.breaker.success(admission).await?;
                    return Err(permanent);
                }
                Err(retry) => retry,
            };
            if !retry.unwell {
                tillbridge_ports::metrics::count(
                    "FetchThrottles",
                    &[("provider", vendor.as_str())],
                    None,
                    1,
                );
            }
            if retry.unwell {
                self.breaker.failure().await?;
            } else {
                // A 429 too: the vendor is up and pacing us (this also ends a half-open
                // trial, which would otherwise refuse its own retry).
                self.breaker.success(admission).await?;
            }
            let exhausted = || ConnectorError::Exhausted {
                vendor,
                attempts,
                last_status: retry.status,
                last_reason: retry.reason.clone(),
            };
            if retry.unwell && !replay {
                return Err(exhausted());
            }
            let Some(ceiling) = schedule.next() else {
                return Err(exhausted());
            };
            let backoff = wait::full_jitter(ceiling);
            let wait = match retry.wait {
                Some(asked) if asked > self.retry.max_retry_after => return Err(exhausted()),
                Some(asked) => asked.max(backoff),
                None => backoff,
            };
            tracing::debug!(
                vendor = vendor.as_str(),
                status = retry.status,
                attempt = attempts,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "vendor call will be retried"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One HTTP exchange: `Ok(Ok)` done, `Ok(Err)` permanent failure, `Err` retry.
    async fn attempt(
        &self,
        request: &Request,
        token: Option<&tillbridge_domain::Secret>,
    ) -> std::result::Result<Result<Response>, Retryable> {
        let vendor = self.wire.vendor;
        let mut headers = request.headers.clone();
        if let Some(token) = token {
            match crate::api::bearer(vendor, token) {
                Ok(value) => {
                    headers.insert(reqwest::header::AUTHORIZATION, value);
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        let mut builder = self
            .client
            .request(request.method.clone(), &request.url)
            .headers(headers);
        if let Some(body) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let answer = match builder.send().await {
            Ok(answer) => answer,
            Err(e) => {
                return Err(Retryable {
                    status: None,
                    // Without the URL: a query string may carry a credential (WooCommerce).
                    reason: transport_reason(e),
                    wait: None,
                    unwell: true,
                });
            }
        };
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = match answer.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => {
                return Err(Retryable {
                    status: Some(status.as_u16()),
                    reason: transport_reason(e),
                    wait: None,
                    unwell: true,
                });
            }
        };
        let reason = || {
            (self.wire.reason)(&body)
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned())
        };
        let asked = || {
            let header = retry_after(&headers, SystemTime::now());
            let hint = (self.wire.wait_hint)(&headers, &body);
            header.max(hint)
        };
        let code = status.as_u16();
        match code {
            200..=299 if (self.wire.throttled_ok)(&body) => Err(Retryable {
                status: Some(code),
                reason: "throttled".into(),
                wait: asked(),
                unwell: false,
            }),
            200..=299 => Ok(Ok(Response {
                status,
                headers,
                body,
            })),
            401 | 403 => Ok(Err(ConnectorError::Refused {
                vendor,
                status: code,
                vendor_reason: reason(),
            })),
            404 => Ok(Err(ConnectorError::NotFound {
                vendor,
                what: url_path(&request.url),
            })),
            429 => Err(Retryable {
                status: Some(code),
                reason: reason(),
                wait: asked(),
                unwell: false,
            }),
            500..=599 => Err(Retryable {
                status: Some(code),
                reason: reason(),
                wait: asked(),
                unwell: true,
            }),
            _ => Ok(Err(ConnectorError::Rejected {
                vendor,
                status: code,
                vendor_reason: reason(),
            })),
        }
    }
}

fn transport_reason(e: reqwest::Error) -> String {
    let e = e.without_url();
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        format!("transport error: {e}")
    }
}

/// The URL's path without query (which may carry credentials).
fn url_path(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or("");
    match no_query.find("://") {
        Some(i) => {
            let rest = &no_query[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..]).to_owned()
        }
        None => no_query.to_owned(),
    }
}
