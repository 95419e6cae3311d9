//! Notifications that get sent: the I/O around the pure decisions of `tillbridge-notify`.
//!
//! - **Settings** per tenant ([`TenantSettings`]) live in the table (`notify#<tenant>` /
//!   `settings`); webhook signing secrets are in the secret store, named by the channel's
//!   `secret_name` within the tenant, never in the table.
//! - **Events** ([`Notifier::on_event`]) are routed per the settings: what is due now is
//!   sent at once (a signed Standard Webhooks POST, a Slack-compatible chat POST, an email
//!   through the [`Mailer`]); what severity defers to the next business opening is *held*
//!   in the table (`notify#due` / `<due unix>#<tenant>#held#<id>`).
//! - **Flushes** ([`Notifier::flush`], the scheduled run) send each tenant's held
//!   notifications that are due as one digest per channel, and retry failed deliveries.
//! - **Retries** follow `tillbridge_notify::webhook::retry_delay` (5 s × 4ⁿ with equal
//!   jitter, capped at 6 h, 10 attempts): a failed attempt is stored as due at its next
//!   attempt (`<due unix>#<tenant>#retry#<id>`); after the last one the delivery becomes a
//!   **dead letter** (`notify#<tenant>` / `failed#<unix>#<id>`, [`failures`]) and a warning.
//! - **Customers** (the `customers` channel) get customer-facing messages one email each,
//!   and only the customers whose consent the migration recorded (its prepared consenting
//!   customers); the others are never read, let alone mailed.
//!
//! Each (event, channel) is sent once: a `done#<id>` marker makes a redelivered event
//! (SQS is at least once) a no-op, and the webhook id is stable across retries so receivers
//! dedupe. Logs carry tenants, ids, channel kinds and counts, never URLs, addresses or bodies.

#![warn(missing_docs)]

pub mod http;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tillbridge_domain::{Envelope, TenantId, Timestamp};
use tillbridge_notify::routing::Channel;
use tillbridge_notify::severity::{Delivery, Level};
use tillbridge_notify::webhook::{MAX_ATTEMPTS, retry_delay, sign};
use tillbridge_notify::{Language, TenantSettings, route};
use tillbridge_ports::table::query_all;
use tillbridge_ports::{
    BlobStore, Clock, Condition, Email, Item, Mailer, OutboundPost, PortError, Poster, Result,
    SecretStore, Table,
};
use tracing::{info, warn};

pub use tillbridge_notify;

/// Partition of the due items (held notifications, pending retries), sorted by due time;
/// written in shards per tenant (`notify#due#shard<n>`, [`due_pk`]) so one tenant's storm
/// of held quarantines does not make one hot partition for all. Items stored unsharded
/// before are still read.
pub const DUE_PK: &str = "notify#due";

/// The due partition of a tenant's items: one shard of [`DUE_PK`].
pub fn due_pk(tenant: &TenantId) -> String {
    tillbridge_ports::table::shard_pk(DUE_PK, tillbridge_ports::table::shard_of(tenant.as_str()))
}
/// How long a `done#` marker keeps a redelivered event from being sent again.
const DONE_TTL_SECS: i64 = 14 * 86_400;
/// Due items one flush takes at most (a Monday morning's backlog is worked through by
/// consecutive runs, well within the function's timeout each).
pub const MAX_FLUSH: usize = 1_000;
/// How long a dead letter stays listed.
const FAILED_TTL_SECS: i64 = 90 * 86_400;

fn tenant_pk(tenant: &TenantId) -> String {
    format!("notify#{tenant}")
}

/// Sort key of the tenant's settings.
pub const SETTINGS_SK: &str = "settings";

fn due_sk(at: i64, tenant: &TenantId, kind: &str, id: &str) -> String {
    format!("{:012}#{tenant}#{kind}#{id}", at.max(0))
}

