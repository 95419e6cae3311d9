//! Operator profiles in the table, versioned, effective without a deploy; and the one lookup
//! the webhook path uses: the newest table version of a name, else the built-in file.
//!
//! Layout: partition `profiles`, sort key `<name>#v<version, 10 digits>`, the profile's JSON
//! under `doc` with `stored_at`. A version is written once (put-if-absent) and never
//! replaced; a new version must be higher than every stored one.

use serde_json::{Value, json};
use tillbridge_domain::{ProfileName, Timestamp};
use tillbridge_ports::PortError;
use tillbridge_ports::table::{Condition, Item, Table, query_all};

use crate::{Profile, builtin};

const PK: &str = "profiles";

fn sk(name: ProfileName, version: u32) -> String {
    format!("{name}#v{version:010}")
}

/// Why a profile could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The profile is invalid (400).
    #[error(transparent)]
    Invalid(#[from] crate::ProfileError),
    /// The version is not higher than the newest stored one (409); the field is the newest.
    #[error("version {given} is not higher than the stored version {stored}")]
    Stale {
        /// The version given.
        given: u32,
        /// The newest stored version.
        stored: u32,
    },
    /// The stored record does not parse any more (a corrupt row; 500).
    #[error("stored profile {0} is unreadable: {1}")]
    Corrupt(String, String),
    /// The table failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The newest stored version of `name` (None: none stored).
///
/// # Errors
/// The table failed, or the stored row is unreadable.
pub async fn latest(table: &dyn Table, name: ProfileName) -> Result<Option<Profile>, StoreError> {
    let items = query_all(table, PK, &format!("{name}#v")).await?;
    let Some(item) = items.last() else {
        return Ok(None);
    };
    let doc = item.attrs.get("doc").cloned().unwrap_or(Value::Null);
    let text = doc.to_string();
    Profile::parse(&text)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(item.sk.clone(), e.to_string()))
}

/// Stored version `version` of `name` (None: not stored).
///
/// # Errors
/// The table failed, or the stored row is unreadable.
pub async fn version(
    table: &dyn Table,
    name: ProfileName,
    version: u32,
) -> Result<Option<Profile>, StoreError> {
    let Some(item) = table.get(PK, &sk(name, version)).await? else {
        return Ok(None);
    };
    let text = item
        .attrs
        .get("doc")
        .cloned()
        .unwrap_or(Value::Null)
        .to_string();
    Profile::parse(&text)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(item.sk.clone(), e.to_string()))
}

/// Every stored version number of `name`, ascending.
///
/// # Errors
/// The table failed.
pub async fn versions(table: &dyn Table, name: ProfileName) -> Result<Vec<u32>, StoreError> {
    Ok(query_all(table, PK, &format!("{name}#v"))
        .await?
        .iter()
        .filter_map(|i| i.sk.rsplit("#v").next()?.parse().ok())
        .collect())
}

/// Stores a new version. The profile's `name` must be `name` (the URL's), and its version
/// higher than every stored one.
///
/// # Errors
/// [`StoreError::Invalid`] (name mismatch or an invalid profile), [`StoreError::Stale`], or
/// the table failed.
pub async fn put(
    table: &dyn Table,
    name: ProfileName,
    profile: &Profile,
    now: Timestamp,
) -> Result<u32, StoreError> {
    if profile.name() != name {
        return Err(crate::ProfileError::one(format!(
            "name: {:?} does not match the URL's {:?}",
            profile.name().as_str(),
            name.as_str()
        ))
        .into());
    }
    let version = profile.doc().version;
    if let Some(&stored) = versions(table, name).await?.last()
        && version <= stored
    {
        return Err(StoreError::Stale {
            given: version,
            stored,
        });
    }
    let mut attrs = serde_json::Map::new();
    attrs.insert("doc".into(), profile.to_json());
    attrs.insert("stored_at".into(), json!(now));
    match table
        .put(Item::new(PK, sk(name, version), attrs), Condition::IfAbsent)
        .await
    {
        Ok(_) => Ok(version),
        Err(PortError::ConditionFailed) => Err(StoreError::Stale {
            given: version,
            stored: version,
        }),
        Err(e) => Err(e.into()),
    }
}

/// The profile the webhook path uses for `name`: the newest table version (an operator's
/// profile or fix, effective at once), else the built-in file; None when neither exists.
///
/// # Errors
/// The table failed, or the stored row is unreadable.
pub async fn resolve(table: &dyn Table, name: ProfileName) -> Result<Option<Profile>, StoreError> {
    match latest(table, name).await? {
        Some(p) => Ok(Some(p)),
        None => Ok(builtin(name)),
    }
}

/// Every profile name known: built in and stored, with where the served version comes from
/// (`{"name", "version", "title", "source": "table"|"builtin", "builtin_version",
/// "stored_versions"}`; `builtin_version` is null for an operator-only vendor and
/// `stored_versions` lists the table's versions ascending), sorted by name.
///
/// # Errors
/// The table failed.
pub async fn list(table: &dyn Table) -> Result<Vec<Value>, StoreError> {
    let mut out: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    for (_, text) in crate::BUILTIN_FILES {
        if let Ok(p) = Profile::parse(text) {
            out.insert(
                p.name().to_string(),
                json!({"name": p.name(), "version": p.doc().version, "title": p.doc().title,
                       "source": "builtin", "builtin_version": p.doc().version,
                       "stored_versions": []}),
            );
        }
    }
    // Rows come in sort-key order: a name's versions ascending, so the last one wins.
    for item in query_all(table, PK, "").await? {
        let doc = item.attrs.get("doc").cloned().unwrap_or(Value::Null);
        if let (Some(name), Some(version)) = (
            doc.get("name").and_then(Value::as_str),
            doc.get("version").and_then(Value::as_u64),
        ) {
            let entry = out.entry(name.to_owned()).or_insert_with(
                || json!({"name": name, "builtin_version": null, "stored_versions": []}),
            );
            entry["version"] = json!(version);
            entry["title"] = doc.get("title").cloned().unwrap_or(Value::Null);
            entry["source"] = json!("table");
            if let Some(v) = entry["stored_versions"].as_array_mut() {
                v.push(json!(version));
            }
        }
    }
    Ok(out.into_values().collect())
}
