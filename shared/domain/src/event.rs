//! The canonical event envelope (the EventBridge detail) and the typed data of each type.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    CatalogItem, CorrelationId, Currency, DeliveryId, EventId, Provider, TenantId, Timestamp,
};

pub const SCHEMA_VERSION: u32 = 1;

/// The source name of every event tillbridge publishes on its bus.
pub const EVENT_SOURCE: &str = "tillbridge";

/// A canonical event. `type` and `data` travel as siblings (`{"type": …, "data": {…}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub event_id: EventId,
    #[serde(flatten)]
    pub body: EventData,
    pub schema_version: u32,
    pub tenant_id: TenantId,
    /// The vendor the event came from; absent for events tillbridge raises itself.
    pub provider: Option<Provider>,
    pub entity_id: String,
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    pub correlation_id: CorrelationId,
}

impl Envelope {
    pub fn event_type(&self) -> EventType {
        self.body.event_type()
    }
}

/// Declares the event types ONCE: each line gives the variant, its data type and its
/// EventBridge detail-type. [`EventType`], [`EventType::ALL`], [`EventType::as_str`], the
/// serde tags of [`EventData`] and [`EventData::event_type`] all come from this list.
macro_rules! event_types {
    ($( $(#[$doc:meta])* $variant:ident($data:ty) = $name:literal, )*) => {
        /// Every event type tillbridge publishes, by its EventBridge detail-type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $( $(#[$doc])* $variant, )*
        }

        impl EventType {
            /// Every event type, in declaration order.
            pub const ALL: [EventType; [$(EventType::$variant),*].len()] =
                [$(EventType::$variant),*];

            /// The EventBridge detail-type, e.g. `pos.catalog.item.upserted`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( EventType::$variant => $name, )*
                }
            }
        }

        /// Typed event data, tagged by the detail-type.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "data")]
        pub enum EventData {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($data), )*
        }

        impl EventData {
            /// The type of this data.
            pub fn event_type(&self) -> EventType {
                match self {
                    $( EventData::$variant(_) => EventType::$variant, )*
                }
            }
        }
    };
}

event_types! {
    /// An item created or changed at the vendor.
    CatalogItemUpserted(Box<ItemUpserted>) = "pos.catalog.item.upserted",
    /// An item deleted at the vendor.
    CatalogItemDeleted(ItemDeleted) = "pos.catalog.item.deleted",
    /// A stock change.
    InventoryAdjusted(InventoryAdjusted) = "pos.inventory.adjusted",
    /// An order created or changed.
    OrderUpserted(OrderUpserted) = "pos.order.upserted",
    /// The vendor announced a change without its content: fetch it from the vendor's API.
    FetchRequested(FetchRequested) = "pos.fetch.requested",
    /// A delivery was quarantined.
    WebhookQuarantined(WebhookQuarantined) = "webhook.quarantined",
    /// One model call's token usage.
    AiUsageRecorded(UsageRecorded) = "ai.usage.recorded",
    /// A tenant's AI spend crossed a budget threshold.
    BudgetThresholdCrossed(ThresholdCrossed) = "budget.threshold.crossed",
    /// Validate a batch of canonical items.
    MigrationValidationRequested(ValidationRequested) = "migration.validation.requested",
    /// A batch was validated.
    MigrationValidated(MigrationValidated) = "migration.validated",
    /// A migration was started.
    MigrationRequested(MigrationRequested) = "migration.requested",
    /// Mapping suggestions are ready for review.
    MigrationMappingSuggested(MappingSuggested) = "migration.mapping.suggested",
    /// An operator approved the mapping.
    MigrationMappingApproved(MappingApproved) = "migration.mapping.approved",
    /// Apply (or continue applying) from a checkpoint.
    MigrationApplyRequested(ApplyRequested) = "migration.apply.requested",
    /// A migration's apply finished.
    MigrationApplied(MigrationApplied) = "migration.applied",
    /// Roll a migration back.
    MigrationRollbackRequested(RollbackRequested) = "migration.rollback.requested",
    /// A migration was rolled back.
    MigrationRolledBack(MigrationRolledBack) = "migration.rolled_back",
}

impl EventType {
    /// The type with this detail-type, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// An item as the vendor now has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemUpserted {
    pub item: CatalogItem,
    /// The vendor's separate stock-keeping id, when it has one (Shopify's inventory item),
    /// so later stock events that only name it can be resolved to this item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_item_id: Option<String>,
}

/// A deletion; deleting a parent deletes its variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemDeleted {
    pub external_id: String,
    pub deleted_at: Timestamp,
}

/// A stock change. Vendors identify the stocked thing differently: by the item/variant id
/// (`external_id`) or by a separate inventory-item id that the catalog resolves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryAdjusted {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// Absolute quantity on hand after the change, when the vendor says it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    pub quantity: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_status: Option<StockStatus>,
    pub as_of: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockStatus {
    InStock,
    OutOfStock,
    LowQuantity,
}

/// An order, without customer data: tillbridge keeps what stock and reporting need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderUpserted {
    pub order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<OrderLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    pub quantity: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_minor: Option<i64>,
}

