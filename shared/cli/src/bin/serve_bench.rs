//! Load generator for `tillbridge serve` (README "Performance"): signed Shopify deliveries from
//! N concurrent senders, each on its own keep-alive connection, sending its next delivery as
//! soon as the previous one is answered.
//!
//! ```text
//! cargo build --release -p tillbridge-cli
//! target/release/serve-bench target/release/tillbridge [--senders 8,32,128] [--secs 10] [--dir DIR]
//! ```
//!
//! Starts `serve` (`RUST_LOG=warn`, the bundled sample tenants) on a fresh state directory,
//! measures the disk's fsync rate there (4 KiB rewrite + fdatasync for 2 s, before and after
//! the load), then for each sender count posts `products/update` deliveries (one new product
//! with one variant each) for `--secs` seconds and reports: 202s per second, 202 latency
//! (p50/p99/max), other answers, and the processing lag — from the end of the load until the
//! signature check has counted every accepted delivery and a marker delivery sent last is
//! visible in the catalog.

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use tillbridge_domain::Provider;
use tillbridge_webhooks::sign::{SignOptions, sign};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "demo-shopify-client-secret";
const TENANT: &str = "demo-cafe";

struct Conn {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// One request on the kept-alive connection (reconnecting when needed): status and body.
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let r = self.try_call(method, path, headers, body).await;
        if r.is_err() {
            self.stream = None;
        }
        r
    }

    async fn try_call(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(bad("no connection"));
        };
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: bench\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(k);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        stream.write_all(&bytes).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(bad("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad("no status"))?;
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .ok_or_else(|| bad("no content-length"))?;
        while self.buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(bad("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        if head.contains("connection: close") {
            self.stream = None;
        }
        Ok((status, self.buf[head_end..head_end + length].to_vec()))
    }
}

/// A signed `products/update` of product `n` with one variant (`10000000 + n`).
fn delivery(n: u64) -> (Vec<(String, String)>, Vec<u8>) {
    let body = serde_json::json!({
        "id": n,
        "title": format!("Tee {n}"),
        "updated_at": "2026-01-01T00:00:00Z",
        "variants": [{"id": 10_000_000 + n, "price": "19.99", "sku": format!("T{n}"),
                      "updated_at": "2026-01-01T00:00:00Z"}],
    })
    .to_string()
    .into_bytes();
    let mut headers = sign(
        Provider::Shopify,
        SECRET.as_bytes(),
        &body,
        &SignOptions::default(),
    )
    .unwrap_or_default();
    headers.push(("x-shopify-topic".into(), "products/update".into()));
    headers.push(("x-shopify-webhook-id".into(), format!("bench-{n}")));
    headers.push(("content-type".into(), "application/json".into()));
    (headers, body)
}

/// Rewrites one 4 KiB block and flushes it to the disk (fdatasync), for `secs`: flushes/s.
fn fsync_rate(dir: &Path, secs: f64) -> std::io::Result<f64> {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let block = [7u8; 4096];
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed().as_secs_f64() < secs {
        f.rewind()?;
        f.write_all(&block)?;
        f.sync_data()?;
        n += 1;
    }
    let rate = f64::from(n) / start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(rate)
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Truncation is the nearest-rank index here.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64) * p) as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

