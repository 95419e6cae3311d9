//! The table port on DynamoDB: one table, partition key `pk`, sort key `sk`, a `version`
//! number every write bumps, `expires_at` as the TTL attribute, and the item's attributes
//! stored as native DynamoDB attributes (so ADD works on counters).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use base64::Engine as _;
use serde_json::{Map, Number, Value};
use tillbridge_ports::table::{Condition, Item, Page, Table, TxWrite, check_tx};
use tillbridge_ports::{Clock, PortError, Result};

use crate::error::classify;

const RESERVED: [&str; 4] = ["pk", "sk", "version", "expires_at"];
const MAX_ATTEMPTS: usize = 8;

/// The table port on DynamoDB: `pk`/`sk` string keys, a `version` number for conditional
/// writes, TTL in `expires_at` (filtered on read, since DynamoDB deletes expired items late).
pub struct DynamoTable {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoTable {
    /// The table `table` through `client`; `clock` decides expiry.
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_seconds()
    }

    fn key(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    }

    fn to_dynamo(item: &Item, version: u64) -> Result<HashMap<String, AttributeValue>> {
        let mut m = Self::key(&item.pk, &item.sk);
        m.insert("version".into(), AttributeValue::N(version.to_string()));
        if let Some(t) = item.expires_at {
            m.insert("expires_at".into(), AttributeValue::N(t.to_string()));
        }
        for (k, v) in &item.attrs {
            if RESERVED.contains(&k.as_str()) {
                return Err(PortError::Permanent(format!(
                    "attribute name {k} is reserved"
                )));
            }
            m.insert(k.clone(), to_attr(v));
        }
        Ok(m)
    }

