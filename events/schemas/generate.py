#!/usr/bin/env python3
"""Writes one JSON Schema (draft 2020-12) per event detail-type: the canonical envelope
with that type's `data`. One source for the shared parts; run after changing this file:
    python3 events/schemas/generate.py
"""
import json, os, copy

HERE = os.path.dirname(os.path.abspath(__file__))
ID = "https://tillbridge.dev/events/"

ts = {"type": "string", "format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$"}
key = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z0-9._:-]+$"}
currency = {"type": "string", "pattern": "^[A-Z]{3}$"}
minor = {"type": "integer"}
decimal = {"type": "number"}
text = {"type": "string"}
providers = ["square", "shopify", "clover", "toast", "zettle", "woocommerce", "lightspeed", "bigcommerce", "stripe", "standard-webhooks"]

def obj(required, props):
    return {"type": "object", "additionalProperties": False, "required": required, "properties": props}

catalog_item = obj(["external_id"], {
    "external_id": {"type": "string", "minLength": 1}, "sku": text, "name": text, "description": text, "category": text,
    "price_minor": minor, "currency": currency, "cost_minor": minor, "barcode": text, "tax_rate_percent": decimal,
    "quantity_on_hand": decimal, "is_active": {"type": "boolean"}, "image_url": text, "brand": text, "vendor": text,
    "variant_name": text, "parent_id": text, "modifier_group_ids": {"type": "array", "items": text},
    "unit_of_measure": text, "weight": decimal, "created_at": ts, "updated_at": ts, "thc_percent": decimal, "cbd_percent": decimal,
})

