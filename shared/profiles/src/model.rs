//! The profile file format: typed serde structs with `deny_unknown_fields`, so a misspelt key is
//! an error naming its JSON path instead of a silently ignored setting. The JSON Schema in
//! `shared/profiles/schema/profile.schema.json` is generated from these types with `schemars`
//! ([`crate::json_schema`]; a test fails when the committed file differs), so the schema
//! editors see and the parser the service runs can never disagree. We chose this over a
//! runtime JSON Schema validator (the `jsonschema` crate is not in the workspace and would add
//! a regex engine and ~40 crates to every Lambda that reads a profile): serde already rejects
//! everything the schema does, and [`crate::Profile::check`] adds the rules a schema cannot say
//! (pointers well formed, mapping targets canonical, a signature's header named).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tillbridge_domain::ProfileName;
use tillbridge_mapping::Conversion;

/// One vendor, completely: who it is, how its webhooks are signed and what they mean, how to
/// pull from its API, and how its records become canonical items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileDoc {
    /// The vendor's name in tillbridge: the `{provider}` URL segment, the tenants file key and
    /// the events' `provider`. `[a-z0-9-]{1,32}`, never a built-in provider's name.
    pub name: ProfileName,
    /// The profile's version, counted up by whoever edits it (1, 2, …); the table keeps every
    /// version and serves the highest.
    #[schemars(range(min = 1))]
    pub version: u32,
    /// The vendor's display name ("Treez").
    pub title: String,
    /// Where each statement of the profile comes from: the vendor's public documentation
    /// pages, with what each one says. Required: a profile nobody can check is a guess.
    #[schemars(length(min = 1))]
    pub sources: Vec<String>,
    /// What the documentation leaves open, and what the profile decided about it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// How the vendor's webhooks are authenticated and understood; absent when the vendor
    /// sends none (pull only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Webhooks>,
    /// The vendor's REST API, for pulls (`tillbridge sync`) and fetch-on-notify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<Api>,
    /// How one vendor record becomes canonical items.
    pub mapping: Mapping,
}

/// The webhook half of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhooks {
    /// How a delivery proves it comes from the vendor.
    pub signature: Signature,
    /// How the body is encoded: JSON (default) or a form field holding JSON (Lightspeed
    /// X-Series posts `payload=<json>`).
    #[serde(default)]
    pub body: BodyFormat,
    /// Where the vendor's id of the delivery is (idempotency); absent: the body's SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<Locator>,
    /// Where the vendor's event type is.
    pub event_type: Locator,
    /// Where the time of the change is, in the body (RFC 3339, epoch seconds or millis);
    /// absent or unreadable: the time the delivery was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Locator>,
    /// What each event type means; types not listed are acknowledged as unhandled.
    #[schemars(length(min = 1))]
    pub events: Vec<EventRule>,
}

/// The body's encoding.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BodyFormat {
    /// The body is one JSON value.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`; the named field holds the JSON payload.
    FormField(String),
}

/// A value of the delivery: a header, a JSON pointer (RFC 6901) into the body, or a constant
/// (a vendor with one URL per event type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Locator {
    /// A request header (case-insensitive).
    Header(String),
    /// A JSON pointer into the (decoded) body, e.g. `/event_type`.
    Pointer(String),
    /// Always this value.
    Constant(String),
}

/// The signature scheme, from a small generic vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum Signature {
    /// An HMAC over an ordered template of parts, keyed by the tenant's secret.
    Hmac(HmacScheme),
    /// A shared token the vendor sends in a header (`Authorization: Bearer <token>` configured
    /// at the vendor). Weaker than an HMAC (it does not cover the body), but what vendors
    /// without signing offer. The ingress forwards only the token's SHA-256, never the token.
    Token(TokenScheme),
    /// The vendor documents no way to authenticate its webhooks. Deliveries are refused at
    /// the ingress (401): anyone could forge them. The vendor is served by pulls instead.
    Unsigned {
        /// Why, with the documentation that was checked.
        reason: String,
    },
}

