//! Helpers shared by the connector tests.
#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tillbridge_connectors::fake::{Canned, Control};
use tillbridge_connectors::http::{BreakerPolicy, RateLimit, RetryPolicy};
use tillbridge_connectors::{ConnectorError, Env, FetchedItem, HttpConfig};
use tillbridge_domain::Timestamp;
use tillbridge_ports::memory::MemoryTable;
use tillbridge_ports::{Clock, ManualClock};

/// 2025-01-01T00:00:00Z plus `secs`.
pub fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_735_689_600 + secs).expect("in range")
}

/// An environment on an in-memory table and a manual clock.
pub fn env() -> (Env, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(at(0)));
    let table = Arc::new(MemoryTable::new(clock.clone() as Arc<dyn Clock>));
    (
        Env {
            table,
            clock: clock.clone(),
        },
        clock,
    )
}

/// Fast retries (ms), a generous rate, the production breaker.
pub fn fast(max_attempts: u32) -> HttpConfig {
    HttpConfig {
        rate: RateLimit::per_second(1000),
        retry: RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(30),
        },
        breaker: BreakerPolicy::default(),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
    }
}

/// The vendor's reason of a refusal with `status`; panics on any other outcome.
pub fn refused<T: Debug>(result: Result<T, ConnectorError>, status: u16) -> String {
    match result {
        Err(ConnectorError::Refused {
            status: s,
            vendor_reason,
            ..
        }) if s == status => vendor_reason,
        other => panic!("expected Refused ({status}), got {other:?}"),
    }
}

/// The JSON path of a malformed answer; panics on any other outcome.
pub fn malformed_path<T: Debug>(result: Result<T, ConnectorError>) -> String {
    match result {
        Err(ConnectorError::Malformed { path, .. }) => path,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// Queues `throttle` for the next request, runs `call` and checks it took at least `wait`
/// (the client waited the throttle out).
pub async fn after_throttle<T>(
    control: &Control,
    throttle: Canned,
    wait: Duration,
    call: impl Future<Output = T>,
) -> T {
    control.push(throttle, 1);
    let started = Instant::now();
    let out = call.await;
    assert!(started.elapsed() >= wait, "{:?}", started.elapsed());
    out
}

/// The items' external ids, in order.
pub fn external_ids(items: &[FetchedItem]) -> Vec<&str> {
    items.iter().map(|i| i.item.external_id.as_str()).collect()
}

/// Product `P{i}` for the destination writers' tests: `sizes` variations `S{i}-{v}` (named
/// `Size {v}` when there is more than one), SKU `SKU-{i}-{v}`, a barcode, 10.00 USD plus `i`
/// cents, category `Cat {i % 3}`, described and active, 2 in stock at L1 and 3 at L2.
pub fn sized_product(i: usize, sizes: usize) -> tillbridge_connectors::Parent {
    use std::collections::BTreeMap;

    use rust_decimal::Decimal;
    use tillbridge_domain::{CatalogItem, Currency};

    let variations = (0..sizes)
        .map(|v| CatalogItem {
            external_id: format!("S{i}-{v}"),
            parent_id: Some(format!("P{i}")),
            name: Some(format!("Product {i}")),
            variant_name: (sizes > 1).then(|| format!("Size {v}")),
            sku: Some(format!("SKU-{i}-{v}")),
            barcode: Some("012345678905".into()),
            price_minor: Some(1000 + i64::try_from(i).unwrap_or(0)),
            currency: Some(Currency::USD),
            category: Some(format!("Cat {}", i % 3)),
            description: Some("Imported".into()),
            is_active: Some(true),
            stock_by_location: BTreeMap::from([
                ("L1".to_owned(), Decimal::from(2)),
                ("L2".to_owned(), Decimal::from(3)),
            ]),
            ..CatalogItem::default()
        })
        .collect();
    tillbridge_connectors::Parent {
        source_id: format!("P{i}"),
        variations,
        existing_id: None,
        redirect_from: Vec::new(),
    }
}

/// Records every outcome in the journal, as a migration does after each call.
pub fn record_all(
    journal: &mut tillbridge_connectors::Journal,
    outcomes: Vec<tillbridge_connectors::Outcome>,
) {
    for o in outcomes {
        journal.record(o);
    }
}
