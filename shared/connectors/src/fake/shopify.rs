//! A fake Shopify Admin GraphQL endpoint: `products` with cursors and the `updated_at:>`
//! search filter, `nodes(ids:)`, `product(id:) { variants(first:, after:) }`, `locations`,
//! each product's `variants` connection paged as the query's `variants(first: N)` asks (the
//! rest behind `pageInfo { hasNextPage endCursor }`), `X-Shopify-Access-Token` auth, and the cost
//! bucket: every answer carries `extensions.cost.throttleStatus`, and a query over the
//! bucket's current level is answered `200` with a `THROTTLED` error (see
//! [`crate::shopify`] for the sources). The fake matches queries by the root field they
//! select; it does not interpret GraphQL.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::shopify_write::{self, Writes};
use super::{Canned, Running, cursor_of, lock, offset_of, require_headers, serve};
use crate::shopify::API_VERSION;

/// The shop's products (GraphQL JSON as the client's query selects it) and cost bucket.
#[derive(Debug, Clone)]
pub struct Shop {
    /// Products, each with `variants.nodes`.
    pub products: Vec<Value>,
    /// Bucket capacity (points).
    pub maximum_available: f64,
    /// Points restored per second.
    pub restore_rate: f64,
    /// The requested cost of any products or nodes query.
    pub query_cost: f64,
}

impl Default for Shop {
    fn default() -> Self {
        Self {
            products: Vec::new(),
            maximum_available: 2000.0,
            restore_rate: 100.0,
            query_cost: 812.0,
        }
    }
}

/// A product with variants (id, title, price, available at location 1, at location 2).
pub fn product(
    id: u64,
    title: &str,
    variants: &[(u64, &str, &str, i64, i64)],
    updated: Timestamp,
) -> Value {
    let nodes: Vec<Value> = variants
        .iter()
        .map(|(vid, vtitle, price, l1, l2)| {
            json!({
                "id": format!("gid://shopify/ProductVariant/{vid}"), "title": vtitle,
                "sku": format!("SKU-{vid}"), "barcode": null, "price": price,
                "createdAt": updated.to_rfc3339(), "updatedAt": updated.to_rfc3339(),
                "inventoryItem": {"id": format!("gid://shopify/InventoryItem/{}", vid + 1_000_000), "inventoryLevels": {"nodes": [
                    {"location": {"id": "gid://shopify/Location/1"}, "quantities": [{"name": "available", "quantity": l1}]},
                    {"location": {"id": "gid://shopify/Location/2"}, "quantities": [{"name": "available", "quantity": l2}]},
                ]}},
            })
        })
        .collect();
    json!({
        "id": format!("gid://shopify/Product/{id}"), "title": title, "descriptionHtml": "",
        "productType": "Apparel", "vendor": "Acme", "status": "ACTIVE",
        "createdAt": updated.to_rfc3339(), "updatedAt": updated.to_rfc3339(),
        "variants": {"pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": nodes},
    })
}

struct Inner {
    shop: Shop,
    writes: Writes,
    available: f64,
    at: Instant,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake Shopify.
pub struct FakeShopify {
    /// The server (base URL, control).
    pub server: Running,
    inner: Shared,
}

/// A guard on the shop's data.
pub struct ShopGuard<'a>(MutexGuard<'a, Inner>);

impl std::ops::Deref for ShopGuard<'_> {
    type Target = Shop;
    fn deref(&self) -> &Shop {
        &self.0.shop
    }
}

impl std::ops::DerefMut for ShopGuard<'_> {
    fn deref_mut(&mut self) -> &mut Shop {
        &mut self.0.shop
    }
}

impl FakeShopify {
    /// Serves `shop`, accepting only `X-Shopify-Access-Token: <token>`; the bucket starts full.
    ///
    /// # Errors
    /// The port could not be bound.
    pub async fn start(token: &str, shop: Shop) -> std::io::Result<Self> {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            available: shop.maximum_available,
            shop,
            writes: Writes::default(),
            at: Instant::now(),
        }));
        let router = Router::new()
            .route(
                &format!("/admin/api/{API_VERSION}/graphql.json"),
                post(graphql),
            )
            .with_state(inner.clone());
        let refusal = || {
            Canned::json(
                401,
                r#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#,
            )
        };
        let auth = require_headers(vec![("x-shopify-access-token", token.to_owned())], refusal);
        let server = serve(router, auth).await?;
        Ok(Self { server, inner })
    }

    /// The shop, to change between calls.
    pub fn shop(&self) -> ShopGuard<'_> {
        ShopGuard(lock(&self.inner))
    }

    pub(super) fn with_writes<T>(&self, f: impl FnOnce(&mut Writes) -> T) -> T {
        f(&mut lock(&self.inner).writes)
    }

    pub(super) fn with_shop<T>(&self, f: impl FnOnce(&mut Shop, &mut Writes) -> T) -> T {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        f(&mut inner.shop, &mut inner.writes)
    }
}

#[derive(Deserialize)]
struct GraphQl {
    query: String,
    #[serde(default)]
    variables: Value,
}

fn cost(inner: &Inner, requested: f64, actual: Option<f64>) -> Value {
    json!({"cost": {
        "requestedQueryCost": requested, "actualQueryCost": actual,
        "throttleStatus": {"maximumAvailable": inner.shop.maximum_available, "currentlyAvailable": inner.available.floor(), "restoreRate": inner.shop.restore_rate},
    }})
}

