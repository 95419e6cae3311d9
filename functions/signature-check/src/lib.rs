//! signature-check: one SQS batch of inbound deliveries through the shared stage, with
//! partial batch failures (only failed messages are retried, then dead-lettered).

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use tillbridge_accounting::metering::Metering;
use tillbridge_domain::TenantId;
use tillbridge_lambda::{Handled, for_each_record};
use tillbridge_sync::signature_check::SignatureCheck;

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
    for_each_record(event, metering, |body| async move {
        Handled {
            tenant: tenant_of(&body),
            result: check.handle(&body).await.map(|_| ()),
        }
    })
    .await
}

#[cfg(test)]
mod tests;
