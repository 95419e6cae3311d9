use std::sync::Arc;

use serde_json::{Value, json};
use tillbridge_domain::event::{
    MappingSuggested, MigrationApplied, SCHEMA_VERSION, WebhookQuarantined, derive_event_id,
};
use tillbridge_domain::{
    CorrelationId, DeliveryId, Envelope, EventData, Provider, Secret, TenantId, Timestamp,
};
use tillbridge_ports::memory::{MemoryBlobStore, MemoryMailer, MemoryPoster, MemoryTable};
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_ports::{BlobStore, ManualClock, PortError, SecretStore};
use tillbridge_webhooks::{Headers, Secret as VerifySecret, VerifyOptions, verify};

use super::*;

pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub(crate) const SETTINGS: &str = r#"{
    "tenant_name": "Kaffebaren AB",
    "language": "sv",
    "channels": [
        {"channel": {"kind": "webhook", "url": "https://hooks.example.com/tb",
                     "secret_name": "ops-hook"},
         "language": "en", "events": ["*"]},
        {"channel": {"kind": "email", "to": ["ops@kaffebaren.example"]},
         "events": ["migration.*"], "min_level": "warning"},
        {"channel": {"kind": "chat", "url": "https://chat.example.com/in/1"},
         "events": ["webhook.quarantined"]},
        {"channel": {"kind": "customers"}, "events": ["migration.applied"]}
    ]
}"#;

pub(crate) struct Fixture {
    pub notifier: Notifier,
    pub clock: Arc<ManualClock>,
    pub poster: Arc<MemoryPoster>,
    pub mailer: Arc<MemoryMailer>,
    pub blobs: Arc<MemoryBlobStore>,
    pub tenant: TenantId,
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).expect("valid")
}

async fn fixture(now: &str) -> Fixture {
    let clock = Arc::new(ManualClock::new(ts(now)));
    let table = Arc::new(MemoryTable::new(clock.clone()));
    let secrets = Arc::new(StaticDirectory::default());
    let tenant = TenantId::parse("kaffebaren").expect("valid");
    secrets
        .put_notification_secret(&tenant, "ops-hook", &Secret::new(SECRET))
        .await
        .expect("stored");
    let settings = TenantSettings::from_json(SETTINGS).expect("valid settings");
    save_settings(table.as_ref(), &tenant, &settings)
        .await
        .expect("saved");
    let poster = Arc::new(MemoryPoster::default());
    let mailer = Arc::new(MemoryMailer::default());
    let blobs = Arc::new(MemoryBlobStore::default());
    Fixture {
        notifier: Notifier {
            table,
            blobs: blobs.clone(),
            secrets,
            poster: poster.clone(),
            mailer: mailer.clone(),
            clock: clock.clone(),
        },
        clock,
        poster,
        mailer,
        blobs,
        tenant,
    }
}

fn envelope(key: &str, body: EventData) -> Envelope {
    Envelope {
        event_id: derive_event_id(key, 0),
        body,
        schema_version: SCHEMA_VERSION,
        tenant_id: TenantId::parse("kaffebaren").expect("valid"),
        provider: Some(Provider::Shopify),
        entity_id: "e".into(),
        occurred_at: Timestamp::UNIX_EPOCH,
        received_at: Timestamp::UNIX_EPOCH,
        correlation_id: CorrelationId::parse("c1").expect("valid"),
        delivery_key: None,
    }
}

fn quarantined(key: &str) -> Envelope {
    envelope(
        key,
        EventData::WebhookQuarantined(WebhookQuarantined {
            delivery_id: DeliveryId::parse("dlv_1").expect("valid"),
            reason: "signature mismatch".into(),
            blob_key: "q/dlv_1".into(),
        }),
    )
}

fn mapping_suggested(key: &str) -> Envelope {
    envelope(
        key,
        EventData::MigrationMappingSuggested(MappingSuggested {
            migration_id: "mig_1".into(),
            fields: 12,
            mapped: 10,
            high: 8,
        }),
    )
}

