//! The accounting context's storage layout; no other module builds these keys.
//!
//! Table (partition → sort key):
//! - `ledger#<tenant>#<YYYY-MM>` → `req#<request id>`: one entry per model call (idempotent).
//! - `costagg#<tenant>#<YYYY-MM>` → `<group>#<value>#<model>#r<regime>`: token counters per
//!   grouping (`total`, `model`, `operation`, `migration`, `day`) and price regime.
//! - `budget#<tenant>#<YYYY-MM>` → `state` (committed and reserved USD), `res#<id>`
//!   (reservations), `threshold#<percent>` (announcement marks).
//! - `budgets` → `<tenant>`: monthly budgets.
//! - `infra#<tenant>#<YYYY-MM>` → `<function>`: metered AWS usage counters.

use tillbridge_domain::TenantId;

use crate::CostGroup;

/// Partition and sort key of one model call's ledger entry.
pub fn ledger(tenant: &TenantId, period: &str, request_id: &str) -> (String, String) {
    (
        format!("ledger#{tenant}#{period}"),
        format!("req#{request_id}"),
    )
}

/// Partition of a tenant's token aggregates of a month.
pub fn aggregates_pk(tenant: &TenantId, period: &str) -> String {
    format!("costagg#{tenant}#{period}")
}

/// Sort key of one aggregate row (`value` and `model` already made key-safe).
pub fn aggregate_sk(group: CostGroup, value: &str, model: &str, regime: usize) -> String {
    format!("{group}#{value}#{model}#r{regime}")
}

/// Sort-key prefix of one grouping's aggregate rows.
pub fn aggregate_prefix(group: CostGroup) -> String {
    format!("{group}#")
}

/// Partition of a tenant's budget state of a month.
pub fn budget_pk(tenant: &TenantId, period: &str) -> String {
    format!("budget#{tenant}#{period}")
}

/// Sort key of the committed/reserved state.
pub const BUDGET_STATE_SK: &str = "state";

/// Sort key of one reservation.
pub fn reservation_sk(reservation_id: &str) -> String {
    format!("res#{reservation_id}")
}

/// Sort key of one threshold's announcement mark.
pub fn threshold_sk(percent: u32) -> String {
    format!("threshold#{percent}")
}

/// Partition of the monthly budgets (sort key: the tenant id).
pub const BUDGETS_PK: &str = "budgets";

/// Partition of a tenant's infrastructure counters of a month (sort key: the function).
pub fn infra_pk(tenant: &TenantId, period: &str) -> String {
    format!("infra#{tenant}#{period}")
}
