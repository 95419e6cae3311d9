//! The one code path from an approved migration review to a vendor profile (issue 16), shared
//! by `tillbridge profile from-migration` and `GET /v1/migrations/{id}/profile-mapping`: the
//! reviewed mapping (`review::approved_mapping`) as a profile's `mapping` section, and — when
//! the vendor has a base profile (given, else its newest stored one, else its built-in one) —
//! that profile with the mapping as its next version, checked.

use tillbridge_domain::ProfileName;
use tillbridge_ports::Table;
use tillbridge_profiles::store::{self, StoreError};
use tillbridge_profiles::{Profile, ProfileError, model};

use crate::{Migration, MigrationError};

/// What an approved migration's mapping makes.
#[derive(Debug, Clone)]
pub struct ProfileMapping {
    /// The profile's `mapping` section (`origin` names the migration and its approver).
    pub section: model::Mapping,
    /// The base profile with this mapping, as the vendor's next version (higher than every
    /// stored and the built-in version); `None` when the vendor has no profile to join.
    pub profile: Option<Profile>,
}

/// Why no profile mapping could be made.
#[derive(Debug, thiserror::Error)]
pub enum ProfileMappingError {
    /// The migration's mapping is not approved yet.
    #[error(
        "migration {id} is {status} and its mapping is not approved yet (tillbridge migration approve {id})"
    )]
    NotApproved {
        /// The migration.
        id: String,
        /// Its status.
        status: String,
    },
    /// The mapping does not make a valid profile with the base (every problem, with paths).
    #[error("the migration's mapping does not make a valid profile: {0}")]
    Invalid(ProfileError),
    /// The base profile is another vendor's.
    #[error("the base profile is {base}, not {name}")]
    OtherVendor {
        /// The base profile's name.
        base: ProfileName,
        /// The name asked for.
        name: ProfileName,
    },
    /// Reading the review failed.
    #[error(transparent)]
    Migration(#[from] MigrationError),
    /// Reading the stored profiles failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The profile mapping of migration `m`; for vendor `name`, with `base` (else the vendor's
/// newest stored profile, else its built-in one) the whole profile as its next version.
/// Without a name only the section is made.
///
/// # Errors
/// See [`ProfileMappingError`].
pub async fn profile_mapping(
    table: &dyn Table,
    m: &Migration,
    name: Option<ProfileName>,
    base: Option<Profile>,
) -> Result<ProfileMapping, ProfileMappingError> {
    let Some(approver) = m.approved_by.as_deref() else {
        return Err(ProfileMappingError::NotApproved {
            id: m.id.to_string(),
            status: m.status.as_str().to_owned(),
        });
    };
    let fields = crate::review::approved_mapping(table, &m.tenant_id, m.id.as_str()).await?;
    let origin = format!(
        "migration {} ({} of tenant {}), approved by {approver}",
        m.id, m.source_name, m.tenant_id
    );
    let section = tillbridge_profiles::mapping_section(&fields, &origin);
    let Some(name) = name else {
        return Ok(ProfileMapping {
            section,
            profile: None,
        });
    };
    let base = match base {
        Some(b) => Some(b),
        None => store::resolve(table, name).await?,
    };
    let Some(base) = base else {
        return Ok(ProfileMapping {
            section,
            profile: None,
        });
    };
    if base.name() != name {
        return Err(ProfileMappingError::OtherVendor {
            base: base.name(),
            name,
        });
    }
    let stored = store::versions(table, name).await?;
    let newest = stored.last().copied().unwrap_or(0).max(base.doc().version);
    let profile =
        tillbridge_profiles::with_mapping(base.doc(), section.clone(), newest.saturating_add(1))
            .map_err(ProfileMappingError::Invalid)?;
    Ok(ProfileMapping {
        section,
        profile: Some(profile),
    })
}