fn requested(migration: &str) -> Envelope {
    envelope(
        migration,
        EventData::MigrationRequested(tillbridge_domain::event::MigrationRequested {
            migration_id: migration.into(),
            source_name: "square".into(),
            export_key: "k".into(),
        }),
    )
}

fn applied(migration: &str) -> Envelope {
    envelope(
        migration,
        EventData::MigrationApplied(MigrationApplied {
            migration_id: migration.into(),
            created: 5,
            changed: 4,
            unchanged: 90,
            skipped: 1,
            snapshot_key: "s".into(),
        }),
    )
}

fn header<'a>(post: &'a OutboundPost, name: &str) -> &'a str {
    post.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// Checks a post with the inbound Standard Webhooks verifier, at its own timestamp.
pub(crate) fn verifies(post: &OutboundPost) -> bool {
    let headers = post
        .headers
        .iter()
        .fold(Headers::new(), |h, (k, v)| h.with(k, v.as_str()));
    let now: i64 = header(post, "webhook-timestamp")
        .parse()
        .unwrap_or_default();
    verify(
        Provider::StandardWebhooks,
        &headers,
        &post.body,
        &[VerifySecret::new(SECRET)],
        &VerifyOptions {
            url: None,
            now_unix: now,
            tolerance_secs: 300,
        },
    )
    .is_ok()
}

fn json_of(post: &OutboundPost) -> Value {
    serde_json::from_slice(&post.body).expect("JSON body")
}

