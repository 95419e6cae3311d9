//! Dead letters: what the queues gave up on after their receives ran out, visible and
//! redriven by an operator. `GET /v1/dead-letters` lists each dead-letter queue's depth and a
//! summary of its oldest messages (ids, tenant, provider, type — never bodies or headers, which
//! may hold customer data); `POST /v1/dead-letters/{queue}/redrive` moves up to 100 messages
//! back to the queue they came from (after the cause is fixed), oldest first.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tillbridge_ports::Queue;

use crate::{Api, Request, Response};

/// A dead-letter queue and the work queue its messages came from.
pub struct DeadLetters {
    /// Its name in routes (`inbound`, `catalog`, `costs`, `migrations`, `fetch`, …).
    pub name: String,
    /// The dead-letter queue.
    pub dlq: Arc<dyn Queue>,
    /// Where a redrive sends its messages.
    pub target: Arc<dyn Queue>,
}

/// Messages summarised per queue in a listing.
const PEEK: usize = 20;
/// Messages moved per redrive call.
const REDRIVE_MAX: usize = 100;

/// What an operator may see of a message: identifiers only.
fn summary(body: &str) -> Value {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return json!({ "kind": "unreadable", "bytes": body.len() });
    };
    if let Some(detail) = v.get("detail") {
        return json!({
            "kind": "event",
            "type": v.get("detail-type"),
            "tenant_id": detail.get("tenant_id"),
            "provider": detail.get("provider"),
            "event_id": detail.get("event_id"),
            "entity_id": detail.get("entity_id"),
        });
    }
    if v.get("delivery_id").is_some() {
        return json!({
            "kind": "delivery",
            "tenant_id": v.get("tenant_id"),
            "provider": v.get("provider"),
            "delivery_id": v.get("delivery_id"),
            "received_at": v.get("received_at"),
        });
    }
    json!({ "kind": "other", "type": v.get("type"), "tenant_id": v.get("tenant_id") })
}

/// `GET /v1/dead-letters`.
pub(crate) async fn list(api: &Api) -> Response {
    let mut queues = Vec::new();
    for q in &api.dead_letters {
        let depth = match q.dlq.depth().await {
            Ok(d) => d,
            Err(e) => return Response::failure(&e),
        };
        // Peek: received for a moment and released at once (dead-letter queues have no
        // receive limit of their own).
        let messages = match q.dlq.receive(PEEK, Duration::from_secs(5)).await {
            Ok(m) => m,
            Err(e) => return Response::failure(&e),
        };
        let mut summaries = Vec::with_capacity(messages.len());
        for m in &messages {
            let mut s = summary(&m.body);
            if let Some(o) = s.as_object_mut() {
                o.insert("message_id".into(), json!(m.id));
            }
            summaries.push(s);
            if let Err(e) = q.dlq.release(&m.receipt, Duration::ZERO).await {
                return Response::failure(&e);
            }
        }
        queues.push(json!({ "queue": q.name, "depth": depth, "oldest": summaries }));
    }
    Response::json(200, &json!({ "queues": queues }))
}

/// `POST /v1/dead-letters/{queue}/redrive`: up to 100 messages back to their queue.
pub(crate) async fn redrive(api: &Api, req: &Request<'_>, queue: &str) -> Response {
    let Some(q) = api.dead_letters.iter().find(|q| q.name == queue) else {
        return Response::error(404, "no such dead-letter queue");
    };
    let mut moved = 0usize;
    while moved < REDRIVE_MAX {
        let batch = match q
            .dlq
            .receive((REDRIVE_MAX - moved).min(10), Duration::from_secs(30))
            .await
        {
            Ok(b) => b,
            Err(e) => return Response::failure(&e),
        };
        if batch.is_empty() {
            break;
        }
        for m in batch {
            // Sent before it is deleted: a failure between the two leaves a duplicate, which
            // every consumer drops (idempotency), never a loss.
            if let Err(e) = q.target.send(&m.body).await {
                let _ = q.dlq.release(&m.receipt, Duration::ZERO).await;
                return Response::failure(&e);
            }
            if let Err(e) = q.dlq.delete(&m.receipt).await {
                return Response::failure(&e);
            }
            moved += 1;
            tillbridge_ports::metrics::count("DlqRedriven", &[("queue", &q.name)], None, 1);
        }
    }
    let left = q.dlq.depth().await.unwrap_or_default();
    tracing::info!(operator = %req.operator, queue, moved, left, "dead letters redriven");
    Response::json(
        200,
        &json!({ "queue": queue, "moved": moved, "left": left }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_name_ids_never_bodies() {
        let delivery = r#"{"delivery_id":"d1","tenant_id":"t1","provider":"shopify","received_at":"2026-01-01T00:00:00Z","headers":{"x":"secret"},"body":{"inline":"customer@example.com"}}"#;
        let s = summary(delivery).to_string();
        assert!(
            s.contains("d1") && !s.contains("customer@") && !s.contains("secret"),
            "{s}"
        );
        let event = r#"{"detail-type":"pos.catalog.item.upserted","detail":{"tenant_id":"t1","event_id":"e1","data":{"item":{"name":"Ann's card"}}}}"#;
        let s = summary(event).to_string();
        assert!(s.contains("e1") && !s.contains("Ann"), "{s}");
        assert_eq!(summary("not json")["kind"], "unreadable");
    }
}
