//! The OpenAPI 3.1 description of the HTTP API, generated from the route table: every route
//! of [`ROUTES`] and the webhook route, with their parameters and every status they answer.
//! `infra/openapi.json` is this document checked in; a test fails when it differs
//! (`TILLBRIDGE_WRITE_OPENAPI=1 cargo test -p tillbridge-e2e --test routes` rewrites it), and
//! another calls every route and fails on a status the document does not list.

use serde_json::{Map, Value, json};
use tillbridge_domain::CatalogItem;

use crate::{ROUTES, RouteId, WEBHOOK_ROUTE};

/// What the document says about one route.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// One line: what the route does.
    pub summary: &'static str,
    /// Query parameters: name, required, meaning.
    pub query: &'static [(&'static str, bool, &'static str)],
    /// The request body's media type, when the route takes one.
    pub body: Option<&'static str>,
    /// Every status the route answers.
    pub statuses: &'static [u16],
}

const PERIOD: (&str, bool, &str) = ("period", true, "The month, YYYY-MM.");
const FORMAT: (&str, bool, &str) = (
    "format",
    false,
    "`csv` for a CSV download (or Accept: text/csv).",
);
const READ: &[u16] = &[200, 404, 500, 503];
const ACT: &[u16] = &[202, 400, 404, 409, 500, 503];

/// Builds a [`RouteDoc`].
const fn doc(
    summary: &'static str,
    query: &'static [(&'static str, bool, &'static str)],
    body: Option<&'static str>,
    statuses: &'static [u16],
) -> RouteDoc {
    RouteDoc {
        summary,
        query,
        body,
        statuses,
    }
}

