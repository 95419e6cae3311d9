//! A fake Zettle: the Product Library's `/organizations/self/library` (with `limit`,
//! `offset`, `eventLogUuid`, `Link` pages, `untilEventLogUuid` as time-based UUIDs and
//! `deletedProducts`), product by UUID, and Inventory v3 `/v3/stock` with `Link` pages, behind
//! bearer auth (see [`crate::zettle`] for the sources); and the OAuth service's assertion
//! grant `POST /token` for the API key registered with [`FakeZettle::api_key`], with tokens
//! that can be expired ([`FakeZettle::tokens`]) and then answer `401` with
//! `WWW-Authenticate: Bearer error="invalid_request", error_description="ACCESS_TOKEN_EXPIRED"`
//! (see [`crate::oauth`]).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use super::oauth::{TokenBook, TokenState};
use super::{Canned, Running, cursor_of, lock, offset_of, serve};
use crate::zettle::uuid_v1_time;

/// A variant.
#[derive(Debug, Clone)]
pub struct FakeVariant {
    /// UUID.
    pub uuid: String,
    /// Name.
    pub name: String,
    /// Price in minor units; `None`: priced at the till.
    pub price: Option<i64>,
    /// (inventory UUID, balance as number text).
    pub stock: Vec<(String, String)>,
}

/// A product.
#[derive(Debug, Clone)]
pub struct FakeProduct {
    /// UUID.
    pub uuid: String,
    /// Name.
    pub name: String,
    /// Last change.
    pub updated: Timestamp,
    /// When deleted.
    pub deleted_at: Option<Timestamp>,
    /// Variants.
    pub variants: Vec<FakeVariant>,
}

/// The fake organization.
#[derive(Debug, Clone, Default)]
pub struct Organization {
    /// Products.
    pub products: Vec<FakeProduct>,
    /// The currency of its prices.
    pub currency: String,
    /// Library entries per page at most (the server's preference).
    pub page: usize,
}

/// A version-1 UUID holding `t` (how Zettle's event log UUIDs carry their time).
pub fn uuid_v1(t: Timestamp) -> String {
    let ticks = u64::try_from(t.unix_nanos() / 100).unwrap_or(0) + 0x01B2_1DD2_1381_4000;
    format!(
        "{:08x}-{:04x}-{:04x}-8000-00000000000a",
        ticks & 0xffff_ffff,
        (ticks >> 32) & 0xffff,
        ((ticks >> 48) & 0x0fff) | 0x1000
    )
}

/// `401`, as Zettle's OAuth-protected services answer a bad token (body shape not documented
/// publicly: the OAuth 2.0 bearer error form is used).
pub fn unauthorized() -> Canned {
    Canned::json(
        401,
        json!({"error": "invalid_token", "error_description": "The access token is invalid or has expired"})
            .to_string(),
    )
}

/// `401` for an expired token: the `WWW-Authenticate` header Zettle documents
/// (<https://github.com/iZettle/api-documentation/blob/master/authorization.md>).
pub fn access_token_expired() -> Canned {
    Canned::json(
        401,
        json!({"error": "invalid_request", "error_description": "ACCESS_TOKEN_EXPIRED"})
            .to_string(),
    )
    .header(
        "www-authenticate",
        "Bearer error=\"invalid_request\", error_description=\"ACCESS_TOKEN_EXPIRED\"",
    )
}

/// `429`.
pub fn rate_limited() -> Canned {
    Canned::json(
        429,
        json!({"developerMessage": "Too many requests", "errorType": "TOO_MANY_REQUESTS"})
            .to_string(),
    )
}

type Shared = Arc<Mutex<Organization>>;

/// The organization's data and what was written through the API.
#[derive(Clone)]
pub(crate) struct Both {
    pub(crate) org: Shared,
    pub(crate) writes: Arc<Mutex<super::zettle_write::Writes>>,
}

/// The API key the assertion grant accepts: (client id, API key).
type ApiKey = Arc<Mutex<Option<(String, String)>>>;

#[derive(Clone)]
struct OAuthState {
    key: ApiKey,
    tokens: Arc<TokenBook>,
}

/// A running fake Zettle (the products, inventory and OAuth hosts on one server).
pub struct FakeZettle {
    /// The server (base URL, control).
    pub server: Running,
    org: Shared,
    pub(crate) state: Both,
    oauth: OAuthState,
}