    fn from_dynamo(m: &HashMap<String, AttributeValue>) -> Result<Item> {
        let s = |k: &str| match m.get(k) {
            Some(AttributeValue::S(s)) => Ok(s.clone()),
            _ => Err(PortError::Permanent(format!("item without {k}"))),
        };
        let n = |k: &str| match m.get(k) {
            Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
            _ => None,
        };
        let attrs: Map<String, Value> = m
            .iter()
            .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), from_attr(v)))
            .collect();
        Ok(Item {
            pk: s("pk")?,
            sk: s("sk")?,
            version: n("version")
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(0),
            expires_at: n("expires_at"),
            attrs,
        })
    }

    async fn get_raw(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("DynamoDB GetItem", e))?;
        out.item().map(Self::from_dynamo).transpose()
    }

    /// Writes if `expected` is the live version (None: absent or expired).
    async fn put_expecting(&self, item: &Item, expected: Option<u64>) -> Result<u64> {
        let version = expected.unwrap_or(0) + 1;
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::to_dynamo(item, version)?))
            .expression_attribute_values(":now", AttributeValue::N(self.now().to_string()));
        req = match expected {
            None => req.condition_expression(
                "attribute_not_exists(pk) OR (attribute_exists(expires_at) AND expires_at <= :now)",
            ),
            Some(v) => req
                .condition_expression(
                    "version = :v AND (attribute_not_exists(expires_at) OR expires_at > :now)",
                )
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
        };
        req.send()
            .await
            .map_err(|e| classify("DynamoDB PutItem", e))?;
        Ok(version)
    }
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        let now = self.now();
        Ok(self.get_raw(pk, sk).await?.filter(|i| !i.is_expired(now)))
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64> {
        match condition {
            Condition::IfAbsent => self.put_expecting(&item, None).await,
            Condition::IfVersion(v) => self.put_expecting(&item, Some(v)).await,
            Condition::Always => {
                // The new version depends on the old one: read, then write conditionally.
                for _ in 0..MAX_ATTEMPTS {
                    let live = self.get(&item.pk, &item.sk).await?.map(|i| i.version);
                    match self.put_expecting(&item, live).await {
                        Err(PortError::ConditionFailed) => continue,
                        other => return other,
                    }
                }
                Err(PortError::Transient(format!(
                    "contention writing {}/{}",
                    item.pk, item.sk
                )))
            }
        }
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> Result<()> {
        let mut req = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)));
        req = match condition {
            Condition::Always => req,
            Condition::IfAbsent => req
                .condition_expression("attribute_not_exists(pk) OR (attribute_exists(expires_at) AND expires_at <= :now)")
                .expression_attribute_values(":now", AttributeValue::N(self.now().to_string())),
            Condition::IfVersion(v) => req
                .condition_expression("version = :v AND (attribute_not_exists(expires_at) OR expires_at > :now)")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string()))
                .expression_attribute_values(":now", AttributeValue::N(self.now().to_string())),
        };
        req.send()
            .await
            .map_err(|e| classify("DynamoDB DeleteItem", e))?;
        Ok(())
    }

    async fn add(&self, pk: &str, sk: &str, deltas: &[(&str, i64)]) -> Result<Vec<i64>> {
        self.add_with(pk, sk, deltas, None).await
    }

    async fn add_expiring(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: i64,
    ) -> Result<Vec<i64>> {
        self.add_with(pk, sk, deltas, Some(expires_at)).await
    }

    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page> {
        let now = self.now();
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()));
        req = if prefix.is_empty() {
            req.key_condition_expression("pk = :pk")
        } else {
            req.key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
        };
        if let Some(after) = start_after {
            req = req.set_exclusive_start_key(Some(Self::key(pk, after)));
        }
        let out = req
            .send()
            .await
            .map_err(|e| classify("DynamoDB Query", e))?;
        let items = out
            .items()
            .iter()
            .map(Self::from_dynamo)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|i| !i.is_expired(now))
            .collect();
        let next = out.last_evaluated_key().and_then(|k| match k.get("sk") {
            Some(AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        });
        Ok(Page { items, next })
    }

    async fn transact(&self, writes: Vec<TxWrite>) -> Result<()> {
        check_tx(&writes, tillbridge_ports::table::MAX_TX_WRITES)?;
        let now = AttributeValue::N(self.now().to_string());
        let absent =
            "attribute_not_exists(pk) OR (attribute_exists(expires_at) AND expires_at <= :now)";
        let at_version = "version = :v AND (attribute_not_exists(expires_at) OR expires_at > :now)";
        let mut items = Vec::with_capacity(writes.len());
        for w in writes {
            let item = match w {
                TxWrite::Put { item, condition } => {
                    // The version written depends on the live one: an unconditional put
                    // reads it and then requires it, so a race fails the whole transaction.
                    let expected = match condition {
                        Condition::IfAbsent => None,
                        Condition::IfVersion(v) => Some(v),
                        Condition::Always => self.get(&item.pk, &item.sk).await?.map(|i| i.version),
                    };
                    let mut put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(Self::to_dynamo(&item, expected.unwrap_or(0) + 1)?))
                        .expression_attribute_values(":now", now.clone());
                    put = match expected {
                        None => put.condition_expression(absent),
                        Some(v) => put
                            .condition_expression(at_version)
                            .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
                    };
                    TransactWriteItem::builder()
                        .put(
                            put.build()
                                .map_err(|e| PortError::Permanent(e.to_string()))?,
                        )
                        .build()
                }
                TxWrite::Add { pk, sk, deltas } => self.tx_add(&pk, &sk, &deltas)?,
                TxWrite::Delete { pk, sk, condition } => {
                    self.tx_delete(&pk, &sk, condition, &now, absent, at_version)?
                }
            };
            items.push(item);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(transact_error(e)),
        }
    }
}

impl DynamoTable {
    /// One atomic ADD of counters (and the version) in a transaction.
    fn tx_add(&self, pk: &str, sk: &str, deltas: &[(String, i64)]) -> Result<TransactWriteItem> {
        let mut expr = String::from("ADD #version :one");
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":one", AttributeValue::N("1".into()));
        for (i, (name, delta)) in deltas.iter().enumerate() {
            if RESERVED.contains(&name.as_str()) {
                return Err(PortError::Permanent(format!(
                    "attribute name {name} is reserved"
                )));
            }
            expr.push_str(&format!(", #a{i} :d{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(
                    format!(":d{i}"),
                    AttributeValue::N(delta.to_string()),
                );
        }
        Ok(TransactWriteItem::builder()
            .update(
                update
                    .update_expression(expr)
                    .build()
                    .map_err(|e| PortError::Permanent(e.to_string()))?,
            )
            .build())
    }

