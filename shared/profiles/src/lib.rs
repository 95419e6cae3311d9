//! Declarative vendor profiles (issue 16): one file describes a vendor tillbridge has no code
//! for — its webhook signature from a small generic vocabulary, what its event types mean,
//! its REST API for pulls, and the approved field mapping that makes its records canonical.
//!
//! - [`Profile::parse`] reads and checks a profile (JSON; errors name the JSON path).
//! - [`precheck`], [`verify`], [`delivery_key`] and [`normalize`] are the profile vendor's
//!   share of the webhook path, mirroring tillbridge-webhooks' built-in dispatchers.
//! - [`store`] keeps operator profiles in the table (versioned) and resolves a name to the
//!   newest table version or the built-in file ([`builtin`]).
//!
//! Pure except for [`store`]: no clock, no I/O.

#![warn(missing_docs)]

mod changes;
pub mod model;
mod normalize;
mod pointer;
pub mod store;
mod verify;

use std::fmt;

pub use changes::{Deleted, deleted, since_value};
pub use model::ProfileDoc;
pub use normalize::{items, normalize};
pub use verify::{
    CheckError, PROFILE_TOKEN_DIGEST_HEADER, delivery_key, forwarded_token, precheck, sign_hmac,
    verify,
};

use model::{Locator, Part, Signature};
use tillbridge_domain::ProfileName;
use tillbridge_mapping::MappedField;

/// A profile that parsed and passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    doc: ProfileDoc,
    mapping: Vec<MappedField>,
}

/// Why a profile was refused: every problem found, each naming where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ProfileError {
    /// One line per problem (`webhooks.events[0].records: "data" is not a JSON pointer`).
    pub problems: Vec<String>,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid profile: {}", self.problems.join("; "))
    }
}

impl ProfileError {
    fn one(p: impl Into<String>) -> Self {
        Self {
            problems: vec![p.into()],
        }
    }
}

