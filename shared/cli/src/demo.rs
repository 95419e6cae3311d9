//! `tillbridge demo`: plays the vendors. Signs the bundled sample payloads with the sample
//! tenants' secrets, sends them through the same ingress the HTTP API uses (plus a retry,
//! a late stale update, a forgery, an unsigned and a misaddressed request), runs the
//! pipeline on a fresh embedded store and prints what happened.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tillbridge_catalog as catalog;
use tillbridge_domain::{Provider, TenantId, Timestamp};
use tillbridge_local::LocalRuntime;
use tillbridge_ports::tenants::StaticDirectory;
use tillbridge_ports::{Clock, SystemClock};
use tillbridge_sync::ingress::IngressRequest;
use tillbridge_sync::quarantine;
use tillbridge_webhooks::Headers;
use tillbridge_webhooks::sign::{SignOptions, sign};

use crate::serve::{SAMPLE_TENANTS, open_runtime};
use crate::{Failure, Outcome};

#[derive(clap::Args)]
pub struct Args {
    /// State directory to use (default: a fresh temporary one, removed afterwards).
    #[arg(long)]
    state: Option<PathBuf>,
}

macro_rules! sample {
    ($path:literal) => {
        include_bytes!(concat!("../../../samples/webhooks/", $path)).as_slice()
    };
}

struct Delivery {
    label: String,
    provider: &'static str,
    tenant: &'static str,
    headers: Headers,
    body: Vec<u8>,
}

