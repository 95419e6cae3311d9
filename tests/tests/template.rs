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
    let work_queues = t.matches("RedrivePolicy:").count();
    assert_eq!(work_queues, 4);
    for block in t.split("RedrivePolicy:").skip(1) {
        let receives: u32 = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("maxReceiveCount: "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(receives >= 5);
    }
    // Consumers time out at 10 s (Globals) and their queues hide messages for 60 s; the
    // mapping consumer (model calls with retries) gets 120 s and its queue 6 × that.
    assert!(t.contains("    Timeout: 10\n"));
    assert_eq!(
        t.matches("      VisibilityTimeout: 60\n").count(),
        work_queues - 1
    );
    assert!(t.contains("      Timeout: 120\n"));
    assert!(t.contains("      VisibilityTimeout: 720\n"));
    assert!(
        !t.contains("Action: \"*\"") && !t.contains("Action: '*'") && !t.contains(":*\n"),
        "no wildcard actions"
    );
}
