//! Who may do what on which tenant. Every management request is made by an authenticated
//! operator (the IAM principal in the cloud, `serve --operator` / `X-Operator` locally) and
//! needs a permission on the tenant it touches:
//!
//! - `read`: catalog, orders, quarantine, rejected updates, stats, costs, budgets, migrations;
//! - `write`: start and act on migrations (approve, pause, …, roll back), mapping overrides,
//!   quarantine replays;
//! - `ai`: report model usage (`POST …/usage`), spend the tenant's AI budget;
//! - `admin`: onboard and update the tenant (settings, vendor secrets), set budgets, manage
//!   other operators' grants.
//!
//! Administrators ([`crate::Api::admins`]: `ADMIN_PRINCIPALS` in the cloud, serve's
//! `--operator` locally) hold every permission on every tenant. Everyone else holds what their
//! grant record says (`grants` → `<principal>` in the table: a permission list per tenant id,
//! `*` for every tenant), managed through `PUT /v1/grants?principal=…`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tillbridge_ports::table::{Condition, Item};
use tillbridge_ports::{PortError, Table};

/// A permission on a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Read the tenant's data.
    Read,
    /// Change it (migrations, overrides, replays).
    Write,
    /// Use AI on its behalf (usage, budget spend).
    Ai,
    /// Administer it (budgets, grants).
    Admin,
}

/// An operator's grants: permissions per tenant id (`*`: every tenant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Tenant id (or `*`) → permissions.
    pub tenants: BTreeMap<String, Vec<Permission>>,
}

impl Grants {
    /// Whether these grants allow `permission` on `tenant` (None: on every tenant).
    pub fn allow(&self, tenant: Option<&str>, permission: Permission) -> bool {
        let holds = |key: &str| {
            self.tenants
                .get(key)
                .is_some_and(|p| p.contains(&permission) || p.contains(&Permission::Admin))
        };
        holds("*") || tenant.is_some_and(holds)
    }
}

/// Partition of the grant records (sort key: the principal).
pub const GRANTS_PK: &str = "grants";

/// An operator's grants (empty when none were given).
///
/// # Errors
/// The table failed, or the record is corrupt.
pub async fn grants(table: &dyn Table, principal: &str) -> Result<Grants, PortError> {
    match table.get(GRANTS_PK, principal).await? {
        Some(item) => item.doc(),
        None => Ok(Grants::default()),
    }
}

/// Replaces an operator's grants.
///
/// # Errors
/// The table failed.
pub async fn set_grants(
    table: &dyn Table,
    principal: &str,
    grants: &Grants,
) -> Result<(), PortError> {
    table
        .put(
            Item::with_doc(GRANTS_PK, principal, grants)?,
            Condition::Always,
        )
        .await?;
    Ok(())
}