/// The vendor said something changed but did not say what it is now (thin webhooks:
/// Clover, BigCommerce, Square catalog versions, Toast menus). A fetcher must read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchRequested {
    /// What to fetch: `catalog`, `menu`, `item`, `category`, `modifier_group`, `modifier`,
    /// `order`, `product`, `sku`, `payment`, `customer`, `merchant`, or the vendor's own key.
    pub object_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    pub change: Change,
    /// The vendor's event name, for the operator.
    pub vendor_event: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Updated,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookQuarantined {
    pub delivery_id: DeliveryId,
    pub reason: String,
    /// Where the raw request is kept for inspection and replay.
    pub blob_key: String,
}

/// One model call, in the token classes of CLI.md (additive: `input_tokens` excludes cached
/// and cache-write tokens). The envelope's `occurred_at` is the call time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageRecorded {
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_id: Option<String>,
    pub operation: String,
    pub provider: String,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cached_input_tokens: u64,
    #[serde(default)]
    pub cache_write_tokens: u64,
}

/// A tenant's AI spend crossed a share of its monthly budget (once per threshold and month).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdCrossed {
    /// YYYY-MM
    pub period: String,
    pub threshold_percent: u32,
    /// Exact decimal strings, 6 places.
    pub budget_usd: String,
    pub spent_usd: String,
}

/// A migration was started: the source export is in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationRequested {
    pub migration_id: String,
    /// The source system (square, toast, …).
    pub source_name: String,
    /// The export (JSON array of records or CSV with a header row).
    pub export_key: String,
}

/// Mapping suggestions for a migration are stored and wait for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSuggested {
    pub migration_id: String,
    pub fields: u64,
    pub mapped: u64,
    /// Suggestions in the high band (confidence > 0.9).
    pub high: u64,
}

/// A migration's canonical items (JSONL in the blob store) are ready to be validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationRequested {
    pub migration_id: String,
    pub items_key: String,
    /// ISO 3166 country of the tenant, for VAT rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// A migration batch was validated; the full report is in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationValidated {
    pub migration_id: String,
    pub items: u64,
    pub errors: u64,
    pub warnings: u64,
    /// True when there are no errors: the batch may be applied.
    pub passed: bool,
    pub report_key: String,
}

/// A reviewer approved a migration's mapping: the export is to be validated through it and
/// applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingApproved {
    pub migration_id: String,
    pub approved_by: String,
    /// Source fields with a canonical target in the approved mapping.
    pub mapped_fields: u64,
}

/// Apply (or go on applying) a validated migration from item `from` of its prepared items.
/// Raised after validation, on resume, and by an apply that ran out of time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequested {
    pub migration_id: String,
    pub from: u64,
}

/// A migration was applied to the tenant's catalog (after a snapshot of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationApplied {
    pub migration_id: String,
    pub created: u64,
    pub changed: u64,
    pub unchanged: u64,
    /// Items held back (validation errors, duplicates in the export).
    pub skipped: u64,
    pub snapshot_key: String,
}

/// An operator asked to undo a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequested {
    pub migration_id: String,
    pub requested_by: String,
}

/// A migration was undone: created items removed, changed items restored, verified against
/// the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationRolledBack {
    pub migration_id: String,
    pub restored: u64,
    pub removed: u64,
    /// Items changed by someone else after the migration wrote them: kept, and listed.
    pub conflicts: u64,
    pub verified: bool,
    pub report_key: String,
}

/// Deterministic event id: the same delivery and position always give the same id, so a
/// redelivered webhook republishes identical events and consumers can dedupe on the id.
pub fn derive_event_id(dedupe_key: &str, index: usize) -> EventId {
    let digest = Sha256::digest(format!("{dedupe_key}\u{1f}{index}"));
    EventId::from_trusted(format!("evt_{}", &hex::encode(digest)[..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(data: EventData) -> Envelope {
        Envelope {
            event_id: derive_event_id("k", 0),
            body: data,
            schema_version: SCHEMA_VERSION,
            tenant_id: TenantId::parse("t1").expect("valid"),
            provider: Some(Provider::Shopify),
            entity_id: "v1".into(),
            occurred_at: Timestamp::UNIX_EPOCH,
            received_at: Timestamp::UNIX_EPOCH,
            correlation_id: CorrelationId::parse("c1").expect("valid"),
        }
    }

    #[test]
    fn type_and_data_are_siblings_in_the_envelope() {
        let e = envelope(EventData::CatalogItemDeleted(ItemDeleted {
            external_id: "v1".into(),
            deleted_at: Timestamp::UNIX_EPOCH,
        }));
        let v = serde_json::to_value(&e).expect("serializes");
        assert_eq!(v["type"], "pos.catalog.item.deleted");
        assert_eq!(v["data"]["external_id"], "v1");
        let back: Envelope = serde_json::from_value(v).expect("parses");
        assert_eq!(back, e);
    }

    #[test]
    fn event_ids_are_deterministic() {
        assert_eq!(derive_event_id("a", 1), derive_event_id("a", 1));
        assert_ne!(derive_event_id("a", 1), derive_event_id("a", 2));
        assert_ne!(derive_event_id("a", 1), derive_event_id("b", 1));
    }

    #[test]
    fn every_type_name_parses_back() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }
}
