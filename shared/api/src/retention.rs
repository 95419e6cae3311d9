//! What tillbridge keeps, where, for how long, and what enforces it — the retention
//! report (`GET /v1/retention`, `tillbridge privacy retention`). Built from the constants the
//! code writes its expiries with; a template test checks the S3 lifecycle rules agree.

use serde::Serialize;

const DAY: i64 = 24 * 3600;

/// One class of stored data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retention {
    /// What is kept.
    pub data: &'static str,
    /// Where: a table partition pattern or a blob prefix.
    pub location: &'static str,
    /// Days kept after it is written; None: until erased or deleted by an operator.
    pub days: Option<i64>,
    /// What enforces it: `table TTL`, `S3 lifecycle`, or `kept` (no expiry).
    pub enforced_by: &'static str,
    /// Whether it can hold a customer's personal data (erasure covers it).
    pub personal_data: bool,
}

const fn r(
    data: &'static str,
    location: &'static str,
    days: Option<i64>,
    enforced_by: &'static str,
    personal_data: bool,
) -> Retention {
    Retention {
        data,
        location,
        days,
        enforced_by,
        personal_data,
    }
}

/// Every class, with the code's own numbers.
pub fn policies() -> Vec<Retention> {
    let days = |secs: i64| Some(secs / DAY);
    vec![
        r(
            "raw webhook bodies (claim check)",
            "raw/<tenant>/",
            Some(30),
            "S3 lifecycle (RawRetentionDays)",
            true,
        ),
        r(
            "quarantined deliveries: record and raw body",
            "quarantine#<tenant>, quarantine/<tenant>/",
            days(tillbridge_sync::quarantine::QUARANTINE_TTL_SECS),
            "table TTL and S3 lifecycle (RawRetentionDays)",
            true,
        ),
        r(
            "idempotency records",
            "idem#<tenant>",
            days(tillbridge_sync::signature_check::IDEMPOTENCY_TTL_SECS),
            "table TTL",
            false,
        ),
        r(
            "delivery stories",
            "trail#<tenant>#<delivery>",
            days(tillbridge_sync::trail::TRAIL_TTL_SECS),
            "table TTL",
            false,
        ),
        r(
            "delivery log (each delivery's receipt)",
            "deliveries#<tenant>#<hour>#<shard>",
            days(tillbridge_sync::trail::TRAIL_TTL_SECS),
            "table TTL",
            false,
        ),
        r(
            "catalog event outcomes",
            "catalog outcome records",
            days(tillbridge_catalog::OUTCOME_TTL_SECS),
            "table TTL",
            false,
        ),
        r(
            "rejected catalog updates",
            "rejected records",
            days(tillbridge_catalog::REJECTED_TTL_SECS),
            "table TTL",
            false,
        ),
        r(
            "claim-checked bus events",
            "events/",
            Some(14),
            "S3 lifecycle",
            false,
        ),
        r(
            "uploaded exports (may hold customers)",
            "exports/<tenant>/",
            days(tillbridge_migration::EXPORT_TTL_SECS),
            "S3 lifecycle",
            true,
        ),
        r(
            "migration journal, snapshots, prepared items and customers (the rollback window)",
            "migration#<id>, snapshots/, migrations/",
            days(tillbridge_migration::ROLLBACK_WINDOW_SECS),
            "table TTL and S3 lifecycle",
            true,
        ),
        r(
            "validation and rollback reports",
            "reports/<tenant>/",
            days(tillbridge_migration::validation::REPORT_TTL_SECS),
            "S3 lifecycle and table TTL",
            false,
        ),
        r(
            "data request exports for merchants",
            "privacy/<tenant>/",
            Some(30),
            "S3 lifecycle",
            true,
        ),
        r(
            "earlier versions of any object (versioned bucket)",
            "every prefix",
            Some(90),
            "S3 lifecycle (noncurrent versions); an erasure deletes them at once",
            true,
        ),
        r(
            "migrated customers (with consent)",
            "customers#<tenant>",
            None,
            "kept until erased (privacy erase, Shopify customers/redact or shop/redact)",
            true,
        ),
        r(
            "catalog items, orders (no customer data), cost ledger and budgets",
            "catalog#, ledger#, costagg#, budgets",
            None,
            "kept (business records)",
            false,
        ),
        r(
            "erasure audit (pseudonyms only)",
            "privacy#<tenant>",
            None,
            "kept (proof of erasure)",
            false,
        ),
    ]
}
