//! Message templates per event and language (English and Swedish).
//!
//! Each notifiable event maps to one [`Template`] kind (announcement, consent request,
//! progress, completion, error, rollback, budget threshold, quarantine) and renders from
//! the event's own fields. Messages carry no personal data: the tenant's name, ids
//! (migration, delivery) and counts only. Fields that may name a person (`approved_by`,
//! `requested_by`) and free text from vendors (a quarantine `reason`) are left out on
//! purpose; the operator finds them through the ids.
//!
//! Events that are not notifications (catalog, stock, orders, fetch requests, AI usage
//! records, privacy requests) have no template: [`template_for`] returns `None`.

use serde::{Deserialize, Serialize};
use tillbridge_domain::event::AlarmState;
use tillbridge_domain::{EventData, EventType};

use crate::severity::Level;

/// A message language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    #[default]
    En,
    /// Swedish.
    Sv,
}

impl Language {
    /// Every supported language.
    pub const ALL: [Language; 2] = [Language::En, Language::Sv];
}

/// The kind of message an event becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// A migration was started.
    Announcement,
    /// The tenant must approve something before anything is written (the mapping).
    ConsentRequest,
    /// An intermediate step of a migration.
    Progress,
    /// A migration was applied.
    Completion,
    /// Something failed and needs correcting.
    Error,
    /// A rollback was asked for or done.
    Rollback,
    /// AI spend crossed a budget threshold.
    BudgetThreshold,
    /// A webhook delivery was quarantined.
    Quarantine,
    /// An alarm of the deployment changed state (for the operators).
    Alarm,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// One line: email subject, chat title.
    pub subject: String,
    /// The text.
    pub body: String,
}

/// The event types that become notifications.
pub const NOTIFIABLE: [EventType; 12] = [
    EventType::MigrationRequested,
    EventType::MigrationMappingSuggested,
    EventType::MigrationValidationRequested,
    EventType::MigrationMappingApproved,
    EventType::MigrationValidated,
    EventType::MigrationApplyRequested,
    EventType::MigrationApplied,
    EventType::MigrationRollbackRequested,
    EventType::MigrationRolledBack,
    EventType::BudgetThresholdCrossed,
    EventType::WebhookQuarantined,
    EventType::OperationsAlarmChanged,
];

/// The template of an event and its base level, or None when it is not a notification.
///
/// Base levels: a mapping waiting for consent, a failed validation, a rollback request
/// and a quarantine are warnings (someone must act, not necessarily now); a rollback
/// whose verification failed is critical; budget thresholds are information at 50 %, a
/// warning at 80 % and critical at 100 % (AI calls stop); an alarm entering `ALARM` is a
/// warning, critical when the alarm declares itself so (`[critical]` in its description:
/// lost deliveries, a broken webhook path, a missed SLA); an alarm leaving it is
/// information; the rest is information.
pub fn template_for(data: &EventData) -> Option<(Template, Level)> {
    use EventData as E;
    Some(match data {
        E::MigrationRequested(_) => (Template::Announcement, Level::Info),
        E::MigrationMappingSuggested(_) => (Template::ConsentRequest, Level::Warning),
        E::MigrationValidationRequested(_)
        | E::MigrationMappingApproved(_)
        | E::MigrationApplyRequested(_) => (Template::Progress, Level::Info),
        E::MigrationValidated(v) if v.passed => (Template::Progress, Level::Info),
        E::MigrationValidated(_) => (Template::Error, Level::Warning),
        E::MigrationApplied(_) => (Template::Completion, Level::Info),
        E::MigrationRollbackRequested(_) => (Template::Rollback, Level::Warning),
        E::MigrationRolledBack(r) if r.verified => (Template::Rollback, Level::Warning),
        E::MigrationRolledBack(_) => (Template::Rollback, Level::Critical),
        E::BudgetThresholdCrossed(b) => (
            Template::BudgetThreshold,
            match b.threshold_percent {
                p if p >= 100 => Level::Critical,
                p if p >= 80 => Level::Warning,
                _ => Level::Info,
            },
        ),
        E::WebhookQuarantined(_) => (Template::Quarantine, Level::Warning),
        E::OperationsAlarmChanged(a) => (
            Template::Alarm,
            match a.state {
                AlarmState::Alarm if a.critical => Level::Critical,
                AlarmState::Alarm => Level::Warning,
                AlarmState::Ok | AlarmState::InsufficientData => Level::Info,
            },
        ),
        E::CatalogItemUpserted(_)
        | E::CatalogItemDeleted(_)
        | E::InventoryAdjusted(_)
        | E::OrderUpserted(_)
        | E::FetchRequested(_)
        | E::PrivacyRequested(_)
        | E::MigrationCutoverRequested(_)
        | E::AiUsageRecorded(_) => return None,
    })
}

