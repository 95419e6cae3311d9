//! The queue port (SQS semantics) and a queue built on the table port.
//!
//! At-least-once: a received message stays invisible for the visibility timeout and comes
//! back unless deleted; after `max_receives` receives it moves to the dead-letter queue.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::table::{Condition, Item, Table};
use crate::{Clock, PortError, Result};

/// SQS's limit on one message.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// One received message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The message's id, stable across receives.
    pub id: String,
    /// Handle for delete/release; valid until the message is received again.
    pub receipt: String,
    /// The text sent (at most [`MAX_MESSAGE_BYTES`] bytes).
    pub body: String,
    /// 1 on the first receive.
    pub receive_count: u32,
}

/// An at-least-once queue (SQS in the cloud, [`TableQueue`] locally). Calls fail with
/// [`PortError::Transient`] on backend hiccups (retry), [`PortError::TooLarge`] for a body
/// over [`MAX_MESSAGE_BYTES`], [`PortError::Permanent`] otherwise.
#[async_trait]
pub trait Queue: Send + Sync {
    /// The queue's name (for logs and the local table partition).
    fn name(&self) -> &str;

    /// Returns once the message is durably stored.
    async fn send(&self, body: &str) -> Result<String>;

    /// Up to `max` visible messages, each hidden from other receivers for `visibility`;
    /// empty when none is visible.
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Message>>;

    /// Acknowledges a processed message.
    async fn delete(&self, receipt: &str) -> Result<()>;

    /// Makes a message visible again after `delay` (a failed attempt).
    async fn release(&self, receipt: &str, delay: Duration) -> Result<()>;

    /// Messages stored, visible or not.
    async fn depth(&self) -> Result<usize>;
}

/// A queue stored in a table partition `queue#<name>`; sort keys are time-ordered ids.
pub struct TableQueue {
    name: String,
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    max_receives: u32,
    dead_letter: Option<Arc<dyn Queue>>,
}

impl TableQueue {
    /// The queue `name` in `table`, with no dead-letter queue (add one with
    /// [`TableQueue::with_dead_letter`]); `clock` times visibility.
    pub fn new(name: impl Into<String>, table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self {
            name: name.into(),
            table,
            clock,
            max_receives: 5,
            dead_letter: None,
        }
    }

    /// Moves a message to `dlq` when it is received more than `max_receives` times.
    pub fn with_dead_letter(mut self, dlq: Arc<dyn Queue>, max_receives: u32) -> Self {
        self.dead_letter = Some(dlq);
        self.max_receives = max_receives.max(1);
        self
    }

    fn pk(&self) -> String {
        format!("queue#{}", self.name)
    }

    fn now_nanos(&self) -> i64 {
        self.clock.now().unix_nanos()
    }
}

fn int(attrs: &Map<String, Value>, key: &str) -> i64 {
    attrs.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn parse_receipt(receipt: &str) -> Result<(&str, u64)> {
    let (sk, version) = receipt
        .rsplit_once('|')
        .ok_or_else(|| PortError::Permanent("malformed receipt".into()))?;
    let version = version
        .parse()
        .map_err(|_| PortError::Permanent("malformed receipt".into()))?;
    Ok((sk, version))
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Queue for TableQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, body: &str) -> Result<String> {
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(PortError::TooLarge {
                what: "queue message",
                limit: MAX_MESSAGE_BYTES,
            });
        }
        let id = uuid::Uuid::now_v7().to_string();
        let mut attrs = Map::new();
        attrs.insert("body".into(), Value::from(body));
        attrs.insert("receive_count".into(), Value::from(0));
        attrs.insert("visible_at".into(), Value::from(0));
        self.table
            .put(
                Item::new(self.pk(), format!("m#{id}"), attrs),
                Condition::IfAbsent,
            )
            .await?;
        Ok(id)
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Message>> {
        let pk = self.pk();
        let now = self.now_nanos();
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        while out.len() < max {
            let page = self.table.query(&pk, "m#", after.as_deref(), 200).await?;
            // Claims of one page go out together (a group-committing table makes them one
            // write); each is conditional on the version read, so a message another
            // consumer took first is skipped.
            let mut claims = Vec::new();
            for item in page.items {
                if out.len() + claims.len() >= max {
                    break;
                }
                if int(&item.attrs, "visible_at") > now {
                    continue;
                }
                let count = u32::try_from(int(&item.attrs, "receive_count"))
                    .unwrap_or(u32::MAX)
                    .saturating_add(1);
                let body = item
                    .attrs
                    .get("body")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                if count > self.max_receives
                    && let Some(dlq) = &self.dead_letter
                {
                    // Copy first, then delete: a crash in between duplicates into the DLQ
                    // rather than losing the message.
                    dlq.send(&body).await?;
                    match self
                        .table
                        .delete(&pk, &item.sk, Condition::IfVersion(item.version))
                        .await
                    {
                        Ok(()) | Err(PortError::ConditionFailed) => {}
                        Err(e) => return Err(e),
                    }
                    continue;
                }
                let mut attrs = item.attrs.clone();
                attrs.insert("receive_count".into(), Value::from(count));
                attrs.insert(
                    "visible_at".into(),
                    Value::from(now.saturating_add(nanos(visibility))),
                );
                let next = Item {
                    attrs,
                    ..item.clone()
                };
                let table = &self.table;
                claims.push(async move {
                    let claimed = table.put(next, Condition::IfVersion(item.version)).await;
                    (item.sk, body, count, claimed)
                });
            }
            for (sk, body, count, claimed) in futures_util::future::join_all(claims).await {
                match claimed {
                    Ok(version) => out.push(Message {
                        id: sk.trim_start_matches("m#").to_owned(),
                        receipt: format!("{sk}|{version}"),
                        body,
                        receive_count: count,
                    }),
                    // Another consumer took it first.
                    Err(PortError::ConditionFailed) => {}
                    Err(e) => return Err(e),
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        Ok(out)
    }

    async fn delete(&self, receipt: &str) -> Result<()> {
        let (sk, version) = parse_receipt(receipt)?;
        match self
            .table
            .delete(&self.pk(), sk, Condition::IfVersion(version))
            .await
        {
            // Received again by someone else since: they own it now.
            Ok(()) | Err(PortError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<()> {
        let (sk, version) = parse_receipt(receipt)?;
        let Some(item) = self.table.get(&self.pk(), sk).await? else {
            return Ok(());
        };
        if item.version != version {
            return Ok(());
        }
        let mut attrs = item.attrs.clone();
        attrs.insert(
            "visible_at".into(),
            Value::from(self.now_nanos().saturating_add(nanos(delay))),
        );
        match self
            .table
            .put(Item { attrs, ..item }, Condition::IfVersion(version))
            .await
        {
            Ok(_) | Err(PortError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn depth(&self) -> Result<usize> {
        Ok(
            crate::table::query_all(self.table.as_ref(), &self.pk(), "m#")
                .await?
                .len(),
        )
    }
}
