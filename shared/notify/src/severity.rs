//! How urgent a notification is, given what happened and when.
//!
//! Every notifiable event has a base [`Level`] (see [`crate::template::base_level`]); the
//! decision here turns it into a [`Severity`]: the level after the kind's adjustments and
//! when to deliver. The rules, in order:
//!
//! 1. **Critical pages always**, at any hour and on holidays: a failed rollback
//!    verification or an exhausted AI budget must reach someone now.
//! 2. **Progress is information.** Intermediate migration steps (validation requested,
//!    mapping approved, apply requested or resumed) are capped at [`Level::Info`]: they
//!    come in bursts and never need action by themselves.
//! 3. **Rollbacks are never mere information.** A completed rollback is raised to at
//!    least [`Level::Warning`]: someone should look at what was restored and the conflicts.
//! 4. **Warnings and information wait for business hours.** Inside business hours (see
//!    [`crate::calendar`]) they go out immediately; outside them, including holidays, they
//!    are batched to the next business morning (the next opening), so nobody is woken
//!    for something that can wait and the batch arrives when someone can act.

use serde::{Deserialize, Serialize};
use tillbridge_domain::{EventType, Timestamp};

use crate::calendar::BusinessCalendar;

/// How serious a notification is, before and after the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// For the record; nobody needs to act.
    Info,
    /// Someone should act, but it can wait for business hours.
    Warning,
    /// Someone must act now.
    Critical,
}

/// When a notification goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Now, paging the on-call channel (any hour).
    Page,
    /// Now, as an ordinary notification (business hours).
    Immediate,
    /// Held and sent with the batch at this instant (the next business opening).
    Batched {
        /// When the batch goes out.
        at: Timestamp,
    },
}

/// The decision: the adjusted level and when to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Severity {
    /// The level after the kind's adjustments.
    pub level: Level,
    /// When to send.
    pub delivery: Delivery,
}

/// Applies the rules of the module docs on the Swedish calendar.
pub fn severity(kind: EventType, base: Level, at: Timestamp) -> Severity {
    severity_in(&BusinessCalendar::sweden(), kind, base, at)
}

/// [`severity`] on a given calendar (one zone lookup for many decisions).
pub fn severity_in(
    calendar: &BusinessCalendar,
    kind: EventType,
    base: Level,
    at: Timestamp,
) -> Severity {
    let level = match kind {
        EventType::MigrationValidationRequested
        | EventType::MigrationMappingApproved
        | EventType::MigrationApplyRequested
            if base != Level::Critical =>
        {
            Level::Info
        }
        EventType::MigrationRolledBack => base.max(Level::Warning),
        _ => base,
    };
    let delivery = if level == Level::Critical {
        Delivery::Page
    } else if calendar.is_business_time(at) {
        Delivery::Immediate
    } else {
        Delivery::Batched {
            at: calendar.next_opening(at),
        }
    };
    Severity { level, delivery }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).expect("valid")
    }

    #[test]
    fn critical_pages_even_on_midsommarafton_night() {
        let s = severity(
            EventType::BudgetThresholdCrossed,
            Level::Critical,
            ts("2026-06-19T22:00:00Z"),
        );
        assert_eq!(s.level, Level::Critical);
        assert_eq!(s.delivery, Delivery::Page);
    }

    #[test]
    fn warnings_outside_hours_wait_for_the_next_business_morning() {
        // Midsommarafton 2026 (Friday 19 June) at noon: a holiday. Saturday 20 June is
        // Midsommardagen, so the batch goes Sunday 21 June 10:00 CEST.
        let s = severity(
            EventType::WebhookQuarantined,
            Level::Warning,
            ts("2026-06-19T10:00:00Z"),
        );
        assert_eq!(s.level, Level::Warning);
        assert_eq!(
            s.delivery,
            Delivery::Batched {
                at: ts("2026-06-21T08:00:00Z")
            }
        );
        // The same on an ordinary Thursday at noon: immediate.
        let s = severity(
            EventType::WebhookQuarantined,
            Level::Warning,
            ts("2026-06-18T10:00:00Z"),
        );
        assert_eq!(s.delivery, Delivery::Immediate);
    }

    #[test]
    fn easter_monday_is_outside_business_hours() {
        let s = severity(
            EventType::MigrationMappingSuggested,
            Level::Warning,
            ts("2026-04-06T10:00:00Z"),
        );
        assert_eq!(
            s.delivery,
            Delivery::Batched {
                at: ts("2026-04-07T07:00:00Z")
            }
        );
    }

    #[test]
    fn progress_is_capped_and_rollbacks_are_raised() {
        let at = ts("2026-06-18T10:00:00Z");
        let s = severity(EventType::MigrationApplyRequested, Level::Warning, at);
        assert_eq!(s.level, Level::Info);
        // Critical stays critical even for progress kinds.
        let s = severity(EventType::MigrationApplyRequested, Level::Critical, at);
        assert_eq!(s.delivery, Delivery::Page);
        let s = severity(EventType::MigrationRolledBack, Level::Info, at);
        assert_eq!(s.level, Level::Warning);
    }
}