impl Profile {
    /// Parses and checks a profile from JSON text.
    ///
    /// # Errors
    /// [`ProfileError`] naming the JSON path of a syntax or type error or an unknown key, or
    /// listing every rule the profile breaks (see [`Profile::check`]).
    pub fn parse(text: &str) -> Result<Self, ProfileError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let doc: ProfileDoc = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            ProfileError::one(if path == "." || path.is_empty() {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            })
        })?;
        Self::from_doc(doc)
    }

    /// Checks a parsed document.
    ///
    /// # Errors
    /// [`ProfileError`] listing every problem.
    pub fn from_doc(doc: ProfileDoc) -> Result<Self, ProfileError> {
        let problems = Self::check(&doc);
        if !problems.is_empty() {
            return Err(ProfileError { problems });
        }
        let mapping = doc
            .mapping
            .fields
            .iter()
            .map(|f| MappedField {
                source: f.source.clone(),
                target: f.target.clone(),
                conversion: f.conversion,
            })
            .collect();
        Ok(Self { doc, mapping })
    }

    /// The rules a JSON Schema cannot say: pointers are RFC 6901 (`""` or starting with `/`),
    /// mapping targets are canonical fields and `external_id` is mapped, header names are
    /// non-empty, an HMAC that signs the timestamp has one, sources are non-empty.
    pub fn check(doc: &ProfileDoc) -> Vec<String> {
        let mut p = Vec::new();
        let ptr = |p: &mut Vec<String>, at: &str, v: &str| {
            if !(v.is_empty() || v.starts_with('/')) {
                p.push(format!(
                    "{at}: {v:?} is not a JSON pointer (\"\" or starting with \"/\")"
                ));
            }
        };
        let loc = |p: &mut Vec<String>, at: &str, l: &Locator| match l {
            Locator::Pointer(v) => ptr(p, at, v),
            Locator::Header(h) if h.trim().is_empty() => p.push(format!("{at}: empty header")),
            _ => {}
        };
        if doc.sources.iter().all(|s| s.trim().is_empty()) {
            p.push("sources: name at least one documentation page".into());
        }
        if doc.title.trim().is_empty() {
            p.push("title: empty".into());
        }
        if let Some(w) = &doc.webhooks {
            match &w.signature {
                Signature::Hmac(h) => {
                    loc(&mut p, "webhooks.signature.signature", &h.signature);
                    if h.signed.is_empty() {
                        p.push("webhooks.signature.signed: nothing is signed".into());
                    }
                    for (i, part) in h.signed.iter().enumerate() {
                        match part {
                            Part::Timestamp if h.timestamp.is_none() => p.push(format!(
                                "webhooks.signature.signed[{i}]: signs the timestamp but webhooks.signature.timestamp is absent"
                            )),
                            Part::Pointer(v) => ptr(&mut p, &format!("webhooks.signature.signed[{i}]"), v),
                            Part::Header(h) if h.trim().is_empty() => {
                                p.push(format!("webhooks.signature.signed[{i}]: empty header"))
                            }
                            _ => {}
                        }
                    }
                    if let Some(t) = &h.timestamp
                        && (t.header.trim().is_empty() || t.tolerance_secs < 0)
                    {
                        p.push("webhooks.signature.timestamp: a header and a tolerance of 0 s or more are required".into());
                    }
                    if h.separator.as_deref() == Some("") {
                        p.push("webhooks.signature.separator: empty".into());
                    }
                }
                Signature::Token(t) if t.header.trim().is_empty() => {
                    p.push("webhooks.signature.header: empty".into())
                }
                Signature::Unsigned { reason } if reason.trim().is_empty() => {
                    p.push("webhooks.signature.reason: say why the vendor's webhooks cannot be authenticated".into())
                }
                _ => {}
            }
            if let Some(d) = &w.delivery_id {
                loc(&mut p, "webhooks.delivery_id", d);
            }
            loc(&mut p, "webhooks.event_type", &w.event_type);
            if let Some(o) = &w.occurred_at {
                loc(&mut p, "webhooks.occurred_at", o);
            }
            for (i, r) in w.events.iter().enumerate() {
                let at = format!("webhooks.events[{i}]");
                ptr(&mut p, &format!("{at}.records"), &r.records);
                let f = &r.fields;
                for (name, v) in [
                    ("id", &f.id),
                    ("quantity", &f.quantity),
                    ("location", &f.location),
                    ("status", &f.status),
                    ("total", &f.total),
                    ("updated_at", &f.updated_at),
                ] {
                    if let Some(v) = v {
                        ptr(&mut p, &format!("{at}.fields.{name}"), v);
                    }
                }
                use model::Meaning as M;
                let needs_id = matches!(r.meaning, M::Delete | M::Stock | M::Order);
                if needs_id && f.id.is_none() {
                    p.push(format!("{at}.fields.id: required for {:?}", r.meaning));
                }
                if r.meaning == M::Stock && f.quantity.is_none() {
                    p.push(format!("{at}.fields.quantity: required for stock"));
                }
                if r.types.iter().any(|t| t.is_empty()) {
                    p.push(format!("{at}.types: an empty event type"));
                }
            }
        }
        let names: Vec<&str> = tillbridge_domain::CanonicalField::ALL
            .iter()
            .map(|f| f.as_str())
            .chain(["stock_by_location"])
            .collect();
        for (i, f) in doc.mapping.fields.iter().enumerate() {
            if !names.contains(&f.target.as_str()) {
                p.push(format!(
                    "mapping.fields[{i}].target: {:?} is not a canonical field",
                    f.target
                ));
            }
            if f.source.trim().is_empty() {
                p.push(format!("mapping.fields[{i}].source: empty"));
            }
        }
        if !doc.mapping.fields.iter().any(|f| f.target == "external_id") {
            p.push(
                "mapping.fields: nothing maps to external_id (every item needs the vendor's id)"
                    .into(),
            );
        }
        if let Some(api) = &doc.api {
            if !(api.base_url.starts_with("https://") || api.base_url.starts_with("http://")) {
                p.push("api.base_url: not an http(s) URL".into());
            }
            ptr(&mut p, "api.list.records", &api.list.records);
            match &api.pagination {
                model::Pagination::Cursor { next, .. } => ptr(&mut p, "api.pagination.next", next),
                model::Pagination::Page { size: 0, .. }
                | model::Pagination::Offset { size: 0, .. } => {
                    p.push("api.pagination.size: at least 1".into())
                }
                _ => {}
            }
            if let Some(g) = &api.get {
                ptr(&mut p, "api.get.records", &g.records);
            }
            if let Some(c) = &api.changes {
                if c.param.trim().is_empty() {
                    p.push("api.changes.param: empty".into());
                }
                if let Some(d) = &c.deleted {
                    ptr(&mut p, "api.changes.deleted.pointer", &d.pointer);
                    ptr(&mut p, "api.changes.deleted.id", &d.id);
                    if let Some(at) = &d.at {
                        ptr(&mut p, "api.changes.deleted.at", at);
                    }
                }
            }
        }
        p
    }

    /// The document as written.
    pub fn doc(&self) -> &ProfileDoc {
        &self.doc
    }

    /// The vendor's name.
    pub fn name(&self) -> ProfileName {
        self.doc.name
    }

    /// The approved mapping, as shared/mapping applies it.
    pub fn mapping(&self) -> &[MappedField] {
        &self.mapping
    }

    /// The profile as JSON (what `GET /v1/profiles/{name}` answers).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.doc).unwrap_or_default()
    }

    /// The signature tolerance the profile documents (seconds), when it signs a timestamp.
    pub fn tolerance_secs(&self) -> Option<i64> {
        match &self.doc.webhooks.as_ref()?.signature {
            Signature::Hmac(h) => h.timestamp.as_ref().map(|t| t.tolerance_secs),
            _ => None,
        }
    }
}