DATA = {
    "pos.catalog.item.upserted": ("An item as the vendor now has it (one per variant).",
        obj(["item"], {"item": catalog_item, "inventory_item_id": text})),
    "pos.catalog.item.deleted": ("An item deleted at the vendor; deleting a parent deletes its variants.",
        obj(["external_id", "deleted_at"], {"external_id": {"type": "string", "minLength": 1}, "deleted_at": ts})),
    "pos.inventory.adjusted": ("Stock on hand changed.",
        {**obj(["as_of"], {"external_id": text, "inventory_item_id": text, "location_id": text, "quantity": decimal,
            "stock_status": {"enum": ["in_stock", "out_of_stock", "low_quantity"]}, "as_of": ts}),
         "anyOf": [{"required": ["external_id"]}, {"required": ["inventory_item_id"]}]}),
    "pos.order.upserted": ("An order (no customer data).",
        obj(["order_id", "updated_at"], {"order_id": {"type": "string", "minLength": 1}, "status": text, "currency": currency,
            "total_minor": minor, "version": {"type": "integer"}, "created_at": ts, "updated_at": ts,
            "line_items": {"type": "array", "items": obj([], {"external_id": text, "sku": text, "quantity": decimal, "unit_price_minor": minor})}})),
    "pos.fetch.requested": ("A thin webhook said something changed; a fetcher must read it from the vendor API.",
        obj(["object_type", "change", "vendor_event"], {"object_type": {"type": "string", "minLength": 1}, "object_id": text,
            "change": {"enum": ["created", "updated", "deleted"]}, "vendor_event": text})),
    "ai.usage.recorded": ("One model call, token classes additive (input excludes cached and cache-write tokens); occurred_at is the call time.",
        obj(["request_id", "operation", "provider", "model", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens"], {
            "request_id": {"type": "string", "minLength": 1}, "migration_id": text, "operation": text, "provider": text, "model": {"type": "string", "minLength": 1},
            "input_tokens": {"type": "integer", "minimum": 0}, "output_tokens": {"type": "integer", "minimum": 0},
            "cached_input_tokens": {"type": "integer", "minimum": 0}, "cache_write_tokens": {"type": "integer", "minimum": 0}})),
    "budget.threshold.crossed": ("A tenant's AI spend crossed 50, 80 or 100 % of its monthly budget; once per threshold and month.",
        obj(["period", "threshold_percent", "budget_usd", "spent_usd"], {"period": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
            "threshold_percent": {"enum": [50, 80, 100]}, "budget_usd": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{6}$"},
            "spent_usd": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{6}$"}})),
    "migration.requested": ("A migration was started; the source export is in the blob store.",
        obj(["migration_id", "source_name", "export_key"], {"migration_id": {"type": "string", "minLength": 1}, "source_name": {"type": "string", "minLength": 1},
            "export_key": {"type": "string", "minLength": 1}})),
    "migration.mapping.suggested": ("Mapping suggestions for a migration are stored and wait for review.",
        obj(["migration_id", "fields", "mapped", "high"], {"migration_id": {"type": "string", "minLength": 1}, "fields": {"type": "integer", "minimum": 0},
            "mapped": {"type": "integer", "minimum": 0}, "high": {"type": "integer", "minimum": 0}})),
    "migration.validation.requested": ("A migration's canonical items (JSONL in the blob store) are ready to be validated.",
        obj(["migration_id", "items_key"], {"migration_id": {"type": "string", "minLength": 1}, "items_key": {"type": "string", "minLength": 1},
            "country": {"type": "string", "pattern": "^[A-Za-z]{2}$"}})),
    "migration.validated": ("A migration batch was validated; the report is in the blob store; passed = no errors.",
        obj(["migration_id", "items", "errors", "warnings", "passed", "report_key"], {"migration_id": {"type": "string", "minLength": 1},
            "items": {"type": "integer", "minimum": 0}, "errors": {"type": "integer", "minimum": 0}, "warnings": {"type": "integer", "minimum": 0},
            "passed": {"type": "boolean"}, "report_key": {"type": "string", "minLength": 1}})),
    "migration.mapping.approved": ("A reviewer approved a migration's mapping; the export is validated through it, then applied.",
        obj(["migration_id", "approved_by", "mapped_fields"], {"migration_id": {"type": "string", "minLength": 1}, "approved_by": {"type": "string", "minLength": 1},
            "mapped_fields": {"type": "integer", "minimum": 0}})),
    "migration.apply.requested": ("Apply (or go on applying) a validated migration from item `from`; raised after validation, on resume and by an apply that ran out of time.",
        obj(["migration_id", "from"], {"migration_id": {"type": "string", "minLength": 1}, "from": {"type": "integer", "minimum": 0}})),
    "migration.applied": ("A migration was applied to the tenant's catalog after a snapshot of it.",
        obj(["migration_id", "created", "changed", "unchanged", "skipped", "snapshot_key"], {"migration_id": {"type": "string", "minLength": 1},
            "created": {"type": "integer", "minimum": 0}, "changed": {"type": "integer", "minimum": 0}, "unchanged": {"type": "integer", "minimum": 0},
            "skipped": {"type": "integer", "minimum": 0}, "snapshot_key": {"type": "string", "minLength": 1}})),
    "migration.rollback.requested": ("An operator asked to undo a migration.",
        obj(["migration_id", "requested_by"], {"migration_id": {"type": "string", "minLength": 1}, "requested_by": {"type": "string", "minLength": 1}})),
    "migration.rolled_back": ("A migration was undone and the result verified against the snapshot; conflicts = items changed by others since, kept.",
        obj(["migration_id", "restored", "removed", "conflicts", "verified", "report_key"], {"migration_id": {"type": "string", "minLength": 1},
            "restored": {"type": "integer", "minimum": 0}, "removed": {"type": "integer", "minimum": 0}, "conflicts": {"type": "integer", "minimum": 0},
            "verified": {"type": "boolean"}, "report_key": {"type": "string", "minLength": 1}})),
    "webhook.quarantined": ("A delivery was forged or could not be understood; kept with the reason.",
        obj(["delivery_id", "reason", "blob_key"], {"delivery_id": key, "reason": {"type": "string", "minLength": 1}, "blob_key": {"type": "string", "minLength": 1}})),
}

def envelope(detail_type, description, data):
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": ID + detail_type + ".json",
        "title": detail_type,
        "description": description + " EventBridge detail-type `" + detail_type + "`; this is the `detail`.",
        "type": "object",
        "additionalProperties": False,
        "required": ["event_id", "type", "schema_version", "tenant_id", "provider", "entity_id", "occurred_at", "received_at", "correlation_id", "data"],
        "properties": {
            "event_id": key,
            "type": {"const": detail_type},
            "schema_version": {"const": 1},
            "tenant_id": {**key, "maxLength": 64},
            "provider": {"enum": providers + [None]},
            "entity_id": {"type": "string"},
            "occurred_at": ts,
            "received_at": ts,
            "correlation_id": key,
            "data": data,
        },
    }

for t, (desc, data) in DATA.items():
    with open(os.path.join(HERE, t + ".json"), "w") as f:
        json.dump(envelope(t, desc, copy.deepcopy(data)), f, indent=2)
        f.write("\n")
print("\n".join(sorted(DATA)))
