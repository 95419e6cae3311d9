//! Data subject requests (GDPR articles 15 and 17): export or erase what tillbridge holds of
//! one customer of a tenant — or of every customer, when a shop leaves.
//!
//! Where a customer's data can be:
//! - the migrated customer records (`customers#<tenant>`), the only place customers are kept
//!   for good (orders carry no customer data; catalog items none);
//! - the migration journals (`journal#customer#<id>` and rollback conflict marks): the
//!   record as it was before a migration changed it;
//! - blobs under the tenant's prefixes: prepared customers (`migrations/<tenant>/…`),
//!   uploaded exports (`exports/<tenant>/…`), raw and quarantined webhook bodies (`raw/`,
//!   `quarantine/`), reports and earlier access exports (`reports/`, `privacy/`). Snapshots
//!   hold catalog items only.
//!
//! Erasure deletes the records and journal entries (a later rollback then finds the record
//! gone and leaves it so, as a conflict), drops the customer's lines and objects from JSON
//! blobs and replaces any remaining occurrence of their email, phone or name with
//! `[erased]` in other blobs (a quarantined body so rewritten no longer verifies: it cannot be
//! replayed). The audit keeps only a pseudonymous record: a salted digest of the identifiers,
//! who asked, when, and the counts.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tillbridge_domain::event::{EventData, PrivacyKind};
use tillbridge_domain::{Envelope, TenantId, Timestamp};
use tillbridge_ports::table::{Condition, Item, Table, query_all};
use tillbridge_ports::{BlobStore, PortError};

use crate::MigrationError;
use crate::export::Customer;

/// Who a request is about: any of the identifiers may be given; a customer matches when one
/// of them is theirs (email case-insensitively, phone by its digits).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// The customer's id in the source system.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

impl Subject {
    /// True when no identifier is given.
    pub fn is_empty(&self) -> bool {
        self.customer_id.is_none() && self.email.is_none() && self.phone.is_none()
    }

    fn matches(&self, c: &Customer) -> bool {
        let same = |a: &Option<String>, b: &Option<String>, f: fn(&str) -> String| matches!((a, b), (Some(a), Some(b)) if !f(a).is_empty() && f(a) == f(b));
        self.customer_id.as_deref() == Some(c.external_id.as_str())
            || same(&self.email, &c.email, |s| s.trim().to_lowercase())
            || same(&self.phone, &c.phone, digits)
    }

    /// A salted digest of the identifiers: the audit's pseudonym for the person.
    fn pseudonym(&self, tenant: &TenantId) -> String {
        let mut h = Sha256::new();
        h.update(b"tillbridge-privacy\0");
        h.update(tenant.as_str().as_bytes());
        for part in [&self.customer_id, &self.email, &self.phone] {
            h.update([0]);
            h.update(
                part.as_deref()
                    .unwrap_or("")
                    .trim()
                    .to_lowercase()
                    .as_bytes(),
            );
        }
        format!("subject-{}", &hex::encode(h.finalize())[..24])
    }
}

/// Strings whose occurrences in blobs are the person's data: the given email and phone, and
/// the stored customers' email, phone and name (a name shorter than 5 characters is too
/// common to search for).
fn needles(subject: &Subject, found: &[Customer]) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut add = |s: Option<&str>, min: usize| {
        if let Some(s) = s.map(str::trim).filter(|s| s.chars().count() >= min) {
            out.insert(s.to_owned());
        }
    };
    add(subject.email.as_deref(), 3);
    add(subject.phone.as_deref(), 5);
    for c in found {
        add(c.email.as_deref(), 3);
        add(c.phone.as_deref(), 5);
        add(c.name.as_deref(), 5);
    }
    out.into_iter().collect()
}

/// Positions of `needle` in `hay`, ASCII case-insensitively.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if hay[i..i + needle.len()].eq_ignore_ascii_case(needle) {
            out.push(i);
            i += needle.len();
        } else {
            i += 1;
        }
    }
    out
}

fn contains_any(bytes: &[u8], needles: &[String]) -> bool {
    needles
        .iter()
        .any(|n| !find_all(bytes, n.as_bytes()).is_empty())
}

const ERASED: &str = "[erased]";