/// The due time a `notify#due` sort key starts with.
fn due_of(sk: &str) -> Option<i64> {
    sk.get(..12)?.parse().ok()
}

fn hex_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    format!("msg_{}", &hex::encode(h.finalize())[..32])
}

/// A stable short key of a channel (its settings JSON), so a redelivered event maps to the
/// same deliveries.
fn channel_key(channel: &Channel) -> String {
    let text = serde_json::to_string(channel).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_owned()
}

/// The tenant's notification settings, or None when it has none.
///
/// # Errors
/// The table's errors; a corrupt item is permanent.
pub async fn settings(table: &dyn Table, tenant: &TenantId) -> Result<Option<TenantSettings>> {
    match table.get(&tenant_pk(tenant), SETTINGS_SK).await? {
        Some(item) => item.doc().map(Some),
        None => Ok(None),
    }
}

/// Stores the tenant's settings (the caller validated them and put the secrets in the
/// secret store).
///
/// # Errors
/// The table's errors.
pub async fn save_settings(
    table: &dyn Table,
    tenant: &TenantId,
    settings: &TenantSettings,
) -> Result<()> {
    let item = Item::with_doc(tenant_pk(tenant), SETTINGS_SK, settings)?;
    table.put(item, Condition::Always).await.map(|_| ())
}

/// Why settings could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The body is not valid settings (answer 400 with it).
    #[error("{0}")]
    Invalid(String),
    /// The table or the secret store failed.
    #[error(transparent)]
    Store(#[from] PortError),
}

impl tillbridge_domain::Classify for SettingsError {
    fn kind(&self) -> tillbridge_domain::ErrorKind {
        match self {
            SettingsError::Invalid(_) => tillbridge_domain::ErrorKind::Permanent,
            SettingsError::Store(e) => e.kind(),
        }
    }
}

/// Takes the `secret` of each webhook channel out of a settings body: (secret name, secret).
fn take_secrets(body: &mut Value) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let Some(channels) = body.get_mut("channels").and_then(Value::as_array_mut) else {
        return Ok(out);
    };
    for (i, c) in channels.iter_mut().enumerate() {
        let Some(channel) = c.get_mut("channel").and_then(Value::as_object_mut) else {
            continue;
        };
        let Some(secret) = channel.remove("secret") else {
            continue;
        };
        // The signer must be able to use it.
        let Some(secret) = secret
            .as_str()
            .filter(|s| s.starts_with("whsec_") && sign(&[s], "msg_check", 0, b"").is_ok())
        else {
            return Err(format!(
                "channel {i}: a webhook secret is whsec_ followed by base64"
            ));
        };
        let name = channel
            .get("secret_name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        out.push((name, secret.to_owned()));
    }
    Ok(out)
}

