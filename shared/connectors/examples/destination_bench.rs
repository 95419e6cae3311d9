//! Measurement (issue 15): 10,000 items — 2,500 products × 4 variations, each stocked — written
//! into one fake vendor through its [`Destination`] writer, then rolled back with
//! verification; prints wall time, API calls, retries and peak memory (`VmHWM`).
//!
//! ```text
//! cargo run -p tillbridge-connectors --example destination_bench --features fake --release -- square
//! target/release/examples/destination_bench shopify [products] [rate scale]
//! ```
//!
//! Rates are each vendor's documented limit ([`RateLimit::documented`]) times the scale
//! (default: Square 1 — its real 10 requests/s —, Shopify 100, Zettle 25: at their real
//! limits the read-backs alone would take hours). One vendor per run, so the peak memory is
//! that vendor's. The fakes run in this process (their memory is included).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use rust_decimal::Decimal;
use tillbridge_connectors::fake::shopify::{FakeShopify, Shop};
use tillbridge_connectors::fake::square::{Catalog, FakeSquare};
use tillbridge_connectors::fake::zettle::{FakeZettle, Organization};
use tillbridge_connectors::fake::zettle_write::STORE;
use tillbridge_connectors::http::RateLimit;
use tillbridge_connectors::{
    Destination, Env, HttpConfig, Journal, Parent, ShopifyClient, SquareClient, UndoResult,
    ZettleClient, prior_states, rollback,
};
use tillbridge_domain::{CatalogItem, Currency, Provider, Secret};
use tillbridge_ports::memory::MemoryTable;
use tillbridge_ports::{Clock, SystemClock};

const VARIATIONS: usize = 4;

/// Product `B{i}` with four sizes at 10.00 USD + i cents, 3 in stock each at `location`.
fn product(i: usize, location: &str) -> Parent {
    let variations = (0..VARIATIONS)
        .map(|v| CatalogItem {
            external_id: format!("B{i}-{v}"),
            parent_id: Some(format!("B{i}")),
            name: Some(format!("Bench product {i}")),
            variant_name: Some(format!("Size {v}")),
            sku: Some(format!("BENCH-{i}-{v}")),
            price_minor: Some(1000 + i64::try_from(i % 1000).unwrap_or(0)),
            currency: Some(Currency::USD),
            category: Some(format!("Bench {}", i % 10)),
            description: Some("Benchmark item".into()),
            is_active: Some(true),
            stock_by_location: [(location.to_owned(), Decimal::from(3))].into(),
            ..CatalogItem::default()
        })
        .collect();
    Parent {
        source_id: format!("B{i}"),
        variations,
        existing_id: None,
        redirect_from: Vec::new(),
    }
}

/// The peak resident set size so far, from `/proc/self/status` (`VmHWM`), in kB.
fn peak_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn config(vendor: Provider, scale: u32) -> HttpConfig {
    let mut c = HttpConfig::for_vendor(vendor);
    let d = RateLimit::documented(vendor);
    let mul = |n: NonZeroU32| NonZeroU32::new(n.get().saturating_mul(scale)).unwrap_or(n);
    c.rate = RateLimit {
        per_second: mul(d.per_second),
        burst: if d.burst.get() > 1 {
            mul(d.burst)
        } else {
            d.burst
        },
    };
    c
}