/// The base level of an event, or None when it is not a notification.
pub fn base_level(data: &EventData) -> Option<Level> {
    template_for(data).map(|(_, l)| l)
}

/// The events with a message for the tenant's own customers (see [`render_customer`]).
pub const CUSTOMER_FACING: [EventType; 1] = [EventType::MigrationApplied];

/// The message to one of the tenant's customers (sent only to customers whose consent the
/// migration recorded), or None when the event has none. No counts, ids or vendor names:
/// a customer needs to know that their account moved and under which consent.
pub fn render_customer(data: &EventData, tenant_name: &str, lang: Language) -> Option<Message> {
    let t = tenant_name;
    match (data, lang) {
        (EventData::MigrationApplied(_), Language::En) => Some(Message {
            subject: format!("{t} has moved to a new system"),
            body: format!(
                "{t} has moved its shop to a new point-of-sale system. Your customer account \
                 came along, as you agreed when you gave your consent; nothing else changes \
                 for you. You can withdraw your consent at any time by replying to {t}."
            ),
        }),
        (EventData::MigrationApplied(_), Language::Sv) => Some(Message {
            subject: format!("{t} har bytt system"),
            body: format!(
                "{t} har flyttat sin butik till ett nytt kassasystem. Ditt kundkonto följde \
                 med, som du godkände när du gav ditt samtycke; inget annat ändras för dig. \
                 Du kan när som helst återkalla ditt samtycke genom att svara {t}."
            ),
        }),
        _ => None,
    }
}

/// [`render`] from an envelope (its data and vendor).
pub fn render_envelope(
    event: &tillbridge_domain::Envelope,
    tenant_name: &str,
    lang: Language,
) -> Option<Message> {
    render(
        &event.body,
        tenant_name,
        event.provider.as_ref().map(|p| p.as_str()),
        lang,
    )
}

fn yes_no(lang: Language, b: bool) -> &'static str {
    match (lang, b) {
        (Language::En, true) => "yes",
        (Language::En, false) => "no",
        (Language::Sv, true) => "ja",
        (Language::Sv, false) => "nej",
    }
}

