//! The canonical event envelope (the EventBridge detail) and the typed data of each type.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    CatalogItem, CorrelationId, Currency, DeliveryId, EventId, Provider, TenantId, Timestamp,
};

/// Version of the envelope and data shapes; bumped on an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The source name of every event tillbridge publishes on its bus.
pub const EVENT_SOURCE: &str = "tillbridge";

/// A canonical event. `type` and `data` travel as siblings (`{"type": …, "data": {…}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Deterministic per delivery and position: a redelivery produces the same id (consumers dedupe).
    pub event_id: EventId,
    /// The type and its data (`type` and `data` in JSON).
    #[serde(flatten)]
    pub body: EventData,
    /// [`SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The tenant the event belongs to.
    pub tenant_id: TenantId,
    /// The vendor the event came from; absent for events tillbridge raises itself.
    pub provider: Option<Provider>,
    /// The object it is about (item, order, migration, delivery id).
    pub entity_id: String,
    /// When it happened at the vendor (or in tillbridge).
    pub occurred_at: Timestamp,
    /// When tillbridge received it.
    pub received_at: Timestamp,
    /// The flow it belongs to, carried through every stage and log line.
    pub correlation_id: CorrelationId,
    /// The vendor's own id of the delivery the event came from (Shopify's
    /// `X-Shopify-Webhook-Id`, Square's `event_id`, … or a body hash where the vendor sends
    /// none), for the operator following one delivery through the logs; absent for events
    /// that did not come from a webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_key: Option<String>,
}

impl Envelope {
    /// The event's type.
    pub fn event_type(&self) -> EventType {
        self.body.event_type()
    }
}