async fn measure(
    vendor: &str,
    dest: &dyn Destination,
    parents: &[Parent],
    objects: impl Fn() -> usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let items: usize = parents.iter().map(|p| p.variations.len()).sum();
    let migration = "bench-m1";
    let started = Instant::now();
    let mut journal = Journal::default();
    for (source, prior) in prior_states(dest, parents, &journal).await? {
        journal.record_prior(&source, prior);
    }
    // As the migration layer does: 50 products a call, the journal kept after each.
    for chunk in parents.chunks(50) {
        let report = dest.upsert(migration, chunk, &journal).await?;
        for o in report.outcomes {
            journal.record(o);
        }
        if let Some(e) = report.stopped {
            return Err(format!("{vendor}: the write stopped: {e}").into());
        }
    }
    let wrote = started.elapsed();
    let after_write = dest.stats();
    let created = objects();
    let peak_write = peak_kb().unwrap_or(0);
    let failed = journal
        .entries
        .values()
        .filter(|o| matches!(o.action, tillbridge_connectors::Action::Failed { .. }))
        .count();

    let started = Instant::now();
    let undone = rollback(dest, migration, &journal).await?;
    let rolled = started.elapsed();
    let total = dest.stats();
    let verified = undone
        .iter()
        .filter(|u| u.result == UndoResult::Deleted && u.verified)
        .count();
    println!(
        "{vendor}: {items} items in {} products: write {:.1} s, {} API calls, {} retries, \
         {created} products at the fake, {failed} failed; rollback {:.1} s, {} API calls, {} retries, \
         {verified} deleted and verified, {} left at the fake; peak RSS {:.1} MB after the write, \
         {:.1} MB at the end",
        parents.len(),
        wrote.as_secs_f64(),
        after_write.api_calls,
        after_write.retries,
        rolled.as_secs_f64(),
        total.api_calls - after_write.api_calls,
        total.retries - after_write.retries,
        objects(),
        peak_write as f64 / 1024.0,
        peak_kb().unwrap_or(0) as f64 / 1024.0,
    );
    if verified != parents.len() || objects() != 0 {
        return Err(format!("{vendor}: rollback incomplete").into());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let vendor = args.first().map_or("square", String::as_str).to_owned();
    let products: usize = args.get(1).map_or(Ok(2500), |a| a.parse())?;
    let default_scale = match vendor.as_str() {
        "shopify" => 100,
        "zettle" => 25,
        _ => 1,
    };
    let scale: u32 = args.get(2).map_or(Ok(default_scale), |a| a.parse())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let env = Env {
            table: Arc::new(MemoryTable::new(clock.clone())),
            clock,
        };
        let token = Secret::new("bench-token");
        eprintln!("{vendor}: {products} products × {VARIATIONS}, rates × {scale}");
        match vendor.as_str() {
            "square" => {
                let catalog = Catalog {
                    locations: vec![("L1".into(), "Main".into())],
                    list_page: 100,
                    ..Catalog::default()
                };
                let fake = FakeSquare::start("bench-token", catalog).await?;
                let client = SquareClient::new(
                    Some(&fake.server.base_url),
                    &token,
                    config(Provider::Square, scale),
                    &env,
                )?;
                let parents: Vec<Parent> = (0..products).map(|i| product(i, "L1")).collect();
                let live = || fake.catalog().items.iter().filter(|i| !i.deleted).count();
                measure("square", &client, &parents, live).await
            }
            "shopify" => {
                // The fake's bucket scaled as the client's rate: it answers THROTTLED beyond.
                let shop = Shop {
                    maximum_available: 2000.0 * f64::from(scale),
                    restore_rate: 100.0 * f64::from(scale),
                    ..Shop::default()
                };
                let fake = FakeShopify::start("bench-token", shop).await?;
                let client = ShopifyClient::new(
                    &fake.server.base_url,
                    &token,
                    Currency::USD,
                    config(Provider::Shopify, scale),
                    &env,
                )?;
                let parents: Vec<Parent> = (0..products).map(|i| product(i, "L1")).collect();
                measure("shopify", &client, &parents, || fake.shop().products.len()).await
            }
            "zettle" => {
                let org = Organization {
                    products: Vec::new(),
                    currency: "USD".into(),
                    page: 100,
                };
                let fake = FakeZettle::start("bench-token", org).await?;
                let client = ZettleClient::new(
                    Some(&fake.server.base_url),
                    &token,
                    config(Provider::Zettle, scale),
                    &env,
                )?;
                let parents: Vec<Parent> = (0..products).map(|i| product(i, STORE)).collect();
                measure("zettle", &client, &parents, || fake.product_count()).await
            }
            other => Err(format!("unknown vendor {other} (square, shopify, zettle)").into()),
        }
    })
}
