//! A fake BigCommerce store: Catalog v3 products with `include=variants`, `page`/`limit`,
//! `meta.pagination`, `date_modified:min`, `id:in`, variants by id, inventory locations,
//! `X-Auth-Token` auth, v3 error bodies and 429 with `X-Rate-Limit-*` headers (see
//! [`crate::bigcommerce`] for the sources).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use super::{Canned, Running, lock, require_headers, serve};

/// The store's products (BigCommerce JSON, variants embedded under `variants`).
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// Products in id order.
    pub products: Vec<Value>,
}

/// A product with `variants` as (id, option label, price or null, inventory level).
pub fn product(
    id: u64,
    name: &str,
    price: &str,
    variants: &[(u64, &str, Option<&str>, i64)],
    modified: Timestamp,
) -> Value {
    let number = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    let variants: Vec<Value> = variants
        .iter()
        .map(|(vid, label, vprice, level)| {
            json!({
                "id": vid, "product_id": id, "sku": format!("SKU-{vid}"),
                "price": vprice.map_or(Value::Null, number), "calculated_price": number(vprice.unwrap_or(price)),
                "inventory_level": level, "upc": "",
                "option_values": if label.is_empty() { json!([]) } else { json!([{"id": 1, "label": label, "option_id": 1, "option_display_name": "Size"}]) },
            })
        })
        .collect();
    json!({
        "id": id, "name": name, "type": "physical", "sku": format!("P{id}"), "description": "",
        "price": number(price), "is_visible": true, "inventory_tracking": "variant",
        "date_created": rfc(modified), "date_modified": rfc(modified), "variants": variants,
    })
}

/// BigCommerce's date form (`2025-01-01T00:00:00+00:00`).
pub fn rfc(t: Timestamp) -> String {
    let text = t.to_rfc3339();
    format!("{}+00:00", text.get(..19).unwrap_or(&text))
}

/// `429` with BigCommerce's rate-limit headers.
pub fn rate_limited(reset_ms: u64) -> Canned {
    Canned::json(429, json!({"status": 429, "title": "Too many requests", "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"}).to_string())
        .header("X-Rate-Limit-Time-Reset-Ms", reset_ms.to_string())
        .header("X-Rate-Limit-Time-Window-Ms", "30000")
        .header("X-Rate-Limit-Requests-Left", "0")
        .header("X-Rate-Limit-Requests-Quota", "150")
}

pub(crate) type Shared = Arc<Mutex<Store>>;

/// A running fake BigCommerce store.
pub struct FakeBigCommerce {
    /// The server (base URL, control).
    pub server: Running,
    store: Shared,
    pub(crate) writes: super::bigcommerce_write::SharedWrites,
}

impl FakeBigCommerce {
    /// Serves `store`, accepting only `X-Auth-Token: <token>`.
    ///
    /// # Errors
    /// The port could not be bound.
    pub async fn start(token: &str, store: Store) -> std::io::Result<Self> {
        let store: Shared = Arc::new(Mutex::new(store));
        let writes = super::bigcommerce_write::SharedWrites::default();
        let router = Router::new()
            .route("/v3/catalog/products", get(products))
            .route("/v3/catalog/variants", get(variants))
            .route("/v3/inventory/locations", get(locations))
            .with_state(store.clone())
            .merge(super::bigcommerce_write::router(
                store.clone(),
                writes.clone(),
            ));
        let refusal = || {
            Canned::json(401, json!({"status": 401, "title": "Invalid credentials. Please check the X-Auth-Token header.", "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes", "errors": {}}).to_string())
        };
        let auth = require_headers(vec![("x-auth-token", token.to_owned())], refusal);
        let server = serve(router, auth).await?;
        Ok(Self {
            server,
            store,
            writes,
        })
    }

    /// The store, to change between calls.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
}

fn ids(q: &HashMap<String, String>) -> Option<Vec<u64>> {
    q.get("id:in")
        .map(|s| s.split(',').filter_map(|i| i.trim().parse().ok()).collect())
}

async fn products(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let store = lock(&s);
    let min = match q
        .get("date_modified:min")
        .map(|t| Timestamp::parse_lenient(t))
    {
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"status": 422, "title": "The filter(s): date_modified:min are not valid.", "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes", "errors": {}}))).into_response();
        }
        None => None,
    };
    let wanted = ids(&q);
    let name = q.get("name");
    let with_variants = q
        .get("include")
        .is_some_and(|i| i.split(',').any(|i| i == "variants"));
    let matching: Vec<Value> = store
        .products
        .iter()
        .filter(|p| {
            wanted
                .as_ref()
                .is_none_or(|w| p["id"].as_u64().is_some_and(|id| w.contains(&id)))
        })
        .filter(|p| name.is_none_or(|n| p["name"].as_str() == Some(n.as_str())))
        .filter(|p| {
            min.is_none_or(|m| {
                p["date_modified"]
                    .as_str()
                    .and_then(|d| Timestamp::parse_lenient(d).ok())
                    .is_some_and(|d| d >= m)
            })
        })
        .map(|p| {
            let mut p = p.clone();
            if !with_variants && let Some(o) = p.as_object_mut() {
                o.remove("variants");
            }
            p
        })
        .collect();
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50)
        .clamp(1, 250);
    let page: usize = q
        .get("page")
        .and_then(|l| l.parse().ok())
        .unwrap_or(1)
        .max(1);
    let total_pages = matching.len().div_ceil(limit).max(1);
    let data: Vec<&Value> = matching
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    let next = if page < total_pages {
        format!("?page={}&limit={limit}", page + 1)
    } else {
        String::new()
    };
    Json(json!({
        "data": data,
        "meta": {"pagination": {
            "total": matching.len(), "count": data.len(), "per_page": limit,
            "current_page": page, "total_pages": total_pages,
            "links": {"current": format!("?page={page}&limit={limit}"), "next": next},
        }},
    }))
    .into_response()
}

async fn variants(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let store = lock(&s);
    let wanted = ids(&q);
    let sku = q.get("sku");
    let data: Vec<Value> = store
        .products
        .iter()
        .flat_map(|p| p["variants"].as_array().cloned().unwrap_or_default())
        .filter(|v| {
            wanted
                .as_ref()
                .is_none_or(|w| v["id"].as_u64().is_some_and(|id| w.contains(&id)))
        })
        .filter(|v| sku.is_none_or(|s| v["sku"].as_str() == Some(s.as_str())))
        .collect();
    let count = data.len();
    Json(
        json!({"data": data, "meta": {"pagination": {"total": count, "count": count, "per_page": 250, "current_page": 1, "total_pages": 1}}}),
    )
}

async fn locations() -> Json<Value> {
    Json(
        json!({"data": [{"id": 1, "code": "BC-LOCATION-1", "label": "Default location", "enabled": true, "type_id": "PHYSICAL"}], "meta": {}}),
    )
}