/// Validates and stores a tenant's settings from a JSON body (the API's PUT, the CLI's
/// `notifications set`): each webhook's `secret`, when given, goes to the secret store and
/// is dropped from what the table keeps; a webhook whose secret is neither given nor
/// stored is refused. `local` also accepts plain-HTTP loopback endpoints.
///
/// # Errors
/// [`SettingsError::Invalid`] for a body that is not valid settings;
/// [`SettingsError::Store`] when the table or the secret store fails.
pub async fn put_settings(
    table: &dyn Table,
    secrets: &dyn SecretStore,
    tenant: &TenantId,
    body: &[u8],
    local: bool,
) -> std::result::Result<TenantSettings, SettingsError> {
    let mut body: Value =
        serde_json::from_slice(body).map_err(|e| SettingsError::Invalid(format!("body: {e}")))?;
    let given = take_secrets(&mut body).map_err(SettingsError::Invalid)?;
    let settings: TenantSettings =
        serde_json::from_value(body).map_err(|e| SettingsError::Invalid(format!("body: {e}")))?;
    settings
        .validate_with(local)
        .map_err(|e| SettingsError::Invalid(e.to_string()))?;
    for (i, c) in settings.channels.iter().enumerate() {
        if let Channel::Webhook { secret_name, .. } = &c.channel
            && !given.iter().any(|(n, _)| n == secret_name)
            && secrets
                .notification_secret(tenant, secret_name)
                .await?
                .is_none()
        {
            return Err(SettingsError::Invalid(format!(
                "channel {i}: no secret is stored as {secret_name:?}; send it as \"secret\""
            )));
        }
    }
    // Chat URLs are credentials: each goes to the secret store, the settings keep its name
    // and host. A chat channel given without its URL refers to one stored before.
    let mut settings = settings;
    let mut chat_urls = Vec::new();
    for (i, c) in settings.channels.iter_mut().enumerate() {
        let Channel::Chat {
            url_secret,
            host,
            url,
        } = &mut c.channel
        else {
            continue;
        };
        match url.take() {
            Some(u) => {
                let name = format!("chat-{}", &hex::encode(Sha256::digest(u.as_bytes()))[..12]);
                *host = url_host(&u);
                *url_secret = name.clone();
                chat_urls.push((name, u));
            }
            None => {
                if secrets
                    .notification_secret(tenant, url_secret)
                    .await?
                    .is_none()
                {
                    return Err(SettingsError::Invalid(format!(
                        "channel {i}: no chat URL is stored as {url_secret:?}; send it as \"url\""
                    )));
                }
            }
        }
    }
    for (name, secret) in given.iter().chain(chat_urls.iter()) {
        secrets
            .put_notification_secret(
                tenant,
                name,
                &tillbridge_domain::Secret::new(secret.as_str()),
            )
            .await?;
    }
    save_settings(table, tenant, &settings).await?;
    info!(tenant = %tenant, channels = settings.channels.len(), secrets = given.len() + chat_urls.len(), "notification settings set");
    Ok(settings)
}

/// The host of an `https://host/…` URL (lower-cased, without credentials or port).
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// A delivery given up: after every attempt, or for a reason no retry fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The delivery's id (`webhook-id` of a webhook).
    pub id: String,
    /// `webhook`, `chat`, `email` or `customers`.
    pub channel: String,
    /// The event type, or `notification.digest`.
    pub event_type: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last HTTP status or error (no URL, no address).
    pub reason: String,
    /// When it was given up (RFC 3339).
    pub at: String,
}

/// The tenant's dead letters, newest first (at most `limit`).
///
/// # Errors
/// The table's errors.
pub async fn failures(table: &dyn Table, tenant: &TenantId, limit: usize) -> Result<Vec<Failure>> {
    let items = query_all(table, &tenant_pk(tenant), "failed#").await?;
    let mut out: Vec<Failure> = items.iter().filter_map(|i| i.doc().ok()).collect();
    out.reverse();
    out.truncate(limit);
    Ok(out)
}

/// One rendered notification waiting for its batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Held {
    tenant: TenantId,
    tenant_name: String,
    channel: Channel,
    language: Language,
    event_type: String,
    event_id: String,
    level: Level,
    subject: String,
    body: String,
    /// For the customers channel: the migration whose consenting customers get it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    migration_id: Option<String>,
}

/// One delivery to (re)attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    tenant: TenantId,
    /// Webhook, chat or email (customers are expanded into emails).
    channel: Channel,
    id: String,
    event_type: String,
    /// The attempt this is (1 = the first).
    attempt: u32,
    subject: String,
    /// The email body, or the JSON body of a webhook or chat post.
    body: String,
}

/// What handling an event or a flush did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Deliveries that succeeded.
    pub sent: usize,
    /// Notifications held for their batch.
    pub held: usize,
    /// Failed attempts scheduled for a retry.
    pub retrying: usize,
    /// Deliveries given up (dead letters).
    pub failed: usize,
    /// Deliveries already done (a redelivered event).
    pub duplicate: usize,
}

