//! signature-check: one SQS batch of inbound deliveries through the shared stage, with
//! partial batch failures (only failed messages are retried, then dead-lettered).

use std::time::Instant;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use tillbridge_domain::TenantId;
use tillbridge_pipeline::metering::Metering;
use tillbridge_pipeline::signature_check::SignatureCheck;
use tracing::warn;

/// The tenant a message belongs to, for metering (None for garbage).
fn tenant_of(body: &str) -> Option<TenantId> {
    #[derive(serde::Deserialize)]
    struct Tenant {
        tenant_id: TenantId,
    }
    serde_json::from_str::<Tenant>(body)
        .ok()
        .map(|t| t.tenant_id)
}

pub async fn handle(
    check: &SignatureCheck,
    metering: Option<&Metering>,
    event: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let started = Instant::now();
        if let Some(m) = metering {
            m.meter.take();
        }
        let id = record.message_id.clone().unwrap_or_default();
        let Some(body) = record.body.as_deref() else {
            warn!(message_id = %id, "record without a body");
            response.batch_item_failures.push(failure(id));
            continue;
        };
        if let Err(e) = check.handle(body).await {
            warn!(message_id = %id, error = %e, kind = ?e.kind(), "delivery failed; SQS will retry it");
            response.batch_item_failures.push(failure(id));
        }
        if let Some(m) = metering {
            m.record(tenant_of(body).as_ref(), started, false).await;
        }
    }
    response
}

fn failure(id: String) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id;
    f
}

#[cfg(test)]
mod tests;
