//! `migrate` and `migration show`'s text output: the status, progress, validation,
//! destination, preview and rollback lines.

use tillbridge_local::LocalRuntime;
use tillbridge_migration::{self as migration, Migration, Status};

use crate::Outcome;
use crate::migrate::{progress_of, usage};

pub(crate) async fn output(rt: &LocalRuntime, m: &Migration, format: &str) -> Outcome {
    if format == "json" {
        let mut view = m.view();
        // After a rollback: its report, and what it left alone as `conflicts` (CLI.md) —
        // catalog ids, and `<destination>:<vendor id>` for objects changed at the destination.
        if let (Some(report), Some(obj)) = (rollback_report(rt, m).await, view.as_object_mut()) {
            obj.insert("conflicts".into(), serde_json::json!(report.conflicts));
            obj.insert(
                "rollback".into(),
                serde_json::to_value(&report).map_err(usage)?,
            );
        }
        println!("{}", serde_json::to_string_pretty(&view).map_err(usage)?);
        return Ok(());
    }
    let p = &m.progress;
    let mut out = String::new();
    let (done, total) = progress_of(m);
    out += &format!(
        "migration {}  tenant {}  from {}\nstatus: {}{}  ({}%)\n",
        m.id,
        m.tenant_id,
        m.source_name,
        m.status.as_str(),
        if m.paused { " (paused)" } else { "" },
        (done * 100).checked_div(total).unwrap_or(0)
    );
    if let Some(v) = &m.validation {
        out += &format!(
            "validation: {} items, {} errors, {} warnings, {} values that did not convert\n  report: tillbridge migration report {}\n",
            v.items, v.errors, v.warnings, v.conversion_problems, m.id
        );
    }
    if p.items > 0 {
        let customers = m.customers.as_ref().map_or(0, |c| c.with_consent);
        out += &format!(
            "apply: {} records → {} items and {customers} customers to apply, {} items held back by errors\n       {} created, {} changed, {} unchanged so far\n",
            p.records,
            p.items - customers,
            p.skipped,
            p.created,
            p.changed,
            p.unchanged
        );
    }
    if let Some(c) = &m.customers
        && c.in_export > 0
    {
        out += &format!(
            "customers: {} in the export, {} migrated with consent, {} left out without consent, {} without an id\n",
            c.in_export, c.with_consent, c.without_consent, c.without_id
        );
    }
    if let Some(p) = m.destination {
        out += &destination_line(rt, m, p).await;
    }
    if m.status == Status::Previewed {
        out += &preview_lines(rt, m).await;
    }
    if let Some(s) = &m.snapshot {
        out += &format!(
            "snapshot: {} items, {} bytes gzip ({} raw), sha256 {}\n",
            s.items, s.compressed_bytes, s.bytes, s.sha256
        );
    }
    if let Some(line) = rollback_line(rt, m).await {
        out += &line;
    }
    if let Some(e) = &m.error {
        out += &format!("error: {e}\n");
    }
    print!("{out}");
    Ok(())
}

/// The migration's rollback report, once written.
async fn rollback_report(rt: &LocalRuntime, m: &Migration) -> Option<migration::rollback::Report> {
    let bytes = rt
        .blobs
        .get(m.rollback_report_key.as_deref()?)
        .await
        .ok()??;
    serde_json::from_slice(&bytes).ok()
}

pub(crate) async fn rollback_line(rt: &LocalRuntime, m: &Migration) -> Option<String> {
    let r = rollback_report(rt, m).await?;
    let at_destination = r.destination.as_ref().map_or(0, |d| d.conflicts.len());
    let dest = r.destination.as_ref().map_or_else(String::new, |d| {
        format!(
            "  at {}: {} deleted, {} restored, {} kept (changed there since), {} failed; verified: {}\n",
            d.provider,
            d.deleted,
            d.restored,
            d.conflicts.len(),
            d.failed.len(),
            if d.verified { "yes, read back" } else { "NO" }
        )
    });
    let line = format!(
        "rollback: {} removed, {} restored, {} kept (changed since), {} changed outside the migration; verified: {}\n",
        r.removed,
        r.restored,
        r.conflicts.len().saturating_sub(at_destination),
        r.changed_outside.len(),
        if r.verified {
            "yes, catalog matches the snapshot"
        } else {
            "NO"
        }
    );
    Some(line + &dest)
}

/// What the write did at the destination so far (counts per item).
async fn destination_line(
    rt: &LocalRuntime,
    m: &Migration,
    p: tillbridge_domain::Provider,
) -> String {
    let views = migration::destination::item_destinations(rt.table.as_ref(), rt.blobs.as_ref(), m)
        .await
        .unwrap_or_default();
    let count = |a: &str| views.iter().filter(|(_, v)| v["action"] == a).count();
    format!(
        "destination {p}: {} created, {} updated, {} unchanged, {} failed (per item: tillbridge migration report {})\n",
        count("created"),
        count("updated"),
        count("unchanged"),
        count("failed"),
        m.id
    )
}

/// A previewed migration: what the apply would do, the held-back items by name, and how to
/// apply it.
async fn preview_lines(rt: &LocalRuntime, m: &Migration) -> String {
    let key = tillbridge_migration::prepare::report_key(m);
    let report: serde_json::Value = match rt.blobs.get(&key).await {
        Ok(Some(b)) => serde_json::from_slice(&b).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    let p = &report["preview"];
    let mut out = format!(
        "preview: {} would be created, {} changed, {} unchanged; {} held back\n",
        p["created"], p["changed"], p["unchanged"], p["held_back"]
    );
    let d = &report["destination_preview"];
    if d.is_object() {
        out += &format!(
            "  at {}: {} would be created, {} updated, {} unchanged, {} would fail\n",
            d["provider"].as_str().unwrap_or(""),
            d["created"],
            d["updated"],
            d["unchanged"],
            d["failed"]
        );
    }
    for h in report["held_back_items"].as_array().into_iter().flatten() {
        let rules: Vec<&str> = h["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["rule"].as_str())
            .collect();
        out += &format!(
            "  held back: {} {} ({})\n",
            h["external_id"].as_str().unwrap_or(""),
            h["name"].as_str().unwrap_or("(no name)"),
            rules.join(", ")
        );
    }
    out += &format!(
        "  report: tillbridge migration report {id}\n  apply:  tillbridge migration approve {id}\n",
        id = m.id
    );
    out
}
