//! A fake WooCommerce store: REST API v3 products and variations with `page`/`per_page`,
//! `X-WP-Total`, `X-WP-TotalPages` and `Link` headers, `modified_after`, `include_status`,
//! HTTP Basic auth with a consumer key/secret and WooCommerce's error bodies
//! (see [`crate::woocommerce`] for the sources).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use super::{Canned, Running, lock, serve};

/// The store's products (WooCommerce JSON) and the variations of variable ones.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// Products, in id order; trashed ones have `"status": "trash"`.
    pub products: Vec<Value>,
    /// Variation objects, each with `"parent_id"` (the fake's own bookkeeping).
    pub variations: Vec<Value>,
}

/// WooCommerce's `*_gmt` date form (no offset).
pub fn gmt(t: Timestamp) -> String {
    let text = t.to_rfc3339();
    text.get(..19).unwrap_or(&text).to_owned()
}

/// A simple product.
pub fn simple(id: u64, name: &str, price: &str, stock: Option<i64>, modified: Timestamp) -> Value {
    json!({
        "id": id, "name": name, "type": "simple", "status": "publish", "sku": format!("SKU{id}"),
        "price": price, "regular_price": price, "sale_price": "",
        "manage_stock": stock.is_some(), "stock_quantity": stock,
        "categories": [{"id": 9, "name": "Coffee", "slug": "coffee"}],
        "images": [], "variations": [], "attributes": [],
        "date_created_gmt": gmt(modified), "date_modified_gmt": gmt(modified),
    })
}

/// A variable product listing `variations`.
pub fn variable(id: u64, name: &str, variations: &[u64], modified: Timestamp) -> Value {
    json!({
        "id": id, "name": name, "type": "variable", "status": "publish", "sku": "",
        "price": "", "regular_price": "", "manage_stock": false, "stock_quantity": null,
        "categories": [{"id": 9, "name": "Coffee", "slug": "coffee"}],
        "images": [], "variations": variations, "attributes": [{"id": 1, "name": "Size", "options": ["S", "L"]}],
        "date_created_gmt": gmt(modified), "date_modified_gmt": gmt(modified),
    })
}

/// A variation of `parent`.
pub fn variation(
    id: u64,
    parent: u64,
    option: &str,
    price: &str,
    stock: i64,
    modified: Timestamp,
) -> Value {
    json!({
        "id": id, "parent_id": parent, "type": "variation", "status": "publish", "sku": format!("SKU{id}"),
        "price": price, "regular_price": price, "manage_stock": true, "stock_quantity": stock,
        "image": null, "attributes": [{"id": 1, "name": "Size", "option": option}],
        "date_created_gmt": gmt(modified), "date_modified_gmt": gmt(modified),
    })
}

/// `401`, as WooCommerce answers an unknown consumer key.
pub fn invalid_key() -> Canned {
    Canned::json(
        401,
        json!({"code": "woocommerce_rest_authentication_error", "message": "Consumer key is invalid.", "data": {"status": 401}}).to_string(),
    )
}

#[derive(Clone)]
struct Shared {
    store: Arc<Mutex<Store>>,
}

/// A running fake WooCommerce store.
pub struct FakeWooCommerce {
    /// The server (base URL, control).
    pub server: Running,
    store: Arc<Mutex<Store>>,
    pub(crate) writes: super::woocommerce_write::SharedWrites,
}

