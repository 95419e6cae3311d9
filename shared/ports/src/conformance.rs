//! Behaviour every implementation of the table and queue ports must show. Each
//! implementation's tests run these against it (in-memory, embedded, AWS on moto).
//! Functions panic on a violation, like assertions.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::table::{Condition, Item, Table, TxWrite, query_all};
use crate::{ManualClock, PortError, Queue, TableQueue};

fn attrs(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// `table` must be empty and read time from `clock`.
pub async fn table_contract(table: Arc<dyn Table>, clock: Arc<ManualClock>) {
    let t = table.as_ref();
    // put-if-absent
    assert_eq!(
        t.put(
            Item::new("p", "a", attrs(json!({"n": 1}))),
            Condition::IfAbsent
        )
        .await,
        Ok(1)
    );
    assert_eq!(
        t.put(
            Item::new("p", "a", attrs(json!({"n": 2}))),
            Condition::IfAbsent
        )
        .await,
        Err(PortError::ConditionFailed)
    );
    assert_eq!(t.get("p", "a").await.unwrap().unwrap().attrs["n"], 1);
    // put-if-version
    assert_eq!(
        t.put(
            Item::new("p", "a", attrs(json!({"n": 3}))),
            Condition::IfVersion(2)
        )
        .await,
        Err(PortError::ConditionFailed)
    );
    assert_eq!(
        t.put(
            Item::new("p", "a", attrs(json!({"n": 3}))),
            Condition::IfVersion(1)
        )
        .await,
        Ok(2)
    );
    assert_eq!(
        t.put(Item::new("p", "b", Map::new()), Condition::IfVersion(1))
            .await,
        Err(PortError::ConditionFailed)
    );
    let got = t.get("p", "a").await.unwrap().unwrap();
    assert_eq!((got.version, &got.attrs["n"]), (2, &json!(3)));
    // unconditional put bumps the version
    assert_eq!(
        t.put(
            Item::new("p", "a", attrs(json!({"n": 4}))),
            Condition::Always
        )
        .await,
        Ok(3)
    );
    // atomic add creates and accumulates
    assert_eq!(
        t.add("p", "counter", &[("x", 5), ("y", -1)]).await,
        Ok(vec![5, -1])
    );
    assert_eq!(t.add("p", "counter", &[("x", 2)]).await, Ok(vec![7]));
    // query by prefix, ordered, paged
    for sk in ["item#3", "item#1", "item#2", "other#1"] {
        t.put(Item::new("p", sk, Map::new()), Condition::Always)
            .await
            .unwrap();
    }
    t.put(Item::new("q", "item#9", Map::new()), Condition::Always)
        .await
        .unwrap();
    let page = t.query("p", "item#", None, 2).await.unwrap();
    assert_eq!(
        page.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(),
        ["item#1", "item#2"]
    );
    let rest = t
        .query("p", "item#", page.next.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(),
        ["item#3"]
    );
    assert_eq!(rest.next, None);
    assert_eq!(query_all(t, "p", "item#").await.unwrap().len(), 3);
    // delete, conditional
    assert_eq!(
        t.delete("p", "item#1", Condition::IfVersion(7)).await,
        Err(PortError::ConditionFailed)
    );
    t.delete("p", "item#1", Condition::Always).await.unwrap();
    assert_eq!(t.get("p", "item#1").await.unwrap(), None);
    // TTL: expired items are absent for reads, queries and conditions
    let now = clock.now_secs();
    t.put(
        Item::new("p", "ttl", Map::new()).expiring_at(now + 10),
        Condition::Always,
    )
    .await
    .unwrap();
    assert!(t.get("p", "ttl").await.unwrap().is_some());
    clock.advance_secs(11);
    assert_eq!(t.get("p", "ttl").await.unwrap(), None);
    assert!(query_all(t, "p", "ttl").await.unwrap().is_empty());
    assert!(
        t.put(Item::new("p", "ttl", Map::new()), Condition::IfAbsent)
            .await
            .is_ok(),
        "expired counts as absent"
    );
    // An expiring counter: adds like add, then ages out.
    let now = clock.now_secs();
    assert_eq!(
        t.add_expiring("p", "hourly", &[("n", 2)], now + 10)
            .await
            .unwrap(),
        vec![2]
    );
    assert_eq!(
        t.add_expiring("p", "hourly", &[("n", 3)], now + 10)
            .await
            .unwrap(),
        vec![5]
    );
    let item = t.get("p", "hourly").await.unwrap().unwrap();
    assert_eq!(item.attrs["n"], 5);
    assert_eq!(item.expires_at, Some(now + 10));
    clock.advance_secs(11);
    assert_eq!(t.get("p", "hourly").await.unwrap(), None);
}

/// All-or-nothing transactions. `table` must be empty.
pub async fn transaction_contract(table: Arc<dyn Table>) {
    let t = table.as_ref();
    let put = |sk: &str, cond| TxWrite::Put {
        item: Item::new("tx", sk, attrs(json!({"v": sk}))),
        condition: cond,
    };
    let add = |sk: &str, d: i64| TxWrite::Add {
        pk: "tx".into(),
        sk: sk.into(),
        deltas: vec![("n".into(), d)],
    };
    t.transact(vec![
        put("ledger#1", Condition::IfAbsent),
        add("total", 5),
        add("by-model", 5),
    ])
    .await
    .unwrap();
    assert_eq!(t.get("tx", "total").await.unwrap().unwrap().attrs["n"], 5);
    // The ledger entry exists: the whole transaction fails and nothing is added.
    assert_eq!(
        t.transact(vec![
            put("ledger#1", Condition::IfAbsent),
            add("total", 5),
            add("by-model", 5)
        ])
        .await,
        Err(PortError::ConditionFailed)
    );
    assert_eq!(t.get("tx", "total").await.unwrap().unwrap().attrs["n"], 5);
    assert_eq!(
        t.get("tx", "by-model").await.unwrap().unwrap().attrs["n"],
        5
    );
    // A failing version condition in the middle also rolls back the puts before it.
    let v = t.get("tx", "ledger#1").await.unwrap().unwrap().version;
    assert_eq!(
        t.transact(vec![
            put("other", Condition::IfAbsent),
            put("ledger#1", Condition::IfVersion(v + 7))
        ])
        .await,
        Err(PortError::ConditionFailed)
    );
    assert_eq!(t.get("tx", "other").await.unwrap(), None);
    t.transact(vec![
        put("ledger#1", Condition::IfVersion(v)),
        TxWrite::Delete {
            pk: "tx".into(),
            sk: "by-model".into(),
            condition: Condition::Always,
        },
    ])
    .await
    .unwrap();
    assert_eq!(
        t.get("tx", "ledger#1").await.unwrap().unwrap().version,
        v + 1
    );
    assert_eq!(t.get("tx", "by-model").await.unwrap(), None);
    // Malformed transactions are refused whole.
    assert!(matches!(
        t.transact(vec![add("a", 1), add("a", 1)]).await,
        Err(PortError::Permanent(_))
    ));
    assert!(matches!(
        t.transact(vec![]).await,
        Err(PortError::Permanent(_))
    ));
    // The backend's largest transaction is all or nothing too; one write more is refused.
    let max = t.max_transaction_writes();
    let many = |n: usize| -> Vec<TxWrite> {
        (0..n)
            .map(|i| put(&format!("big#{i:05}"), Condition::IfAbsent))
            .collect()
    };
    let mut failing = many(max - 1);
    failing.push(put("ledger#1", Condition::IfAbsent));
    assert_eq!(t.transact(failing).await, Err(PortError::ConditionFailed));
    assert_eq!(
        crate::table::query_all(t, "tx", "big#").await.unwrap(),
        vec![]
    );
    t.transact(many(max)).await.unwrap();
    assert_eq!(
        crate::table::query_all(t, "tx", "big#")
            .await
            .unwrap()
            .len(),
        max
    );
    assert!(matches!(
        t.transact(many(max + 1)).await,
        Err(PortError::Permanent(_))
    ));
    // A batched read returns what single reads return, in order.
    let keys: Vec<(String, String)> = [("tx", "big#00000"), ("tx", "absent"), ("tx", "ledger#1")]
        .iter()
        .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
        .collect();
    let mut one_by_one = Vec::new();
    for (p, s) in &keys {
        one_by_one.push(t.get(p, s).await.unwrap());
    }
    assert_eq!(t.get_many(&keys).await.unwrap(), one_by_one);
    assert_eq!(one_by_one[1], None);
}

/// At-least-once delivery, visibility timeout, redelivery and dead-lettering.
pub async fn queue_contract(table: Arc<dyn Table>, clock: Arc<ManualClock>) {
    let dlq: Arc<dyn Queue> = Arc::new(TableQueue::new("work-dlq", table.clone(), clock.clone()));
    let q = TableQueue::new("work", table.clone(), clock.clone()).with_dead_letter(dlq.clone(), 2);
    q.send("one").await.unwrap();
    q.send("two").await.unwrap();
    assert_eq!(q.depth().await.unwrap(), 2);
    let got = q.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert!(
        q.receive(10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "in flight messages are invisible"
    );
    q.delete(&got[0].receipt).await.unwrap();
    clock.advance_secs(31);
    let again = q.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].body.as_str(), again[0].receive_count), ("two", 2));
    // A stale receipt deletes nothing.
    q.delete(&got[1].receipt).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), 1);
    // Released messages come back after the delay.
    q.release(&again[0].receipt, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        q.receive(1, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance_secs(6);
    // Third receive exceeds max_receives = 2: dead-lettered, not delivered.
    assert!(
        q.receive(10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(q.depth().await.unwrap(), 0);
    let dead = dlq.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        dead.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["two"]
    );
    assert!(matches!(
        q.send(&"x".repeat(300 * 1024)).await,
        Err(PortError::TooLarge { .. })
    ));
}

/// `store` must hold no secrets for tenant `conformance`: rotation keeps the replaced secret
/// as `previous`, storing the current one again changes nothing, tenants and providers are
/// kept apart, API credentials round-trip by name, notification secrets by tenant and name.
pub async fn secret_store_contract(store: &dyn crate::SecretStore) {
    use std::collections::BTreeMap;

    use tillbridge_domain::{Provider, Secret, TenantId};

    use crate::tenants::ApiCredentials;

    let t = TenantId::parse("conformance").unwrap();
    let other = TenantId::parse("conformance-other").unwrap();
    let sq = Provider::Square;
    assert_eq!(store.webhook_secrets(&t, sq).await.unwrap(), None);
    store
        .rotate_webhook_secret(&t, sq, &Secret::new("one"))
        .await
        .unwrap();
    let s = store.webhook_secrets(&t, sq).await.unwrap().unwrap();
    assert_eq!((s.current, s.previous), (Secret::new("one"), None));
    store
        .rotate_webhook_secret(&t, sq, &Secret::new("two"))
        .await
        .unwrap();
    store
        .rotate_webhook_secret(&t, sq, &Secret::new("two"))
        .await
        .unwrap();
    let s = store.webhook_secrets(&t, sq).await.unwrap().unwrap();
    assert_eq!(s.current, Secret::new("two"));
    assert_eq!(
        s.previous,
        Some(Secret::new("one")),
        "a repeat is not a rotation"
    );
    assert_eq!(store.webhook_secrets(&other, sq).await.unwrap(), None);
    assert_eq!(
        store.webhook_secrets(&t, Provider::Shopify).await.unwrap(),
        None
    );

    assert_eq!(store.api_credentials(&t, sq).await.unwrap(), None);
    let creds = ApiCredentials::new(BTreeMap::from([
        ("access_token".to_owned(), Secret::new("EAAA-token")),
        ("refresh_token".to_owned(), Secret::new("r&t=1")),
    ]));
    store.put_api_credentials(&t, sq, &creds).await.unwrap();
    assert_eq!(store.api_credentials(&t, sq).await.unwrap(), Some(creds));
    let replaced = ApiCredentials::new(BTreeMap::from([(
        "access_token".to_owned(),
        Secret::new("EAAA-new"),
    )]));
    store.put_api_credentials(&t, sq, &replaced).await.unwrap();
    assert_eq!(store.api_credentials(&t, sq).await.unwrap(), Some(replaced));
    assert_eq!(store.api_credentials(&other, sq).await.unwrap(), None);

    // Notification webhook secrets: by name within the tenant, replaced on put.
    assert_eq!(store.notification_secret(&t, "ops").await.unwrap(), None);
    let one = Secret::new("whsec_b25lLW9uZS1vbmUtb25l");
    store
        .put_notification_secret(&t, "ops", &one)
        .await
        .unwrap();
    assert_eq!(
        store.notification_secret(&t, "ops").await.unwrap(),
        Some(one)
    );
    let two = Secret::new("whsec_dHdvLXR3by10d28tdHdv");
    store
        .put_notification_secret(&t, "ops", &two)
        .await
        .unwrap();
    assert_eq!(
        store.notification_secret(&t, "ops").await.unwrap(),
        Some(two)
    );
    assert_eq!(store.notification_secret(&t, "other").await.unwrap(), None);
    assert_eq!(
        store.notification_secret(&other, "ops").await.unwrap(),
        None
    );
    // Apart from the vendor secrets.
    assert_eq!(
        store
            .webhook_secrets(&t, sq)
            .await
            .unwrap()
            .map(|s| s.current),
        Some(Secret::new("two"))
    );
}

/// The blob store lists keys with their sizes (the storage census): only under the prefix,
/// ascending, an overwrite's new size.
pub async fn blob_sizes_contract(store: &dyn crate::BlobStore) {
    for (key, len) in [
        ("census/t1/b", 3usize),
        ("census/t1/a", 10),
        ("census/t10/c", 7),
    ] {
        store
            .put(key, &vec![1u8; len])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    store
        .put("census/t1/a", &[1u8; 5])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sized = store
        .list_sized("census/t1/")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sized,
        [("census/t1/a".to_owned(), 5), ("census/t1/b".to_owned(), 3)]
    );
    assert_eq!(store.list_sized("census/none/").await.ok(), Some(vec![]));
}
