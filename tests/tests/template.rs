//! infra/template.yaml against the code: a function resource for every functions/ crate,
//! every environment variable the code requires is set, every event type the code can
//! publish is routed by a rule or declared unrouted, every SQS consumer reports partial
//! batch failures, every work queue has a DLQ after ≥ 5 receives and a visibility timeout
//! of ≥ 6× its consumer's timeout.

use std::path::{Path, PathBuf};

use tillbridge_domain::event::EventType;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> String {
    std::fs::read_to_string(root().join("infra/template.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() && !p.ends_with("target") {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_function_crate_has_a_resource() {
    let t = template();
    let mut crates = 0;
    for entry in std::fs::read_dir(root().join("functions"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        crates += 1;
        assert!(
            t.contains(&format!("Binary: {name}\n")),
            "no function resource builds {name}"
        );
    }
    assert_eq!(
        t.matches("Type: AWS::Serverless::Function").count(),
        crates,
        "a function resource without a crate"
    );
    assert_eq!(t.matches("BuildMethod: rust-cargolambda").count(), crates);
}

#[test]
fn every_environment_variable_the_code_requires_is_set() {
    let t = template();
    let mut files = Vec::new();
    rust_files(&root().join("functions"), &mut files);
    rust_files(&root().join("shared"), &mut files);
    let mut found = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for part in text.split("required_env(\"").skip(1) {
            let Some(name) = part
                .split('"')
                .next()
                .filter(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !n.is_empty())
            else {
                continue;
            };
            found += 1;
            assert!(
                t.contains(&format!("{name}: ")),
                "{} requires {name}, the template does not set it",
                f.display()
            );
        }
    }
    assert!(found >= 5);
}

#[test]
fn every_event_type_is_routed_or_declared_unrouted() {
    let t = template();
    let prefixes: Vec<String> = t
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- prefix: "))
        .map(|p| p.trim_matches('"').to_owned())
        .collect();
    for ty in EventType::ALL {
        let name = ty.as_str();
        let routed = t.contains(&format!("detail-type: [{name}]"))
            || t.contains(&format!("- {name}\n"))
            || prefixes.iter().any(|p| name.starts_with(p.as_str()));
        let declared = t.contains(&format!("      {name}: "));
        assert!(
            routed || declared,
            "{name} is neither routed nor declared unrouted"
        );
        assert!(
            !(routed && declared),
            "{name} is routed and also declared unrouted"
        );
    }
}

#[test]
fn consumers_report_partial_failures_and_queues_redrive() {
    let t = template();
    assert_eq!(
        t.matches("Type: SQS\n").count(),
        t.matches("FunctionResponseTypes: [ReportBatchItemFailures]")
            .count()
    );
    // Queues' redrive policies (SNS subscriptions have their own).
    let queues: Vec<&str> = resources(&t)
        .into_iter()
        .filter(|(_, b)| b.contains("Type: AWS::SQS::Queue"))
        .map(|(_, b)| b)
        .collect();
    let work_queues = queues
        .iter()
        .map(|q| q.matches("RedrivePolicy:").count())
        .sum::<usize>();
    assert_eq!(work_queues, 8);
    for block in queues
        .iter()
        .flat_map(|q| q.split("RedrivePolicy:").skip(1))
    {
        let receives: u32 = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("maxReceiveCount: "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(receives >= 5);
    }
    // Every queue hides a message for at least six times its consumer's timeout, so a
    // message is never handed to a second invocation while the first still works on it.
    let global_timeout = seconds(&t, "    Timeout: ").unwrap_or(3);
    let mut consumers = 0;
    for (name, block) in resources(&t) {
        if !block.contains("Type: AWS::Serverless::Function") {
            continue;
        }
        let timeout = seconds(block, "      Timeout: ").unwrap_or(global_timeout);
        for queue in block
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Queue: !GetAtt "))
            .filter_map(|q| q.strip_suffix(".Arn"))
        {
            let (_, q) = resources(&t)
                .into_iter()
                .find(|(n, _)| *n == queue)
                .unwrap_or_else(|| panic!("{name} reads {queue}, which is not defined"));
            let visibility = seconds(q, "      VisibilityTimeout: ").unwrap_or(30);
            assert!(
                visibility >= 6 * timeout,
                "{queue}: visibility {visibility} s < 6 × {name}'s timeout {timeout} s"
            );
            consumers += 1;
        }
    }
    assert_eq!(consumers, work_queues, "every work queue has a consumer");
    assert!(
        !t.contains("Action: \"*\"") && !t.contains("Action: '*'") && !t.contains(":*\n"),
        "no wildcard actions"
    );
}

/// Top-level resources: (logical id, block text).
fn resources(t: &str) -> Vec<(&str, &str)> {
    let body = &t[t.find("\nResources:\n").unwrap_or(0)..];
    let body = &body[..body.find("\nOutputs:\n").unwrap_or(body.len())];
    let mut out = Vec::new();
    let starts: Vec<usize> = body
        .match_indices("\n  ")
        .filter(|(i, _)| {
            let rest = &body[i + 3..];
            rest.starts_with(|c: char| c.is_ascii_alphabetic())
                && rest.lines().next().is_some_and(|l| l.ends_with(':'))
        })
        .map(|(i, _)| i + 3)
        .collect();
    for (k, start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(body.len());
        let block = &body[*start..end];
        let name = block.lines().next().unwrap_or("").trim_end_matches(':');
        out.push((name, block));
    }
    out
}

fn seconds(block: &str, prefix: &str) -> Option<u32> {
    block
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
}

/// A vendor retry that meets the idempotency lock of a delivery in progress is released for
/// a later receive; the inbound queue's receives must outlast the lock, or the retry would be
/// dead-lettered while the lock still stands.
#[test]
fn inbound_receives_outlast_the_idempotency_lock() {
    let t = template();
    let (_, queue) = resources(&t)
        .into_iter()
        .find(|(n, _)| *n == "InboundQueue")
        .unwrap_or_else(|| panic!("InboundQueue"));
    let visibility = seconds(queue, "      VisibilityTimeout: ").unwrap_or(30);
    let receives: u32 = queue
        .lines()
        .find_map(|l| l.trim().strip_prefix("maxReceiveCount: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let lock = u32::try_from(tillbridge_sync::signature_check::IN_PROGRESS_LOCK_SECS).unwrap_or(0);
    assert!(
        visibility * receives.saturating_sub(1) > lock,
        "{receives} receives {visibility} s apart do not outlast the {lock} s lock"
    );
}

/// The bucket's lifecycle rules keep each prefix exactly as long as the retention report
/// (built from the code's constants) says.
#[test]
fn the_bucket_lifecycle_matches_the_retention_report() {
    let t = template();
    let raw_default: i64 = t
        .split("RawRetentionDays:")
        .nth(1)
        .and_then(|b| b.split("Default:").nth(1))
        .and_then(|d| d.split_whitespace().next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("RawRetentionDays has no default"));
    let mut rules: Vec<(String, i64)> = Vec::new();
    for block in t.split("- Id: ").skip(1) {
        let Some(prefix) = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("Prefix: "))
            .map(str::to_owned)
        else {
            continue;
        };
        let Some(days) = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("ExpirationInDays: "))
        else {
            continue;
        };
        let days = if days.contains("RawRetentionDays") {
            raw_default
        } else {
            days.parse().unwrap_or_else(|_| panic!("{prefix}: {days}"))
        };
        rules.push((prefix, days));
    }
    let policies = tillbridge_api::retention::policies();
    for (prefix, days) in &rules {
        let p = policies
            .iter()
            .find(|p| {
                p.location
                    .split(", ")
                    .any(|l| l.trim_end_matches("<tenant>/") == prefix.as_str() || l == prefix)
            })
            .unwrap_or_else(|| panic!("no retention entry for the lifecycle rule {prefix}"));
        assert_eq!(p.days, Some(*days), "{prefix}: {}", p.data);
    }
    for needed in [
        "raw/",
        "quarantine/",
        "exports/",
        "snapshots/",
        "migrations/",
        "reports/",
        "privacy/",
    ] {
        assert!(
            rules.iter().any(|(p, _)| p == needed),
            "no lifecycle rule for {needed}"
        );
    }
}

/// The notify rule takes exactly the events the notify crate has templates for (and the
/// local runtime's notify rule is built from the same list), but the alarms, which come
/// from their SNS topic; the notify queue is subscribed to that topic.
#[test]
fn the_alarm_topic_reaches_the_notify_queue() {
    let t = template();
    let start = t
        .find("  AlarmNotifySubscription:\n")
        .unwrap_or_else(|| panic!("no AlarmNotifySubscription"));
    let sub = &t[start..start + 600];
    assert!(sub.contains("TopicArn: !Ref AlarmTopic"), "{sub}");
    assert!(sub.contains("Protocol: sqs"), "{sub}");
    assert!(sub.contains("Endpoint: !GetAtt NotifyQueue.Arn"), "{sub}");
    assert!(sub.contains("RawMessageDelivery: false"), "{sub}");
    assert!(t.contains("ALARMS_TENANT: !Ref AlarmsTenant"));
    // SNS may send to the queue, from that topic only.
    assert!(t.contains(
        "            Resource: !GetAtt NotifyQueue.Arn\n            Condition:\n              ArnEquals:\n                aws:SourceArn: !Ref AlarmTopic"
    ));
}

/// The notify rule takes exactly the events the notify crate has templates for (and the
/// local runtime's notify rule is built from the same list).
#[test]
fn the_notify_rule_routes_every_notifiable_event_and_nothing_else() {
    let t = template();
    let start = t
        .find("  NotifyRule:\n")
        .unwrap_or_else(|| panic!("no NotifyRule"));
    let rule = &t[start..];
    let rule = &rule[..rule.find("      Targets:").unwrap_or(rule.len())];
    let listed: Vec<&str> = rule
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .collect();
    // Alarms reach notify through the alarm topic's SNS subscription, not the bus.
    let mut expected: Vec<&str> = tillbridge_notify::template::NOTIFIABLE
        .iter()
        .map(|k| k.as_str())
        .filter(|k| *k != "operations.alarm.changed")
        .collect();
    let mut got = listed.clone();
    expected.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, expected);
}

/// The console's SLA targets per provider (`tillbridge_api::deliveries::SLA_TARGETS`) are the
/// defaults of the template's `<Provider>SlaPercent` parameters that the SLA alarms use.
#[test]
fn the_consoles_sla_targets_are_the_alarms_defaults() {
    let t = template();
    for (provider, target) in tillbridge_api::deliveries::SLA_TARGETS {
        let mut name = provider.to_owned();
        name[..1].make_ascii_uppercase();
        let param = format!("\n  {name}SlaPercent:\n");
        let at = t
            .find(&param)
            .unwrap_or_else(|| panic!("no {name}SlaPercent parameter"));
        let default = t[at + param.len()..]
            .lines()
            .take(3)
            .find_map(|l| l.trim().strip_prefix("Default: "))
            .unwrap_or_else(|| panic!("{name}SlaPercent has no default"));
        assert_eq!(default, target, "{provider}");
    }
    assert_eq!(
        t.matches("SlaPercent:\n").count(),
        tillbridge_api::deliveries::SLA_TARGETS.len(),
        "every SLA parameter has a console target"
    );
}