impl FakeWooCommerce {
    /// Serves `store`, accepting only HTTP Basic `key:secret`.
    ///
    /// # Errors
    /// The port could not be bound.
    pub async fn start(key: &str, secret: &str, store: Store) -> std::io::Result<Self> {
        let store = Arc::new(Mutex::new(store));
        let writes = super::woocommerce_write::SharedWrites::default();
        let router = Router::new()
            .route("/wp-json/wc/v3/products", get(list))
            .route("/wp-json/wc/v3/products/{id}", get(one))
            .route("/wp-json/wc/v3/products/{id}/variations", get(variations))
            .with_state(Shared {
                store: store.clone(),
            })
            .merge(super::woocommerce_write::router(
                store.clone(),
                writes.clone(),
            ));
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"))
        );
        let server = serve(
            router,
            Arc::new(move |headers: &HeaderMap, _| {
                match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                    Some(v) if v == expected => None,
                    Some(_) => Some(invalid_key()),
                    None => Some(Canned::json(
                        401,
                        json!({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": {"status": 401}}).to_string(),
                    )),
                }
            }),
        )
        .await?;
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

fn read(s: &Shared) -> MutexGuard<'_, Store> {
    lock(&s.store)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    page: Option<usize>,
    per_page: Option<usize>,
    modified_after: Option<String>,
    include_status: Option<String>,
    sku: Option<String>,
    include: Option<String>,
}

fn modified(v: &Value) -> Option<Timestamp> {
    Timestamp::parse_lenient(v.get("date_modified_gmt")?.as_str()?).ok()
}

/// The page `q` asks for (default 1, 10 a page) of `all`, with WooCommerce's paging headers.
fn paged(uri: &axum::http::Uri, all: &[Value], q: &ListQuery) -> Response {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(10).clamp(1, 100);
    let total_pages = all.len().div_ceil(per_page).max(1);
    let body: Vec<&Value> = all
        .iter()
        .skip((page.max(1) - 1) * per_page)
        .take(per_page)
        .collect();
    let mut response = Json(body).into_response();
    let h = response.headers_mut();
    for (name, value) in [
        ("x-wp-total", all.len().to_string()),
        ("x-wp-totalpages", total_pages.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if page < total_pages {
        let next = format!(
            "<{}?page={}&per_page={per_page}>; rel=\"next\"",
            uri.path(),
            page + 1
        );
        if let Ok(v) = HeaderValue::from_str(&next) {
            h.insert("link", v);
        }
    }
    response
}

async fn list(
    State(s): State<Shared>,
    uri: axum::http::Uri,
    Query(q): Query<ListQuery>,
) -> Response {
    let store = read(&s);
    let after = match q.modified_after.as_deref().map(Timestamp::parse_lenient) {
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"code": "rest_invalid_param", "message": "Invalid parameter(s): modified_after", "data": {"status": 400}})),
            )
                .into_response();
        }
        None => None,
    };
    let trash = q.include_status.as_deref() == Some("trash");
    let matching: Vec<Value> = store
        .products
        .iter()
        .filter(|p| (p.get("status").and_then(Value::as_str) == Some("trash")) == trash)
        .filter(|p| after.is_none_or(|a| modified(p).is_some_and(|m| m > a)))
        .filter(|p| {
            q.sku
                .as_ref()
                .is_none_or(|s| p.get("sku").and_then(Value::as_str) == Some(s.as_str()))
        })
        .filter(|p| {
            q.include.as_ref().is_none_or(|ids| {
                let id = p.get("id").and_then(Value::as_u64).unwrap_or(0).to_string();
                ids.split(',').any(|i| i.trim() == id)
            })
        })
        .cloned()
        .collect();
    paged(&uri, &matching, &q)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.", "data": {"status": 404}})),
    )
        .into_response()
}

async fn one(State(s): State<Shared>, Path(id): Path<u64>) -> Response {
    let store = read(&s);
    let found = store
        .products
        .iter()
        .chain(&store.variations)
        .find(|p| p.get("id").and_then(Value::as_u64) == Some(id));
    match found {
        Some(p) => Json(p.clone()).into_response(),
        None => not_found(),
    }
}

async fn variations(
    State(s): State<Shared>,
    uri: axum::http::Uri,
    Path(id): Path<u64>,
    Query(q): Query<ListQuery>,
) -> Response {
    let store = read(&s);
    if !store
        .products
        .iter()
        .any(|p| p.get("id").and_then(Value::as_u64) == Some(id))
    {
        return not_found();
    }
    let matching: Vec<Value> = store
        .variations
        .iter()
        .filter(|v| v.get("parent_id").and_then(Value::as_u64) == Some(id))
        .filter(|v| {
            q.sku
                .as_ref()
                .is_none_or(|s| v.get("sku").and_then(Value::as_str) == Some(s.as_str()))
        })
        .cloned()
        .collect();
    paged(&uri, &matching, &q)
}
