//! signature-check: one SQS batch of inbound deliveries through the shared stage, with
//! partial batch failures (only failed messages are retried, then dead-lettered).

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use tillbridge_pipeline::signature_check::SignatureCheck;
use tracing::warn;

pub async fn handle(check: &SignatureCheck, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
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