/// An HMAC signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HmacScheme {
    /// The hash function.
    pub algorithm: HmacAlgorithm,
    /// Where the signature is: a header (usual) or a JSON pointer into the body.
    pub signature: Locator,
    /// How the signature bytes are written.
    pub encoding: Encoding,
    /// Text before each signature (`sha256=`, `v1,`); entries without it are ignored when
    /// `separator` is set, and an error otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Several signatures in one value (during a secret rotation): the separator between
    /// them (`" "` for Standard Webhooks' `v1,<a> v1,<b>`, `","`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// What is signed, in order: parts are concatenated byte for byte.
    /// Default `["body"]`.
    #[serde(default = "body_only")]
    pub signed: Vec<Part>,
    /// The signed timestamp, when the scheme has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampSpec>,
    /// How the tenant's stored secret becomes the HMAC key.
    #[serde(default)]
    pub secret: SecretEncoding,
}

fn body_only() -> Vec<Part> {
    vec![Part::Body]
}

/// A shared token in a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenScheme {
    /// The header carrying the token (`authorization`).
    pub header: String,
    /// Text before the token (`Bearer `), stripped before comparing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// The HMAC hash functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HmacAlgorithm {
    /// HMAC-SHA1 (legacy vendors).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How signature bytes are written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Hexadecimal, either case.
    Hex,
    /// Standard base64, padding optional.
    Base64,
}

/// One part of the signed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Part {
    /// The raw body, byte for byte.
    Body,
    /// The notification URL the tenant registered (provider setting `notification_url`).
    Url,
    /// The timestamp's text exactly as received.
    Timestamp,
    /// A header's value as received.
    Header(String),
    /// The string at a JSON pointer of the body (ikas signs its `data` string).
    Pointer(String),
    /// Fixed text (a separator such as `.`).
    Literal(String),
}

/// A signed timestamp and how far from now it may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimestampSpec {
    /// The header carrying it.
    pub header: String,
    /// Its unit.
    #[serde(default)]
    pub format: TimestampFormat,
    /// Accepted difference from now either way, seconds; the tenant's setting overrides it.
    #[serde(default = "default_tolerance")]
    pub tolerance_secs: i64,
}

fn default_tolerance() -> i64 {
    tillbridge_domain::secret::DEFAULT_TOLERANCE_SECS
}

/// A timestamp's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// Unix seconds.
    #[default]
    UnixSeconds,
    /// Unix milliseconds.
    UnixMillis,
    /// RFC 3339 text.
    Rfc3339,
}

/// How the stored secret becomes the HMAC key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretEncoding {
    /// A prefix removed first (`whsec_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip_prefix: Option<String>,
    /// The secret's text is the key (`utf8`, default) or encodes it (`base64`, `hex`).
    #[serde(default)]
    pub decode: SecretDecode,
}

/// The secret's text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretDecode {
    /// The bytes of the text.
    #[default]
    Utf8,
    /// Base64 of the key.
    Base64,
    /// Hex of the key.
    Hex,
}

/// What one or more vendor event types mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRule {
    /// Vendor event types (exact, or ending in `*` for a prefix: `product.*`).
    #[schemars(length(min = 1))]
    pub types: Vec<String>,
    /// What they mean.
    pub meaning: Meaning,
    /// JSON pointer to the record, or to an array of records (`""`: the whole body). A string
    /// there holding JSON is decoded (ikas sends `data` as a JSON string).
    #[serde(default)]
    pub records: String,
    /// Per meaning: where the fields are in each record (JSON pointers relative to it).
    #[serde(default)]
    pub fields: RuleFields,
}

