//! Full sync of a fake Square catalog served in-process: wall time, API calls, peak memory.
//!
//! ```text
//! cargo run --release -p tillbridge-connectors --features fake --example square_full_sync -- [ITEMS] [RATE_PER_SECOND]
//! ```
//! ITEMS (10000) items of one variation each, stock at two locations; RATE (10, Square's
//! default in this crate; 0 = unlimited). Peak memory is the process's VmHWM, fake server and
//! its catalog included (the baseline before the sync is printed too).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tillbridge_connectors::fake::square::{Catalog, FakeSquare};
use tillbridge_connectors::http::RateLimit;
use tillbridge_connectors::{Env, HttpConfig, SquareClient, VendorApi, pull};
use tillbridge_domain::{Provider, Secret, Timestamp};
use tillbridge_ports::memory::MemoryTable;
use tillbridge_ports::{Clock, SystemClock};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let items: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let rate: u32 = args.next().map_or(Ok(10), |a| a.parse())?;
    let at = Timestamp::from_unix_seconds(1_735_689_600).ok_or("time")?;
    let fake = FakeSquare::start("bench-token", Catalog::generated(items, 1, at)).await?;
    let baseline = peak_rss_kib();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let env = Env {
        table: Arc::new(MemoryTable::new(clock.clone())),
        clock,
    };
    let mut config = HttpConfig::for_vendor(Provider::Square);
    config.rate = if rate == 0 {
        RateLimit::per_second(1_000_000)
    } else {
        RateLimit::per_second(rate)
    };
    config.timeout = Duration::from_secs(60);
    let client = SquareClient::new(
        Some(&fake.server.base_url),
        &Secret::new("bench-token"),
        config,
        &env,
    )?;
    let started = Instant::now();
    let pulled = pull(&client, None).await?;
    let wall = started.elapsed();
    let stats = client.stats();
    println!(
        "{{\"items\": {}, \"fetched\": {}, \"rate_per_second\": {}, \"wall_ms\": {}, \"api_calls\": {}, \"retries\": {}, \"peak_rss_kib\": {}, \"rss_before_sync_kib\": {}}}",
        pulled.items.len(),
        pulled.fetched,
        rate,
        wall.as_millis(),
        stats.api_calls,
        stats.retries,
        peak_rss_kib(),
        baseline
    );
    Ok(())
}
