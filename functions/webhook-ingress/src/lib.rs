//! webhook-ingress: API Gateway HTTP API (payload v2) → the shared ingress stage.

use std::time::Instant;

use lambda_http::{Body, Request, RequestExt, Response};
use tillbridge_accounting::metering::Metering;
use tillbridge_domain::TenantId;
use tillbridge_sync::ingress::{Ingress, IngressRequest};
use tillbridge_webhooks::Headers;

/// Answers one request. Every outcome is an HTTP response (typed 4xx/5xx are returned as
/// `Ok`, so Lambda never reports them as function errors).
pub async fn handle(
    ingress: &Ingress,
    metering: Option<&Metering>,
    req: Request,
) -> Response<Body> {
    let started = Instant::now();
    if let Some(m) = metering {
        m.meter.take();
    }
    let params = req.path_parameters();
    let provider = params.first("provider").unwrap_or_default().to_owned();
    let tenant = params.first("tenant").unwrap_or_default().to_owned();
    let headers: Headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    // lambda_http has already decoded an `isBase64Encoded` body: these are the raw bytes.
    let body: &[u8] = req.body().as_ref();
    let reply = ingress
        .handle(IngressRequest {
            provider: &provider,
            tenant: &tenant,
            headers,
            body,
        })
        .await;
    // Requests for unknown tenants are not attributed to anyone.
    if let Some(m) = metering {
        let known = (reply.status != 404)
            .then(|| TenantId::parse(&tenant).ok())
            .flatten();
        m.record(known.as_ref(), started, true).await;
    }
    Response::builder()
        .status(reply.status)
        .header("content-type", "application/json")
        .body(Body::Text(reply.body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Text("{\"error\":\"internal\"}".into())))
}

#[cfg(test)]
mod tests;