/// The canonical meaning of a vendor event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Meaning {
    /// The record(s) are items as the vendor now has them: the profile's mapping makes them
    /// canonical (`pos.catalog.item.upserted`).
    Upsert,
    /// The record(s) were deleted (`fields.id`; `pos.catalog.item.deleted`).
    Delete,
    /// Stock changed (`fields.id`, `fields.quantity`, `fields.location`;
    /// `pos.inventory.adjusted`).
    Stock,
    /// An order (`fields.id`, `fields.status`, `fields.total`; `pos.order.upserted`, no
    /// customer data).
    Order,
    /// Something changed and must be fetched from the API (`fields.id`, `fields.object_type`;
    /// `pos.fetch.requested`).
    Fetch,
}

/// Where an event's fields are in each record: JSON pointers relative to the record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFields {
    /// The entity's id (delete, stock, order, fetch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Stock: quantity on hand (a number or decimal string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    /// Stock: the location's id or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Order: the vendor's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Order: the total, in major units of the tenant's currency ("12.50").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
    /// The record's own change time (overrides the delivery's `occurred_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Fetch: what to fetch (`product`); default `item`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
}

/// The field mapping: the same lines a migration review approves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Where the mapping came from (`migration mig-…`, `hand-written from the docs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// One line per canonical field: source path → canonical field, with a conversion.
    #[schemars(length(min = 1))]
    pub fields: Vec<Field>,
}

/// One mapping line (shared/mapping's `MappedField`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The source path in the record: keys joined by `.`, `[]` per array level
    /// (`variants[].price`), as `tillbridge suggest` prints them.
    pub source: String,
    /// The canonical field (`price_minor`).
    pub target: String,
    /// How the values convert (`as_is`, `major_to_minor`, `minor_units`, …).
    #[serde(default = "as_is")]
    #[schemars(schema_with = "conversion_schema")]
    pub conversion: Conversion,
}

fn as_is() -> Conversion {
    Conversion::AsIs
}

/// Every conversion's name, as serde writes it.
pub const CONVERSIONS: [&str; 13] = [
    "as_is",
    "minor_units",
    "major_to_minor",
    "money_string",
    "epoch_millis",
    "date_time",
    "boolean",
    "inverted_boolean",
    "status",
    "fraction_to_percent",
    "number",
    "first_of_list",
    "list",
];

fn conversion_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "How the values convert (shared/mapping Conversion).",
        "enum": CONVERSIONS,
        "default": "as_is"
    })
}

/// The API half of a profile (pulls).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// The production base URL (`https://api.vendor.example/v1`); the tenant's `api.base_url`
    /// overrides it (sandboxes, fakes). `{name}` placeholders are filled from the tenant's
    /// `api` settings (`https://{shop}.vendor.example`).
    pub base_url: String,
    /// How requests authenticate.
    pub auth: Auth,
    /// Extra headers on every request (`Accept`, an API version).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The list endpoint: every item, page by page.
    pub list: Endpoint,
    /// The get endpoint (`/products/{id}`), for fetch-on-notify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get: Option<Endpoint>,
    /// How the list is paged.
    pub pagination: Pagination,
    /// The vendor's documented rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// Delta pulls: how the list is asked for only what changed since the last pull. Absent:
    /// every pull reads the whole list (a delta keeps only records changed after the
    /// watermark, by their mapped `updated_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

/// How the list endpoint answers only the records changed since a time (the watermark: the
/// newest `updated_at` of the last pull, kept in the sync state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    /// The "updated since" query parameter (`updated_at_min`, `fromLastModifiedDateUTC`),
    /// sent with the watermark on every page of a delta pull, never on a full pull.
    pub param: String,
    /// How the watermark is written in it.
    #[serde(default)]
    pub format: SinceFormat,
    /// Fixed query parameters sent only with a delta (Magento's filter `field` and
    /// `condition_type` beside the `value` that `param` names).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// How a record the vendor lists as deleted is recognised; such records become deletes
    /// (on full and delta pulls), never items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<DeleteMarker>,
}

