//! Which channels an event goes to, with which template, language and severity, per the
//! tenant's notification settings.
//!
//! A tenant lists channels (a signed webhook, email, a chat webhook), each with the events
//! it wants (exact detail-types, a prefix like `migration.*`, or `*` for every
//! notification), the least [`Level`] it wants, and optionally its own language (else the
//! tenant's). Critical notifications always go to every channel that takes the event,
//! whatever its least level: a page must reach someone. Events that are not notifications
//! (see [`crate::template`]) route nowhere.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tillbridge_domain::{Envelope, EventType, Timestamp};

use crate::calendar::BusinessCalendar;
use crate::severity::{Level, Severity, severity_in};
use crate::template::{
    CUSTOMER_FACING, Language, Message, NOTIFIABLE, Template, render_customer, render_envelope,
    template_for,
};

/// A tenant's notification settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// The name shown in messages.
    pub tenant_name: String,
    /// The default language of the channels.
    #[serde(default)]
    pub language: Language,
    /// The IANA zone of the business calendar (default Europe/Stockholm): business hours
    /// and Swedish holidays are counted in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Where notifications go.
    #[serde(default)]
    pub channels: Vec<ChannelSettings>,
}

/// One channel and what it takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    /// The channel and its endpoint.
    pub channel: Channel,
    /// Overrides the tenant's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Detail-types, `prefix.*` patterns or `*`.
    pub events: Vec<String>,
    /// The least level sent (critical goes regardless).
    #[serde(default = "default_min_level")]
    pub min_level: Level,
}

fn default_min_level() -> Level {
    Level::Info
}

/// A channel and its endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Channel {
    /// A Standard Webhooks endpoint; the `whsec_` secret is kept in the secret store
    /// under `secret_name`, never in the settings.
    Webhook {
        /// HTTPS URL.
        url: String,
        /// Name of the secret in the secret store.
        secret_name: String,
    },
    /// Email (SES).
    Email {
        /// Recipients (the tenant's operators).
        to: Vec<String>,
    },
    /// A chat incoming webhook (Slack, Teams, …). Its URL is a credential (anyone holding
    /// it can post to the channel; Slack: "your webhook URL contains a secret"), so the
    /// settings keep it in the secret store, named by `url_secret`, with only its host here.
    Chat {
        /// Name of the secret in the secret store that holds the URL.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        url_secret: String,
        /// The URL's host, to tell channels apart without the credential.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// HTTPS URL: in a request's body (moved to the secret store before the settings
        /// are kept) or in settings stored before the URL became a secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// Email to the tenant's own customers, one each: only customers whose consent a
    /// migration recorded, and only for customer-facing events
    /// ([`crate::template::CUSTOMER_FACING`]).
    Customers,
}

impl Channel {
    /// `webhook`, `email`, `chat` or `customers`: what logs may say about a channel (its
    /// URL can be a credential and its addresses are personal data).
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Webhook { .. } => "webhook",
            Channel::Email { .. } => "email",
            Channel::Chat { .. } => "chat",
            Channel::Customers => "customers",
        }
    }
}

/// A settings mistake.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// An events pattern matches no notification.
    #[error("channel {channel}: {pattern:?} matches no notification event")]
    UnknownEvents {
        /// Position of the channel.
        channel: usize,
        /// The pattern.
        pattern: String,
    },
    /// The time zone is not a known IANA zone.
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    /// An endpoint is not HTTPS or a channel has no recipients.
    #[error("channel {channel}: {reason}")]
    BadEndpoint {
        /// Position of the channel.
        channel: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// `http://127.0.0.1[:port]/…` or `http://localhost[:port]/…`.
fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

fn matches(pattern: &str, kind: EventType) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.as_str().starts_with(prefix),
        None => pattern == kind.as_str(),
    }
}

