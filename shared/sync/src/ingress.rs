//! Webhook ingress: cheap checks, durable enqueue, 202. Holds no secrets.
//!
//! A 202 is answered only after the raw request is stored in the inbound queue (and the
//! blob store for large bodies), so nothing acknowledged is lost.

use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};
use tillbridge_domain::{CorrelationId, Provider, TenantId};
use tillbridge_ports::table::{Condition, Item, Table};
use tillbridge_ports::{BlobStore, Clock, Queue, TenantDirectory};
use tillbridge_webhooks::{Handshake, Headers, Precheck, precheck};
use tracing::{info, warn};

use crate::inbound::{InboundBody, InboundDelivery};
use crate::keys;

/// Headers never forwarded (credentials of other systems; never needed for verification).
const DROPPED_HEADERS: [&str; 3] = ["authorization", "cookie", "x-api-key"];
/// Clover's auth code is the secret itself: it travels on as its SHA-256 only.
pub const CLOVER_AUTH_DIGEST_HEADER: &str =
    tillbridge_webhooks::signature::CLOVER_AUTH_DIGEST_HEADER;

/// One webhook request as the front door (API Gateway or `serve`) received it.
#[derive(Debug, Clone)]
pub struct IngressRequest<'a> {
    /// The `{provider}` path segment, unparsed.
    pub provider: &'a str,
    /// The `{tenant}` path segment, unparsed.
    pub tenant: &'a str,
    /// The request headers.
    pub headers: Headers,
    /// The raw body, byte for byte (signatures are over these bytes).
    pub body: &'a [u8],
}

/// What to answer the vendor: 202 `{"delivery_id"}` once stored, 200 for handshakes, 4xx for
/// requests that can never succeed, 503 when storing failed (the vendor retries).
#[derive(Debug, Clone, PartialEq)]
pub struct IngressResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: serde_json::Value,
}

impl IngressResponse {
    fn error(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "error": message.into() }),
        }
    }
}

/// The ingress stage: cheap, secret-free checks, then the raw request stored (queue, claim
/// check) before the 202. Holds no secrets.
pub struct Ingress {
    /// Which tenants and providers exist, and their body caps.
    pub directory: Arc<dyn TenantDirectory>,
    /// The inbound queue the signature check reads.
    pub queue: Arc<dyn Queue>,
    /// Claim-check bodies.
    pub blobs: Arc<dyn BlobStore>,
    /// Vendor handshakes (Clover's verification code).
    pub table: Arc<dyn Table>,
    /// Now.
    pub clock: Arc<dyn Clock>,
}

impl Ingress {
    /// Answers one webhook request; every outcome is a response (never an error): the delivery
    /// is durably enqueued before a 202.
    pub async fn handle(&self, req: IngressRequest<'_>) -> IngressResponse {
        let provider = req.provider.parse::<Provider>().ok();
        let tenant = req.tenant;
        let r = self.answer(req).await;
        let outcome = match r.status {
            202 => "accepted",
            200 => "handshake",
            500.. => "failed",
            _ => "rejected",
        };
        tillbridge_ports::metrics::count(
            "Deliveries",
            &[
                (
                    "provider",
                    provider.as_ref().map_or("unknown", Provider::as_str),
                ),
                ("outcome", outcome),
            ],
            // A tenant that is not known stays out of the metrics.
            (r.status == 202).then_some(tenant),
            1,
        );
        r
    }

