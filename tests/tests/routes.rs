//! The route table of the one management router (`tillbridge_api::ROUTES`) against what
//! declares and answers it: every route is an event of the api function in
//! infra/template.yaml, a row of the README's route table, and answered by `tillbridge
//! serve` (not "no such route", not 405). The webhook route likewise.

mod support;

use std::path::PathBuf;

use tillbridge_api::{ROUTES, WEBHOOK_ROUTE};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (method, path) of every HttpApi event of one function resource in the template.
fn template_events(function: &str) -> Vec<(String, String)> {
    let t = std::fs::read_to_string(root().join("infra/template.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let start = t
        .find(&format!("\n  {function}:\n"))
        .unwrap_or_else(|| panic!("no {function} in the template"));
    // The resource ends where the next one (two-space indent) begins.
    let section: Vec<&str> = t[start + 1..]
        .lines()
        .enumerate()
        .take_while(|(i, l)| *i == 0 || !l.starts_with("  ") || l.starts_with("   "))
        .map(|(_, l)| l)
        .collect();
    let mut events = Vec::new();
    let mut method = None;
    for line in section.iter().map(|l| l.trim()) {
        if let Some(m) = line.strip_prefix("Method: ") {
            method = Some(m.to_owned());
        } else if let Some(p) = line.strip_prefix("Path: ")
            && let Some(m) = method.take()
        {
            events.push((m, p.to_owned()));
        }
    }
    events
}

fn covered(events: &[(String, String)], method: &str, path: &str) -> bool {
    events.iter().any(|(m, p)| {
        (m == method || m == "ANY")
            && (p == path
                || p.strip_suffix("{proxy+}")
                    .is_some_and(|prefix| path.starts_with(prefix)))
    })
}

#[test]
fn the_template_declares_every_route() {
    let api = template_events("ApiFunction");
    assert!(!api.is_empty());
    for r in ROUTES {
        assert!(
            covered(&api, r.method, r.path),
            "{} {} is not an event of ApiFunction",
            r.method,
            r.path
        );
    }
    let ingress = template_events("WebhookIngressFunction");
    assert!(
        covered(&ingress, WEBHOOK_ROUTE.0, WEBHOOK_ROUTE.1),
        "the webhook route is not an event of WebhookIngressFunction: {ingress:?}"
    );
}

#[test]
fn the_readme_lists_every_route() {
    let readme =
        std::fs::read_to_string(root().join("README.md")).unwrap_or_else(|e| panic!("{e}"));
    for (method, path) in ROUTES
        .iter()
        .map(|r| (r.method, r.path))
        .chain([WEBHOOK_ROUTE])
    {
        assert!(
            readme.contains(&format!("`{method} {path}`")),
            "README lacks `{method} {path}`"
        );
    }
}

#[test]
fn serve_answers_every_route() {
    let server = support::Server::start(support::temp_state("routes"));
    for r in ROUTES {
        let path = r
            .path
            .replace("{tenant}", "t1")
            .replace("{provider}", "shopify")
            .replace("{id}", "x1")
            .replace("{action}", "approve");
        let path = if path.contains("costs") {
            format!("{path}?period=2026-03")
        } else {
            path
        };
        let (status, body) = server.request(r.method, &path, &[], b"");
        assert_ne!(status, 0, "{} {path}: no answer", r.method);
        let documented = tillbridge_api::openapi::statuses(r.id);
        assert!(
            documented.contains(&status),
            "{} {path}: {status} is not in the OpenAPI document ({documented:?})",
            r.method
        );
        assert_ne!(status, 405, "{} {path}: {body}", r.method);
        assert!(
            !body.contains("no such route"),
            "{} {path}: {status} {body}",
            r.method
        );
    }
    let (status, _) = server.request("POST", "/v1/webhooks/shopify/t1", &[], b"{}");
    assert_eq!(status, 401, "the webhook route answers (unsigned: 401)");
}

#[test]
fn the_openapi_file_is_generated_from_the_route_table() {
    let path = root().join("infra/openapi.json");
    let generated = tillbridge_api::openapi::openapi();
    if std::env::var_os("TILLBRIDGE_WRITE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&generated).unwrap_or_default() + "\n";
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    }
    let checked_in: serde_json::Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    assert!(
        checked_in == generated,
        "infra/openapi.json differs from the route table; regenerate with \
         TILLBRIDGE_WRITE_OPENAPI=1 cargo test -p tillbridge-e2e --test routes"
    );
    let paths = &checked_in["paths"];
    for r in ROUTES {
        assert!(
            paths[r.path][r.method.to_ascii_lowercase()].is_object(),
            "{} {} is not in infra/openapi.json",
            r.method,
            r.path
        );
    }
}
