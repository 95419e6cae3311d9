//! A `tillbridge serve` process on a free port with its own state directory, and a tiny
//! HTTP/1.1 client (std only) to talk to it.
#![allow(dead_code, clippy::unwrap_used)]

pub mod cloud;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tillbridge_domain::Provider;
use tillbridge_webhooks::sign::{SignOptions, sign};

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub state: PathBuf,
}

pub const TENANTS: &str = r#"{"tenants":[
 {"tenant_id":"t1","currency":"USD","max_body_bytes":65536,"monthly_budget_usd":"5","providers":{"shopify":{"secret":"shp-secret"}}},
 {"tenant_id":"t2","currency":"USD","providers":{"shopify":{"secret":"other"}}}]}"#;

pub fn temp_state(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tillbridge-e2e-{name}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Server {
    pub fn start(state: PathBuf) -> Server {
        Self::start_with(state, &[], &[])
    }

    /// With extra `serve` flags and environment variables (e.g. `--backend aws`).
    pub fn start_with(state: PathBuf, args: &[&str], envs: &[(&str, String)]) -> Server {
        Self::start_with_tenants(state, TENANTS, args, envs)
    }

    /// With a tenants file of its own. Debugging: `E2E_STDERR=1` shows the server's logs,
    /// `E2E_LOG` sets their filter (default `warn`).
    pub fn start_with_tenants(
        state: PathBuf,
        tenants_json: &str,
        args: &[&str],
        envs: &[(&str, String)],
    ) -> Server {
        let tenants = state.join("tenants-under-test.json");
        std::fs::write(&tenants, tenants_json).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tillbridge-under-test"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--log-format",
                "text",
                "--visibility-timeout-secs",
                "2",
            ])
            .arg("--state")
            .arg(state.join("store"))
            .arg("--tenants")
            .arg(&tenants)
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .env(
                "RUST_LOG",
                std::env::var("E2E_LOG").unwrap_or("warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("E2E_STDERR").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, addr, state }
    }

    /// SIGTERM and wait: a graceful stop.
    pub fn stop(mut self) -> PathBuf {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
        self.state.clone()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.state.clone()
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> (u16, String) {
        request(&self.addr, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, &[], b"")
    }

    /// Polls until `f` holds or the deadline passes.
    pub fn eventually(&self, what: &str, timeout: Duration, mut f: impl FnMut(&Server) -> bool) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if f(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    if s.write_all(head.as_bytes()).is_err() {
        return (0, String::new());
    }
    // The server may answer (413) before reading the whole body; ignore a broken pipe.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The X-Shopify-Hmac-Sha256 value of `body`, from tillbridge-webhooks' signer.
pub fn shopify_sig(secret: &str, body: &[u8]) -> String {
    sign(
        Provider::Shopify,
        secret.as_bytes(),
        body,
        &SignOptions::default(),
    )
    .expect("signs")
    .into_iter()
    .find(|(name, _)| name == "X-Shopify-Hmac-Sha256")
    .map(|(_, value)| value)
    .expect("a Shopify signature header")
}

pub fn product(product_id: u64, variant_id: u64, price: &str, updated_at: &str) -> Vec<u8> {
    format!(r#"{{"id":{product_id},"title":"Item {product_id}","status":"active","updated_at":"{updated_at}","variants":[{{"id":{variant_id},"title":"Default Title","price":"{price}","updated_at":"{updated_at}"}}]}}"#).into_bytes()
}

/// POSTs a signed Shopify delivery; returns (status, body); status 0 when the connection failed.
pub fn post_shopify(
    addr: &str,
    tenant: &str,
    webhook_id: &str,
    body: &[u8],
    secret: &str,
) -> (u16, String) {
    let headers = [
        ("X-Shopify-Hmac-Sha256", shopify_sig(secret, body)),
        ("X-Shopify-Topic", "products/update".to_owned()),
        ("X-Shopify-Webhook-Id", webhook_id.to_owned()),
        ("Content-Type", "application/json".to_owned()),
    ];
    request(
        addr,
        "POST",
        &format!("/v1/webhooks/shopify/{tenant}"),
        &headers,
        body,
    )
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_tillbridge-under-test")
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}
