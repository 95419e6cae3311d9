//! Per-record handling of an SQS batch: each record is handled on its own; failed records
//! are reported as batch item failures (only they are retried, then dead-lettered); every
//! record's AWS usage is metered to its tenant.

#![warn(missing_docs)]

use std::future::Future;
use std::time::Instant;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use tillbridge_accounting::metering::Metering;
use tillbridge_domain::Classify;
use tillbridge_domain::TenantId;
use tracing::warn;

/// What handling one record produced: its tenant (for metering) and the outcome.
pub struct Handled<E> {
    /// The record's tenant, when it could be read (metered to it).
    pub tenant: Option<TenantId>,
    /// Ok, or the error that makes SQS retry the record.
    pub result: Result<(), E>,
}

/// Runs `handle` on each record's body; a missing body is a failure.
pub async fn for_each_record<F, Fut, E>(
    event: SqsEvent,
    metering: Option<&Metering>,
    mut handle: F,
) -> SqsBatchResponse
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Handled<E>>,
    E: Classify,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let started = Instant::now();
        if let Some(m) = metering {
            m.meter.take();
        }
        let id = record.message_id.clone().unwrap_or_default();
        let handled = match record.body {
            Some(body) => handle(body).await,
            None => {
                warn!(message_id = %id, "record without a body; SQS will retry it");
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                response.batch_item_failures.push(f);
                continue;
            }
        };
        if let Err(e) = &handled.result {
            warn!(message_id = %id, error = %e, kind = ?e.kind(), "record failed; SQS will retry it");
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            response.batch_item_failures.push(f);
        }
        if let Some(m) = metering {
            m.record(handled.tenant.as_ref(), started, false).await;
        }
    }
    flush_metrics(metering.map_or("tillbridge", |m| m.function));
    response
}

/// Prints the metrics recorded during this invocation as CloudWatch EMF lines on stdout
/// (one JSON line per group of dimension values and tenant); `service` is the function.
/// Call once at the end of every invocation.
pub fn flush_metrics(service: &str) {
    tillbridge_ports::metrics::global().flush_emf(service);
}

/// "Hand over now": true once less than `margin` is left before the invocation's deadline
/// (milliseconds since the Unix epoch, as the runtime gives it). Long steps (a migration's
/// apply or rollback) check it between batches and continue in a fresh invocation.
pub fn out_of_time(deadline_ms: u64, margin: std::time::Duration) -> impl Fn() -> bool + Sync {
    move || {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        deadline_ms != 0 && now_ms + margin.as_millis() as u64 >= deadline_ms
    }
}