/// Declares the event types ONCE: each line gives the variant, its data type and its
/// EventBridge detail-type. [`EventType`], [`EventType::ALL`], [`EventType::as_str`], the
/// serde tags of [`EventData`] and [`EventData::event_type`] all come from this list.
macro_rules! event_types {
    ($( $(#[doc = $doc:literal])* $variant:ident($data:ty) = $name:literal, )*) => {
        /// Every event type tillbridge publishes, by its EventBridge detail-type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType {
            $( $(#[doc = $doc])* $variant, )*
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

            /// What the event means, in a sentence (its doc above, the schema's description).
            pub fn description(self) -> &'static str {
                match self {
                    $( EventType::$variant => concat!($($doc),*).trim_ascii(), )*
                }
            }

            /// The JSON Schema of this type's `data`, from its Rust type.
            pub fn data_schema(self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                match self {
                    $( EventType::$variant => generator.subschema_for::<$data>(), )*
                }
            }
        }

        /// Typed event data, tagged by the detail-type.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "data")]
        pub enum EventData {
            $( $(#[doc = $doc])* #[serde(rename = $name)] $variant($data), )*
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
    /// An item as the vendor now has it (one per variant).
    CatalogItemUpserted(Box<ItemUpserted>) = "pos.catalog.item.upserted",
    /// An item deleted at the vendor; deleting a parent deletes its variants.
    CatalogItemDeleted(ItemDeleted) = "pos.catalog.item.deleted",
    /// Stock on hand changed.
    InventoryAdjusted(InventoryAdjusted) = "pos.inventory.adjusted",
    /// An order (no customer data).
    OrderUpserted(OrderUpserted) = "pos.order.upserted",
    /// A thin webhook said something changed; a fetcher must read it from the vendor API.
    FetchRequested(FetchRequested) = "pos.fetch.requested",
    /// A data subject's request arrived from a vendor (Shopify's mandatory customers/redact, customers/data_request, shop/redact): erase or export what tillbridge holds of them.
    PrivacyRequested(PrivacyRequest) = "pos.privacy.requested",
    /// A delivery was forged or could not be understood; kept with the reason.
    WebhookQuarantined(WebhookQuarantined) = "webhook.quarantined",
    /// One model call, token classes additive (input excludes cached and cache-write tokens); occurred_at is the call time.
    AiUsageRecorded(UsageRecorded) = "ai.usage.recorded",
    /// A tenant's AI spend crossed 50, 80 or 100 % of its monthly budget; once per threshold and month.
    BudgetThresholdCrossed(ThresholdCrossed) = "budget.threshold.crossed",
    /// A migration's canonical items (JSONL in the blob store) are ready to be validated.
    MigrationValidationRequested(ValidationRequested) = "migration.validation.requested",
    /// A migration batch was validated; the report is in the blob store; passed = no errors.
    MigrationValidated(MigrationValidated) = "migration.validated",
    /// A migration was started; the source export is in the blob store.
    MigrationRequested(MigrationRequested) = "migration.requested",
    /// Mapping suggestions for a migration are stored and wait for review.
    MigrationMappingSuggested(MappingSuggested) = "migration.mapping.suggested",
    /// A reviewer approved a migration's mapping; the export is validated through it, then applied.
    MigrationMappingApproved(MappingApproved) = "migration.mapping.approved",
    /// Apply (or go on applying) a validated migration from item `from`; raised after validation, on resume and by an apply that ran out of time.
    MigrationApplyRequested(ApplyRequested) = "migration.apply.requested",
    /// A migration was applied to the tenant's catalog after a snapshot of it.
    MigrationApplied(MigrationApplied) = "migration.applied",
    /// A vendor pull changed the catalog of a tenant whose migration is in its cutover: the changes wait to flow to the migration's destination.
    MigrationCutoverRequested(CutoverRequested) = "migration.cutover.requested",
    /// An operator asked to undo a migration.
    MigrationRollbackRequested(RollbackRequested) = "migration.rollback.requested",
    /// A migration was undone and the result verified against the snapshot; conflicts = items changed by others since, kept.
    MigrationRolledBack(MigrationRolledBack) = "migration.rolled_back",
    /// A CloudWatch alarm of the deployment changed state (read from its SNS notification); raised by the notify function for the operators' tenant, never published on the bus.
    OperationsAlarmChanged(AlarmChanged) = "operations.alarm.changed",
}

impl EventType {
    /// The type with this detail-type, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// An item as the vendor now has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemUpserted {
    /// The item (one variant, or a product without variants).
    pub item: CatalogItem,
    /// The vendor's separate stock-keeping id, when it has one (Shopify's inventory item),
    /// so later stock events that only name it can be resolved to this item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_item_id: Option<String>,
    /// Every variant id of the item's parent as of this update, when the vendor sends the
    /// whole product (Shopify `products/update`). A variant removed at the vendor shows only
    /// by its absence here: the catalog tombstones the parent's variants not listed, as of
    /// this update's time. Absent when the vendor sends variants one at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_variants: Option<VariantListing>,
    /// Set when the item is a product whose variants carry the prices (the items naming it
    /// as `parent_id`; these ids, any order): it is not sold itself, so no price of its own
    /// is expected. Absent for a variant and for a product sold as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_variants: Option<Vec<String>>,
}

/// The complete list of a parent's variants at one vendor time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantListing {
    /// The variant ids the parent has (any order).
    pub ids: Vec<String>,
    /// The vendor time of the listing (the product's own update time); variants not listed
    /// are tombstoned as of it.
    pub as_of: Timestamp,
}

/// A deletion; deleting a parent deletes its variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemDeleted {
    /// The vendor's id of the deleted item.
    #[schemars(length(min = 1))]
    pub external_id: String,
    /// When it was deleted at the vendor; older upserts cannot bring it back.
    pub deleted_at: Timestamp,
}

/// A stock change. Vendors identify the stocked thing differently: by the item/variant id
/// (`external_id`) or by a separate inventory-item id that the catalog resolves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [{"required": ["external_id"]}, {"required": ["inventory_item_id"]}]))]
pub struct InventoryAdjusted {
    /// The item or variant id, when the vendor names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// A separate inventory id the catalog resolves to an item (Shopify, Square).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_item_id: Option<String>,
    /// The vendor's location (store, warehouse), when it has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// Absolute quantity on hand after the change, when the vendor says it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    /// Quantity (decimal: weighed goods).
    #[schemars(with = "Option<f64>")]
    pub quantity: Option<Decimal>,
    /// A status instead of a count, when that is all the vendor says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock_status: Option<StockStatus>,
    /// The vendor time of the reading; older readings lose.
    pub as_of: Timestamp,
}

/// A stock status without a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockStatus {
    /// Available.
    InStock,
    /// Not available.
    OutOfStock,
    /// Running low.
    LowQuantity,
}

/// An order, without customer data: tillbridge keeps what stock and reporting need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderUpserted {
    /// The vendor's order id.
    #[schemars(length(min = 1))]
    pub order_id: String,
    /// The vendor's order state, as it names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Currency of the amounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Order total in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_minor: Option<i64>,
    /// What was ordered (no customer data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<OrderLine>,
    /// The vendor's version counter, when it has one (ties on `updated_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// When the order was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When it last changed; older updates lose.
    pub updated_at: Timestamp,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// The item or variant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The SKU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::number"
    )]
    #[schemars(with = "Option<f64>")]
    /// Quantity (decimal: weighed goods).
    pub quantity: Option<Decimal>,
    /// Unit price in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_minor: Option<i64>,
}

