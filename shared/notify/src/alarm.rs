//! CloudWatch alarm notifications, as they reach the notify queue through SNS.
//!
//! The deployment's alarms publish to an SNS topic (`AlarmTopic` in infra/template.yaml);
//! the notify queue subscribes to it (raw message delivery off), so each SQS message body
//! is the SNS notification envelope (`Type`, `MessageId`, `TopicArn`, `Subject`, `Message`,
//! `Timestamp`, signature fields; see "Amazon SNS message and JSON formats" in the SNS
//! developer guide) whose `Message` is CloudWatch's alarm JSON (`AlarmName`,
//! `AlarmDescription`, `AlarmArn`, `NewStateValue`, `OldStateValue`, `NewStateReason`,
//! `StateChangeTime` with a `+0000` offset, and `Trigger` — `Namespace`/`MetricName` for a
//! single-metric alarm, `Metrics` for metric math; see "Using Amazon CloudWatch alarms",
//! the SNS notification example).
//!
//! [`from_sns`] reads both layers into an [`AlarmChanged`] and the key its event id is
//! derived from (alarm ARN, state and change time: the same state change published twice,
//! or redelivered by SQS, becomes the same event, so it is sent once).

use serde::Deserialize;
use tillbridge_domain::event::{AlarmChanged, AlarmState, SCHEMA_VERSION, derive_event_id};
use tillbridge_domain::{CorrelationId, DomainError, Envelope, EventData, TenantId, Timestamp};

/// How much of an alarm's description a message carries.
const MAX_DESCRIPTION: usize = 500;
/// How much of CloudWatch's reason a message carries.
const MAX_REASON: usize = 1_000;
/// The description prefix that makes an alarm's breach critical (it pages at any hour).
pub const CRITICAL_TAG: &str = "[critical]";

/// The SNS notification envelope (only what is read).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsNotification {
    #[serde(rename = "Type")]
    kind: String,
    message_id: String,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CloudWatchAlarm {
    alarm_name: String,
    #[serde(default)]
    alarm_description: Option<String>,
    #[serde(default)]
    alarm_arn: Option<String>,
    new_state_value: AlarmState,
    old_state_value: AlarmState,
    #[serde(default)]
    new_state_reason: String,
    state_change_time: String,
    #[serde(default)]
    trigger: Option<Trigger>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Trigger {
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    metric_name: Option<String>,
}

/// Why an SNS message could not be read as an alarm change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlarmError {
    /// An SNS notification whose message is not CloudWatch's alarm JSON.
    #[error("SNS message {message_id} is not a CloudWatch alarm notification: {reason}")]
    NotAnAlarm {
        /// SNS's id of the message.
        message_id: String,
        /// What did not parse (serde's words; no message content).
        reason: String,
    },
}

/// Whether an SQS message body is an SNS notification envelope (rather than an EventBridge
/// event). Subscription confirmations and other SNS types are not notifications.
pub fn is_sns(body: &str) -> bool {
    serde_json::from_str::<SnsNotification>(body).is_ok_and(|n| n.kind == "Notification")
}

/// Reads an SNS notification carrying a CloudWatch alarm state change: the change and the
/// dedupe key of its event id. None when `body` is not an SNS notification at all.
///
/// # Errors
/// [`AlarmError::NotAnAlarm`] for an SNS notification whose message is not an alarm
/// change (a wrong subscription; it would never parse on a retry either).
pub fn from_sns(body: &str) -> Option<Result<(AlarmChanged, String), AlarmError>> {
    let sns: SnsNotification = serde_json::from_str(body).ok()?;
    if sns.kind != "Notification" {
        return None;
    }
    let not_alarm = |reason: String| AlarmError::NotAnAlarm {
        message_id: clip(&sns.message_id, 80),
        reason,
    };
    let alarm: CloudWatchAlarm = match serde_json::from_str(&sns.message) {
        Ok(a) => a,
        Err(e) => return Some(Err(not_alarm(e.to_string()))),
    };
    let changed_at = match Timestamp::parse_lenient(&alarm.state_change_time) {
        Ok(t) => t,
        Err(e) => return Some(Err(not_alarm(e.to_string()))),
    };
    if alarm.alarm_name.trim().is_empty() {
        return Some(Err(not_alarm("AlarmName is empty".into())));
    }
    let description = alarm.alarm_description.unwrap_or_default();
    let critical = description
        .trim_start()
        .get(..CRITICAL_TAG.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CRITICAL_TAG));
    let metric = alarm
        .trigger
        .and_then(|t| match (t.namespace, t.metric_name) {
            (Some(ns), Some(name)) if !ns.is_empty() && !name.is_empty() => {
                Some(format!("{ns}/{name}"))
            }
            _ => None,
        });
    let key = format!(
        "alarm/{}/{:?}/{}",
        alarm.alarm_arn.as_deref().unwrap_or(&alarm.alarm_name),
        alarm.new_state_value,
        changed_at.unix_nanos()
    );
    Some(Ok((
        AlarmChanged {
            alarm_name: clip(&alarm.alarm_name, 255),
            description: clip(&description, MAX_DESCRIPTION),
            state: alarm.new_state_value,
            previous_state: alarm.old_state_value,
            reason: clip(&alarm.new_state_reason, MAX_REASON),
            metric,
            critical,
            changed_at,
        },
        key,
    )))
}