/// Every occurrence of a needle replaced with [`ERASED`].
fn redact_bytes(bytes: &[u8], needles: &[String]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for n in needles {
        let at = find_all(&out, n.as_bytes());
        if at.is_empty() {
            continue;
        }
        let mut next = Vec::with_capacity(out.len());
        let mut last = 0;
        for i in at {
            next.extend_from_slice(&out[last..i]);
            next.extend_from_slice(ERASED.as_bytes());
            last = i + n.len();
        }
        next.extend_from_slice(&out[last..]);
        out = next;
    }
    out
}

/// Drops array elements that carry the person's data (a customer object), then redacts
/// what is left.
fn scrub_json(v: &mut Value, needles: &[String]) {
    match v {
        Value::Array(a) => {
            a.retain(|e| !(e.is_object() && contains_any(e.to_string().as_bytes(), needles)));
            for e in a {
                scrub_json(e, needles);
            }
        }
        Value::Object(o) => {
            for e in o.values_mut() {
                scrub_json(e, needles);
            }
        }
        Value::String(s) if contains_any(s.as_bytes(), needles) => {
            *s = String::from_utf8_lossy(&redact_bytes(s.as_bytes(), needles)).into_owned();
        }
        _ => {}
    }
}

/// The blob without the person's data: JSON lines lose their lines, JSON documents the
/// objects that carry them, anything else has its occurrences replaced.
fn scrub_blob(key: &str, bytes: &[u8], needles: &[String]) -> Vec<u8> {
    if key.ends_with(".jsonl") {
        let mut out = Vec::with_capacity(bytes.len());
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            if !contains_any(line, needles) {
                out.extend_from_slice(line);
            }
        }
        return out;
    }
    if let Ok(mut v) = serde_json::from_slice::<Value>(bytes) {
        scrub_json(&mut v, needles);
        if let Ok(text) = serde_json::to_vec(&v)
            && !contains_any(&text, needles)
        {
            return text;
        }
    }
    redact_bytes(bytes, needles)
}

/// The blob prefixes that can hold a tenant's customers' data.
pub fn blob_prefixes(tenant: &TenantId) -> Vec<String> {
    [
        "migrations",
        "exports",
        "raw",
        "quarantine",
        "reports",
        "privacy",
    ]
    .iter()
    .map(|p| format!("{p}/{tenant}/"))
    .collect()
}

/// What an erasure did (no personal data: counts, blob keys and the subject's pseudonym).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReport {
    /// Our id of the request.
    pub request_id: String,
    /// `customer_erase` or `shop_erase`.
    pub kind: String,
    /// The pseudonym of the person (a salted digest of the identifiers).
    pub subject: String,
    /// Customer records deleted.
    pub customers_erased: usize,
    /// Migration journal entries and conflict marks deleted.
    pub journal_entries_erased: usize,
    /// Blobs rewritten without the person's data.
    pub blobs_rewritten: Vec<String>,
    /// Who asked (an operator, or the vendor's webhook).
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// What an access request found (this is the person's data: it goes to them, not to logs).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SubjectExport {
    /// The customer records tillbridge holds.
    pub customers: Vec<Customer>,
    /// Migrations whose journal holds a customer record as it was before the migration.
    pub in_migration_journals: Vec<String>,
    /// Blobs that mention the person (uploaded exports, webhook bodies, …).
    pub mentioned_in_blobs: Vec<String>,
}

fn audit_pk(tenant: &TenantId) -> String {
    format!("privacy#{tenant}")
}

