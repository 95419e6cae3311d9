use std::sync::Arc;

use tillbridge_domain::Timestamp;

use super::*;
use crate::conformance;
use crate::{ManualClock, Table};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Timestamp::from_unix_seconds(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH),
    ))
}

#[tokio::test]
async fn memory_table_meets_the_table_contract() {
    let c = clock();
    conformance::table_contract(Arc::new(MemoryTable::new(c.clone())), c).await;
}

#[tokio::test]
async fn memory_table_meets_the_transaction_contract() {
    conformance::transaction_contract(Arc::new(MemoryTable::new(clock()))).await;
}

#[tokio::test]
async fn memory_table_with_large_transactions_meets_the_transaction_contract() {
    conformance::transaction_contract(Arc::new(
        MemoryTable::new(clock()).with_max_transaction_writes(1000),
    ))
    .await;
}

#[tokio::test]
async fn table_queue_on_memory_meets_the_queue_contract() {
    let c = clock();
    conformance::queue_contract(Arc::new(MemoryTable::new(c.clone())), c).await;
}

#[tokio::test]
async fn injected_faults_surface_once() {
    let t = MemoryTable::new(clock());
    t.faults.inject(PortError::Transient("throttled".into()));
    assert!(t.get("p", "s").await.is_err_and(|e| e.is_retryable()));
    assert!(t.get("p", "s").await.is_ok());
}

#[tokio::test]
async fn blob_keys_are_checked() {
    let b = MemoryBlobStore::default();
    assert!(b.put("raw/t1/x.json", b"{}").await.is_ok());
    assert!(b.put("../etc/passwd", b"").await.is_err());
    assert!(b.put("a//b", b"").await.is_err());
    assert_eq!(
        b.list("raw/").await.ok(),
        Some(vec!["raw/t1/x.json".to_owned()])
    );
}

#[tokio::test]
async fn static_directory_meets_the_secret_store_contract() {
    conformance::secret_store_contract(&crate::tenants::StaticDirectory::default()).await;
}

#[tokio::test]
async fn memory_blob_store_lists_sizes() {
    conformance::blob_sizes_contract(&MemoryBlobStore::default()).await;
}