impl TenantSettings {
    /// Parses and validates settings from JSON.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let s: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        s.validate().map_err(|e| e.to_string())?;
        Ok(s)
    }

    /// Every pattern matches some notification and every endpoint is usable.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.validate_with(false)
    }

    /// [`TenantSettings::validate`], also accepting plain-HTTP endpoints on the loopback
    /// interface (`http://127.0.0.1…`, `http://localhost…`) when `local` (a receiver on
    /// a developer's machine; the cloud never accepts them).
    pub fn validate_with(&self, local: bool) -> Result<(), SettingsError> {
        if let Some(zone) = &self.time_zone
            && BusinessCalendar::in_zone(zone).is_err()
        {
            return Err(SettingsError::UnknownTimeZone(zone.clone()));
        }
        for (i, c) in self.channels.iter().enumerate() {
            let events: &[EventType] = match c.channel {
                Channel::Customers => &CUSTOMER_FACING,
                _ => &NOTIFIABLE,
            };
            for p in &c.events {
                if !events.iter().any(|k| matches(p, *k)) {
                    return Err(SettingsError::UnknownEvents {
                        channel: i,
                        pattern: p.clone(),
                    });
                }
            }
            let bad = |reason| SettingsError::BadEndpoint { channel: i, reason };
            match &c.channel {
                Channel::Webhook { url, .. } | Channel::Chat { url: Some(url), .. }
                    if !(url.starts_with("https://") || (local && is_loopback_http(url))) =>
                {
                    return Err(bad("the URL must be https://"));
                }
                Channel::Chat {
                    url: None,
                    url_secret,
                    ..
                } if url_secret.is_empty() => {
                    return Err(bad("chat needs its url"));
                }
                Channel::Chat { url_secret, .. }
                    if !url_secret.is_empty() && !valid_secret_name(url_secret) =>
                {
                    return Err(bad("url_secret is 1 to 64 letters, digits, '-' or '_'"));
                }
                Channel::Email { to } if to.is_empty() || to.iter().any(|a| !a.contains('@')) => {
                    return Err(bad("email needs recipient addresses"));
                }
                Channel::Webhook { secret_name, .. } if !valid_secret_name(secret_name) => {
                    return Err(bad("secret_name is 1 to 64 letters, digits, '-' or '_'"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The tenant's business calendar (Swedish, in its time zone).
    pub fn calendar(&self) -> BusinessCalendar {
        self.time_zone
            .as_deref()
            .and_then(|z| BusinessCalendar::in_zone(z).ok())
            .unwrap_or_else(BusinessCalendar::sweden)
    }
}

/// A secret's name within a tenant: 1 to 64 letters, digits, '-' or '_'.
fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// One notification to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    /// Where.
    pub channel: &'a Channel,
    /// Which template.
    pub template: Template,
    /// In which language.
    pub language: Language,
    /// How urgent, and when.
    pub severity: Severity,
}

impl Route<'_> {
    /// The message of this route for `event` (the one it was routed from).
    pub fn message(&self, settings: &TenantSettings, event: &Envelope) -> Option<Message> {
        match self.channel {
            Channel::Customers => {
                render_customer(&event.body, &settings.tenant_name, self.language)
            }
            _ => render_envelope(event, &settings.tenant_name, self.language),
        }
    }
}

/// The notifications of `event` under `settings`, decided at `now`.
pub fn route<'a>(settings: &'a TenantSettings, event: &Envelope, now: Timestamp) -> Vec<Route<'a>> {
    route_in(&settings.calendar(), settings, event, now)
}

/// [`route`] on a given calendar.
pub fn route_in<'a>(
    calendar: &BusinessCalendar,
    settings: &'a TenantSettings,
    event: &Envelope,
    now: Timestamp,
) -> Vec<Route<'a>> {
    let Some((template, base)) = template_for(&event.body) else {
        return Vec::new();
    };
    let kind = event.event_type();
    let severity = severity_in(calendar, kind, base, now);
    settings
        .channels
        .iter()
        .filter(|c| c.events.iter().any(|p| matches(p, kind)))
        .filter(|c| c.channel != Channel::Customers || CUSTOMER_FACING.contains(&kind))
        .filter(|c| severity.level == Level::Critical || severity.level >= c.min_level)
        .map(|c| Route {
            channel: &c.channel,
            template,
            language: c.language.unwrap_or(settings.language),
            severity,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Delivery;
    use crate::template::tests::samples;
    use tillbridge_domain::event::{SCHEMA_VERSION, derive_event_id};
    use tillbridge_domain::{CorrelationId, EventData, TenantId};

    const SETTINGS: &str = r#"{
        "tenant_name": "Kaffebaren AB",
        "language": "sv",
        "channels": [
            {"channel": {"kind": "webhook", "url": "https://hooks.example.com/tb",
                         "secret_name": "kaffebaren-notify"},
             "language": "en", "events": ["*"]},
            {"channel": {"kind": "email", "to": ["ops@kaffebaren.example"]},
             "events": ["migration.*", "budget.threshold.crossed"], "min_level": "warning"},
            {"channel": {"kind": "chat", "url": "https://chat.example.com/in/1"},
             "events": ["webhook.quarantined"]}
        ]
    }"#;

    fn envelope(body: EventData) -> Envelope {
        Envelope {
            event_id: derive_event_id("k", 0),
            body,
            schema_version: SCHEMA_VERSION,
            tenant_id: TenantId::parse("t1").expect("valid"),
            provider: None,
            entity_id: "e".into(),
            occurred_at: Timestamp::UNIX_EPOCH,
            received_at: Timestamp::UNIX_EPOCH,
            correlation_id: CorrelationId::parse("c1").expect("valid"),
            delivery_key: None,
        }
    }

    fn sample(kind: EventType) -> EventData {
        samples()
            .into_iter()
            .find(|d| d.event_type() == kind)
            .expect("sample")
    }

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).expect("valid")
    }

    #[test]
    fn routes_by_events_level_and_language() {
        let s = TenantSettings::from_json(SETTINGS).expect("valid settings");
        let thursday_noon = ts("2026-06-18T10:00:00Z");

        // Quarantine (warning): webhook (en) and chat (tenant's sv); email does not take it.
        let r = route(
            &s,
            &envelope(sample(EventType::WebhookQuarantined)),
            thursday_noon,
        );
        assert_eq!(r.len(), 2);
        assert!(matches!(r[0].channel, Channel::Webhook { .. }));
        assert_eq!(r[0].language, Language::En);
        assert!(matches!(r[1].channel, Channel::Chat { .. }));
        assert_eq!(r[1].language, Language::Sv);
        assert_eq!(r[1].template, Template::Quarantine);
        assert_eq!(r[1].severity.delivery, Delivery::Immediate);
        let mut quarantined = envelope(sample(EventType::WebhookQuarantined));
        quarantined.provider = Some(tillbridge_domain::Provider::Shopify);
        let en = r[0].message(&s, &quarantined).expect("message");
        let sv = r[1].message(&s, &quarantined).expect("message");
        assert!(en.body.contains("from shopify"), "{}", en.body);
        assert!(sv.subject.contains("karantän"), "{}", sv.subject);

        // Progress (info): the webhook only, email wants warnings and up.
        let r = route(
            &s,
            &envelope(sample(EventType::MigrationApplyRequested)),
            thursday_noon,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].template, Template::Progress);

        // Consent request (warning) on Midsommarafton: webhook and email, batched.
        let r = route(
            &s,
            &envelope(sample(EventType::MigrationMappingSuggested)),
            ts("2026-06-19T10:00:00Z"),
        );
        assert_eq!(r.len(), 2);
        assert!(matches!(r[1].channel, Channel::Email { .. }));
        assert_eq!(r[1].template, Template::ConsentRequest);
        assert_eq!(
            r[1].severity.delivery,
            Delivery::Batched {
                at: ts("2026-06-21T08:00:00Z")
            }
        );

        // Budget at 100 % (critical) at night: pages on webhook and email.
        let r = route(
            &s,
            &envelope(sample(EventType::BudgetThresholdCrossed)),
            ts("2026-06-18T23:00:00Z"),
        );
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|x| x.severity.delivery == Delivery::Page));
    }

    #[test]
    fn critical_ignores_min_level_and_non_notifications_route_nowhere() {
        let mut s = TenantSettings::from_json(SETTINGS).expect("valid settings");
        s.channels[2].min_level = Level::Critical;
        s.channels[2].events = vec!["migration.rolled_back".into()];
        // Unverified rollback: critical, so even the chat channel gets it.
        let r = route(
            &s,
            &envelope(sample(EventType::MigrationRolledBack)),
            ts("2026-06-18T10:00:00Z"),
        );
        assert_eq!(r.len(), 3);
        let usage = EventData::AiUsageRecorded(tillbridge_domain::event::UsageRecorded {
            request_id: "r".into(),
            migration_id: None,
            operation: "mapping.suggest".into(),
            provider: "openai".into(),
            model: "m".into(),
            input_tokens: 1,
            output_tokens: 1,
            cached_input_tokens: 0,
            cache_write_tokens: 0,
        });
        assert!(route(&s, &envelope(usage), Timestamp::UNIX_EPOCH).is_empty());
    }

    #[test]
    fn customers_get_only_customer_facing_events_and_zones_move_the_hours() {
        let mut s = TenantSettings::from_json(SETTINGS).expect("valid settings");
        s.channels.push(ChannelSettings {
            channel: Channel::Customers,
            language: None,
            events: vec!["migration.*".into()],
            min_level: Level::Info,
        });
        // migration.* names operator events too; only migration.applied is validated.
        assert!(s.validate().is_ok());
        let thursday_noon = ts("2026-06-18T10:00:00Z");
        let applied = envelope(sample(EventType::MigrationApplied));
        let r = route(&s, &applied, thursday_noon);
        let customers: Vec<_> = r
            .iter()
            .filter(|x| *x.channel == Channel::Customers)
            .collect();
        assert_eq!(customers.len(), 1);
        let m = customers[0].message(&s, &applied).expect("message");
        assert!(m.subject.contains("har bytt system"), "{}", m.subject);
        assert!(!m.body.contains("migrering"), "{}", m.body);
        let requested = envelope(sample(EventType::MigrationRequested));
        assert!(
            route(&s, &requested, thursday_noon)
                .iter()
                .all(|x| *x.channel != Channel::Customers)
        );
        let only_operator = SETTINGS.replace(
            r#"{"channel": {"kind": "chat""#,
            r#"{"channel": {"kind": "customers"}, "events": ["migration.requested"]},
            {"channel": {"kind": "chat""#,
        );
        assert!(TenantSettings::from_json(&only_operator).is_err());

        // 10:00 UTC is inside Stockholm's hours but 03:00 in Los Angeles: batched there.
        let mut la = TenantSettings::from_json(SETTINGS).expect("valid");
        la.time_zone = Some("America/Los_Angeles".into());
        assert!(la.validate().is_ok());
        let q = envelope(sample(EventType::WebhookQuarantined));
        assert_eq!(
            route(&s, &q, thursday_noon)[0].severity.delivery,
            Delivery::Immediate
        );
        assert!(matches!(
            route(&la, &q, thursday_noon)[0].severity.delivery,
            Delivery::Batched { .. }
        ));
        la.time_zone = Some("Mars/Olympus".into());
        assert!(la.validate().is_err());
    }

    #[test]
    fn settings_are_validated() {
        let bad_pattern = SETTINGS.replace("\"webhook.quarantined\"", "\"pos.*\"");
        assert!(
            TenantSettings::from_json(&bad_pattern)
                .expect_err("pos.* is no notification")
                .contains("matches no notification")
        );
        let http = SETTINGS.replace("https://chat", "http://chat");
        assert!(TenantSettings::from_json(&http).is_err());
        let local = SETTINGS.replace("https://chat.example.com", "http://127.0.0.1:8099");
        let local: TenantSettings = serde_json::from_str(&local).expect("parses");
        assert!(local.validate().is_err());
        assert!(local.validate_with(true).is_ok());
        let sneaky = SETTINGS.replace("https://chat.example.com", "http://127.0.0.1.evil.example");
        let sneaky: TenantSettings = serde_json::from_str(&sneaky).expect("parses");
        assert!(sneaky.validate_with(true).is_err());
        let unknown = SETTINGS.replace("\"min_level\"", "\"severity\"");
        assert!(TenantSettings::from_json(&unknown).is_err());
        let s = TenantSettings::from_json(SETTINGS).expect("valid");
        let back: TenantSettings =
            serde_json::from_str(&serde_json::to_string(&s).expect("serializes")).expect("parses");
        assert_eq!(back, s);
    }
}