impl FakeZettle {
    /// Serves `org`, accepting only `Authorization: Bearer <token>`.
    ///
    /// # Errors
    /// The port could not be bound.
    pub async fn start(token: &str, org: Organization) -> std::io::Result<Self> {
        use super::zettle_write as w;
        let shared: Shared = Arc::new(Mutex::new(org));
        let state = Both {
            org: shared.clone(),
            writes: Arc::new(Mutex::new(w::Writes::new())),
        };
        let router = Router::new()
            .route("/organizations/self/library", get(library))
            .with_state(shared.clone())
            .merge(
                Router::new()
                    .route(
                        "/organizations/self/products",
                        post(w::create_product).delete(w::delete_products),
                    )
                    .route(
                        "/organizations/self/products/{uuid}",
                        get(product).delete(w::delete_product),
                    )
                    .route(
                        "/organizations/self/products/v2/{uuid}",
                        put(w::update_product),
                    )
                    .route(
                        "/organizations/self/categories/v2",
                        get(w::categories).post(w::create_categories),
                    )
                    .route(
                        "/organizations/self/categories/v2/{uuid}",
                        delete(w::delete_category),
                    )
                    .route("/v3/inventories", get(w::inventories))
                    .route("/v3/movements", post(w::movements))
                    .route("/v3/stock", get(stock))
                    .with_state(state.clone()),
            );
        let oauth = OAuthState {
            key: Arc::default(),
            tokens: Arc::new(TokenBook::with(token)),
        };
        let router = router.merge(
            Router::new()
                .route("/token", post(assertion_grant))
                .with_state(oauth.clone()),
        );
        let book = oauth.tokens.clone();
        let auth: super::AuthCheck = Arc::new(move |headers, _| match book.check(headers) {
            TokenState::Valid => None,
            TokenState::Expired => Some(access_token_expired()),
            TokenState::Unknown => Some(unauthorized()),
        });
        let server = serve(router, auth).await?;
        server.control.exempt("/token");
        Ok(Self {
            server,
            org: shared,
            state,
            oauth,
        })
    }

    /// Registers the API key (and the `client_id` it names) the assertion grant accepts.
    pub fn api_key(&self, client_id: &str, api_key: &str) {
        *lock(&self.oauth.key) = Some((client_id.to_owned(), api_key.to_owned()));
    }

    /// The access tokens the fake accepts (expire them with [`TokenBook::expire_all`]).
    pub fn tokens(&self) -> &TokenBook {
        &self.oauth.tokens
    }

    /// The organization's data, to change between calls.
    pub fn org(&self) -> MutexGuard<'_, Organization> {
        lock(&self.org)
    }
}

fn product_json(p: &FakeProduct, currency: &str) -> Value {
    let variants: Vec<Value> = p
        .variants
        .iter()
        .map(|v| {
            let mut j = json!({"uuid": v.uuid, "name": v.name, "sku": format!("SKU-{}", v.uuid),
                "barcode": "", "options": [{"name": "Size", "value": v.name}]});
            if let Some(amount) = v.price {
                j["price"] = json!({"amount": amount, "currencyId": currency});
            }
            j
        })
        .collect();
    json!({
        "uuid": p.uuid, "name": p.name, "description": "", "etag": format!("\"{}\"", p.updated.unix_nanos()),
        "category": {"uuid": "c0ffee00-0000-1000-8000-000000000000", "name": "Coffee"},
        "vatPercentage": 12.5, "created": p.updated.to_rfc3339(), "updated": p.updated.to_rfc3339(),
        "updatedBy": "u", "variants": variants,
    })
}

fn bad(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(
            json!({"developerMessage": message, "errorType": "VALIDATION_ERROR", "violations": []}),
        ),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LibraryQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    event_log_uuid: Option<String>,
}

/// Points `response`'s `Link: <…>; rel="next"` at `path_and_query` on the host asked.
fn link_next(response: &mut Response, headers: &HeaderMap, path_and_query: &str) {
    let Some(host) = headers.get("host").and_then(|h| h.to_str().ok()) else {
        return;
    };
    let link = format!("<http://{host}{path_and_query}>; rel=\"next\"");
    if let Ok(v) = HeaderValue::from_str(&link) {
        response.headers_mut().insert("link", v);
    }
}

