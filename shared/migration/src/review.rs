//! Review of mapping suggestions: suggestions stored per migration for a human, per-field
//! overrides with reason and reviewer (version-checked, so two reviewers cannot silently
//! overwrite each other), and an audit trail of `ai_suggestion` and `human_override` entries
//! written in the same transaction as the change they describe.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tillbridge_domain::{TenantId, Timestamp};
pub use tillbridge_mapping::Conversion;
use tillbridge_mapping::{Band, FieldProfile, MappedField, Suggestion};
use tillbridge_ports::PortError;
use tillbridge_ports::table::{Condition, Item, Table, TxWrite, query_all};

use crate::MigrationError;

/// One field's current decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDecision {
    /// Path of the field in the source records (e.g. `variations.price`).
    pub source: String,
    /// The canonical field it maps to, or None: no counterpart (not migrated).
    pub target: Option<String>,
    /// Confidence of the decision, 0 to 1 (1 for a reviewer's override).
    pub confidence: f64,
    /// `high` (> 0.9), `medium` (≥ 0.7), `low`, or `none` without a target.
    pub band: String,
    /// Why: the suggestion's evidence, or `override: <the reviewer's reason>`.
    pub reason: String,
    /// How values convert on the way (None: as is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion: Option<Conversion>,
    /// "suggestion" or the reviewer who overrode it.
    pub decided_by: String,
    /// Up to [`SAMPLES_KEPT`] distinct values of the field as the export had them, for
    /// reviewers: customer PII masked (emails, phone and card numbers), each cut to 40
    /// characters; none for a field that describes a person (`pii`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<String>,
    /// The field describes a person (its path names a customer, an email, a phone, an
    /// address, …): its values are personal data and no sample is kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pii: bool,
}

/// Distinct sample values kept per field with its decision.
pub const SAMPLES_KEPT: usize = 3;

/// The samples kept for reviewers of a field: up to [`SAMPLES_KEPT`] distinct values with
/// customer PII masked (the same masking as the model prompt's, `tillbridge_mapping::llm::mask`),
/// and whether the field describes a person — then no value is kept at all.
pub fn review_samples(profile: &FieldProfile) -> (Vec<String>, bool) {
    if tillbridge_mapping::llm::mask(&profile.path, "x") == "<redacted>" {
        return (Vec::new(), true);
    }
    let mut out: Vec<String> = Vec::new();
    for v in &profile.samples {
        let m = tillbridge_mapping::llm::mask(&profile.path, v);
        if !m.trim().is_empty() && !out.contains(&m) {
            out.push(m);
        }
        if out.len() == SAMPLES_KEPT {
            break;
        }
    }
    (out, false)
}

/// One entry of a migration's review audit trail (stored with `kind` as its tag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditEntry {
    /// Suggestions were made (offline tiers or a model).
    AiSuggestion {
        /// Who made them: `offline-tiers`, `offline-tiers+llm`, or the model's name.
        agent: String,
        /// SHA-256 of the prompt (of the field list for the offline tiers); never the prompt.
        prompt_hash: String,
        /// What came back, summarized (no export values).
        response_summary: String,
        /// Mean confidence of the suggestions, 0 to 1.
        confidence: f64,
        /// Model tokens used (0 for the offline tiers).
        tokens: u64,
        /// When.
        at: Timestamp,
    },
    /// A reviewer changed a field's target.
    HumanOverride {
        /// The source field.
        source: String,
        /// The target before (None: no counterpart).
        original: Option<String>,
        /// The target after (None: no counterpart).
        new: Option<String>,
        /// The reviewer's reason.
        reason: String,
        /// Who overrode it.
        reviewer: String,
        /// When.
        at: Timestamp,
    },
}

use crate::keys::{audit_pk, field_sk, mapping_pk as pk};

fn audit_sk(at: Timestamp, what: &str) -> String {
    format!(
        "{:020}#{}",
        at.unix_nanos().max(0),
        &hex::encode(Sha256::digest(what.as_bytes()))[..12]
    )
}

