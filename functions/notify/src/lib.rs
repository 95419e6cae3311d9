//! notify: notifications that get sent.
//! - an SQS batch (the bus's notifiable events: migration lifecycle, budget thresholds,
//!   quarantines) is routed per tenant settings: signed webhooks, chat posts and SES email
//!   go out now, what severity defers is held for the next business opening; each record
//!   that fails (a table or store outage) is reported as a batch item failure and only it is
//!   retried (a redelivered event sends nothing twice);
//! - on the same queue, the deployment's CloudWatch alarms (their SNS topic's notifications):
//!   each state change is routed like an event of the operators' tenant (`ALARMS_TENANT`),
//!   so alarm severity follows that tenant's business calendar — a `[critical]` alarm pages
//!   at any hour, the others wait for business hours;
//! - the EventBridge schedule (input `{"action": "flush-notifications"}`) flushes the held notifications that are
//!   due as one digest per tenant and channel, and makes the retries that are due.

use aws_lambda_events::sqs::SqsEvent;
use serde_json::Value;
use tillbridge_accounting::metering::Metering;
use tillbridge_domain::{Envelope, TenantId};
use tillbridge_lambda::{Handled, for_each_record};
use tillbridge_notifications::Notifier;
use tillbridge_ports::PortError;
use tillbridge_ports::bus::read_bus_message;

/// The schedule rule's input (infra/template.yaml).
pub const FLUSH_ACTION: &str = "flush-notifications";

/// Whether the invocation is the schedule rule's (its input, or a plain scheduled event)
/// rather than an SQS batch.
pub fn is_schedule(payload: &Value) -> bool {
    payload.get("action").and_then(Value::as_str) == Some(FLUSH_ACTION)
        || payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
}

/// The event of an alarm's state change (from its SNS notification), as an event of the
/// operators' tenant. None when `body` is not an SNS notification.
///
/// # Errors
/// An SNS notification that is not a CloudWatch alarm change, or one that arrives while no
/// operators' tenant is configured: permanent (the record goes to the DLQ after its retries,
/// where the alarm on that DLQ shows it).
pub fn alarm_event(
    body: &str,
    alarms_tenant: Option<&TenantId>,
) -> Option<Result<Envelope, PortError>> {
    let read = tillbridge_notifications::tillbridge_notify::alarm::from_sns(body)?;
    Some(match (read, alarms_tenant) {
        (Err(e), _) => Err(PortError::Permanent(e.to_string())),
        (Ok(_), None) => Err(PortError::Permanent(
            "an alarm notification arrived but ALARMS_TENANT is not set".into(),
        )),
        (Ok((alarm, key)), Some(tenant)) => {
            tillbridge_notifications::tillbridge_notify::alarm::envelope(alarm, &key, tenant)
                .map_err(|e| PortError::Permanent(e.to_string()))
        }
    })
}

/// Handles one invocation: an SQS batch (answered with its batch item failures) or the
/// schedule (answered with what the flush did). `alarms_tenant` is the operators' tenant
/// whose settings route the deployment's alarms.
///
/// # Errors
/// A payload that is neither, or a flush that could not read the table (the next scheduled
/// run picks up what is left).
pub async fn handle(
    notifier: &Notifier,
    metering: Option<&Metering>,
    alarms_tenant: Option<&TenantId>,
    payload: Value,
) -> Result<Value, String> {
    if is_schedule(&payload) {
        let report = notifier.flush().await.map_err(|e| e.to_string())?;
        tillbridge_lambda::flush_metrics("notify");
        return serde_json::to_value(report).map_err(|e| e.to_string());
    }
    let event: SqsEvent = serde_json::from_value(payload)
        .map_err(|e| format!("neither an SQS batch nor the schedule: {e}"))?;
    let response = for_each_record(event, metering, |body| async move {
        if let Some(alarm) = alarm_event(&body, alarms_tenant) {
            return match alarm {
                Ok(envelope) => Handled {
                    tenant: Some(envelope.tenant_id.clone()),
                    result: notifier.on_event(&envelope).await.map(|_| ()),
                },
                Err(e) => Handled {
                    tenant: None,
                    result: Err(e),
                },
            };
        }
        match read_bus_message(&body, notifier.blobs.as_ref()).await {
            Ok(envelope) => Handled {
                tenant: Some(envelope.tenant_id.clone()),
                result: notifier.on_event(&envelope).await.map(|_| ()),
            },
            Err(e) => Handled::<PortError> {
                tenant: None,
                result: Err(e),
            },
        }
    })
    .await;
    serde_json::to_value(response).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