async fn library(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<LibraryQuery>,
) -> Response {
    let org = lock(&s);
    let since = match &q.event_log_uuid {
        Some(u) => match uuid_v1_time(u) {
            Some(t) => Some(t),
            None => return bad("Invalid eventLogUuid"),
        },
        None => None,
    };
    let newest = org
        .products
        .iter()
        .flat_map(|p| [Some(p.updated), p.deleted_at])
        .flatten()
        .max()
        .unwrap_or_else(|| Timestamp::from_unix_nanos(0));
    let changed: Vec<&FakeProduct> = org
        .products
        .iter()
        .filter(|p| p.deleted_at.is_none() && since.is_none_or(|t| p.updated > t))
        .collect();
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(500).clamp(1, 500).min(org.page.max(1));
    let deleted: Vec<&str> = match since {
        Some(t) if offset == 0 => org
            .products
            .iter()
            .filter(|p| p.deleted_at.is_some_and(|d| d > t))
            .map(|p| p.uuid.as_str())
            .collect(),
        _ => Vec::new(),
    };
    let products: Vec<Value> = changed
        .iter()
        .skip(offset)
        .take(limit)
        .map(|p| product_json(p, &org.currency))
        .collect();
    let body = json!({
        "fromEventLogUuid": q.event_log_uuid, "untilEventLogUuid": uuid_v1(newest),
        "products": products, "discounts": [], "deletedProducts": deleted, "deletedDiscounts": [],
    });
    let mut response = Json(body).into_response();
    if offset + limit < changed.len() {
        let mut next = format!(
            "/organizations/self/library?limit={limit}&offset={}",
            offset + limit
        );
        if let Some(u) = &q.event_log_uuid {
            next.push_str(&format!("&eventLogUuid={u}"));
        }
        link_next(&mut response, &headers, &next);
    }
    response
}

async fn product(State(both): State<Both>, Path(uuid): Path<String>) -> Response {
    if let Some(p) = super::zettle_write::written_product(&both, &uuid) {
        return Json(p).into_response();
    }
    let org = lock(&both.org);
    match org.products.iter().find(|p| p.uuid == uuid && p.deleted_at.is_none()) {
        Some(p) => Json(product_json(p, &org.currency)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"developerMessage": "Product not found", "errorType": "NOT_FOUND", "violations": []})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct StockQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn stock(
    State(both): State<Both>,
    headers: HeaderMap,
    Query(q): Query<StockQuery>,
) -> Response {
    let written = super::zettle_write::stock_records(&both);
    let org = lock(&both.org);
    let Some(offset) = offset_of(q.cursor.as_deref()) else {
        return bad("Invalid cursor");
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 100).min(org.page.max(1));
    let records: Vec<Value> = org
        .products
        .iter()
        .filter(|p| p.deleted_at.is_none())
        .flat_map(|p| p.variants.iter().map(move |v| (p, v)))
        .flat_map(|(p, v)| v.stock.iter().map(move |(inv, bal)| (p, v, inv, bal)))
        .map(|(p, v, inv, bal)| {
            let balance: Value = serde_json::from_str(bal).unwrap_or(Value::Null);
            json!({"organizationUuid": "self", "inventoryUuid": inv, "productUuid": p.uuid,
                   "variantUuid": v.uuid, "balance": balance, "lowStockLevel": 0,
                   "lowStockAlert": false, "updated": p.updated.to_rfc3339(), "checksum": "1"})
        })
        .chain(written)
        .collect();
    let page: Vec<&Value> = records.iter().skip(offset).take(limit).collect();
    let mut response = Json(json!(page)).into_response();
    if offset + limit < records.len() {
        let next = format!(
            "/v3/stock?cursor={}&limit={limit}",
            cursor_of(offset + limit)
        );
        link_next(&mut response, &headers, &next);
    }
    response
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AssertionForm {
    grant_type: String,
    client_id: String,
    assertion: String,
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The assertion grant: `{"access_token", "expires_in": 7200}`, no refresh token; RFC 6749
/// §5.2 errors (`400 {"error": "invalid_grant", …}`).
async fn assertion_grant(
    State(s): State<OAuthState>,
    axum::Form(f): axum::Form<AssertionForm>,
) -> Response {
    if f.grant_type != crate::oauth::JWT_BEARER {
        return oauth_error("unsupported_grant_type", "grant type not supported");
    }
    let accepted = lock(&s.key)
        .as_ref()
        .is_some_and(|(id, key)| *id == f.client_id && *key == f.assertion);
    if !accepted {
        return oauth_error("invalid_grant", "invalid assertion");
    }
    let token = s.tokens.issue("zettle-at");
    Json(json!({"access_token": token, "expires_in": 7200})).into_response()
}