async fn customers_of(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<(String, Customer)>, MigrationError> {
    let (pk, _) = crate::keys::customer(tenant, "");
    Ok(query_all(table, &pk, "customer#")
        .await?
        .into_iter()
        .filter_map(|i| Some((i.sk.clone(), i.doc::<Customer>().ok()?)))
        .collect())
}

async fn migrations_of(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<String>, MigrationError> {
    Ok(query_all(table, &crate::keys::index_pk(tenant), "")
        .await?
        .into_iter()
        .map(|i| i.sk)
        .collect())
}

/// Journal and conflict keys of `customer_ids` in each of the tenant's migrations.
async fn journal_keys(
    table: &dyn Table,
    tenant: &TenantId,
    customer_ids: &[String],
) -> Result<Vec<(String, String, String)>, MigrationError> {
    let mut out = Vec::new();
    for m in migrations_of(table, tenant).await? {
        let Ok(id) = tillbridge_domain::MigrationId::parse(&m) else {
            continue;
        };
        let pk = crate::keys::state_pk(&id);
        for c in customer_ids {
            let jsk = crate::keys::journal_sk("customer", c);
            for sk in [crate::keys::conflict_sk(&jsk), jsk] {
                if table.get(&pk, &sk).await?.is_some() {
                    out.push((m.clone(), pk.clone(), sk));
                }
            }
        }
    }
    Ok(out)
}

/// Exports what tillbridge holds of `subject` in `tenant` (GDPR art. 15).
///
/// # Errors
/// The table or blob store failed.
pub async fn export(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    subject: &Subject,
) -> Result<SubjectExport, MigrationError> {
    let customers: Vec<Customer> = customers_of(table, tenant)
        .await?
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c| subject.matches(c))
        .collect();
    let ids: Vec<String> = customers.iter().map(|c| c.external_id.clone()).collect();
    let mut in_journals: Vec<String> = journal_keys(table, tenant, &ids)
        .await?
        .into_iter()
        .map(|(m, _, _)| m)
        .collect();
    in_journals.dedup();
    let needles = needles(subject, &customers);
    let mut mentioned = Vec::new();
    for prefix in blob_prefixes(tenant) {
        for key in blobs.list(&prefix).await? {
            if let Some(bytes) = blobs.get(&key).await?
                && contains_any(&bytes, &needles)
            {
                mentioned.push(key);
            }
        }
    }
    Ok(SubjectExport {
        customers,
        in_migration_journals: in_journals,
        mentioned_in_blobs: mentioned,
    })
}

/// Erases `subject`'s data in `tenant` (GDPR art. 17), or every customer's with
/// `everyone` (a shop that left). Idempotent: a second erasure finds nothing.
///
/// # Errors
/// The table or blob store failed; [`MigrationError::Refused`] for a subject without any
/// identifier.
pub async fn erase(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    subject: &Subject,
    everyone: bool,
    by: &str,
    at: Timestamp,
) -> Result<ErasureReport, MigrationError> {
    if !everyone && subject.is_empty() {
        return Err(crate::Refusal::Invalid(
            "name the customer: customer_id, email or phone".into(),
        )
        .into());
    }
    let found: Vec<(String, Customer)> = customers_of(table, tenant)
        .await?
        .into_iter()
        .filter(|(_, c)| everyone || subject.matches(c))
        .collect();
    let customers: Vec<Customer> = found.iter().map(|(_, c)| c.clone()).collect();
    let ids: Vec<String> = customers.iter().map(|c| c.external_id.clone()).collect();
    let (pk, _) = crate::keys::customer(tenant, "");
    let mut report = ErasureReport {
        request_id: format!("erase-{}", at.unix_nanos()),
        kind: if everyone {
            "shop_erase"
        } else {
            "customer_erase"
        }
        .into(),
        subject: if everyone {
            format!("shop-{tenant}")
        } else {
            subject.pseudonym(tenant)
        },
        customers_erased: 0,
        journal_entries_erased: 0,
        blobs_rewritten: Vec::new(),
        by: by.to_owned(),
        at,
    };
    for (sk, _) in &found {
        match table.delete(&pk, sk, Condition::Always).await {
            Ok(()) | Err(PortError::ConditionFailed) => report.customers_erased += 1,
            Err(e) => return Err(e.into()),
        }
    }
    for (_, jpk, jsk) in journal_keys(table, tenant, &ids).await? {
        table.delete(&jpk, &jsk, Condition::Always).await?;
        report.journal_entries_erased += 1;
    }
    let needles = needles(subject, &customers);
    for prefix in blob_prefixes(tenant) {
        for key in blobs.list(&prefix).await? {
            let Some(bytes) = blobs.get(&key).await? else {
                continue;
            };
            let customers_file = key.ends_with("/customers.jsonl");
            if everyone && customers_file && !bytes.is_empty() {
                blobs.put(&key, b"").await?;
            } else if !needles.is_empty() && contains_any(&bytes, &needles) {
                blobs.put(&key, &scrub_blob(&key, &bytes, &needles)).await?;
            } else {
                continue;
            }
            // The old content must not live on as a noncurrent version (S3 versioning).
            blobs.erase_history(&key).await?;
            report.blobs_rewritten.push(key);
        }
    }
    table
        .put(
            Item::with_doc(
                audit_pk(tenant),
                format!("{:020}#{}", at.unix_nanos().max(0), report.request_id),
                &report,
            )?,
            Condition::Always,
        )
        .await?;
    tracing::info!(
        tenant = %tenant,
        subject = %report.subject,
        customers = report.customers_erased,
        journal_entries = report.journal_entries_erased,
        blobs = report.blobs_rewritten.len(),
        by,
        "personal data erased"
    );
    Ok(report)
}

/// The tenant's erasures, oldest first (pseudonymous).
///
/// # Errors
/// The table failed or a record is corrupt.
pub async fn erasures(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<ErasureReport>, MigrationError> {
    query_all(table, &audit_pk(tenant), "")
        .await?
        .iter()
        .map(|i| i.doc().map_err(MigrationError::from))
        .collect()
}

/// The blob key of an access export made for a vendor's data request.
pub fn export_blob(tenant: &TenantId, request_id: &str) -> String {
    let safe: String = request_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    format!("privacy/{tenant}/data-request-{safe}.json")
}

/// Carries out a vendor's compliance webhook (`pos.privacy.requested`): an erasure, or an
/// access export stored at [`export_blob`] for the merchant to hand over.
///
/// # Errors
/// The table or blob store failed; [`MigrationError::Permanent`] for another event type.
pub async fn handle(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    event: &Envelope,
) -> Result<(), MigrationError> {
    let EventData::PrivacyRequested(r) = &event.body else {
        return Err(MigrationError::Permanent("not a privacy request".into()));
    };
    let subject = Subject {
        customer_id: r.customer_id.clone(),
        email: r.email.clone(),
        phone: r.phone.clone(),
    };
    let by = format!(
        "{} compliance webhook",
        event.provider.as_ref().map_or("vendor", |p| p.as_str())
    );
    match r.kind {
        PrivacyKind::CustomerErase => {
            erase(
                table,
                blobs,
                &event.tenant_id,
                &subject,
                false,
                &by,
                event.received_at,
            )
            .await?;
        }
        PrivacyKind::ShopErase => {
            erase(
                table,
                blobs,
                &event.tenant_id,
                &subject,
                true,
                &by,
                event.received_at,
            )
            .await?;
        }
        PrivacyKind::CustomerExport => {
            let found = export(table, blobs, &event.tenant_id, &subject).await?;
            let id = r
                .request_id
                .clone()
                .unwrap_or_else(|| event.event_id.to_string());
            let doc = json!({ "request_id": id, "orders_requested": r.order_ids, "data": found });
            blobs
                .put(
                    &export_blob(&event.tenant_id, &id),
                    &serde_json::to_vec_pretty(&doc).unwrap_or_default(),
                )
                .await?;
            tracing::info!(tenant = %event.tenant_id, request = %id, "data request answered");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_loses_lines_json_loses_objects_other_blobs_are_redacted() {
        let needles = vec!["ana@example.com".to_owned(), "Ana Berg".to_owned()];
        let jsonl = b"{\"email\":\"ANA@example.com\"}\n{\"email\":\"bo@example.com\"}\n";
        assert_eq!(
            scrub_blob("m/customers.jsonl", jsonl, &needles),
            b"{\"email\":\"bo@example.com\"}\n"
        );
        let doc = br#"{"items":[{"id":"1"}],"customers":[{"id":"c1","name":"Ana Berg"},{"id":"c2"}],"note":"ask ana@example.com"}"#;
        let v: Value = serde_json::from_slice(&scrub_blob("exports/t/x.json", doc, &needles))
            .unwrap_or_default();
        assert_eq!(v["customers"], json!([{"id": "c2"}]));
        assert_eq!(v["note"], "ask [erased]");
        assert_eq!(
            scrub_blob(
                "raw/t/d/1",
                b"email=ana%40x; Ana Berg; ana@example.com",
                &needles
            ),
            b"email=ana%40x; [erased]; [erased]"
        );
    }

    #[test]
    fn phones_match_by_digits_and_emails_by_case() {
        let c = Customer {
            external_id: "c1".into(),
            name: Some("Ana Berg".into()),
            email: Some("Ana@Example.com".into()),
            phone: Some("+46 70-123 45 67".into()),
            consent_field: "consent".into(),
        };
        let by = |email: Option<&str>, phone: Option<&str>| Subject {
            customer_id: None,
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
        };
        assert!(by(Some("ana@example.com "), None).matches(&c));
        assert!(by(None, Some("+46701234567")).matches(&c));
        assert!(!by(Some("bo@example.com"), None).matches(&c));
        assert!(!by(None, Some("")).matches(&c));
    }
}