/// A profile's `mapping` section from an approved migration mapping (shared/migration's
/// `review::approved_mapping`): the same `{source, target, conversion}` lines, in order,
/// with `origin` naming where they came from.
pub fn mapping_section(fields: &[MappedField], origin: &str) -> model::Mapping {
    model::Mapping {
        origin: Some(origin.to_owned()),
        fields: fields
            .iter()
            .map(|f| model::Field {
                source: f.source.clone(),
                target: f.target.clone(),
                conversion: f.conversion,
            })
            .collect(),
    }
}

/// `base` with its mapping replaced by `mapping` and its version set to `version`, checked.
/// This is how a reviewed migration mapping becomes a vendor's live normalizer.
///
/// # Errors
/// [`ProfileError`] listing every problem of the result (e.g. the mapping maps nothing to
/// `external_id`).
pub fn with_mapping(
    base: &ProfileDoc,
    mapping: model::Mapping,
    version: u32,
) -> Result<Profile, ProfileError> {
    let mut doc = base.clone();
    doc.mapping = mapping;
    doc.version = version;
    Profile::from_doc(doc)
}

/// The JSON Schema (draft 2020-12) of a profile file, generated from [`ProfileDoc`];
/// `shared/profiles/schema/profile.schema.json` is this, checked in.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<ProfileDoc>();
    serde_json::to_value(schema).unwrap_or_default()
}

/// The profiles shipped with tillbridge, embedded at build time: (file name, text).
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    ("blaze.json", include_str!("../vendors/blaze.json")),
    ("cova.json", include_str!("../vendors/cova.json")),
    ("dutchie.json", include_str!("../vendors/dutchie.json")),
    ("flowhub.json", include_str!("../vendors/flowhub.json")),
    ("ideasoft.json", include_str!("../vendors/ideasoft.json")),
    ("ikas.json", include_str!("../vendors/ikas.json")),
    (
        "lightspeed-x.json",
        include_str!("../vendors/lightspeed-x.json"),
    ),
    ("magento.json", include_str!("../vendors/magento.json")),
    ("treez.json", include_str!("../vendors/treez.json")),
];

/// The built-in profile of `name`, parsed (a test parses every one, so this never fails on a
/// shipped file).
pub fn builtin(name: ProfileName) -> Option<Profile> {
    let file = format!("{name}.json");
    BUILTIN_FILES
        .iter()
        .find(|(f, _)| *f == file)
        .and_then(|(_, text)| Profile::parse(text).ok())
}

#[cfg(test)]
mod tests;