impl Report {
    fn add(&mut self, o: Report) {
        self.sent += o.sent;
        self.held += o.held;
        self.retrying += o.retrying;
        self.failed += o.failed;
        self.duplicate += o.duplicate;
    }
}

/// Sends notifications through the ports (AWS, embedded or in memory alike).
pub struct Notifier {
    /// Settings, held batches, retries, markers and dead letters.
    pub table: Arc<dyn Table>,
    /// The migrations' prepared consenting customers.
    pub blobs: Arc<dyn BlobStore>,
    /// Webhook signing secrets.
    pub secrets: Arc<dyn SecretStore>,
    /// Webhook and chat posts.
    pub poster: Arc<dyn Poster>,
    /// Email.
    pub mailer: Arc<dyn Mailer>,
    /// Now.
    pub clock: Arc<dyn Clock>,
}

/// The body of a webhook delivery (Standard Webhooks' `type`, `timestamp`, `data`).
fn webhook_body(event_type: &str, at: Timestamp, data: Value) -> String {
    json!({ "type": event_type, "timestamp": at.to_rfc3339(), "data": data }).to_string()
}

/// The body of a chat post (Slack-compatible).
fn chat_body(subject: &str, body: &str) -> String {
    json!({ "text": format!("*{subject}*\n{body}") }).to_string()
}

impl Notifier {
    /// Routes `event` per its tenant's settings: sends what is due now, holds the rest.
    ///
    /// # Errors
    /// Table, blob or secret store failures (retry the event: what was done is not redone).
    pub async fn on_event(&self, event: &Envelope) -> Result<Report> {
        let tenant = &event.tenant_id;
        let Some(settings) = settings(self.table.as_ref(), tenant).await? else {
            return Ok(Report::default());
        };
        let now = self.clock.now();
        let mut report = Report::default();
        let kind = event.event_type();
        for r in route(&settings, event, now) {
            let Some(message) = r.message(&settings, event) else {
                continue;
            };
            let chkey = channel_key(r.channel);
            let id = hex_id(&[event.event_id.as_str(), &chkey]);
            let done_sk = format!("done#{id}");
            if self
                .table
                .get(&tenant_pk(tenant), &done_sk)
                .await?
                .is_some()
            {
                report.duplicate += 1;
                continue;
            }
            let migration_id = migration_of(event);
            match r.severity.delivery {
                Delivery::Batched { at } => {
                    let held = Held {
                        tenant: tenant.clone(),
                        tenant_name: settings.tenant_name.clone(),
                        channel: r.channel.clone(),
                        language: r.language,
                        event_type: kind.as_str().to_owned(),
                        event_id: event.event_id.as_str().to_owned(),
                        level: r.severity.level,
                        subject: message.subject,
                        body: message.body,
                        migration_id,
                    };
                    let sk = due_sk(at.unix_seconds(), tenant, "held", &id);
                    self.table
                        .put(
                            Item::with_doc(due_pk(tenant), sk, &held)?,
                            Condition::Always,
                        )
                        .await?;
                    report.held += 1;
                }
                Delivery::Page | Delivery::Immediate => {
                    let data = json!({
                        "tenant_id": tenant,
                        "event_id": event.event_id,
                        "correlation_id": event.correlation_id,
                        "level": r.severity.level,
                        "template": r.template,
                        "language": r.language,
                        "subject": message.subject,
                        "body": message.body,
                    });
                    let o = self
                        .deliver(
                            tenant,
                            r.channel,
                            &id,
                            kind.as_str(),
                            &message.subject,
                            &message.body,
                            data,
                            migration_id.as_deref(),
                        )
                        .await?;
                    report.add(o);
                }
            }
            let marker = Item::new(tenant_pk(tenant), done_sk, serde_json::Map::new())
                .expiring_at(now.unix_seconds() + DONE_TTL_SECS);
            self.table.put(marker, Condition::Always).await?;
        }
        if report != Report::default() {
            info!(tenant = %tenant, event_type = kind.as_str(), event_id = %event.event_id, sent = report.sent, held = report.held, retrying = report.retrying, failed = report.failed, "notifications routed");
        }
        Ok(report)
    }