/// Renders an event for a tenant in a language; None when the event is not a
/// notification. `provider` is the envelope's vendor, named in quarantine messages.
pub fn render(
    data: &EventData,
    tenant_name: &str,
    provider: Option<&str>,
    lang: Language,
) -> Option<Message> {
    use EventData as E;
    use Language::{En, Sv};
    let t = tenant_name;
    let (subject, body) = match (data, lang) {
        (E::MigrationRequested(m), En) => (
            format!("{t}: migration {} started", m.migration_id),
            format!(
                "We received the export for migration {} and are preparing it. You will be \
                 asked to review the field mapping before anything is written to your catalog.",
                m.migration_id
            ),
        ),
        (E::MigrationRequested(m), Sv) => (
            format!("{t}: migrering {} har startat", m.migration_id),
            format!(
                "Vi har tagit emot exporten för migrering {} och förbereder den. Ni får \
                 granska fältmappningen innan något skrivs till er katalog.",
                m.migration_id
            ),
        ),
        (E::MigrationMappingSuggested(m), En) => (
            format!("{t}: approve the mapping of migration {}", m.migration_id),
            format!(
                "{} of {} fields are mapped ({} with high confidence). Please review and \
                 approve the mapping; nothing is written to your catalog without your consent.",
                m.mapped, m.fields, m.high
            ),
        ),
        (E::MigrationMappingSuggested(m), Sv) => (
            format!("{t}: godkänn mappningen för migrering {}", m.migration_id),
            format!(
                "{} av {} fält är mappade ({} med hög säkerhet). Granska och godkänn \
                 mappningen; inget skrivs till er katalog utan ert godkännande.",
                m.mapped, m.fields, m.high
            ),
        ),
        (E::MigrationValidationRequested(m), En) => (
            format!("{t}: migration {} is being validated", m.migration_id),
            "The items are being checked before they are applied.".to_owned(),
        ),
        (E::MigrationValidationRequested(m), Sv) => (
            format!("{t}: migrering {} valideras", m.migration_id),
            "Posterna kontrolleras innan de tillämpas.".to_owned(),
        ),
        (E::MigrationMappingApproved(m), En) => (
            format!("{t}: mapping of migration {} approved", m.migration_id),
            format!(
                "The mapping ({} fields) is approved; the export is now validated through it.",
                m.mapped_fields
            ),
        ),
        (E::MigrationMappingApproved(m), Sv) => (
            format!(
                "{t}: mappningen för migrering {} är godkänd",
                m.migration_id
            ),
            format!(
                "Mappningen ({} fält) är godkänd; exporten valideras nu med den.",
                m.mapped_fields
            ),
        ),
        (E::MigrationValidated(v), En) if v.passed => (
            format!("{t}: migration {} passed validation", v.migration_id),
            format!(
                "{} items checked, {} warnings. The migration is applied next.",
                v.items, v.warnings
            ),
        ),
        (E::MigrationValidated(v), Sv) if v.passed => (
            format!("{t}: migrering {} är validerad", v.migration_id),
            format!(
                "{} poster kontrollerade, {} varningar. Migreringen tillämpas härnäst.",
                v.items, v.warnings
            ),
        ),
        (E::MigrationValidated(v), En) => (
            format!("{t}: migration {} failed validation", v.migration_id),
            format!(
                "{} errors and {} warnings in {} items. Nothing was written to your catalog; \
                 correct the source data and start the migration again.",
                v.errors, v.warnings, v.items
            ),
        ),
        (E::MigrationValidated(v), Sv) => (
            format!(
                "{t}: migrering {} klarade inte valideringen",
                v.migration_id
            ),
            format!(
                "{} fel och {} varningar i {} poster. Inget har skrivits till er katalog; \
                 rätta källdata och starta migreringen igen.",
                v.errors, v.warnings, v.items
            ),
        ),
        (E::MigrationApplyRequested(a), En) => (
            format!("{t}: migration {} is being applied", a.migration_id),
            format!("Applying items from position {}.", a.from),
        ),
        (E::MigrationApplyRequested(a), Sv) => (
            format!("{t}: migrering {} tillämpas", a.migration_id),
            format!("Posterna tillämpas från position {}.", a.from),
        ),
        (E::MigrationApplied(a), En) => (
            format!("{t}: migration {} completed", a.migration_id),
            format!(
                "{} created, {} changed, {} unchanged, {} skipped. A snapshot was taken \
                 first, so the migration can be rolled back.",
                a.created, a.changed, a.unchanged, a.skipped
            ),
        ),
        (E::MigrationApplied(a), Sv) => (
            format!("{t}: migrering {} är klar", a.migration_id),
            format!(
                "{} skapade, {} ändrade, {} oförändrade, {} överhoppade. En ögonblicksbild \
                 togs först, så migreringen kan rullas tillbaka.",
                a.created, a.changed, a.unchanged, a.skipped
            ),
        ),
        (E::MigrationRollbackRequested(r), En) => (
            format!("{t}: rollback of migration {} requested", r.migration_id),
            "Your catalog is being restored from the snapshot taken before the migration."
                .to_owned(),
        ),
        (E::MigrationRollbackRequested(r), Sv) => (
            format!("{t}: återställning av migrering {} begärd", r.migration_id),
            "Er katalog återställs från ögonblicksbilden som togs före migreringen.".to_owned(),
        ),
        (E::MigrationRolledBack(r), En) => (
            format!("{t}: migration {} rolled back", r.migration_id),
            format!(
                "{} restored, {} removed, {} conflicts (changed by others since, kept). \
                 Verified against the snapshot: {}.",
                r.restored,
                r.removed,
                r.conflicts,
                yes_no(lang, r.verified)
            ),
        ),
        (E::MigrationRolledBack(r), Sv) => (
            format!("{t}: migrering {} har rullats tillbaka", r.migration_id),
            format!(
                "{} återställda, {} borttagna, {} konflikter (ändrade av andra sedan dess, \
                 behållna). Verifierad mot ögonblicksbilden: {}.",
                r.restored,
                r.removed,
                r.conflicts,
                yes_no(lang, r.verified)
            ),
        ),
        (E::BudgetThresholdCrossed(b), En) => (
            format!(
                "{t}: AI budget for {} at {} %",
                b.period, b.threshold_percent
            ),
            format!(
                "Spent {} USD of {} USD this month.{}",
                b.spent_usd,
                b.budget_usd,
                if b.threshold_percent >= 100 {
                    " AI-assisted steps are paused until the budget is raised or the month ends."
                } else {
                    ""
                }
            ),
        ),
        (E::BudgetThresholdCrossed(b), Sv) => (
            format!(
                "{t}: AI-budgeten för {} har nått {} %",
                b.period, b.threshold_percent
            ),
            format!(
                "Förbrukat {} USD av {} USD denna månad.{}",
                b.spent_usd,
                b.budget_usd,
                if b.threshold_percent >= 100 {
                    " AI-stödda steg pausas tills budgeten höjs eller månaden är slut."
                } else {
                    ""
                }
            ),
        ),
        (E::WebhookQuarantined(q), En) => (
            format!("{t}: a webhook delivery was quarantined"),
            format!(
                "Delivery {} from {} could not be verified or understood and is kept for \
                 inspection. Nothing was changed in your catalog.",
                q.delivery_id.as_str(),
                provider.unwrap_or("a vendor")
            ),
        ),
        (E::WebhookQuarantined(q), Sv) => (
            format!("{t}: en webhook-leverans sattes i karantän"),
            format!(
                "Leverans {} från {} kunde inte verifieras eller tolkas och sparas för \
                 granskning. Inget har ändrats i er katalog.",
                q.delivery_id.as_str(),
                provider.unwrap_or("en leverantör")
            ),
        ),
        (E::OperationsAlarmChanged(a), lang) => {
            let state = match (a.state, lang) {
                (AlarmState::Alarm, En) => "in alarm",
                (AlarmState::Ok, En) => "back to OK",
                (AlarmState::InsufficientData, En) => "without data",
                (AlarmState::Alarm, Sv) => "larmar",
                (AlarmState::Ok, Sv) => "är OK igen",
                (AlarmState::InsufficientData, Sv) => "saknar data",
            };
            let metric = a.metric.as_deref().unwrap_or("");
            let (what, why, since) = match lang {
                En => ("What it watches", "Why", "Since"),
                Sv => ("Vad det bevakar", "Varför", "Sedan"),
            };
            (
                format!("{t}: alarm {} {state}", a.alarm_name),
                format!(
                    "{what}: {}{}{metric}{}\n{why}: {}\n{since}: {}",
                    a.description,
                    if metric.is_empty() { "" } else { " (" },
                    if metric.is_empty() { "" } else { ")" },
                    a.reason,
                    a.changed_at.to_rfc3339()
                ),
            )
        }
        _ => return None,
    };
    Some(Message { subject, body })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tillbridge_domain::event::*;
    use tillbridge_domain::{DeliveryId, EventType};

    /// One event of every notifiable type (both branches where the template depends on data).
    pub(crate) fn samples() -> Vec<EventData> {
        let id = || "mig_1".to_owned();
        vec![
            EventData::MigrationRequested(MigrationRequested {
                migration_id: id(),
                source_name: "square".into(),
                export_key: "k".into(),
            }),
            EventData::MigrationMappingSuggested(MappingSuggested {
                migration_id: id(),
                fields: 12,
                mapped: 10,
                high: 8,
            }),
            EventData::MigrationValidationRequested(ValidationRequested {
                migration_id: id(),
                items_key: "k".into(),
                country: None,
            }),
            EventData::MigrationMappingApproved(MappingApproved {
                migration_id: id(),
                approved_by: "anna@example.com".into(),
                mapped_fields: 10,
            }),
            EventData::MigrationValidated(MigrationValidated {
                migration_id: id(),
                items: 100,
                errors: 0,
                warnings: 2,
                passed: true,
                report_key: "r".into(),
            }),
            EventData::MigrationValidated(MigrationValidated {
                migration_id: id(),
                items: 100,
                errors: 3,
                warnings: 2,
                passed: false,
                report_key: "r".into(),
            }),
            EventData::MigrationApplyRequested(ApplyRequested {
                migration_id: id(),
                from: 0,
            }),
            EventData::MigrationApplied(MigrationApplied {
                migration_id: id(),
                created: 5,
                changed: 4,
                unchanged: 90,
                skipped: 1,
                snapshot_key: "s".into(),
            }),
            EventData::MigrationRollbackRequested(RollbackRequested {
                migration_id: id(),
                requested_by: "anna@example.com".into(),
            }),
            EventData::MigrationRolledBack(MigrationRolledBack {
                migration_id: id(),
                restored: 9,
                removed: 5,
                conflicts: 1,
                verified: false,
                report_key: "r".into(),
            }),
            EventData::BudgetThresholdCrossed(ThresholdCrossed {
                period: "2026-06".into(),
                threshold_percent: 100,
                budget_usd: "10.000000".into(),
                spent_usd: "10.000001".into(),
            }),
            EventData::WebhookQuarantined(WebhookQuarantined {
                delivery_id: DeliveryId::parse("dlv_1").expect("valid"),
                reason: "signature mismatch from 10.0.0.1".into(),
                blob_key: "q/dlv_1".into(),
            }),
            EventData::OperationsAlarmChanged(AlarmChanged {
                alarm_name: "tillbridge-HighErrorRate".into(),
                description: "[critical] Failed invocations above 5 %".into(),
                state: AlarmState::Alarm,
                previous_state: AlarmState::Ok,
                reason: "Threshold Crossed: 1 datapoint [7.5] was greater than 5.0".into(),
                metric: None,
                critical: true,
                changed_at: tillbridge_domain::Timestamp::UNIX_EPOCH,
            }),
        ]
    }

    #[test]
    fn every_notifiable_kind_renders_in_both_languages() {
        let samples = samples();
        for kind in NOTIFIABLE {
            let of_kind: Vec<_> = samples.iter().filter(|d| d.event_type() == kind).collect();
            assert!(!of_kind.is_empty(), "no sample of {}", kind.as_str());
            for data in of_kind {
                assert!(template_for(data).is_some());
                let en = render(data, "Kaffebaren AB", Some("square"), Language::En)
                    .expect("English template");
                let sv = render(data, "Kaffebaren AB", Some("square"), Language::Sv)
                    .expect("Swedish template");
                assert_ne!(en, sv, "{} is not translated", kind.as_str());
                for m in [&en, &sv] {
                    assert!(m.subject.starts_with("Kaffebaren AB: "));
                    assert!(!m.body.is_empty());
                    // No personal data and no vendor free text.
                    for secret in ["anna@example.com", "10.0.0.1", "  "] {
                        assert!(!m.body.contains(secret) && !m.subject.contains(secret));
                    }
                }
            }
        }
    }

    #[test]
    fn every_template_kind_is_used() {
        let used: Vec<Template> = samples()
            .iter()
            .filter_map(|d| template_for(d).map(|(t, _)| t))
            .collect();
        for t in [
            Template::Announcement,
            Template::ConsentRequest,
            Template::Progress,
            Template::Completion,
            Template::Error,
            Template::Rollback,
            Template::BudgetThreshold,
            Template::Quarantine,
            Template::Alarm,
        ] {
            assert!(used.contains(&t), "{t:?} has no event");
        }
    }

    #[test]
    fn other_events_are_not_notifications() {
        for kind in EventType::ALL {
            let notifiable = NOTIFIABLE.contains(&kind);
            let sample = samples().into_iter().find(|d| d.event_type() == kind);
            assert_eq!(sample.is_some(), notifiable, "{}", kind.as_str());
        }
        let privacy = EventData::PrivacyRequested(PrivacyRequest {
            kind: PrivacyKind::ShopErase,
            request_id: None,
            customer_id: None,
            email: Some("x@example.com".into()),
            phone: None,
            order_ids: vec![],
        });
        assert_eq!(template_for(&privacy), None);
        assert_eq!(render(&privacy, "T", None, Language::Sv), None);
    }

    #[test]
    fn budget_levels_follow_the_threshold() {
        let at = |p| {
            base_level(&EventData::BudgetThresholdCrossed(ThresholdCrossed {
                period: "2026-06".into(),
                threshold_percent: p,
                budget_usd: "1.000000".into(),
                spent_usd: "1.000000".into(),
            }))
        };
        assert_eq!(at(50), Some(Level::Info));
        assert_eq!(at(80), Some(Level::Warning));
        assert_eq!(at(100), Some(Level::Critical));
    }
}