async fn graphql(State(s): State<Shared>, Json(q): Json<GraphQl>) -> Response {
    let mut inner = lock(&s);
    let now = Instant::now();
    let restored = now.duration_since(inner.at).as_secs_f64() * inner.shop.restore_rate;
    inner.available = (inner.available + restored).min(inner.shop.maximum_available);
    inner.at = now;
    let requested = if q.query.contains("locations(") {
        2.0
    } else if q.query.trim_start().starts_with("mutation") {
        10.0
    } else {
        inner.shop.query_cost
    };
    if inner.available < requested {
        return Json(json!({
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": cost(&inner, requested, None),
        }))
        .into_response();
    }
    inner.available -= requested;
    let gateway = || {
        (
            StatusCode::BAD_GATEWAY,
            Json(json!({"errors": "Bad Gateway"})),
        )
            .into_response()
    };
    if inner.writes.lose == usize::MAX && inner.writes.down > 0 {
        inner.writes.down -= 1;
        if inner.writes.down == 0 {
            inner.writes.lose = 0;
        }
        return gateway();
    }
    let mutation = q.query.trim_start().starts_with("mutation");
    let first = variants_first(&q.query);
    let written = {
        let inner = &mut *inner;
        shopify_write::handle(&mut inner.shop, &mut inner.writes, &q.query, &q.variables)
    };
    let data = if let Some(data) = written {
        data
    } else if q.query.contains("products(") {
        products(&inner.shop, &q.variables, first)
    } else if q.query.contains("nodes(") {
        nodes(&inner.shop, &q.variables, first)
    } else if q.query.contains("product(id:") {
        product_variants(&inner.shop, &q.variables)
    } else {
        json!({"locations": {"nodes": [{"id": "gid://shopify/Location/1", "name": "Shop"}, {"id": "gid://shopify/Location/2", "name": "Warehouse"}]}})
    };
    if mutation && inner.writes.lose > 0 && inner.writes.lose != usize::MAX {
        inner.writes.lose -= 1;
        if inner.writes.lose == 0 && inner.writes.down > 0 {
            // The connection stays down for the next requests.
            inner.writes.lose = usize::MAX;
        }
        return gateway();
    }
    Json(json!({"data": data, "extensions": cost(&inner, requested, Some(requested))}))
        .into_response()
}

/// The `N` of the query's literal `variants(first: N`; 250 (Shopify's page maximum) when
/// the query has none.
fn variants_first(query: &str) -> usize {
    query
        .split("variants(first: ")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or(250)
        .clamp(1, 250)
}

/// `connection` (`{pageInfo, nodes}`) cut to `first` nodes after the cursor `after`.
fn page_of(connection: &Value, first: usize, after: Option<&str>) -> Option<Value> {
    let all = connection["nodes"].as_array()?;
    let offset = offset_of(after)?;
    let more = offset + first < all.len();
    let nodes: Vec<&Value> = all.iter().skip(offset).take(first).collect();
    Some(json!({
        "pageInfo": {"hasNextPage": more, "endCursor": more.then(|| cursor_of(offset + first))},
        "nodes": nodes,
    }))
}

/// `product` with only the first page of its variants.
fn with_first_variants(product: &Value, first: usize) -> Value {
    let mut p = product.clone();
    if let Some(page) = page_of(&product["variants"], first, None) {
        p["variants"] = page;
    }
    p
}

/// `product(id:) { variants(first:, after:) }`; `product: null` for an unknown id.
fn product_variants(shop: &Shop, vars: &Value) -> Value {
    let first = vars["first"]
        .as_u64()
        .and_then(|f| usize::try_from(f).ok())
        .unwrap_or(50)
        .clamp(1, 250);
    let found = shop.products.iter().find(|p| {
        p["id"]
            .as_str()
            .is_some_and(|id| Some(id) == vars["id"].as_str())
    });
    match found.and_then(|p| page_of(&p["variants"], first, vars["after"].as_str())) {
        Some(page) => json!({"product": {"variants": page}}),
        None => json!({"product": null}),
    }
}

fn products(shop: &Shop, vars: &Value, variants_first: usize) -> Value {
    let since = vars["query"]
        .as_str()
        .and_then(|q| {
            q.strip_prefix("updated_at:>'")?
                .strip_suffix('\'')
                .map(str::to_owned)
        })
        .and_then(|t| Timestamp::parse_lenient(&t).ok());
    let matching: Vec<&Value> = shop
        .products
        .iter()
        .filter(|p| {
            since.is_none_or(|s| {
                p["updatedAt"]
                    .as_str()
                    .and_then(|u| Timestamp::parse_lenient(u).ok())
                    .is_some_and(|u| u > s)
            })
        })
        .collect();
    let first = vars["first"]
        .as_u64()
        .and_then(|f| usize::try_from(f).ok())
        .unwrap_or(10)
        .clamp(1, 250);
    let offset = offset_of(vars["after"].as_str()).unwrap_or(0);
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(first)
        .map(|p| with_first_variants(p, variants_first))
        .collect();
    let more = offset + first < matching.len();
    json!({"products": {
        "pageInfo": {"hasNextPage": more, "endCursor": more.then(|| cursor_of(offset + first))},
        "nodes": page,
    }})
}

fn nodes(shop: &Shop, vars: &Value, variants_first: usize) -> Value {
    let ids: Vec<&str> = vars["ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let found: Vec<Value> = ids
        .iter()
        .map(|id| {
            for p in &shop.products {
                if p["id"].as_str() == Some(id) {
                    let mut p = with_first_variants(p, variants_first);
                    p["__typename"] = "Product".into();
                    return p;
                }
                for v in p["variants"]["nodes"].as_array().into_iter().flatten() {
                    if v["id"].as_str() == Some(id) {
                        let mut v = v.clone();
                        v["__typename"] = "ProductVariant".into();
                        let mut parent = p.clone();
                        if let Some(o) = parent.as_object_mut() {
                            o.remove("variants");
                        }
                        v["product"] = parent;
                        return v;
                    }
                }
            }
            Value::Null
        })
        .collect();
    json!({ "nodes": found })
}