/// Counts of the signature check (every delivery it finished) from the stats route.
async fn checked(conn: &mut Conn) -> i64 {
    match conn
        .call("GET", &format!("/v1/tenants/{TENANT}/stats"), &[], b"")
        .await
    {
        Ok((200, body)) => serde_json::from_slice::<serde_json::Value>(&body)
            .map(|v| {
                ["published", "duplicates", "quarantined", "unhandled"]
                    .iter()
                    .map(|k| v[*k].as_i64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0),
        _ => 0,
    }
}

struct Phase {
    senders: usize,
    accepted: u64,
    other: u64,
    latencies_us: Vec<u32>,
    secs: f64,
}

async fn load(addr: &str, senders: usize, secs: f64, next: &std::sync::atomic::AtomicU64) -> Phase {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let tasks = (0..senders).map(|_| async {
        let mut conn = Conn::new(addr);
        let (mut ok, mut other, mut lat) = (0u64, 0u64, Vec::with_capacity(8192));
        let path = format!("/v1/webhooks/shopify/{TENANT}");
        while Instant::now() < until {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (headers, body) = delivery(n);
            let t = Instant::now();
            let r = conn.call("POST", &path, &headers, &body).await;
            let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
            match r {
                Ok((202, _)) => {
                    ok += 1;
                    lat.push(us);
                }
                _ => other += 1,
            }
        }
        (ok, other, lat)
    });
    let results = futures_util::future::join_all(tasks).await;
    let elapsed = start.elapsed().as_secs_f64();
    let mut phase = Phase {
        senders,
        accepted: 0,
        other: 0,
        latencies_us: Vec::new(),
        secs: elapsed,
    };
    for (ok, other, lat) in results {
        phase.accepted += ok;
        phase.other += other;
        phase.latencies_us.extend(lat);
    }
    phase.latencies_us.sort_unstable();
    phase
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(bin) = args.next() else {
        eprintln!(
            "usage: serve-bench TILLBRIDGE_BINARY [--senders 8,32,128] [--secs 10] [--dir DIR]"
        );
        return ExitCode::from(2);
    };
    let (mut senders, mut secs, mut dir) = (vec![8, 32, 128], 10.0, None::<PathBuf>);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--senders" => senders = v.split(',').filter_map(|s| s.parse().ok()).collect(),
            "--secs" => secs = v.parse().unwrap_or(secs),
            "--dir" => dir = Some(PathBuf::from(v)),
            _ => {
                eprintln!("unknown argument {a}");
                return ExitCode::from(2);
            }
        }
    }
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("tillbridge-serve-bench-{}", std::process::id()))
    });
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let fsync_before = fsync_rate(&dir, 2.0).unwrap_or(f64::NAN);
    let mut serve = match Command::new(&bin)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--log-format",
            "text",
            "--state",
        ])
        .arg(dir.join("state"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start {bin}: {e}");
            return ExitCode::from(1);
        }
    };
    let mut line = String::new();
    if let Some(out) = serve.stdout.take() {
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
    }
    let addr = line
        .trim()
        .trim_start_matches("listening on http://")
        .to_owned();
    let next = std::sync::atomic::AtomicU64::new(1);
    let mut rows = Vec::new();
    rt.block_on(async {
        let mut probe = Conn::new(&addr);
        let mut total = 0u64;
        for &n in &senders {
            let phase = load(&addr, n, secs, &next).await;
            total += phase.accepted;
            // The marker: the last delivery of the phase, its item looked up in the catalog.
            let marker = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (headers, body) = delivery(marker);
            let sent = Instant::now();
            let marked = matches!(
                probe
                    .call(
                        "POST",
                        &format!("/v1/webhooks/shopify/{TENANT}"),
                        &headers,
                        &body
                    )
                    .await,
                Ok((202, _))
            );
            if marked {
                total += 1;
            }
            let item = format!("/v1/tenants/{TENANT}/items/{}", 10_000_000 + marker);
            let mut lag = None;
            while sent.elapsed() < Duration::from_secs(300) {
                let visible = matches!(probe.call("GET", &item, &[], b"").await, Ok((200, _)));
                if visible && u64::try_from(checked(&mut probe).await).unwrap_or(0) >= total {
                    lag = Some(sent.elapsed().as_secs_f64());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            #[allow(clippy::cast_precision_loss)]
            let rate = phase.accepted as f64 / phase.secs;
            let row = serde_json::json!({
                "senders": phase.senders,
                "seconds": (phase.secs * 100.0).round() / 100.0,
                "accepted": phase.accepted,
                "accepted_per_s": rate.round(),
                "other_answers": phase.other,
                "202_ms": {
                    "p50": pct(&phase.latencies_us, 0.5),
                    "p99": pct(&phase.latencies_us, 0.99),
                    "max": pct(&phase.latencies_us, 1.0),
                },
                "processing_lag_s": lag.map(|l| (l * 1000.0).round() / 1000.0),
            });
            eprintln!("{row}");
            rows.push(row);
        }
    });
    let _ = serve.kill();
    let _ = serve.wait();
    let fsync_after = fsync_rate(&dir, 2.0).unwrap_or(f64::NAN);
    println!(
        "{:#}",
        serde_json::json!({
            "fsyncs_per_s": {"before": fsync_before.round(), "after": fsync_after.round()},
            "phases": rows,
        })
    );
    let _ = std::fs::remove_dir_all(&dir);
    ExitCode::SUCCESS
}