/// The event of an alarm's state change, for the operators' `tenant`: its id derived from
/// `key` (see [`from_sns`]), which is also its correlation id.
///
/// # Errors
/// Never for ids made by [`derive_event_id`]; the error of an invalid correlation id.
pub fn envelope(
    alarm: AlarmChanged,
    key: &str,
    tenant: &TenantId,
) -> Result<Envelope, DomainError> {
    let event_id = derive_event_id(key, 0);
    Ok(Envelope {
        correlation_id: CorrelationId::parse(event_id.as_str())?,
        event_id,
        schema_version: SCHEMA_VERSION,
        tenant_id: tenant.clone(),
        provider: None,
        entity_id: alarm.alarm_name.clone(),
        occurred_at: alarm.changed_at,
        received_at: alarm.changed_at,
        delivery_key: None,
        body: EventData::OperationsAlarmChanged(alarm),
    })
}

/// At most `max` characters of `s`, cut on a character boundary.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// CloudWatch's alarm notification as SNS delivers it to an SQS subscriber (the shape of
    /// the example in CloudWatch's user guide; the ids are made up).
    fn sns(message: &str) -> String {
        json!({
            "Type": "Notification",
            "MessageId": "5f4b4a4c-0f0a-5b8e-9d1c-2b1f3a0e6c11",
            "TopicArn": "arn:aws:sns:eu-north-1:123456789012:tillbridge-AlarmTopic",
            "Subject": "ALARM: \"tillbridge-ShopifyDeliverySla\" in EU (Stockholm)",
            "Message": message,
            "Timestamp": "2026-06-19T22:05:13.407Z",
            "SignatureVersion": "1",
            "Signature": "bm90IGEgcmVhbCBzaWduYXR1cmU=",
            "SigningCertURL": "https://sns.eu-north-1.amazonaws.com/SimpleNotificationService-x.pem",
            "UnsubscribeURL": "https://sns.eu-north-1.amazonaws.com/?Action=Unsubscribe"
        })
        .to_string()
    }

    fn metric_math_alarm() -> String {
        json!({
            "AlarmName": "tillbridge-ShopifyDeliverySla",
            "AlarmDescription": "[critical] Shopify deliveries processed below 98.5 % of received over 1 hour.",
            "AWSAccountId": "123456789012",
            "AlarmConfigurationUpdatedTimestamp": "2026-06-01T08:00:00.000+0000",
            "NewStateValue": "ALARM",
            "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [97.2 (19/06/26 21:00:00)] was less than the threshold (98.5) (minimum 1 datapoint for OK -> ALARM transition).",
            "StateChangeTime": "2026-06-19T22:05:13.362+0000",
            "Region": "EU (Stockholm)",
            "AlarmArn": "arn:aws:cloudwatch:eu-north-1:123456789012:alarm:tillbridge-ShopifyDeliverySla",
            "OldStateValue": "OK",
            "OKActions": [],
            "AlarmActions": ["arn:aws:sns:eu-north-1:123456789012:tillbridge-AlarmTopic"],
            "InsufficientDataActions": [],
            "Trigger": {
                "Period": 3600, "EvaluationPeriods": 1,
                "ComparisonOperator": "LessThanThreshold", "Threshold": 98.5,
                "TreatMissingData": "notBreaching", "EvaluateLowSampleCountPercentile": "",
                "Metrics": [{"Id": "sla", "Expression": "100 * processed / received",
                             "Label": "Shopify SLA", "ReturnData": true}]
            }
        })
        .to_string()
    }

    #[test]
    fn a_metric_math_alarm_reads_with_its_severity_and_time() {
        let Some(Ok((a, key))) = from_sns(&sns(&metric_math_alarm())) else {
            panic!("an alarm notification");
        };
        assert_eq!(a.alarm_name, "tillbridge-ShopifyDeliverySla");
        assert_eq!(a.state, AlarmState::Alarm);
        assert_eq!(a.previous_state, AlarmState::Ok);
        assert!(a.critical);
        assert_eq!(a.metric, None);
        assert_eq!(a.changed_at.to_rfc3339(), "2026-06-19T22:05:13.362Z");
        assert!(a.reason.starts_with("Threshold Crossed"));
        // The same change read twice has one key; another state has another.
        let Some(Ok((_, again))) = from_sns(&sns(&metric_math_alarm())) else {
            panic!("an alarm notification");
        };
        assert_eq!(key, again);
        let ok = metric_math_alarm()
            .replace("\"NewStateValue\":\"ALARM\"", "\"NewStateValue\":\"OK\"")
            .replace("\"OldStateValue\":\"OK\"", "\"OldStateValue\":\"ALARM\"");
        let Some(Ok((ok, ok_key))) = from_sns(&sns(&ok)) else {
            panic!("an alarm notification");
        };
        assert_eq!(ok.state, AlarmState::Ok);
        assert_ne!(ok_key, key);
    }

    #[test]
    fn a_single_metric_alarm_names_its_metric_and_is_a_warning_without_the_tag() {
        let message = json!({
            "AlarmName": "tillbridge-FetchQueueAgeAlarm-1X2Y3Z",
            "AlarmDescription": "The fetch queue's oldest message is older than 900 s.",
            "NewStateValue": "ALARM", "OldStateValue": "INSUFFICIENT_DATA",
            "NewStateReason": "Threshold Crossed: 1 datapoint [1200.0] was greater than the threshold (900.0).",
            "StateChangeTime": "2026-06-19T22:05:13.362+0000",
            "Trigger": {"MetricName": "ApproximateAgeOfOldestMessage", "Namespace": "AWS/SQS",
                        "Statistic": "MAXIMUM", "Dimensions": [{"value": "tb-FetchQueue", "name": "QueueName"}],
                        "Period": 60, "EvaluationPeriods": 1, "Threshold": 900.0}
        })
        .to_string();
        let Some(Ok((a, _))) = from_sns(&sns(&message)) else {
            panic!("an alarm notification");
        };
        assert!(!a.critical);
        assert_eq!(a.previous_state, AlarmState::InsufficientData);
        assert_eq!(
            a.metric.as_deref(),
            Some("AWS/SQS/ApproximateAgeOfOldestMessage")
        );
    }

    #[test]
    fn other_bodies_are_not_alarms() {
        // An EventBridge event on the same queue: not SNS at all.
        let event = json!({"version": "0", "detail-type": "migration.applied", "detail": {}});
        assert!(from_sns(&event.to_string()).is_none());
        assert!(!is_sns(&event.to_string()));
        assert!(from_sns("not json").is_none());
        // A subscription confirmation is SNS, but not a notification.
        let confirm = json!({"Type": "SubscriptionConfirmation", "MessageId": "m",
                             "Message": "You have chosen to subscribe", "Token": "t"});
        assert!(from_sns(&confirm.to_string()).is_none());
        // A notification that is not an alarm: a clear, permanent error.
        let wrong = sns("{\"hello\": \"world\"}");
        assert!(is_sns(&wrong));
        match from_sns(&wrong) {
            Some(Err(AlarmError::NotAnAlarm { message_id, .. })) => {
                assert_eq!(message_id, "5f4b4a4c-0f0a-5b8e-9d1c-2b1f3a0e6c11");
            }
            _ => panic!("expected NotAnAlarm"),
        }
        let bad_time = metric_math_alarm().replace("2026-06-19T22:05:13.362+0000", "yesterday");
        assert!(matches!(from_sns(&sns(&bad_time)), Some(Err(_))));
    }

    #[test]
    fn long_texts_are_clipped_on_character_boundaries() {
        let long = metric_math_alarm().replace("Threshold Crossed", &"å".repeat(2_000));
        let Some(Ok((a, _))) = from_sns(&sns(&long)) else {
            panic!("an alarm notification");
        };
        assert!(a.reason.chars().count() <= MAX_REASON + 1);
        assert!(a.reason.ends_with('…'));
    }
}