    /// A first attempt on one channel (customers: one email each).
    #[allow(clippy::too_many_arguments)]
    async fn deliver(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        id: &str,
        event_type: &str,
        subject: &str,
        body: &str,
        data: Value,
        migration_id: Option<&str>,
    ) -> Result<Report> {
        let now = self.clock.now();
        let pending = |channel: Channel, id: String, body: String| Pending {
            tenant: tenant.clone(),
            channel,
            id,
            event_type: event_type.to_owned(),
            attempt: 1,
            subject: subject.to_owned(),
            body,
        };
        match channel {
            Channel::Webhook { .. } => {
                let p = pending(
                    channel.clone(),
                    id.to_owned(),
                    webhook_body(event_type, now, data),
                );
                self.attempt(p).await
            }
            Channel::Chat { .. } => {
                let p = pending(channel.clone(), id.to_owned(), chat_body(subject, body));
                self.attempt(p).await
            }
            Channel::Email { .. } => {
                let p = pending(channel.clone(), id.to_owned(), body.to_owned());
                self.attempt(p).await
            }
            Channel::Customers => {
                let mut report = Report::default();
                let Some(migration) = migration_id else {
                    return Ok(report);
                };
                for (n, address) in self
                    .consenting_addresses(tenant, migration)
                    .await?
                    .into_iter()
                    .enumerate()
                {
                    let p = pending(
                        Channel::Email { to: vec![address] },
                        hex_id(&[id, &n.to_string()]),
                        body.to_owned(),
                    );
                    report.add(self.attempt(p).await?);
                }
                Ok(report)
            }
        }
    }