/// The vendor said something changed but did not say what it is now (thin webhooks:
/// Clover, BigCommerce, Square catalog versions, Toast menus). A fetcher must read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchRequested {
    /// What to fetch: `catalog`, `menu`, `item`, `category`, `modifier_group`, `modifier`,
    /// `order`, `product`, `sku`, `payment`, `customer`, `merchant`, or the vendor's own key.
    #[schemars(length(min = 1))]
    pub object_type: String,
    /// Its id, when the vendor names one (`*`: the whole collection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// What happened to it.
    pub change: Change,
    /// The vendor's event name, for the operator.
    pub vendor_event: String,
}

/// A data subject's request (GDPR erasure or access) from a vendor's compliance webhook.
/// Carries the identifiers needed to find the person's data; the event is never logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyRequest {
    /// What is asked.
    pub kind: PrivacyKind,
    /// The vendor's id of the request, when it has one (Shopify `data_request.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The vendor's customer id (not for `shop_redact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The customer's email address, when the vendor gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The customer's phone number, when the vendor gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Orders the vendor names (`orders_to_redact`, `orders_requested`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order_ids: Vec<String>,
}

/// The kinds of data subject requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyKind {
    /// Erase one customer's data (Shopify `customers/redact`).
    CustomerErase,
    /// Export one customer's data for the merchant to hand over (`customers/data_request`).
    CustomerExport,
    /// Erase every customer's data of the shop (`shop/redact`, 48 h after uninstall).
    ShopErase,
}

/// The `vendor_event` of a [`FetchRequested`] an operator asked for (`POST
/// /v1/tenants/{tenant}/sync/{provider}` in the cloud): a full pull of the vendor's catalog.
pub const OPERATOR_SYNC: &str = "tillbridge.sync.requested";

/// What a thin notification says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// It was created.
    Created,
    /// It changed.
    Updated,
    /// It was deleted.
    Deleted,
}

/// A delivery that was quarantined, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookQuarantined {
    /// Our delivery id.
    pub delivery_id: DeliveryId,
    /// Why, for the operator.
    #[schemars(length(min = 1))]
    pub reason: String,
    /// Where the raw request is kept for inspection and replay.
    #[schemars(length(min = 1))]
    pub blob_key: String,
}

/// One model call, in the token classes of CLI.md (additive: `input_tokens` excludes cached
/// and cache-write tokens). The envelope's `occurred_at` is the call time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageRecorded {
    /// The provider's id of the call (or the client's): usage is accounted once per id.
    #[schemars(length(min = 1))]
    pub request_id: String,
    /// The migration the call served, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_id: Option<String>,
    /// What the call was for (`mapping.suggest`, …).
    pub operation: String,
    /// The model provider (`openai`, `anthropic`, …).
    pub provider: String,
    /// The model name as the provider reported it.
    #[schemars(length(min = 1))]
    pub model: String,
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    #[serde(default)]
    pub cached_input_tokens: u64,
    /// Input tokens written to the provider's cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
}

/// A tenant's AI spend crossed a share of its monthly budget (once per threshold and month).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdCrossed {
    /// YYYY-MM
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}$"))]
    pub period: String,
    /// 50, 80 or 100.
    #[schemars(extend("enum" = [50, 80, 100]))]
    pub threshold_percent: u32,
    /// Exact decimal strings, 6 places.
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]{6}$"))]
    pub budget_usd: String,
    /// Exact decimal string, 6 places.
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]{6}$"))]
    pub spent_usd: String,
}

/// A migration was started: the source export is in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationRequested {
    /// The migration.
    #[schemars(length(min = 1))]
    pub migration_id: String,
    /// The source system (square, toast, …).
    #[schemars(length(min = 1))]
    pub source_name: String,
    /// The export (JSON array of records or CSV with a header row).
    #[schemars(length(min = 1))]
    pub export_key: String,
}

/// Mapping suggestions for a migration are stored and wait for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingSuggested {
    /// The migration.
    #[schemars(length(min = 1))]
    pub migration_id: String,
    /// Source fields profiled.
    pub fields: u64,
    /// Fields with a suggested canonical target.
    pub mapped: u64,
    /// Suggestions in the high band (confidence > 0.9).
    pub high: u64,
}