/// The audit entry of one model call made for a migration's suggestions. Idempotent.
///
/// # Errors
///
/// The table failed, or a stored document does not parse.
pub async fn record_model_call(
    table: &dyn Table,
    tenant: &TenantId,
    migration: &str,
    call: &crate::suggest::ModelCall,
    at: Timestamp,
) -> Result<(), MigrationError> {
    let entry = AuditEntry::AiSuggestion {
        agent: call.model.clone(),
        prompt_hash: call.prompt_hash.clone(),
        response_summary: call.summary.clone(),
        confidence: call.confidence,
        tokens: call.tokens,
        at,
    };
    let what = format!("{}#{}", call.model, call.prompt_hash);
    match table
        .put(
            Item::with_doc(audit_pk(tenant, migration), audit_sk(at, &what), &entry)?,
            Condition::IfAbsent,
        )
        .await
    {
        Ok(_) | Err(PortError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Stores the suggestions of one run (replacing earlier, unreviewed ones) with each field's
/// review samples (from its profile, [`review_samples`]) and the run's audit entry.
///
/// # Errors
///
/// The table failed, or a stored document does not parse.
pub async fn store_suggestions(
    table: &dyn Table,
    tenant: &TenantId,
    migration: &str,
    agent: &str,
    suggestions: &[Suggestion],
    profiles: &[FieldProfile],
    at: Timestamp,
) -> Result<(), MigrationError> {
    for s in suggestions {
        let (samples, pii) = profiles
            .iter()
            .find(|p| p.path == s.source)
            .map(review_samples)
            .unwrap_or_default();
        let decision = FieldDecision {
            source: s.source.clone(),
            target: s.target.map(str::to_owned),
            confidence: s.confidence,
            band: s.band.as_str().to_owned(),
            reason: s.reason.clone(),
            conversion: s.conversion,
            decided_by: "suggestion".into(),
            samples,
            pii,
        };
        table
            .put(
                Item::with_doc(pk(tenant, migration), field_sk(&s.source), &decision)?,
                Condition::Always,
            )
            .await?;
    }
    let fields: Vec<&str> = suggestions.iter().map(|s| s.source.as_str()).collect();
    let mapped = suggestions.iter().filter(|s| s.target.is_some()).count();
    let entry = AuditEntry::AiSuggestion {
        agent: agent.to_owned(),
        prompt_hash: hex::encode(Sha256::digest(fields.join("\n").as_bytes())),
        response_summary: format!("{mapped} of {} fields mapped", suggestions.len()),
        confidence: suggestions.iter().map(|s| s.confidence).sum::<f64>()
            / suggestions.len().max(1) as f64,
        tokens: 0,
        at,
    };
    table
        .put(
            Item::with_doc(audit_pk(tenant, migration), audit_sk(at, agent), &entry)?,
            Condition::IfAbsent,
        )
        .await
        .or_else(|e| {
            if e == PortError::ConditionFailed {
                Ok(0)
            } else {
                Err(e)
            }
        })?;
    Ok(())
}

/// Every field's current decision for a migration, by source path.
///
/// # Errors
///
/// The table failed, or a stored document does not parse.
pub async fn decisions(
    table: &dyn Table,
    tenant: &TenantId,
    migration: &str,
) -> Result<Vec<FieldDecision>, MigrationError> {
    query_all(table, &pk(tenant, migration), "field#")
        .await?
        .iter()
        .map(|i| i.doc().map_err(MigrationError::from))
        .collect()
}

/// A migration's review audit trail, oldest first.
///
/// # Errors
///
/// The table failed, or a stored document does not parse.
pub async fn audit_trail(
    table: &dyn Table,
    tenant: &TenantId,
    migration: &str,
) -> Result<Vec<AuditEntry>, MigrationError> {
    query_all(table, &audit_pk(tenant, migration), "")
        .await?
        .iter()
        .map(|i| i.doc().map_err(MigrationError::from))
        .collect()
}

/// Why a reviewer's override was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideError {
    /// The export has no such source field (404).
    UnknownField,
    /// Someone changed the field since `expected_by` was read; reload and decide again.
    Conflict,
    /// No reason or reviewer, or a target that is not a canonical field (400).
    Invalid(String),
}

impl std::fmt::Display for OverrideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OverrideError::UnknownField => f.write_str("not a field of this export"),
            OverrideError::Conflict => {
                f.write_str("the field changed meanwhile; reload and decide again")
            }
            OverrideError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for OverrideError {}

/// A reviewer's decision on one field: a canonical target or None ("no counterpart").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override<'a> {
    /// The source field's path.
    pub source: &'a str,
    /// The canonical field to map it to, or None: no counterpart.
    pub new_target: Option<&'a str>,
    /// How values convert (`inverted_boolean` for a `hidden` flag feeding is_active); None
    /// keeps the current conversion while the target stays, and takes values as they are
    /// for a new target.
    pub conversion: Option<Conversion>,
    /// Why (required; kept in the audit trail).
    pub reason: &'a str,
    /// Who decides (required).
    pub reviewer: &'a str,
    /// When.
    pub at: Timestamp,
}

/// Applies an override with its audit entry in one transaction; fails with `Conflict` when
/// the field changed concurrently (reload and decide again).
///
/// # Errors
///
/// [`MigrationError::Override`]: [`OverrideError::Invalid`], [`OverrideError::UnknownField`],
/// or [`OverrideError::Conflict`]; a failing table otherwise.
pub async fn override_field(
    table: &dyn Table,
    tenant: &TenantId,
    migration: &str,
    o: &Override<'_>,
) -> Result<FieldDecision, MigrationError> {
    let Override {
        source,
        new_target,
        conversion,
        reason,
        reviewer,
        at,
    } = *o;
    if reason.trim().is_empty() || reviewer.trim().is_empty() {
        return Err(MigrationError::Override(OverrideError::Invalid(
            "an override needs a reason and a reviewer".into(),
        )));
    }
    if let Some(t) = new_target
        && !tillbridge_domain::item::CANONICAL_FIELDS.contains(&t)
    {
        return Err(MigrationError::Override(OverrideError::Invalid(format!(
            "{t} is not a canonical field"
        ))));
    }
    let sk = field_sk(source);
    let Some(item) = table.get(&pk(tenant, migration), &sk).await? else {
        return Err(MigrationError::Override(OverrideError::UnknownField));
    };
    let current: FieldDecision = item.doc()?;
    let decision = FieldDecision {
        target: new_target.map(str::to_owned),
        confidence: 1.0,
        band: if new_target.is_some() {
            Band::High.as_str().into()
        } else {
            Band::None.as_str().into()
        },
        reason: format!("override: {reason}"),
        decided_by: reviewer.to_owned(),
        conversion: match conversion {
            Some(c) => Some(c),
            None if new_target == current.target.as_deref() => current.conversion,
            None => None,
        },
        ..current.clone()
    };
    let entry = AuditEntry::HumanOverride {
        source: source.to_owned(),
        original: current.target.clone(),
        new: decision.target.clone(),
        reason: reason.to_owned(),
        reviewer: reviewer.to_owned(),
        at,
    };
    let writes = vec![
        TxWrite::Put {
            item: Item::with_doc(pk(tenant, migration), &sk, &decision)?,
            condition: Condition::IfVersion(item.version),
        },
        TxWrite::Put {
            item: Item::with_doc(
                audit_pk(tenant, migration),
                audit_sk(at, &format!("{source}/{reviewer}/{reason}")),
                &entry,
            )?,
            condition: Condition::IfAbsent,
        },
    ];
    match table.transact(writes).await {
        Ok(()) => Ok(decision),
        Err(PortError::ConditionFailed) => Err(OverrideError::Conflict.into()),
        Err(e) => Err(e.into()),
    }
}

/// The mapping as approved: every field with a target, with its conversion.
///
/// # Errors
///
/// The table failed, or a stored document does not parse.
pub async fn approved_mapping(
    table: &dyn Table,
    tenant: &TenantId,
    migration: &str,
) -> Result<Vec<MappedField>, MigrationError> {
    Ok(decisions(table, tenant, migration)
        .await?
        .into_iter()
        .filter_map(|d| {
            Some(MappedField {
                source: d.source,
                conversion: d.conversion.unwrap_or(Conversion::AsIs),
                target: d.target?,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tillbridge_mapping::{profile_json, suggest};
    use tillbridge_ports::ManualClock;
    use tillbridge_ports::memory::MemoryTable;

    use super::*;

    fn o<'a>(
        source: &'a str,
        new_target: Option<&'a str>,
        reason: &'a str,
        reviewer: &'a str,
    ) -> Override<'a> {
        Override {
            source,
            new_target,
            conversion: None,
            reason,
            reviewer,
            at: Timestamp::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn decisions_keep_a_few_samples_with_pii_masked_and_overrides_keep_them() {
        let at = Timestamp::UNIX_EPOCH;
        let table = MemoryTable::new(Arc::new(ManualClock::new(at)));
        let tenant = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
        let records: Vec<serde_json::Value> = serde_json::from_str(
            r#"[{"title":"Latte","note":"call +46 70 123 45 67","customer_email":"ana@example.com","price":"4.50"},
                {"title":"Mocha","note":"ok","customer_email":"bo@example.com","price":"5.00"},
                {"title":"Latte","note":"mail ana@example.com","customer_email":"cy@example.com","price":"5.50"},
                {"title":"Chai","note":"x","customer_email":"di@example.com","price":"6.00"},
                {"title":"A very long product title that goes on and on past forty characters","note":"y","customer_email":"ed@example.com","price":"7.00"}]"#,
        )
        .unwrap_or_default();
        let profiles = profile_json(&records);
        let suggestions = suggest(&profiles);
        store_suggestions(
            &table,
            &tenant,
            "m1",
            "offline-tiers",
            &suggestions,
            &profiles,
            at,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let ds = decisions(&table, &tenant, "m1").await.unwrap_or_default();
        let by = |name: &str| {
            ds.iter()
                .find(|d| d.source == name)
                .cloned()
                .unwrap_or_else(|| panic!("{name}: {ds:?}"))
        };
        assert_eq!(
            by("title").samples,
            ["Latte", "Mocha", "Chai"],
            "distinct, at most 3"
        );
        assert!(!by("title").pii);
        let email = by("customer_email");
        assert!(email.pii && email.samples.is_empty(), "{email:?}");
        let note = by("note");
        assert!(
            note.samples
                .iter()
                .all(|s| !s.contains("70 123") && !s.contains("ana@")),
            "{note:?}"
        );
        assert!(
            note.samples.iter().any(|s| s.contains("<phone>")),
            "{note:?}"
        );
        let json = serde_json::to_string(&ds).unwrap_or_default();
        assert!(!json.contains("example.com"), "{json}");
        assert!(
            ds.iter()
                .all(|d| d.samples.iter().all(|s| s.chars().count() <= 41))
        );
        let done = override_field(
            &table,
            &tenant,
            "m1",
            &o("note", None, "notes are not migrated", "ana@ops"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done.samples, note.samples, "an override keeps the samples");
    }

    #[tokio::test]
    async fn overrides_are_audited_and_validated() {
        let at = Timestamp::UNIX_EPOCH;
        let table = MemoryTable::new(Arc::new(ManualClock::new(at)));
        let tenant = TenantId::parse("t1").unwrap_or_else(|e| panic!("{e}"));
        let records: Vec<serde_json::Value> =
            serde_json::from_str(r#"[{"id":"a1","title":"Latte","price":"4.50","kitchenName":"LAT"},{"id":"a2","title":"Mocha","price":"5.00","kitchenName":"MOC"}]"#).unwrap_or_default();
        let profiles = profile_json(&records);
        let suggestions = suggest(&profiles);
        store_suggestions(
            &table,
            &tenant,
            "m1",
            "offline-tiers",
            &suggestions,
            &profiles,
            at,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            decisions(&table, &tenant, "m1")
                .await
                .unwrap_or_default()
                .len(),
            4
        );

        let done = override_field(
            &table,
            &tenant,
            "m1",
            &o(
                "kitchenName",
                Some("variant_name"),
                "kitchen names are the sizes here",
                "ana@ops",
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done.target.as_deref(), Some("variant_name"));
        assert_eq!(
            override_field(&table, &tenant, "m1", &o("nope", None, "x", "ana"))
                .await
                .err()
                .map(|e| e.to_string()),
            Some(OverrideError::UnknownField.to_string())
        );
        assert!(matches!(
            override_field(
                &table,
                &tenant,
                "m1",
                &o("title", Some("colour"), "x", "ana")
            )
            .await,
            Err(MigrationError::Override(OverrideError::Invalid(_)))
        ));
        assert!(matches!(
            override_field(&table, &tenant, "m1", &o("title", None, " ", "ana")).await,
            Err(MigrationError::Override(OverrideError::Invalid(_)))
        ));

        let mapping = approved_mapping(&table, &tenant, "m1")
            .await
            .unwrap_or_default();
        assert!(
            mapping
                .iter()
                .any(|m| m.source == "kitchenName" && m.target == "variant_name")
        );
        assert!(mapping.iter().any(|m| m.source == "price"
            && m.target == "price_minor"
            && m.conversion == Conversion::MajorToMinor));

        let trail = audit_trail(&table, &tenant, "m1").await.unwrap_or_default();
        assert!(
            matches!(&trail[0], AuditEntry::AiSuggestion { agent, tokens: 0, .. } if agent == "offline-tiers")
        );
        assert!(trail.iter().any(|e| matches!(e, AuditEntry::HumanOverride { original: None, new: Some(n), reviewer, .. } if n == "variant_name" && reviewer == "ana@ops")));
    }
}