/// How a watermark is written in the "updated since" parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SinceFormat {
    /// RFC 3339 in UTC (`2025-01-01T12:00:00Z`, fractions when the watermark has them).
    #[default]
    Rfc3339,
    /// `YYYY-MM-DD HH:MM:SS` in UTC, whole seconds (SQL-style vendors such as Magento).
    DateTime,
    /// Unix seconds.
    UnixSeconds,
    /// Unix milliseconds.
    UnixMillis,
}

/// A delete marker in listed records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMarker {
    /// JSON pointer to the marker in each record (`/deleted_at`, `/is_deleted`).
    pub pointer: String,
    /// The record is deleted when the marker equals this value; absent: when the marker is
    /// present and not `null`, `false` or `""` (a `deleted_at` time, a `true` flag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    /// JSON pointer to the deleted record's id (`/id`): the item deleted when the mapping
    /// makes no items of the record (a deleted product that still lists its variants deletes
    /// those variants; a deleted parent takes its variants with it in the catalog).
    pub id: String,
    /// JSON pointer to the time of the deletion (`/deleted_at`, `/updated_at`); absent or
    /// unreadable: the marker itself when it is a time, else the time of the pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// Request authentication. Credentials come from the tenant's `api` settings (never from
/// the profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// The tenant's `api.access_token` in a header (`X-Api-Key`), optionally prefixed.
    ApiKeyHeader {
        /// The header.
        header: String,
        /// Text before the key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
    /// `Authorization: Bearer <api.access_token>`.
    Bearer,
    /// `Authorization: Basic base64(<api.username>:<api.password>)`; a vendor whose key is
    /// the user name (Dutchie) leaves the password empty.
    Basic,
    /// OAuth 2.0 client credentials (RFC 6749 §4.4) at `token_url` with the tenant's
    /// `api.client_id` / `api.client_secret`; the token is then a bearer token.
    OauthClientCredentials {
        /// The token endpoint.
        token_url: String,
        /// Scopes, space separated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
    /// OAuth 2.0 resource owner password grant (RFC 6749 §4.3; Cova's onboarding package):
    /// `api.username`, `api.password`, `api.client_id`, `api.client_secret`.
    OauthPassword {
        /// The token endpoint.
        token_url: String,
    },
}

/// One endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// HTTP method (default GET; Cova's product data is a POST).
    #[serde(default = "get")]
    pub method: String,
    /// The path under the base URL; `{id}` is the record's id, other `{name}`s come from the
    /// tenant's `api` settings.
    pub path: String,
    /// Fixed query parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// JSON pointer to the records array (list) or the record (get) in the response.
    #[serde(default)]
    pub records: String,
}

fn get() -> String {
    "GET".into()
}

/// How a list is paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// One response holds everything.
    None,
    /// The response names the next page's cursor; sent back as a query parameter.
    Cursor {
        /// The query parameter.
        param: String,
        /// JSON pointer to the next cursor in the response (absent, null or "" = last page).
        next: String,
        /// Page size parameter and value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size_param: Option<String>,
        /// Page size.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u32>,
    },
    /// Numbered pages; a page shorter than `size` (or empty) is the last.
    Page {
        /// The page number parameter.
        param: String,
        /// The first page's number (0 or 1).
        #[serde(default = "one")]
        start: u32,
        /// The page size parameter.
        size_param: String,
        /// The page size.
        size: u32,
    },
    /// An offset into the list; a page shorter than `size` (or empty) is the last.
    Offset {
        /// The offset parameter (`offset`, `skip`).
        param: String,
        /// The page size parameter (`limit`).
        size_param: String,
        /// The page size.
        size: u32,
    },
    /// RFC 8288 `Link: <…>; rel="next"` headers.
    LinkHeader,
}

fn one() -> u32 {
    1
}

/// A documented rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per second, sustained.
    #[schemars(range(min = 1))]
    pub per_second: u32,
    /// Requests allowed in a burst.
    #[serde(default = "one")]
    pub burst: u32,
}