/// A migration's canonical items (JSONL in the blob store) are ready to be validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationRequested {
    /// The migration.
    #[schemars(length(min = 1))]
    pub migration_id: String,
    /// Blob key of the canonical items (JSONL).
    #[schemars(length(min = 1))]
    pub items_key: String,
    /// ISO 3166 country of the tenant, for VAT rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z]{2}$"))]
    pub country: Option<String>,
}

/// A migration batch was validated; the full report is in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationValidated {
    /// The migration.
    #[schemars(length(min = 1))]
    pub migration_id: String,
    /// Items validated.
    pub items: u64,
    /// Findings of severity error.
    pub errors: u64,
    /// Findings of severity warning.
    pub warnings: u64,
    /// True when there are no errors: the batch may be applied.
    pub passed: bool,
    /// Blob key of the report.
    #[schemars(length(min = 1))]
    pub report_key: String,
}

/// A reviewer approved a migration's mapping: the export is to be validated through it and
/// applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingApproved {
    /// The migration.
    #[schemars(length(min = 1))]
    pub migration_id: String,
    /// The operator who approved (the authenticated principal).
    #[schemars(length(min = 1))]
    pub approved_by: String,
    /// Source fields with a canonical target in the approved mapping.
    pub mapped_fields: u64,
}

/// Apply (or go on applying) a validated migration from item `from` of its prepared items.
/// Raised after validation, on resume, and by an apply that ran out of time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequested {
    /// The migration.
    #[schemars(length(min = 1))]
    pub migration_id: String,
    /// The index of the first prepared item still to apply.
    pub from: u64,
}

/// Source changes of a tenant in a migration's cutover wait to flow to the destination
/// (raised by the vendor fetcher after a pull changed the catalog; webhook changes flow from
/// the catalog consumer directly).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CutoverRequested {
    /// The catalog namespace (vendor) whose items changed.
    #[schemars(length(min = 1))]
    pub namespace: String,
}

/// A migration was applied to the tenant's catalog (after a snapshot of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationApplied {
    /// The migration.
    #[schemars(length(min = 1))]
    pub migration_id: String,
    /// Catalog items created.
    pub created: u64,
    /// Catalog items changed.
    pub changed: u64,
    /// Catalog items already as the export says.
    pub unchanged: u64,
    /// Items held back (validation errors, duplicates in the export).
    pub skipped: u64,
    /// Blob key of the snapshot taken before the apply.
    #[schemars(length(min = 1))]
    pub snapshot_key: String,
}

/// An operator asked to undo a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequested {
    /// The migration.
    #[schemars(length(min = 1))]
    pub migration_id: String,
    /// The operator who asked (the authenticated principal).
    #[schemars(length(min = 1))]
    pub requested_by: String,
}

/// A migration was undone: created items removed, changed items restored, verified against
/// the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationRolledBack {
    /// The migration.
    #[schemars(length(min = 1))]
    pub migration_id: String,
    /// Records put back as they were before the migration.
    pub restored: u64,
    /// Records the migration had created, removed.
    pub removed: u64,
    /// Items changed by someone else after the migration wrote them: kept, and listed.
    pub conflicts: u64,
    /// The catalog matches the snapshot again (conflicts aside).
    pub verified: bool,
    /// Blob key of the rollback report.
    #[schemars(length(min = 1))]
    pub report_key: String,
}

/// A CloudWatch alarm's state, as CloudWatch puts it (`ALARM`, `OK`, `INSUFFICIENT_DATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    /// The metric breached the alarm's threshold.
    Alarm,
    /// Within the threshold again.
    Ok,
    /// Not enough data to decide.
    InsufficientData,
}

/// A CloudWatch alarm of the deployment changed state. The fields come from the alarm's
/// SNS notification (CloudWatch's documented JSON: `AlarmName`, `AlarmDescription`,
/// `NewStateValue`, `OldStateValue`, `NewStateReason`, `StateChangeTime`, `Trigger`); they
/// are the deployment's own words and numbers, never customer data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmChanged {
    /// The alarm's name.
    #[schemars(length(min = 1))]
    pub alarm_name: String,
    /// What the alarm watches (its description in the template), at most 500 characters.
    pub description: String,
    /// The state it entered.
    pub state: AlarmState,
    /// The state it left.
    pub previous_state: AlarmState,
    /// CloudWatch's reason (the datapoints against the threshold), at most 1,000 characters.
    pub reason: String,
    /// `Namespace/MetricName` of a single-metric alarm; absent for a metric-math alarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The alarm's description starts with `[critical]`: its breach pages at any hour.
    pub critical: bool,
    /// When the state changed.
    pub changed_at: Timestamp,
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
            delivery_key: None,
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