#[tokio::test]
async fn a_quarantine_in_business_hours_goes_out_signed_and_to_chat_once() {
    let f = fixture("2026-06-18T10:00:00Z").await; // a Thursday, 12:00 in Stockholm
    let event = quarantined("q1");
    let r = f.notifier.on_event(&event).await.expect("routed");
    assert_eq!((r.sent, r.held, r.retrying), (2, 0, 0));
    let posts = f.poster.posts();
    assert_eq!(posts.len(), 2);
    let hook = &posts[0];
    assert_eq!(hook.url, "https://hooks.example.com/tb");
    assert!(verifies(hook), "the inbound verifier accepts our signature");
    assert!(header(hook, "webhook-id").starts_with("msg_"));
    let body = json_of(hook);
    assert_eq!(body["type"], "webhook.quarantined");
    assert_eq!(body["data"]["language"], "en");
    assert!(
        body["data"]["subject"]
            .as_str()
            .is_some_and(|s| s.contains("quarantined")),
        "{body}"
    );
    // No vendor free text (the reason) in the message.
    assert!(!String::from_utf8_lossy(&hook.body).contains("signature mismatch"));
    let chat = &posts[1];
    assert_eq!(chat.url, "https://chat.example.com/in/1");
    assert!(header(chat, "webhook-signature").is_empty());
    let text = json_of(chat)["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(text.starts_with("*Kaffebaren AB:"), "{text}");
    assert!(text.contains("karantän"), "{text}");
    // The email channel takes only migration events.
    assert!(f.mailer.sent().is_empty());

    // SQS delivers again: nothing is sent twice.
    let again = f.notifier.on_event(&event).await.expect("routed");
    assert_eq!((again.sent, again.duplicate), (0, 2));
    assert_eq!(f.poster.posts().len(), 2);
}

#[tokio::test]
async fn without_settings_nothing_is_sent() {
    let f = fixture("2026-06-18T10:00:00Z").await;
    let mut event = quarantined("q1");
    event.tenant_id = TenantId::parse("someone-else").expect("valid");
    let r = f.notifier.on_event(&event).await.expect("routed");
    assert_eq!(r, Report::default());
    assert!(f.poster.posts().is_empty());
}

#[tokio::test]
async fn deferred_notifications_are_held_and_flushed_as_one_digest_per_channel() {
    // Midsommarafton 2026 (a holiday): warnings wait for Monday 22 June, 08:00 UTC?
    let f = fixture("2026-06-19T10:00:00Z").await;
    for key in ["m1", "m2"] {
        let r = f
            .notifier
            .on_event(&mapping_suggested(key))
            .await
            .expect("routed");
        // Webhook and email take it; both held.
        assert_eq!((r.sent, r.held), (0, 2));
    }
    let q = f
        .notifier
        .on_event(&quarantined("q1"))
        .await
        .expect("routed");
    assert_eq!((q.sent, q.held), (0, 2));
    assert!(f.poster.posts().is_empty());
    assert!(f.mailer.sent().is_empty());

    // Nothing is due yet.
    assert_eq!(
        f.notifier.flush().await.expect("flushed"),
        Report::default()
    );
    // The next opening: Sunday 21 June 10:00 local (weekend hours), 08:00 UTC.
    f.clock
        .advance_secs(ts("2026-06-21T08:00:00Z").unix_seconds() - f.clock.now_secs());
    let r = f.notifier.flush().await.expect("flushed");
    assert_eq!(r.sent, 3, "{r:?}");
    let posts = f.poster.posts();
    assert_eq!(posts.len(), 2, "one webhook digest, one chat digest");
    let hook = posts
        .iter()
        .find(|p| p.url.starts_with("https://hooks"))
        .expect("webhook digest");
    assert!(verifies(hook));
    let body = json_of(hook);
    assert_eq!(body["type"], DIGEST_TYPE);
    assert_eq!(
        body["data"]["notifications"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default(),
        3
    );
    let mails = f.mailer.sent();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["ops@kaffebaren.example".to_owned()]);
    assert_eq!(mails[0].subject, "Kaffebaren AB: 2 aviseringar");
    assert!(mails[0].body.contains("godkänn mappningen"));
    // Flushed once.
    assert_eq!(
        f.notifier.flush().await.expect("flushed"),
        Report::default()
    );
}

#[tokio::test]
async fn failed_webhooks_are_retried_on_the_schedule_then_dead_lettered() {
    let f = fixture("2026-06-18T10:00:00Z").await;
    // An announcement goes to the webhook only: unreachable, then 500, then 503, then 200.
    f.poster
        .faults
        .inject(PortError::Transient("cannot connect".into()));
    f.poster.answer(&[500, 503]);
    let r = f
        .notifier
        .on_event(&requested("mig_1"))
        .await
        .expect("routed");
    assert_eq!((r.sent, r.retrying), (0, 1));
    let id = header(&f.poster.posts()[0], "webhook-id").to_owned();
    // Not due before the schedule's delay.
    assert_eq!(f.notifier.flush().await.expect("flush"), Report::default());
    for attempt in 2..=4 {
        let delay = retry_delay(&id, attempt).expect("in the schedule");
        let step = tillbridge_notify::webhook::retry_step_secs(attempt);
        assert!(delay >= step / 2 && delay <= step);
        f.clock
            .advance_secs(i64::try_from(delay).unwrap_or_default());
        let r = f.notifier.flush().await.expect("flush");
        let expected = if attempt == 4 { (1, 0) } else { (0, 1) };
        assert_eq!((r.sent, r.retrying), expected, "attempt {attempt}");
    }
    let hooks = f.poster.posts();
    assert_eq!(hooks.len(), 4);
    // One webhook id across attempts (receivers dedupe), each attempt freshly signed.
    assert!(hooks.iter().all(|p| header(p, "webhook-id") == id));
    assert!(hooks.iter().all(verifies));
    assert_ne!(
        header(&hooks[0], "webhook-timestamp"),
        header(&hooks[3], "webhook-timestamp")
    );
    assert!(
        failures(f.notifier.table.as_ref(), &f.tenant, 10)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(f.notifier.flush().await.expect("flush"), Report::default());

    // An endpoint that never answers 2xx: 10 attempts, then a dead letter.
    let g = fixture("2026-06-18T10:00:00Z").await;
    g.poster.answer(&[500; 40]);
    let r = g
        .notifier
        .on_event(&quarantined("q2"))
        .await
        .expect("routed");
    assert_eq!(r.retrying, 2);
    let mut failed = 0;
    for _ in 0..20 {
        g.clock.advance_secs(6 * 3600);
        failed += g.notifier.flush().await.expect("flush").failed;
    }
    assert_eq!(failed, 2);
    assert_eq!(g.poster.posts().len(), 2 * MAX_ATTEMPTS as usize);
    let dead = failures(g.notifier.table.as_ref(), &g.tenant, 10)
        .await
        .expect("read");
    assert_eq!(dead.len(), 2);
    assert!(
        dead.iter()
            .all(|d| d.attempts == MAX_ATTEMPTS && d.reason == "HTTP 500")
    );
    assert!(dead.iter().any(|d| d.channel == "webhook"));
    // Dead letters carry no URL.
    assert!(
        dead.iter()
            .all(|d| !format!("{d:?}").contains("example.com"))
    );
}

#[tokio::test]
async fn a_webhook_without_a_stored_secret_is_a_dead_letter_not_an_unsigned_post() {
    let f = fixture("2026-06-18T10:00:00Z").await;
    let mut s = settings(f.notifier.table.as_ref(), &f.tenant)
        .await
        .expect("read")
        .expect("stored");
    s.channels[0].channel = Channel::Webhook {
        url: "https://hooks.example.com/tb".into(),
        secret_name: "missing".into(),
    };
    save_settings(f.notifier.table.as_ref(), &f.tenant, &s)
        .await
        .expect("saved");
    let r = f
        .notifier
        .on_event(&quarantined("q1"))
        .await
        .expect("routed");
    assert_eq!((r.sent, r.failed), (1, 1));
    assert!(f.poster.posts().iter().all(|p| !p.url.contains("hooks")));
}

#[tokio::test]
async fn customers_are_mailed_only_with_consent_recorded() {
    let f = fixture("2026-06-18T10:00:00Z").await;
    // The migration's export: one customer consented, one refused, one never asked.
    let records = vec![
        json!({"id": "c1", "name": "Ana Lind", "email": "ana@example.com", "marketing_consent": true}),
        json!({"id": "c2", "name": "Bo Ek", "email": "bo@example.com", "marketing_consent": false}),
        json!({"id": "c3", "name": "Cia Ahl", "email": "cia@example.com"}),
    ];
    let (customers, counts) = tillbridge_migration::export::consenting_customers(&records);
    assert_eq!((counts.with_consent, counts.without_consent), (1, 2));
    let jsonl: String = customers
        .iter()
        .map(|c| serde_json::to_string(c).expect("serializes") + "\n")
        .collect();
    let migration = tillbridge_domain::MigrationId::parse("mig_1").expect("valid");
    f.blobs
        .put(
            &tillbridge_migration::keys::customers_blob(&f.tenant, &migration),
            jsonl.as_bytes(),
        )
        .await
        .expect("stored");
    let r = f
        .notifier
        .on_event(&applied("mig_1"))
        .await
        .expect("routed");
    // The webhook gets the completion; one customer gets the customer message.
    assert_eq!(r.sent, 2, "{r:?}");
    let mails = f.mailer.sent();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["ana@example.com".to_owned()]);
    assert_eq!(mails[0].subject, "Kaffebaren AB har bytt system");
    assert!(mails.iter().all(|m| {
        !m.to
            .iter()
            .any(|a| a.starts_with("bo@") || a.starts_with("cia@"))
    }));
    // Operator facts stay out of the customer's message.
    assert!(!mails[0].body.contains("mig_1"));

    // A migration without prepared customers mails nobody.
    let r = f
        .notifier
        .on_event(&applied("mig_2"))
        .await
        .expect("routed");
    assert_eq!(r.sent, 1);
    assert_eq!(f.mailer.sent().len(), 1);
}

#[tokio::test]
async fn email_failures_retry_and_permanent_ones_are_dead_letters() {
    let f = fixture("2026-06-18T10:00:00Z").await;
    let mut event = mapping_suggested("m1");
    // A failed validation (warning) reaches the email channel in business hours.
    event.body = EventData::MigrationValidated(tillbridge_domain::event::MigrationValidated {
        migration_id: "mig_1".into(),
        items: 100,
        errors: 3,
        warnings: 0,
        passed: false,
        report_key: "r".into(),
    });
    f.mailer
        .faults
        .inject(PortError::Transient("Throttling".into()));
    let r = f.notifier.on_event(&event).await.expect("routed");
    assert_eq!((r.sent, r.retrying), (1, 1), "{r:?}");
    f.clock.advance_secs(5);
    assert_eq!(f.notifier.flush().await.expect("flush").sent, 1);
    assert_eq!(f.mailer.sent().len(), 1);

    f.mailer.faults.inject(PortError::Permanent(
        "SES SendEmail: MessageRejected".into(),
    ));
    let mut other = event.clone();
    other.event_id = derive_event_id("m2", 0);
    let r = f.notifier.on_event(&other).await.expect("routed");
    assert_eq!(r.failed, 1);
    let dead = failures(f.notifier.table.as_ref(), &f.tenant, 10)
        .await
        .expect("read");
    assert_eq!(dead[0].channel, "email");
    assert_eq!(dead[0].attempts, 1);
}

#[tokio::test]
async fn a_large_backlog_is_flushed_by_consecutive_runs() {
    let f = fixture("2026-06-13T03:00:00Z").await; // Saturday night: held
    for i in 0..600 {
        let r = f
            .notifier
            .on_event(&mapping_suggested(&format!("m{i}")))
            .await
            .expect("routed");
        assert_eq!(r.held, 2);
    }
    f.clock.advance_secs(5 * 3600);
    let table = f.notifier.table.as_ref();
    let left = || async {
        query_all(table, &due_pk(&f.tenant), "")
            .await
            .expect("read")
            .len()
    };
    assert_eq!(left().await, 1_200);
    f.notifier.flush().await.expect("flush");
    assert_eq!(left().await, 1_200 - MAX_FLUSH);
    f.notifier.flush().await.expect("flush");
    assert_eq!(left().await, 0);
    // Every notification went out, in digests (two channels, at most two runs each).
    let notified: usize = f
        .poster
        .posts()
        .iter()
        .map(|p| {
            json_of(p)["data"]["notifications"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(notified, 600);
    assert!(f.poster.posts().len() <= 2);
    assert!(f.mailer.sent().len() <= 2);
}

#[tokio::test]
async fn chat_urls_are_kept_in_the_secret_store_not_in_the_settings() {
    let f = fixture("2026-06-18T10:00:00Z").await;
    let url = "https://hooks.slack.com/services/T0/B0/SeCrEtToKeN";
    let body = json!({
        "tenant_name": "Kaffebaren AB",
        "channels": [{"channel": {"kind": "chat", "url": url},
                      "events": ["webhook.quarantined"]}]
    });
    let t = f.notifier.table.as_ref();
    let secrets = f.notifier.secrets.as_ref();
    let kept = put_settings(t, secrets, &f.tenant, body.to_string().as_bytes(), false)
        .await
        .expect("stored");
    // Neither the table nor what the API answers holds the URL: its host and secret name.
    let shown = serde_json::to_string(&kept).expect("json");
    let stored = serde_json::to_string(&settings(t, &f.tenant).await.expect("read")).expect("json");
    for text in [&shown, &stored] {
        assert!(!text.contains("SeCrEtToKeN"), "{text}");
        assert!(text.contains("\"host\":\"hooks.slack.com\""), "{text}");
    }
    let Channel::Chat { url_secret, .. } = &kept.channels[0].channel else {
        panic!("a chat channel");
    };
    let held = secrets
        .notification_secret(&f.tenant, url_secret)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(held.expose(), url.as_bytes());
    // Sending reads it from there.
    let r = f
        .notifier
        .on_event(&quarantined("q9"))
        .await
        .expect("routed");
    assert_eq!(r.sent, 1);
    assert_eq!(f.poster.posts()[0].url, url);
    // A PUT naming the stored secret keeps it; a name with nothing stored is refused.
    let again = json!({"tenant_name": "Kaffebaren AB",
        "channels": [{"channel": {"kind": "chat", "url_secret": url_secret},
                      "events": ["webhook.quarantined"]}]});
    assert!(
        put_settings(t, secrets, &f.tenant, again.to_string().as_bytes(), false)
            .await
            .is_ok()
    );
    let unknown = json!({"tenant_name": "Kaffebaren AB",
        "channels": [{"channel": {"kind": "chat", "url_secret": "chat-nothing"},
                      "events": ["webhook.quarantined"]}]});
    match put_settings(t, secrets, &f.tenant, unknown.to_string().as_bytes(), false).await {
        Err(SettingsError::Invalid(m)) => assert!(m.contains("no chat URL"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Plain http is refused before anything is stored.
    let http = json!({"tenant_name": "K",
        "channels": [{"channel": {"kind": "chat", "url": "http://hooks.example.com/x"},
                      "events": ["webhook.quarantined"]}]});
    assert!(matches!(
        put_settings(t, secrets, &f.tenant, http.to_string().as_bytes(), false).await,
        Err(SettingsError::Invalid(_))
    ));
}

#[test]
fn url_hosts() {
    assert_eq!(
        url_host("https://Hooks.Slack.com/services/x").as_deref(),
        Some("hooks.slack.com")
    );
    assert_eq!(
        url_host("https://u:p@h.example:8443?x").as_deref(),
        Some("h.example")
    );
    assert_eq!(url_host("nonsense"), None);
}

#[tokio::test]
async fn held_items_live_in_their_tenants_shard_and_old_unsharded_ones_still_flush() {
    // Midsommarafton 2026: held until Sunday 21 June 08:00 UTC.
    let f = fixture("2026-06-19T10:00:00Z").await;
    for key in ["m1", "m2"] {
        f.notifier
            .on_event(&mapping_suggested(key))
            .await
            .expect("routed");
    }
    let table = f.notifier.table.as_ref();
    let shard = due_pk(&f.tenant);
    assert!(shard.starts_with("notify#due#shard"), "{shard}");
    let held = query_all(table, &shard, "").await.expect("read");
    assert_eq!(
        held.len(),
        4,
        "two events × two channels, in the tenant's shard"
    );
    assert!(query_all(table, DUE_PK, "").await.expect("read").is_empty());
    // One of them as an item stored before sharding: in the unsharded partition.
    let old = &held[0];
    let mut moved = old.clone();
    moved.pk = DUE_PK.to_owned();
    table.put(moved, Condition::Always).await.expect("put");
    table
        .delete(&old.pk, &old.sk, Condition::Always)
        .await
        .expect("delete");
    f.clock
        .advance_secs(ts("2026-06-21T08:00:00Z").unix_seconds() - f.clock.now_secs());
    let r = f.notifier.flush().await.expect("flushed");
    assert_eq!(r.sent, 2, "one digest per channel: {r:?}");
    let hook = f
        .poster
        .posts()
        .into_iter()
        .find(|p| p.url.starts_with("https://hooks"))
        .expect("webhook digest");
    assert_eq!(
        json_of(&hook)["data"]["notifications"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "the unsharded item joined its tenant's digest"
    );
    assert!(query_all(table, DUE_PK, "").await.expect("read").is_empty());
    assert!(query_all(table, &shard, "").await.expect("read").is_empty());
}
