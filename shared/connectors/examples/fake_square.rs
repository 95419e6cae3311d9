//! A fake Square API on a local port, for trying `tillbridge sync` and `serve`'s
//! fetch-on-notify by hand and for the benchmarks in the README:
//!
//! ```text
//! cargo run --release -p tillbridge-connectors --features fake --example fake_square -- 10000 2 tok
//! ```
//! Arguments: items, variations per item, the access token it accepts. Prints its base URL,
//! then, every second while requests come in, how many it has answered; runs until killed.

use tillbridge_connectors::fake::square::{Catalog, FakeSquare};
use tillbridge_domain::Timestamp;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (items, variations) = (arg(1, 1000), arg(2, 1));
    let token = args.get(3).cloned().unwrap_or_else(|| "tok".to_owned());
    let at = Timestamp::parse_rfc3339("2026-03-01T09:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
    let fake = match FakeSquare::start(&token, Catalog::generated(items, variations, at)).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot start: {e}");
            std::process::exit(2);
        }
    };
    println!("{}", fake.server.base_url);
    let mut last = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let n = fake.server.control.requests();
        if n != last {
            eprintln!("requests answered: {n}");
            last = n;
        }
    }
}