    /// One conditional delete in a transaction.
    fn tx_delete(
        &self,
        pk: &str,
        sk: &str,
        condition: Condition,
        now: &AttributeValue,
        absent: &str,
        at_version: &str,
    ) -> Result<TransactWriteItem> {
        let mut delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)));
        delete = match condition {
            Condition::Always => delete,
            Condition::IfAbsent => delete
                .condition_expression(absent)
                .expression_attribute_values(":now", now.clone()),
            Condition::IfVersion(v) => delete
                .condition_expression(at_version)
                .expression_attribute_values(":v", AttributeValue::N(v.to_string()))
                .expression_attribute_values(":now", now.clone()),
        };
        Ok(TransactWriteItem::builder()
            .delete(
                delete
                    .build()
                    .map_err(|e| PortError::Permanent(e.to_string()))?,
            )
            .build())
    }
}

/// A cancelled transaction: a failed condition, a transient conflict or throttle, or other.
fn transact_error(
    e: aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    >,
) -> PortError {
    let reasons: Vec<String> = e
                    .as_service_error()
                    .and_then(|s| match s {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                            Some(c.cancellation_reasons().iter().filter_map(|r| r.code().map(str::to_owned)).collect())
                        }
                        _ => None,
                    })
                    .unwrap_or_default();
    if reasons.iter().any(|r| r == "ConditionalCheckFailed") {
        PortError::ConditionFailed
    } else if reasons.iter().any(|r| {
        matches!(
            r.as_str(),
            "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
        )
    }) {
        PortError::Transient(format!(
            "DynamoDB TransactWriteItems cancelled: {}",
            reasons.join(", ")
        ))
    } else {
        classify("DynamoDB TransactWriteItems", e)
    }
}

fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(to_attr).collect()),
        Value::Object(o) => {
            AttributeValue::M(o.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

fn from_attr(a: &AttributeValue) -> Value {
    match a {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => serde_json::from_str::<Number>(n)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(n.clone())),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(l) => Value::Array(l.iter().map(from_attr).collect()),
        AttributeValue::M(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect())
        }
        AttributeValue::Ss(s) => Value::Array(s.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(
            ns.iter()
                .map(|n| from_attr(&AttributeValue::N(n.clone())))
                .collect(),
        ),
        AttributeValue::B(b) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
        }
        AttributeValue::Bs(bs) => Value::Array(
            bs.iter()
                .map(|b| {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

impl DynamoTable {
    /// UpdateItem ADD of the deltas (and the version), with SET of the expiry when given.
    async fn add_with(
        &self,
        pk: &str,
        sk: &str,
        deltas: &[(&str, i64)],
        expires_at: Option<i64>,
    ) -> Result<Vec<i64>> {
        let mut expr = String::from("ADD #version :one");
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew);
        for (i, (name, delta)) in deltas.iter().enumerate() {
            if RESERVED.contains(name) {
                return Err(PortError::Permanent(format!(
                    "attribute name {name} is reserved"
                )));
            }
            expr.push_str(&format!(", #a{i} :d{i}"));
            req = req
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(
                    format!(":d{i}"),
                    AttributeValue::N(delta.to_string()),
                );
        }
        if let Some(t) = expires_at {
            expr.push_str(" SET #exp = :exp");
            req = req
                .expression_attribute_names("#exp", "expires_at")
                .expression_attribute_values(":exp", AttributeValue::N(t.to_string()));
        }
        let out = req
            .update_expression(expr)
            .send()
            .await
            .map_err(|e| classify("DynamoDB UpdateItem", e))?;
        let attrs = out.attributes().cloned().unwrap_or_default();
        deltas
            .iter()
            .map(|(name, _)| match attrs.get(*name) {
                Some(AttributeValue::N(n)) => n
                    .parse()
                    .map_err(|_| PortError::Permanent(format!("{name} is not an integer"))),
                _ => Err(PortError::Permanent(format!("{name} missing after ADD"))),
            })
            .collect()
    }
}