/// The documentation of every route (a test checks that each route of [`ROUTES`] has one).
pub const ROUTE_DOCS: &[(RouteId, RouteDoc)] = &[
    (
        RouteId::ListFetches,
        doc(
            "What thin webhooks announced (Square catalog.version.updated, Clover, Toast menus, \
             BigCommerce): the newest request per object with its vendor event and time. A \
             vendor with API credentials fetches these on its own; the others wait here.",
            &[],
            None,
            READ,
        ),
    ),
    (
        RouteId::ListDeadLetters,
        doc(
            "Dead-letter queues: each one's depth and its oldest messages, by ids only (tenant, \
             provider, delivery or event id, type — never bodies or headers). Admins.",
            &[],
            None,
            &[200, 500, 503],
        ),
    ),
    (
        RouteId::RedriveDeadLetters,
        doc(
            "Move up to 100 messages of a dead-letter queue (inbound, catalog, costs, \
             migrations, fetch, …) back to the queue they came from, oldest first, once the \
             cause is fixed; consumers are idempotent, so a redriven duplicate is dropped. Admins.",
            &[],
            None,
            &[200, 404, 500, 503],
        ),
    ),
    (RouteId::Health, doc("Liveness.", &[], None, &[200])),
    (
        RouteId::AllCosts,
        doc(
            "Every tenant's AI and infrastructure cost of a month (a tenant with either has a row).",
            &[
                PERIOD,
                FORMAT,
                (
                    "totals",
                    false,
                    "true: a last (total) row; the rows' amounts are then allocated so they add up to it exactly.",
                ),
            ],
            None,
            &[200, 400, 500, 503],
        ),
    ),
    (
        RouteId::ListTenants,
        doc(
            "The tenants the operator may read, with their settings (secrets only as set or not).",
            &[],
            None,
            &[200, 500, 503],
        ),
    ),
    (
        RouteId::GetTenant,
        doc(
            "One tenant's settings: currency, country, time zone, body cap, budget, providers \
             with webhook URL, whether a webhook secret (and a previous one) is set, API base \
             URL and credential names.",
            &[],
            None,
            &[200, 404, 500, 503],
        ),
    ),
    (
        RouteId::PutTenant,
        doc(
            "Create (201) or replace (200) a tenant: a tenants-file entry without tenant_id. \
             A provider's secret becomes the current webhook secret (the replaced one stays \
             accepted as previous); api credentials go to the secret store, never the table.",
            &[],
            Some("application/json"),
            &[200, 201, 400, 500, 503],
        ),
    ),
    (
        RouteId::TenantCosts,
        doc(
            "One tenant's AI cost of a month, grouped; the rows add up to totals (usage without a \
             migration is the (none) row, models by canonical name with raw_models); CSV ends \
             with a (total) row.",
            &[
                PERIOD,
                FORMAT,
                (
                    "group_by",
                    false,
                    "model (default), operation, migration, day or feature (operations through the feature registry).",
                ),
            ],
            None,
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::PostUsage,
        doc(
            "A model client reports one call as a usage line of `costs table --usage` (tenant_id \
             optional; accounted once per request_id).",
            &[],
            Some("application/json"),
            &[202, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::Retention,
        doc(
            "The retention report: each class of stored data, where it is, how many days it is \
             kept, what enforces it (table TTL, S3 lifecycle, kept) and whether it can hold \
             personal data.",
            &[],
            None,
            &[200, 500, 503],
        ),
    ),
    (
        RouteId::ReconcileCosts,
        doc(
            "Reconcile the month against AWS's bill: the body is a Cost and Usage Report export \
             (CSV, legacy or CUR 2.0 columns); the answer sets its usage cost per service beside \
             every tenant's metered infrastructure cost, with the difference, the services not \
             metered, tax/credits apart, and the region the meters were priced for (JSON, or CSV \
             with Accept: text/csv).",
            &[("period", true, "The month, YYYY-MM.")],
            Some("text/csv"),
            &[200, 400, 500, 503],
        ),
    ),
    (
        RouteId::PrivacyErase,
        doc(
            "Erase one customer's data (GDPR art. 17): {\"customer_id\"?, \"email\"?, \"phone\"?} \
             — or every customer's: {\"all_customers\": true}. Migrated customer records and \
             their migration journal entries are deleted; blobs under the tenant's prefixes \
             (exports, prepared customers, webhook bodies, reports) lose the person's lines and \
             objects, other mentions become [erased]. Answers the report: counts, blob keys and a \
             pseudonym, never the identifiers.",
            &[],
            Some("application/json"),
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::PrivacyExport,
        doc(
            "Export what tillbridge holds of one customer (GDPR art. 15): {\"customer_id\"?, \
             \"email\"?, \"phone\"?} → their customer records, the migrations whose journal \
             holds a prior record, and the blobs that mention them.",
            &[],
            Some("application/json"),
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::PrivacyErasures,
        doc(
            "The erasures carried out for the tenant, oldest first: pseudonym, who asked, when, \
             counts (Shopify's customers/redact and shop/redact webhooks included).",
            &[],
            None,
            &[200, 404, 500, 503],
        ),
    ),
    (
        RouteId::ListFeatures,
        doc(
            "The AI feature registry: operation → feature (built-in entries and the operators'); \
             tenant costs group_by=feature reads through it, unregistered operations are \
             (unassigned).",
            &[],
            None,
            &[200, 500, 503],
        ),
    ),
    (
        RouteId::PutFeature,
        doc(
            "File an operation's AI cost under a feature: {\"feature\": \"catalog-content\"}.",
            &[],
            Some("application/json"),
            &[200, 400, 500, 503],
        ),
    ),
    (
        RouteId::ImportLegacyUsage,
        doc(
            "Consolidate a legacy usage log (CSV or JSON lines: total tokens, a computed cost, a \
             service, a user) into the tenant's ledger: {\"services\": {\"SERVICE\": \
             {\"operation\": \"…\", \"feature\": \"…\"}}, \"log\": \"…\"}. Costs are kept as \
             recorded (rows our prices cannot explain are flagged), users only as pseudonyms, a \
             re-import counts once; the report ends with the check rows in = rows recorded and \
             equal totals (200 passed, 422 not).",
            &[],
            Some("application/json"),
            &[200, 400, 404, 422, 500, 503],
        ),
    ),
    (
        RouteId::ListBudgets,
        doc(
            "Every tenant with an AI budget: budget (soft limit) and hard limit, spent and reserved \
             in the month, share used, thresholds crossed (50/80/100 % with their event ids) and \
             state (within, over_budget, hard_limit_reached).",
            &[(
                "period",
                false,
                "The month, YYYY-MM (default: the current one).",
            )],
            None,
            &[200, 400, 500, 503],
        ),
    ),
    (
        RouteId::GetBudget,
        doc(
            "The tenant's monthly AI budget and hard limit, what is spent and reserved of it in a \
             month, the share used, the thresholds crossed and the state (no_budget without one).",
            &[(
                "period",
                false,
                "The month, YYYY-MM (default: the current one).",
            )],
            None,
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::PutBudget,
        doc(
            "Set the tenant's monthly AI budget (the soft limit: thresholds at 50/80/100 % are \
             announced as events and log lines, calls go on) and optionally the hard limit where \
             AI calls are refused: {\"monthly_usd\": \"25.00\", \"hard_limit_usd\": \"30.00\"} \
             (exact decimals; the hard limit defaults to the budget and is never below it).",
            &[],
            Some("application/json"),
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::GetNotifications,
        doc(
            "The tenant's notification settings (channels, event patterns, least levels, \
             language, time zone; webhook secrets are never shown) and its latest deliveries \
             given up after every retry (failed_deliveries: id, channel kind, event type, \
             attempts, last status or error).",
            &[],
            None,
            &[200, 404, 500, 503],
        ),
    ),
    (
        RouteId::PutNotifications,
        doc(
            "Replace the tenant's notification settings: {\"tenant_name\", \"language\": \"en\"|\"sv\", \
             \"time_zone\"?, \"channels\": [{\"channel\": {\"kind\": \"webhook\", \"url\", \
             \"secret_name\", \"secret\"?: \"whsec_…\"} | {\"kind\": \"email\", \"to\": [...]} | \
             {\"kind\": \"chat\", \"url\"} | {\"kind\": \"customers\"}, \"events\": [\"migration.*\", ...], \
             \"min_level\"?: \"info\"|\"warning\"|\"critical\", \"language\"?}]}. A webhook's \
             secret goes to the secret store (never stored in the table or shown); one must be \
             sent or already stored. The customers channel mails customer-facing events to the \
             customers whose consent a migration recorded.",
            &[],
            Some("application/json"),
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::ListDeliveries,
        doc(
            "The delivery log: the tenant's deliveries received in a window (default the last \
             24 hours, at most 7 days), oldest first, each with its provider, state (its \
             story's last step), outcome (received, published, applied, stale, rejected, \
             quarantined, duplicate, unhandled, replayed; derived from the story) and the \
             vendor's delivery key. `next_cursor` (and the Link header) continues; a page may \
             be short when the request has read its share of the window, so follow the cursor \
             until it is null.",
            &[
                ("provider", false, "Only this provider's deliveries."),
                ("outcome", false, "Only deliveries with this outcome."),
                (
                    "from",
                    false,
                    "Window start (RFC 3339; default 24 hours before to).",
                ),
                ("to", false, "Window end (RFC 3339; default now)."),
                (
                    "cursor",
                    false,
                    "Where the page starts (next_cursor of the previous page).",
                ),
                ("limit", false, "Page size, 1 to 200 (default 50)."),
            ],
            None,
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::ProviderStats,
        doc(
            "Per provider over a window: deliveries by outcome (published, duplicates, \
             unhandled, quarantined; applied, stale, rejected), the delivery success rate in \
             percent (published, duplicate or unhandled over those plus quarantined, as the SLA \
             alarms count it) and the provider's SLA target with whether it is met.",
            &[("window", false, "1h, 24h (default), 7d or 30d, ending now.")],
            None,
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::GetDeliveryById,
        doc(
            "A delivery's story by our delivery id (the 202's delivery_id): state, provider, \
             the vendor's delivery key, every step with its time (received, published with its \
             events, duplicate, quarantined with the reason, unhandled, replayed) and what the \
             catalog did with each event (applied, tombstoned, stale, duplicate, rejected, or \
             pending). Kept 7 days.",
            &[],
            None,
            READ,
        ),
    ),
    (
        RouteId::SyncProvider,
        doc(
            "Pull the tenant's catalog from the vendor's API and apply it as webhooks are \
             applied: in serve now (200, the report {tenant, provider, fetched, created, \
             changed, unchanged, deleted, rejected, api_calls, retries}); in the cloud queued \
             for the fetch function as a full sync (202). 409: the tenant has no API \
             credentials for the vendor; 502: the vendor refused (its reason); 504: the \
             vendor kept failing.",
            &[(
                "since",
                false,
                "Only what changed after this instant (RFC 3339); default: everything.",
            )],
            None,
            &[200, 202, 400, 404, 409, 500, 502, 503, 504],
        ),
    ),
    (
        RouteId::ListPriceOverrides,
        doc(
            "Stored price overrides (negotiated or corrected prices), by effective date, with \
             who set them.",
            &[],
            None,
            &[200, 500, 503],
        ),
    ),
    (
        RouteId::AddPriceOverride,
        doc(
            "Override one price-map field of a model from a date at least 5 minutes ahead: \
             {\"model\", \"field\" (input_cost_per_token, output_cost_per_token, \
             cache_read_input_token_cost, cache_creation_input_token_cost, \
             cache_creation_input_token_cost_above_1hr), \"value\" (USD per token, decimal \
             text), \"effective_from\" (RFC 3339), \"reason\"}. Usage before it keeps its price.",
            &[],
            Some("application/json"),
            &[201, 400, 500, 503],
        ),
    ),
    (
        RouteId::GetGrants,
        doc(
            "An operator's grants: permissions (read, write, ai, admin) per tenant id or *.",
            &[("principal", true, "The operator (IAM principal ARN).")],
            None,
            &[200, 400, 403, 500, 503],
        ),
    ),
    (
        RouteId::PutGrants,
        doc(
            "Replace an operator's grants: {\"tenants\": {\"t1\": [\"read\", \"write\"]}}.",
            &[("principal", true, "The operator (IAM principal ARN).")],
            Some("application/json"),
            &[200, 400, 403, 500, 503],
        ),
    ),
    (
        RouteId::ListItems,
        doc(
            "The tenant's catalog; with limit/cursor one page, the next page in the Link header.",
            &[
                (
                    "limit",
                    false,
                    "Page size, 1 to 1000 (default 100 when cursor is given).",
                ),
                (
                    "cursor",
                    false,
                    "Where the page starts (from the Link header).",
                ),
            ],
            None,
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::Xref,
        doc(
            "The same product at every vendor: the live items carrying this SKU or GTIN (a \
             UPC-A and its EAN-13 form are one GTIN), each with its provider, id, name and what \
             links it.",
            &[
                (
                    "sku",
                    false,
                    "A SKU (compared trimmed, case-insensitively).",
                ),
                ("gtin", false, "A GTIN, UPC or EAN (compared as GTIN-14)."),
            ],
            None,
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::GetItem,
        doc(
            "One catalog item by its vendor id; several vendors with this id: the most recently changed.",
            &[(
                "provider",
                false,
                "The item of this namespace only: a vendor, or a migration's source name.",
            )],
            None,
            READ,
        ),
    ),
    (
        RouteId::GetOrder,
        doc("One order as last received.", &[], None, READ),
    ),
    (
        RouteId::ListQuarantine,
        doc(
            "Quarantined deliveries with their reasons, oldest first; with limit or cursor one \
             page of them, the next page's address in the Link header (rel=\"next\").",
            &[
                (
                    "limit",
                    false,
                    "Page size, 1 to 1000 (default 100 when cursor is given).",
                ),
                (
                    "cursor",
                    false,
                    "Where the page starts (from the Link header).",
                ),
            ],
            None,
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::GetQuarantined,
        doc(
            "One quarantined delivery: the record and the stored request body.",
            &[],
            None,
            READ,
        ),
    ),
    (
        RouteId::ReplayQuarantined,
        doc(
            "Send a quarantined delivery through the signature check again (after a secret fix); idempotent.",
            &[],
            None,
            &[202, 404, 409, 500, 503],
        ),
    ),
    (
        RouteId::ReplayManyQuarantined,
        doc(
            "Replay several quarantined deliveries: {\"delivery_ids\": [...]} (at most 100); the outcome per id.",
            &[],
            Some("application/json"),
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::GetDelivery,
        doc(
            "What became of a vendor's delivery, by the vendor's own delivery id: state, outcome and our delivery id (7 days).",
            &[],
            None,
            READ,
        ),
    ),
    (
        RouteId::ListRejected,
        doc(
            "Webhook updates that failed validation, with findings.",
            &[],
            None,
            READ,
        ),
    ),
    (
        RouteId::Stats,
        doc(
            "Webhook counters (published, duplicates, quarantined, unhandled) and catalog \
             outcomes (applied, duplicate, stale, rejected, recorded), each also per provider \
             (shopify.stale): since the start, or over a window of hours.",
            &[
                ("window", false, "1h, 24h, 7d or 30d, ending now."),
                (
                    "from",
                    false,
                    "Window start (RFC 3339); hours are UTC buckets.",
                ),
                (
                    "to",
                    false,
                    "Window end (RFC 3339; default now); at most 93 days after from.",
                ),
            ],
            None,
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::StartMigration,
        doc(
            "Start a migration: JSON with the export inline or its export_key, or the raw export \
             as the body with ?tenant_id=&source_name= (CSV by Content-Type). Idempotency-Key \
             makes a retried upload the same migration. `destination` (body field, or query \
             parameter of a raw upload) also writes the approved items to the tenant's account \
             at that vendor (its API credentials); rollback undoes them there. \
             `retry_held_back_of` (a migration id) takes from this fixed export only the items \
             that migration held back, and their parents.",
            &[
                ("tenant_id", false, "For a raw upload: the tenant."),
                ("source_name", false, "For a raw upload: the source system."),
                (
                    "destination",
                    false,
                    "For a raw upload: the vendor to write the items to (square).",
                ),
                (
                    "retry_held_back_of",
                    false,
                    "For a raw upload: re-run only the items this migration held back.",
                ),
            ],
            Some("application/json"),
            &[202, 400, 404, 409, 413, 500, 503],
        ),
    ),
    (
        RouteId::ListMigrations,
        doc(
            "The tenant's migrations, newest first; with limit or cursor one page of them, the \
             next page's address in the Link header (rel=\"next\").",
            &[
                ("tenant_id", true, "The tenant."),
                (
                    "limit",
                    false,
                    "Page size, 1 to 1000 (default 100 when cursor is given).",
                ),
                (
                    "cursor",
                    false,
                    "Where the page starts (from the Link header).",
                ),
            ],
            None,
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::GetMigration,
        doc("Status, progress and validation summary.", &[], None, READ),
    ),
    (
        RouteId::GetMappings,
        doc("Mapping suggestions and decisions.", &[], None, READ),
    ),
    (
        RouteId::PutMappings,
        doc(
            "Override mapping decisions (audited with the operator).",
            &[],
            Some("application/json"),
            &[200, 400, 404, 409, 500, 503],
        ),
    ),
    (
        RouteId::MigrationAction,
        doc(
            "approve, pause, resume, cancel, rollback or switch (audited with the operator). switch: \
             the merchant moved to the destination; the cutover's pending source changes flow a \
             last time, then no more flow (409 without an active cutover).",
            &[],
            None,
            ACT,
        ),
    ),
    (
        RouteId::MigrationReport,
        doc(
            "The validation report (JSON); with ?format=csv or Accept: text/csv a CSV download, \
             one row per item and finding (name, variant, SKU, action, rule, severity, message, \
             fix). With a destination, every item carries `destination` {provider, object_id, \
             action}, `cutover` lists what flowed since the apply, and the CSV is the per-item \
             results file (destination, destination_id, destination_action, \
             destination_reason).",
            &[FORMAT],
            None,
            READ,
        ),
    ),
    (
        RouteId::RollbackReport,
        doc("The rollback report.", &[], None, READ),
    ),
    (
        RouteId::MigrationAudit,
        doc("The audit report.", &[], None, READ),
    ),
    (
        RouteId::MigrationProfileMapping,
        doc(
            "The approved mapping as a vendor profile (what `tillbridge profile              from-migration` prints): {migration, mapping} — the profile's `mapping` section,              `origin` naming the migration and its approver — and with ?name= the vendor's              next profile version with it ({name, version, profile}; null when the vendor has              no stored or built-in profile). 409 until the mapping is approved; 400 with every              problem when the mapping does not make a valid profile. Store it with PUT              /v1/profiles/{name}.",
            &[(
                "name",
                false,
                "The vendor profile whose webhook and API sections the mapping joins.",
            )],
            None,
            &[200, 400, 404, 409, 500, 503],
        ),
    ),
    (
        RouteId::ListProfiles,
        doc(
            "Every vendor profile, built in and stored: name, served version, title, source \
             (table or builtin), builtin_version and stored_versions.",
            &[],
            None,
            &[200, 500, 503],
        ),
    ),
    (
        RouteId::GetProfile,
        doc(
            "The vendor profile the webhook path uses (the newest stored version, else the \
             built-in file), or the given version: {name, version, source, profile}.",
            &[("version", false, "A stored (or the built-in) version.")],
            None,
            &[200, 400, 404, 500, 503],
        ),
    ),
    (
        RouteId::PutProfile,
        doc(
            "Store a new version of a vendor profile (the body is the profile JSON); the next \
             webhook of that vendor uses it. 201; 400 with every problem and its JSON path \
             (`problems`); 409 when `version` is not higher than the stored one. Admins.",
            &[],
            Some("application/json"),
            &[201, 400, 409, 500, 503],
        ),
    ),
];

/// The documentation of a route.
pub fn route_doc(id: RouteId) -> RouteDoc {
    ROUTE_DOCS
        .iter()
        .find(|(r, _)| *r == id)
        .map_or(UNDOCUMENTED, |(_, d)| *d)
}

/// What a route without documentation would show (a test keeps every route documented).
const UNDOCUMENTED: RouteDoc = doc("Undocumented.", &[], None, &[200, 500]);

/// Every status a route answers: its documented ones, and 403 for a route that needs a
/// permission (all but `/healthz`).
pub fn statuses(id: RouteId) -> Vec<u16> {
    let mut all = route_doc(id).statuses.to_vec();
    if !matches!(id, RouteId::Health | RouteId::ListTenants) {
        all.push(403);
        all.sort_unstable();
    }
    all
}

/// The webhook route's documentation.
pub const WEBHOOK_DOC: RouteDoc = RouteDoc {
    summary: "A vendor's webhook delivery: 202 once stored; 200 for vendor handshakes.",
    query: &[],
    body: Some("application/json"),
    statuses: &[200, 202, 401, 404, 413, 500, 503],
};

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted: stored, processed asynchronously",
        400 => "Bad request: the message says what is wrong",
        401 => "A signature header is missing or malformed",
        404 => "Unknown tenant, provider, migration or object",
        403 => "The operator has no permission on this tenant",
        409 => "The request does not fit the current state",
        413 => "The body is too large",
        500 => "Internal error (logged with the correlation id)",
        502 => "The vendor's API refused the request (its reason in the message)",
        504 => "The vendor's API kept failing (the last status in the message)",
        _ => "Temporarily unavailable: retry",
    }
}

fn operation(method: &str, path: &str, doc: &RouteDoc, statuses: &[u16], item: &Value) -> Value {
    let mut params: Vec<Value> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    params.extend(doc.query.iter().map(|(name, required, about)| {
        json!({ "name": name, "in": "query", "required": required, "description": about, "schema": { "type": "string" } })
    }));
    let responses: Map<String, Value> = statuses
        .iter()
        .map(|s| {
            let schema = match (s, method, path) {
                (200, "GET", "/v1/tenants/{tenant}/items/{id}") => item.clone(),
                (200 | 202, ..) => json!({}),
                _ => json!({ "$ref": "#/components/schemas/Error" }),
            };
            (
                s.to_string(),
                json!({ "description": status_text(*s), "content": { "application/json": { "schema": schema } } }),
            )
        })
        .collect();
    let mut op = json!({
        "summary": doc.summary,
        "operationId": format!("{} {}", method, path),
        "parameters": params,
        "responses": responses,
    });
    if let Some(media) = doc.body {
        op["requestBody"] = json!({ "content": { media: { "schema": {} } } });
    }
    if path != "/healthz" && path != WEBHOOK_ROUTE.1 {
        op["security"] = json!([{ "sigv4": [] }]);
    }
    op
}

/// The whole document.
pub fn openapi() -> Value {
    let item = serde_json::to_value(schemars::schema_for!(CatalogItem)).unwrap_or_default();
    let mut paths = Map::new();
    let mut add = |method: &str, path: &str, doc: &RouteDoc, statuses: &[u16]| {
        let entry = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        entry[method.to_ascii_lowercase()] = operation(method, path, doc, statuses, &item);
    };
    for r in ROUTES {
        add(r.method, r.path, &route_doc(r.id), &statuses(r.id));
    }
    add(
        WEBHOOK_ROUTE.0,
        WEBHOOK_ROUTE.1,
        &WEBHOOK_DOC,
        WEBHOOK_DOC.statuses,
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tillbridge",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Webhook ingress, catalog reads, migrations and finance. Management routes are IAM-authorized (SigV4); the audit records the authenticated principal."
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": { "type": "string" } }
                }
            },
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "x-amazon-apigateway-authtype": "awsSigv4"
                }
            }
        }
    })
}

#[cfg(test)]
mod doc_tests {
    use super::*;

    #[test]
    fn every_route_is_documented_once() {
        for r in ROUTES {
            let n = ROUTE_DOCS.iter().filter(|(id, _)| *id == r.id).count();
            assert_eq!(n, 1, "{:?} has {n} docs", r.id);
        }
        assert_eq!(ROUTE_DOCS.len(), ROUTES.len());
    }
}