    /// The email addresses of the migration's customers whose consent it recorded.
    async fn consenting_addresses(
        &self,
        tenant: &TenantId,
        migration: &str,
    ) -> Result<Vec<String>> {
        let Ok(id) = tillbridge_domain::MigrationId::parse(migration) else {
            return Ok(Vec::new());
        };
        let key = tillbridge_migration::keys::customers_blob(tenant, &id);
        let Some(bytes) = self.blobs.get(&key).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(c) = serde_json::from_slice::<tillbridge_migration::export::Customer>(line)
            else {
                continue;
            };
            // Prepared customers all carry their consent; a record without is skipped.
            if c.consent_field.is_empty() {
                continue;
            }
            if let Some(email) = c.email.filter(|e| e.contains('@'))
                && !out.contains(&email)
            {
                out.push(email);
            }
        }
        Ok(out)
    }

    /// One attempt; a failure is scheduled for its next attempt or becomes a dead letter.
    async fn attempt(&self, p: Pending) -> Result<Report> {
        let now = self.clock.now();
        let outcome: std::result::Result<(), String> = match &p.channel {
            Channel::Webhook { url, secret_name } => {
                match self
                    .secrets
                    .notification_secret(&p.tenant, secret_name)
                    .await?
                {
                    None => {
                        return self
                            .give_up(&p, "no signing secret is stored for the endpoint")
                            .await;
                    }
                    Some(secret) => {
                        let text = String::from_utf8_lossy(secret.expose()).into_owned();
                        match sign(&[&text], &p.id, now.unix_seconds(), p.body.as_bytes()) {
                            Err(e) => return self.give_up(&p, &e.to_string()).await,
                            Ok(h) => {
                                let mut headers = vec![(
                                    "content-type".to_owned(),
                                    "application/json".to_owned(),
                                )];
                                headers.extend(
                                    h.pairs()
                                        .into_iter()
                                        .map(|(k, v)| (k.to_owned(), v.to_owned())),
                                );
                                self.post(url, headers, &p.body).await
                            }
                        }
                    }
                }
            }
            Channel::Chat {
                url_secret, url, ..
            } => {
                let stored = match url {
                    // Settings kept before chat URLs became secrets.
                    Some(u) => Some(u.clone()),
                    None => self
                        .secrets
                        .notification_secret(&p.tenant, url_secret)
                        .await?
                        .map(|s| String::from_utf8_lossy(s.expose()).into_owned()),
                };
                let Some(url) = stored else {
                    return self
                        .give_up(&p, "no chat URL is stored for the channel")
                        .await;
                };
                let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
                self.post(&url, headers, &p.body).await
            }
            Channel::Email { to } => {
                let email = Email {
                    to: to.clone(),
                    subject: p.subject.clone(),
                    body: p.body.clone(),
                };
                match self.mailer.send(&email).await {
                    Ok(()) => Ok(()),
                    Err(PortError::Transient(e)) => Err(e),
                    Err(e) => return self.give_up(&p, &e.to_string()).await,
                }
            }
            Channel::Customers => return Ok(Report::default()),
        };
        match outcome {
            Ok(()) => Ok(Report {
                sent: 1,
                ..Report::default()
            }),
            Err(reason) => match retry_delay(&p.id, p.attempt + 1) {
                Some(delay) => {
                    let due = now.unix_seconds() + i64::try_from(delay).unwrap_or(i64::MAX / 2);
                    let next = Pending {
                        attempt: p.attempt + 1,
                        ..p.clone()
                    };
                    let sk = due_sk(
                        due,
                        &p.tenant,
                        "retry",
                        &format!("{}#{}", p.id, next.attempt),
                    );
                    self.table
                        .put(
                            Item::with_doc(due_pk(&p.tenant), sk, &next)?,
                            Condition::Always,
                        )
                        .await?;
                    warn!(tenant = %p.tenant, id = %p.id, channel = p.channel.kind(), attempt = p.attempt, reason = %reason, retry_in_secs = delay, "notification delivery failed; will retry");
                    Ok(Report {
                        retrying: 1,
                        ..Report::default()
                    })
                }
                None => self.give_up(&p, &reason).await,
            },
        }
    }

    async fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: &str,
    ) -> std::result::Result<(), String> {
        let post = OutboundPost {
            url: url.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        };
        match self.poster.post(&post).await {
            Ok(status) if (200..300).contains(&status) => Ok(()),
            Ok(status) => Err(format!("HTTP {status}")),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn give_up(&self, p: &Pending, reason: &str) -> Result<Report> {
        let now = self.clock.now();
        let failure = Failure {
            id: p.id.clone(),
            channel: p.channel.kind().to_owned(),
            event_type: p.event_type.clone(),
            attempts: p.attempt,
            reason: reason.to_owned(),
            at: now.to_rfc3339(),
        };
        let sk = format!("failed#{:012}#{}", now.unix_seconds().max(0), p.id);
        let item = Item::with_doc(tenant_pk(&p.tenant), sk, &failure)?
            .expiring_at(now.unix_seconds() + FAILED_TTL_SECS);
        self.table.put(item, Condition::Always).await?;
        warn!(tenant = %p.tenant, id = %p.id, channel = p.channel.kind(), attempts = p.attempt, max_attempts = MAX_ATTEMPTS, reason = %reason, "notification delivery given up (dead letter)");
        Ok(Report {
            failed: 1,
            ..Report::default()
        })
    }

    /// The scheduled run: sends every held notification that is due as one digest per
    /// tenant and channel, and makes every retry that is due.
    ///
    /// # Errors
    /// Table failures (the next run picks up what is left).
    pub async fn flush(&self) -> Result<Report> {
        let now = self.clock.now().unix_seconds();
        // What is due in every shard (each sorted by due time), the earliest MAX_FLUSH.
        let mut due: Vec<Item> = Vec::new();
        for pk in tillbridge_ports::table::all_shards(DUE_PK) {
            let mut taken = 0;
            let mut after: Option<String> = None;
            'pages: loop {
                let page = self.table.query(&pk, "", after.as_deref(), 100).await?;
                for item in page.items {
                    if taken >= MAX_FLUSH || due_of(&item.sk).is_none_or(|d| d > now) {
                        break 'pages;
                    }
                    taken += 1;
                    due.push(item);
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
        }
        due.sort_by(|a, b| a.sk.cmp(&b.sk));
        due.truncate(MAX_FLUSH);
        let mut report = Report::default();
        // Held notifications grouped per tenant and channel, in due order.
        let mut batches: BTreeMap<(String, String), Vec<(Item, Held)>> = BTreeMap::new();
        for item in due {
            if item.sk.contains("#retry#") {
                match item.doc::<Pending>() {
                    Ok(p) => report.add(self.attempt(p).await?),
                    Err(e) => warn!(sk = %item.sk, error = %e, "dropping a corrupt retry"),
                }
                self.table
                    .delete(&item.pk, &item.sk, Condition::Always)
                    .await?;
            } else {
                match item.doc::<Held>() {
                    Ok(h) => {
                        let key = (h.tenant.to_string(), channel_key(&h.channel));
                        batches.entry(key).or_default().push((item, h));
                    }
                    Err(e) => {
                        warn!(sk = %item.sk, error = %e, "dropping a corrupt held notification");
                        self.table
                            .delete(&item.pk, &item.sk, Condition::Always)
                            .await?;
                    }
                }
            }
        }
        for batch in batches.into_values() {
            report.add(self.send_digest(&batch).await?);
            for (item, _) in &batch {
                self.table
                    .delete(&item.pk, &item.sk, Condition::Always)
                    .await?;
            }
        }
        if report != Report::default() {
            info!(
                sent = report.sent,
                retrying = report.retrying,
                failed = report.failed,
                "notification flush"
            );
        }
        Ok(report)
    }

    async fn send_digest(&self, batch: &[(Item, Held)]) -> Result<Report> {
        let Some((_, first)) = batch.first() else {
            return Ok(Report::default());
        };
        let ids: Vec<&str> = batch.iter().map(|(i, _)| i.sk.as_str()).collect();
        let id = hex_id(&ids);
        if let Channel::Customers = first.channel {
            // Customer messages are never combined: each goes as it is.
            let mut report = Report::default();
            for (item, h) in batch {
                let one = hex_id(&[&item.sk]);
                report.add(
                    self.deliver(
                        &h.tenant,
                        &h.channel,
                        &one,
                        &h.event_type,
                        &h.subject,
                        &h.body,
                        Value::Null,
                        h.migration_id.as_deref(),
                    )
                    .await?,
                );
            }
            return Ok(report);
        }
        let n = batch.len();
        let subject = match first.language {
            Language::En => format!("{}: {n} notifications", first.tenant_name),
            Language::Sv => format!("{}: {n} aviseringar", first.tenant_name),
        };
        let body = batch
            .iter()
            .map(|(_, h)| format!("• {}\n  {}", h.subject, h.body))
            .collect::<Vec<_>>()
            .join("\n\n");
        let data = json!({
            "tenant_id": first.tenant,
            "notifications": batch.iter().map(|(_, h)| json!({
                "type": h.event_type,
                "event_id": h.event_id,
                "level": h.level,
                "subject": h.subject,
                "body": h.body,
            })).collect::<Vec<_>>(),
        });
        self.deliver(
            &first.tenant,
            &first.channel,
            &id,
            DIGEST_TYPE,
            &subject,
            &body,
            data,
            None,
        )
        .await
    }
}

/// The `type` of a digest delivery.
pub const DIGEST_TYPE: &str = "notification.digest";

fn migration_of(event: &Envelope) -> Option<String> {
    match &event.body {
        tillbridge_domain::EventData::MigrationApplied(a) => Some(a.migration_id.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
