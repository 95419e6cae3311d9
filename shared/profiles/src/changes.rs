//! Delta pulls of a profile vendor (`api.changes`): the watermark written as the vendor's
//! "updated since" parameter wants it, and listed records the vendor marks as deleted.

use serde_json::Value;
use tillbridge_domain::Timestamp;

use crate::model::{DeleteMarker, SinceFormat};
use crate::normalize::time_of;
use crate::pointer;

/// The watermark as the "updated since" parameter's value.
pub fn since_value(format: SinceFormat, since: Timestamp) -> String {
    match format {
        SinceFormat::Rfc3339 => since.to_rfc3339(),
        SinceFormat::DateTime => {
            // `YYYY-MM-DDTHH:MM:SS…` → `YYYY-MM-DD HH:MM:SS` (the range of Timestamp keeps
            // years at four digits). Truncated to the second: at worst a record at the
            // watermark comes again and is seen as unchanged.
            let text = since.to_rfc3339();
            text.get(..19).unwrap_or(&text).replacen('T', " ", 1)
        }
        SinceFormat::UnixSeconds => since.unix_seconds().to_string(),
        SinceFormat::UnixMillis => since.unix_nanos().div_euclid(1_000_000).to_string(),
    }
}

/// A listed record the vendor marks as deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The vendor's id of the record.
    pub id: String,
    /// When it was deleted, when the record says.
    pub at: Option<Timestamp>,
}

/// Whether `record` is marked deleted by `marker`: its id and time, or why it cannot be
/// (marked, but without an id at `marker.id`). `Ok(None)`: a live record.
///
/// # Errors
/// The record is marked deleted but has no id where the marker says.
pub fn deleted(marker: &DeleteMarker, record: &Value) -> Result<Option<Deleted>, String> {
    let value = pointer::at(record, &marker.pointer).map(std::borrow::Cow::into_owned);
    let is_deleted = match (&marker.equals, &value) {
        (Some(expected), Some(v)) => v == expected,
        (Some(_), None) => false,
        (None, v) => {
            !matches!(v, None | Some(Value::Null) | Some(Value::Bool(false)))
                && v.as_ref().and_then(Value::as_str) != Some("")
        }
    };
    if !is_deleted {
        return Ok(None);
    }
    let id = pointer::text(record, &marker.id)
        .ok_or_else(|| format!("a deleted record has no id at {:?}", marker.id))?;
    let at = marker
        .at
        .as_ref()
        .and_then(|p| pointer::at(record, p))
        .and_then(|v| time_of(&v))
        .or_else(|| {
            value.as_ref().and_then(|v| match v {
                Value::String(_) => time_of(v),
                _ => None,
            })
        });
    Ok(Some(Deleted { id, at }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).expect("time")
    }

    #[test]
    fn the_watermark_is_written_in_each_format() {
        let at = t("2025-03-04T05:06:07.250Z");
        assert_eq!(since_value(SinceFormat::Rfc3339, at), at.to_rfc3339());
        assert_eq!(
            since_value(SinceFormat::DateTime, at),
            "2025-03-04 05:06:07"
        );
        assert_eq!(since_value(SinceFormat::UnixSeconds, at), "1741064767");
        assert_eq!(since_value(SinceFormat::UnixMillis, at), "1741064767250");
    }

    #[test]
    fn delete_markers_are_a_present_time_or_flag_or_an_expected_value() {
        let by_time = DeleteMarker {
            pointer: "/deleted_at".into(),
            equals: None,
            id: "/id".into(),
            at: None,
        };
        let gone = json!({"id": 7, "deleted_at": "2025-01-02T00:00:00Z"});
        assert_eq!(
            deleted(&by_time, &gone),
            Ok(Some(Deleted {
                id: "7".into(),
                at: Some(t("2025-01-02T00:00:00Z"))
            }))
        );
        for live in [
            json!({"id": 7}),
            json!({"id": 7, "deleted_at": null}),
            json!({"id": 7, "deleted_at": ""}),
        ] {
            assert_eq!(deleted(&by_time, &live), Ok(None), "{live}");
        }
        let by_status = DeleteMarker {
            pointer: "/status".into(),
            equals: Some(json!("DELETED")),
            id: "/id".into(),
            at: Some("/updated_at".into()),
        };
        let r = json!({"id": "a", "status": "DELETED", "updated_at": 1_735_689_600});
        assert_eq!(
            deleted(&by_status, &r),
            Ok(Some(Deleted {
                id: "a".into(),
                at: Timestamp::from_unix_seconds(1_735_689_600)
            }))
        );
        assert_eq!(
            deleted(&by_status, &json!({"id": "a", "status": "ACTIVE"})),
            Ok(None)
        );
        assert!(
            deleted(&by_status, &json!({"status": "DELETED"})).is_err_and(|e| e.contains("/id"))
        );
    }
}