fn secret(dir: &Value, tenant: &str, provider: &str) -> String {
    dir["tenants"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["tenant_id"] == tenant))
        .and_then(|t| t["providers"][provider]["secret"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The headers that sign `body` as `provider` does (none when it cannot be signed).
fn signed(provider: Provider, secret: &str, body: &[u8], opts: SignOptions<'_>) -> Headers {
    sign(provider, secret.as_bytes(), body, &opts)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn shopify_product(price: &str, updated_at: &str) -> Vec<u8> {
    let mut p: Value =
        serde_json::from_slice(sample!("shopify/products.update.json")).unwrap_or(Value::Null);
    p["updated_at"] = Value::from(updated_at);
    p["variants"][0]["updated_at"] = Value::from(updated_at);
    p["variants"][0]["price"] = Value::from(price);
    p.to_string().into_bytes()
}

/// The demo's deliveries, in the order they are sent: each vendor's, then the refusals.
fn deliveries(now: Timestamp) -> Vec<Delivery> {
    let dir: Value = serde_json::from_str(SAMPLE_TENANTS).unwrap_or(Value::Null);
    let s = |t: &str, p: &str| secret(&dir, t, p);
    let mut out = shopify_deliveries(&s("demo-cafe", "shopify"));
    out.extend(square_deliveries(&s("demo-cafe", "square")));
    out.extend(other_deliveries(&s, now));
    out.extend(zettle_deliveries(&s("demo-stockholm", "zettle"), now));
    out.extend(refused_deliveries());
    out
}

/// Shopify: an update, a repricing, the vendor's retry of it, a late older update, a forgery
/// and a price typed in the wrong unit.
fn shopify_deliveries(shp: &str) -> Vec<Delivery> {
    let mut out = Vec::new();
    let mut shopify = |label: &str, webhook_id: &str, topic: &str, body: Vec<u8>, key: &str| {
        let headers = signed(Provider::Shopify, key, &body, SignOptions::default())
            .with("X-Shopify-Topic", topic)
            .with("X-Shopify-Webhook-Id", webhook_id)
            .with("X-Shopify-Shop-Domain", "demo-cafe.myshopify.com");
        out.push(Delivery {
            label: label.into(),
            provider: "shopify",
            tenant: "demo-cafe",
            headers,
            body,
        });
    };
    shopify(
        "T-Shirt at $29.99",
        "demo-w1",
        "products/update",
        shopify_product("29.99", "2025-04-22T14:30:00-05:00"),
        shp,
    );
    shopify(
        "T-Shirt repriced to $31.50",
        "demo-w2",
        "products/update",
        shopify_product("31.50", "2025-04-23T09:00:00-05:00"),
        shp,
    );
    shopify(
        "vendor retry of the repricing",
        "demo-w2",
        "products/update",
        shopify_product("31.50", "2025-04-23T09:00:00-05:00"),
        shp,
    );
    shopify(
        "late, older update ($27.00)",
        "demo-w0",
        "products/update",
        shopify_product("27.00", "2025-04-20T08:00:00-05:00"),
        shp,
    );
    shopify(
        "forged update ($0.01, wrong key)",
        "demo-evil",
        "products/update",
        shopify_product("0.01", "2030-01-01T00:00:00Z"),
        "not-the-secret",
    );
    shopify(
        "cents typed as dollars ($3150.00)",
        "demo-w3",
        "products/update",
        shopify_product("3150.00", "2025-04-24T09:00:00-05:00"),
        shp,
    );

    out
}

/// Square: stock, an order, a thin catalog notice, a test notification.
fn square_deliveries(key: &str) -> Vec<Delivery> {
    let mut out = Vec::new();
    let sq_url = "https://hooks.tillbridge.example/v1/webhooks/square/demo-cafe";
    for (label, body) in [
        (
            "stock count",
            sample!("square/inventory.count.updated.json"),
        ),
        ("order updated", sample!("square/order.updated.json")),
        (
            "catalog version changed",
            sample!("square/catalog.version.updated.json"),
        ),
        (
            "test notification",
            sample!("square/webhooks.test_notification.json"),
        ),
    ] {
        let headers = signed(
            Provider::Square,
            key,
            body,
            SignOptions {
                url: Some(sq_url),
                ..SignOptions::default()
            },
        );
        out.push(Delivery {
            label: label.into(),
            provider: "square",
            tenant: "demo-cafe",
            headers,
            body: body.to_vec(),
        });
    }

    out
}

/// Toast, Clover, WooCommerce (with its creation ping) and BigCommerce.
fn other_deliveries(s: &dyn Fn(&str, &str) -> String, now: Timestamp) -> Vec<Delivery> {
    let mut out = Vec::new();
    let toast_body = sample!("toast/stock.low_quantity.json");
    out.push(Delivery {
        label: "item running low".into(),
        provider: "toast",
        tenant: "demo-cafe",
        // Toast signs body + the envelope's timestamp, which the signer reads from the body.
        headers: signed(
            Provider::Toast,
            &s("demo-cafe", "toast"),
            toast_body,
            SignOptions::default(),
        ),
        body: toast_body.to_vec(),
    });

    let clover = format!(
        r#"{{"appId":"DEMOAPP","merchants":{{"DEMOMERCHANT":[{{"objectId":"I:KV3QZ8E6Y7","type":"UPDATE","ts":{}}},{{"objectId":"O:8YHD2KXDQW","type":"CREATE","ts":{}}}]}}}}"#,
        now.unix_seconds() * 1000,
        now.unix_seconds() * 1000
    );
    out.push(Delivery {
        label: "item and order changed (thin)".into(),
        provider: "clover",
        tenant: "demo-cafe",
        headers: Headers::new().with("X-Clover-Auth", s("demo-cafe", "clover")),
        body: clover.into_bytes(),
    });

    let woo = sample!("woocommerce/product.updated.json");
    out.push(Delivery {
        label: "product updated".into(),
        provider: "woocommerce",
        tenant: "demo-cafe",
        headers: signed(
            Provider::WooCommerce,
            &s("demo-cafe", "woocommerce"),
            woo,
            SignOptions::default(),
        )
        .with("X-WC-Webhook-Topic", "product.updated")
        .with("X-WC-Webhook-Delivery-ID", "demo-wc-1"),
        body: woo.to_vec(),
    });
    out.push(Delivery {
        label: "webhook creation ping".into(),
        provider: "woocommerce",
        tenant: "demo-cafe",
        headers: Headers::new(),
        body: b"webhook_id=12".to_vec(),
    });

    let bc = sample!("bigcommerce/store.order.created.callback.json");
    out.push(Delivery {
        label: "order created (thin)".into(),
        provider: "bigcommerce",
        tenant: "demo-cafe",
        headers: signed(
            Provider::BigCommerce,
            &s("demo-cafe", "bigcommerce"),
            bc,
            SignOptions {
                url: None,
                timestamp: now.unix_seconds(),
                message_id: Some("demo-bc-1"),
            },
        ),
        body: bc.to_vec(),
    });

    out
}

/// Zettle: the payload as a JSON string next to a timestamp, as real deliveries carry it.
fn zettle_deliveries(key: &str, now: Timestamp) -> Vec<Delivery> {
    let mut out = Vec::new();
    for (label, file) in [
        ("product updated", sample!("zettle/ProductUpdated.json")),
        (
            "stock balance changed",
            sample!("zettle/InventoryBalanceChanged.json"),
        ),
    ] {
        // Real deliveries carry the payload as a JSON string next to a timestamp.
        let mut env: Value = serde_json::from_slice(file).unwrap_or(Value::Null);
        let payload = env["payload"].to_string();
        env["payload"] = Value::from(payload);
        env["timestamp"] = Value::from(now.to_string());
        let body = env.to_string().into_bytes();
        // Zettle signs timestamp.payload, which the signer reads back from the envelope.
        let headers = signed(Provider::Zettle, key, &body, SignOptions::default());
        out.push(Delivery {
            label: label.into(),
            provider: "zettle",
            tenant: "demo-stockholm",
            headers,
            body,
        });
    }

    out
}

/// Requests the ingress refuses: unsigned, and for an unknown tenant.
fn refused_deliveries() -> Vec<Delivery> {
    let unsigned = |label: &str, tenant: &'static str| Delivery {
        label: label.into(),
        provider: "shopify",
        tenant,
        headers: Headers::new(),
        body: b"{}".to_vec(),
    };
    vec![
        unsigned("unsigned request", "demo-cafe"),
        unsigned("unknown tenant", "nobody"),
    ]
}

pub fn run(a: Args) -> Outcome {
    let temp = a
        .state
        .is_none()
        .then(|| std::env::temp_dir().join(format!("tillbridge-demo-{}", uuid::Uuid::now_v7())));
    let state = a.state.clone().or_else(|| temp.clone()).unwrap_or_default();
    let directory = StaticDirectory::from_json(SAMPLE_TENANTS)
        .map(Arc::new)
        .map_err(|e| Failure::usage(e.to_string()))?;
    let rt = crate::runtime()?;
    let result = rt.block_on(async {
        let runtime = open_runtime(&state, directory).await?;
        play(&runtime, &state).await
    });
    if let Some(t) = temp {
        let _ = std::fs::remove_dir_all(t);
    }
    result
}

/// The demo merchant's Square account: a fake Square API served in this process (Square's
/// wire format: paths, Bearer auth, cursors, inventory counts), so the thin
/// `catalog.version.updated` webhook below leads to a real fetch.
async fn connect_fake_square(
    rt: &LocalRuntime,
) -> Result<tillbridge_connectors::fake::square::FakeSquare, Failure> {
    use tillbridge_connectors::fake::square::{Catalog, FakeSquare};
    let fail = |e: &dyn std::fmt::Display| Failure::usage(format!("demo failed: {e}"));
    let token = "demo-square-access-token";
    let at = Timestamp::parse_rfc3339("2026-03-01T09:00:00Z").map_err(|e| fail(&e))?;
    let fake = FakeSquare::start(token, Catalog::generated(3, 2, at))
        .await
        .map_err(|e| fail(&e))?;
    let tenant = TenantId::parse("demo-cafe").map_err(|e| fail(&e))?;
    let mut config = rt
        .directory
        .tenant(&tenant)
        .await
        .map_err(|e| fail(&e))?
        .ok_or_else(|| fail(&"demo-cafe missing"))?;
    if let Some(p) = config.providers.get_mut(&Provider::Square) {
        p.api_base_url = Some(fake.server.base_url.clone());
    }
    rt.directory
        .put_tenant(&config)
        .await
        .map_err(|e| fail(&e))?;
    let credentials = tillbridge_ports::tenants::ApiCredentials::new(
        [(
            "access_token".to_owned(),
            tillbridge_domain::Secret::new(token),
        )]
        .into_iter()
        .collect(),
    );
    rt.secrets
        .put_api_credentials(&tenant, Provider::Square, &credentials)
        .await
        .map_err(|e| fail(&e))?;
    println!(
        "demo-cafe's Square account: a fake Square API in this process at {} (Square's wire format)",
        fake.server.base_url
    );
    Ok(fake)
}

async fn play(rt: &LocalRuntime, state: &std::path::Path) -> Outcome {
    let fail = |e: &dyn std::fmt::Display| Failure::usage(format!("demo failed: {e}"));
    println!(
        "tillbridge demo: vendor webhooks and a migration through the pipeline on the embedded store"
    );
    println!("state: {}", state.display());
    let _square = connect_fake_square(rt).await?;
    println!();
    println!("Deliveries (vendor -> POST /v1/webhooks/{{provider}}/{{tenant}})");
    for d in deliveries(SystemClock.now()) {
        let r = rt
            .ingress
            .handle(IngressRequest {
                provider: d.provider,
                tenant: d.tenant,
                headers: d.headers,
                body: &d.body,
            })
            .await;
        let note = match r.status {
            202 => "accepted, queued".to_owned(),
            200 => "handshake answered".to_owned(),
            _ => r.body["error"].as_str().unwrap_or("").to_owned(),
        };
        println!(
            "  {} {:<12} {:<15} {:<36} {note}",
            r.status, d.provider, d.tenant, d.label
        );
    }
    let report = rt.drain().await.map_err(|e| fail(&e))?;
    println!(
        "\nPipeline: {} queue messages processed, {} retried",
        report.processed, report.failed
    );

    for tenant in rt.directory.tenant_ids().await.map_err(|e| fail(&e))? {
        summarize(rt, &tenant).await.map_err(|e| fail(&e))?;
    }
    crate::migrate::demo(rt).await
}

async fn summarize(rt: &LocalRuntime, tenant: &TenantId) -> Result<(), Box<dyn std::error::Error>> {
    let stats = tillbridge_ports::table::sum_sharded(
        rt.table.as_ref(),
        &format!("stats#{tenant}"),
        "webhooks",
    )
    .await?;
    let n = |k: &str| stats.get(k).and_then(Value::as_i64).unwrap_or(0);
    println!("\nTenant {tenant}");
    println!(
        "  deliveries: {} published, {} duplicates dropped, {} quarantined, {} acknowledged without mapping",
        n("published"),
        n("duplicates"),
        n("quarantined"),
        n("unhandled")
    );
    let applied = tillbridge_ports::table::sum_sharded(
        rt.table.as_ref(),
        &format!("stats#{tenant}"),
        "catalog",
    )
    .await?;
    let a = |k: &str| applied.get(k).and_then(Value::as_i64).unwrap_or(0);
    println!(
        "  canonical events: {} applied, {} stale (older than the catalog) ignored, {} repeated, {} rejected by validation, {} recorded for a fetch",
        a("applied"),
        a("stale"),
        a("duplicate"),
        a("rejected"),
        a("recorded")
    );
    let items = catalog::list_items(rt.table.as_ref(), tenant).await?;
    println!("  catalog ({} items):", items.len());
    for i in &items {
        let price = match (i.price_minor, i.currency) {
            (Some(p), Some(c)) => format!("{} {}", c.format_minor(p), c),
            _ => "-".into(),
        };
        let qty = i.quantity_on_hand.map_or("-".to_owned(), |q| q.to_string());
        let name = [i.name.as_deref(), i.variant_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ");
        println!(
            "    {:<38} {:<40} {:>14}  qty {qty}",
            i.external_id,
            clip(&name, 40),
            price
        );
    }
    let fetches =
        tillbridge_ports::table::query_all(rt.table.as_ref(), &format!("fetch#{tenant}"), "")
            .await?;
    for provider in [Provider::Square] {
        if let Ok(state) = rt.fetcher.state(tenant, provider).await
            && let Some(r) = state.last_report
        {
            println!(
                "  fetched from the {provider} API after a thin webhook: {} objects, {} items created, {} changed, {} deleted ({} API calls, {} retries)",
                r.fetched, r.created, r.changed, r.deleted, r.api_calls, r.retries
            );
        }
    }
    if !fetches.is_empty() {
        println!(
            "  awaiting a fetch from the vendor API (thin webhooks): {}",
            fetches
                .iter()
                .map(|f| f.sk.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for r in catalog::list_rejected(rt.table.as_ref(), tenant).await? {
        for f in &r.findings {
            println!(
                "  rejected update of {} ({}): {}",
                r.external_id, f.rule, f.message
            );
        }
    }
    for q in quarantine::list(rt.table.as_ref(), tenant).await? {
        println!(
            "  quarantined {} ({}): {}",
            q.delivery_id, q.provider, q.reason
        );
    }
    Ok(())
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}