    async fn answer(&self, req: IngressRequest<'_>) -> IngressResponse {
        let Ok(provider) = req.provider.parse::<Provider>() else {
            return IngressResponse::error(404, "unknown provider");
        };
        let Ok(tenant_id) = TenantId::parse(req.tenant) else {
            return IngressResponse::error(404, "unknown tenant");
        };
        let tenant = match self.directory.tenant(&tenant_id).await {
            Ok(Some(t)) => t,
            Ok(None) => return IngressResponse::error(404, "unknown tenant"),
            Err(e) => {
                warn!(tenant = %tenant_id, error = %e, "tenant lookup failed");
                return IngressResponse::error(503, "temporarily unavailable, retry");
            }
        };
        if !tenant.providers.contains_key(&provider) {
            return IngressResponse::error(404, "provider not configured for this tenant");
        }
        let limit = tenant.max_body_bytes();
        if req.body.len() > limit {
            return IngressResponse::error(413, format!("body exceeds {limit} bytes"));
        }
        let now = self.clock.now();
        // A profile vendor: its profile (the table's newest version, else the built-in file)
        // holds its scheme.
        let profile = match provider.profile() {
            None => None,
            Some(name) => {
                match tillbridge_profiles::store::resolve(self.table.as_ref(), name).await {
                    Ok(Some(p)) => Some(p),
                    Ok(None) => return IngressResponse::error(404, "unknown provider"),
                    Err(e) => {
                        warn!(tenant = %tenant_id, provider = %provider, error = %e, "profile lookup failed");
                        return IngressResponse::error(503, "temporarily unavailable, retry");
                    }
                }
            }
        };
        if let Some(p) = &profile {
            let tolerance = crate::profile_tolerance(&tenant, provider, p);
            if let Err(e) = tillbridge_profiles::precheck(
                p,
                &req.headers,
                req.body,
                now.unix_seconds(),
                tolerance,
            ) {
                info!(tenant = %tenant_id, provider = %provider, reason = %e, "rejected at ingress");
                return IngressResponse::error(401, e.to_string());
            }
        } else {
            match precheck(
                provider,
                &req.headers,
                req.body,
                now.unix_seconds(),
                tenant.tolerance_secs(provider),
            ) {
                Ok(Precheck::Signed) => {}
                Ok(Precheck::Handshake(h)) => return self.handshake(&tenant_id, provider, h).await,
                Err(e) => {
                    info!(tenant = %tenant_id, provider = %provider, reason = %e, "rejected at ingress");
                    return IngressResponse::error(401, e.to_string());
                }
            }
        }

        // A UUIDv7 of the receipt time: the delivery log's key sorts by it (crate::deliveries).
        let Ok(delivery_id) = crate::deliveries::mint_id(now) else {
            return IngressResponse::error(500, "internal: delivery id");
        };
        let correlation_id = req
            .headers
            .get("x-correlation-id")
            .and_then(|c| CorrelationId::parse(c).ok())
            .unwrap_or_else(|| CorrelationId::from(&delivery_id));
        let blob_key = keys::raw_body_blob(
            &tenant_id,
            now.to_string().get(..10).unwrap_or("undated"),
            &delivery_id,
        );
        let body = match InboundBody::store(self.blobs.as_ref(), &blob_key, req.body).await {
            Ok(b) => b,
            Err(e) => {
                warn!(tenant = %tenant_id, delivery_id = %delivery_id, error = %e, "claim-check write failed");
                return IngressResponse::error(503, "temporarily unavailable, retry");
            }
        };
        let message = InboundDelivery {
            delivery_id: delivery_id.clone(),
            tenant_id: tenant_id.clone(),
            provider,
            received_at: now,
            correlation_id: correlation_id.clone(),
            headers: forwarded_headers(provider, profile.as_ref(), &req.headers),
            body,
        };
        let text = match serde_json::to_string(&message) {
            Ok(t) => t,
            Err(e) => return IngressResponse::error(500, format!("internal: {e}")),
        };
        // The story starts at receipt; written alongside the enqueue so both share one commit
        // of a group-committing store. Best effort: only the enqueue decides the answer (a
        // refused enqueue may leave a lone `received` step; the vendor's retry is a new
        // delivery).
        // The receipt is the delivery log's index item and the story's first step (one write).
        let detail = json!({ "provider": provider, "bytes": req.body.len(), "correlation_id": correlation_id });
        let step = crate::deliveries::record_receipt(
            self.table.as_ref(),
            &tenant_id,
            &delivery_id,
            now,
            detail.as_object().cloned().unwrap_or_default(),
        );
        let (sent, step) = tokio::join!(self.queue.send(&text), step);
        if let Err(e) = sent {
            warn!(tenant = %tenant_id, delivery_id = %delivery_id, correlation_id = %correlation_id, error = %e, "enqueue failed");
            return IngressResponse::error(503, "temporarily unavailable, retry");
        }
        if let Err(e) = step {
            warn!(tenant = %tenant_id, delivery_id = %delivery_id, error = %e, "could not record the delivery's receipt");
        }
        info!(tenant = %tenant_id, provider = %provider, delivery_id = %delivery_id, correlation_id = %correlation_id, bytes = req.body.len(), "accepted");
        IngressResponse {
            status: 202,
            body: json!({ "delivery_id": delivery_id }),
        }
    }

    async fn handshake(
        &self,
        tenant: &TenantId,
        provider: Provider,
        h: Handshake,
    ) -> IngressResponse {
        match h {
            Handshake::CloverVerification { code } => {
                // The operator pastes this code into Clover's dashboard; keep it for them.
                let doc = json!({ "provider": provider, "verification_code": code, "received_at": self.clock.now() });
                let stored =
                    match Item::with_doc(keys::handshake_pk(tenant), provider.as_str(), &doc) {
                        Ok(item) => self.table.put(item, Condition::Always).await.map(|_| ()),
                        Err(e) => Err(e),
                    };
                if let Err(e) = stored {
                    warn!(tenant = %tenant, error = %e, "could not store the Clover verification code");
                    return IngressResponse::error(503, "temporarily unavailable, retry");
                }
                info!(tenant = %tenant, provider = %provider, "clover verification request stored");
                IngressResponse {
                    status: 200,
                    body: json!({ "status": "verification code received" }),
                }
            }
            Handshake::WooCommercePing { .. } => {
                info!(tenant = %tenant, provider = %provider, "woocommerce ping");
                IngressResponse {
                    status: 200,
                    body: json!({}),
                }
            }
        }
    }
}

fn forwarded_headers(
    provider: Provider,
    profile: Option<&tillbridge_profiles::Profile>,
    headers: &Headers,
) -> Headers {
    let mut out = Headers::new();
    // A profile's token (the secret itself) travels on as its SHA-256 only.
    let token_header = profile.and_then(|p| match &p.doc().webhooks.as_ref()?.signature {
        tillbridge_profiles::model::Signature::Token(t) => Some(t.header.to_ascii_lowercase()),
        _ => None,
    });
    if let Some((name, digest)) =
        profile.and_then(|p| tillbridge_profiles::forwarded_token(p, headers))
    {
        out.insert(&name, digest);
    }
    for (name, value) in headers.iter() {
        if DROPPED_HEADERS.contains(&name)
            || token_header.as_deref() == Some(name)
            || name == tillbridge_profiles::PROFILE_TOKEN_DIGEST_HEADER
        {
            continue;
        }
        if provider == Provider::Clover && name == "x-clover-auth" {
            out.insert(
                CLOVER_AUTH_DIGEST_HEADER,
                hex::encode(Sha256::digest(value.trim().as_bytes())),
            );
            continue;
        }
        out.insert(name, value);
    }
    out
}
