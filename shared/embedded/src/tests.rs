use std::sync::Arc;

use tillbridge_domain::Timestamp;
use tillbridge_ports::table::{Condition, Item, Table};
use tillbridge_ports::{BlobStore, ManualClock, conformance};

use super::*;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Timestamp::from_unix_seconds(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH),
    ))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tillbridge-embedded-{name}-{}",
        uuid::Uuid::now_v7()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn embedded_table_meets_the_table_contract() {
    let c = clock();
    let e = Embedded::open(&temp_dir("table"), c.clone()).unwrap_or_else(|err| panic!("{err}"));
    conformance::table_contract(e.table, c).await;
}

#[tokio::test]
async fn embedded_table_meets_the_transaction_contract() {
    let e = Embedded::open(&temp_dir("tx"), clock()).unwrap_or_else(|err| panic!("{err}"));
    conformance::transaction_contract(e.table).await;
}

#[tokio::test]
async fn table_queue_on_embedded_meets_the_queue_contract() {
    let c = clock();
    let e = Embedded::open(&temp_dir("queue"), c.clone()).unwrap_or_else(|err| panic!("{err}"));
    conformance::queue_contract(e.table, c).await;
}

#[tokio::test]
async fn state_survives_reopening() {
    let dir = temp_dir("reopen");
    {
        let e = Embedded::open(&dir, clock()).unwrap_or_else(|err| panic!("{err}"));
        e.table
            .put(
                Item::new("p", "s", serde_json::Map::new()),
                Condition::IfAbsent,
            )
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        e.blobs
            .put("raw/t1/a.json", b"{\"a\":1}")
            .await
            .unwrap_or_else(|err| panic!("{err}"));
    }
    let e = Embedded::open(&dir, clock()).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        e.table
            .get("p", "s")
            .await
            .ok()
            .flatten()
            .map(|i| i.version),
        Some(1)
    );
    assert_eq!(
        e.blobs.get("raw/t1/a.json").await.ok().flatten().as_deref(),
        Some(&b"{\"a\":1}"[..])
    );
    assert_eq!(
        e.blobs.list("raw/").await.ok(),
        Some(vec!["raw/t1/a.json".to_owned()])
    );
    assert_eq!(e.blobs.get("raw/t1/missing").await.ok(), Some(None));
    assert!(e.blobs.put("../escape", b"").await.is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
