//! JSON Schemas (draft 2020-12) of the events, generated from the Rust types: one per
//! detail-type, the envelope with that type's `data`. `events/schemas/` holds them checked
//! in and a test fails when a file differs from what the types generate; to rewrite them:
//! `TILLBRIDGE_WRITE_SCHEMAS=1 cargo test -p tillbridge-e2e --test event_schemas`.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::event::{EventType, SCHEMA_VERSION};
use crate::{CorrelationId, EventId, Provider, TenantId, Timestamp};

/// Base of every event schema's `$id`.
pub const SCHEMA_ID_BASE: &str = "https://tillbridge.dev/events/";

/// The file name of a type's schema in `events/schemas/`.
pub fn file_name(t: EventType) -> String {
    format!("{}.json", t.as_str())
}

/// The schema of one detail-type: the canonical envelope (the EventBridge `detail`) with
/// that type's `data`, every subschema inlined so each file stands alone.
pub fn event_schema(t: EventType) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let data = t.data_schema(&mut generator);
    let timestamp = generator.subschema_for::<Timestamp>();
    let mut providers: Vec<Value> = Provider::ALL.iter().map(|p| json!(p.as_str())).collect();
    providers.push(Value::Null);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{SCHEMA_ID_BASE}{}", file_name(t)),
        "title": t.as_str(),
        "description": format!(
            "{} EventBridge detail-type `{}`; this is the `detail`.",
            t.description(),
            t.as_str()
        ),
        "type": "object",
        "additionalProperties": false,
        "required": [
            "event_id", "type", "schema_version", "tenant_id", "provider", "entity_id",
            "occurred_at", "received_at", "correlation_id", "data"
        ],
        "properties": {
            "event_id": generator.subschema_for::<EventId>(),
            "type": { "const": t.as_str() },
            "schema_version": { "const": SCHEMA_VERSION },
            "tenant_id": generator.subschema_for::<TenantId>(),
            "provider": {
                "anyOf": [
                    { "enum": providers },
                    {
                        "description": "a vendor profile's name (tillbridge-profiles)",
                        "type": "string",
                        "minLength": 1,
                        "maxLength": crate::ProfileName::MAX,
                        "pattern": "^[a-z0-9-]+$"
                    }
                ]
            },
            "entity_id": { "type": "string" },
            "occurred_at": timestamp.clone(),
            "received_at": timestamp,
            "correlation_id": generator.subschema_for::<CorrelationId>(),
            "delivery_key": {
                "type": "string",
                "description": "The vendor's own id of the delivery the event came from (absent for events not from a webhook)."
            },
            "data": data,
        },
    })
}
