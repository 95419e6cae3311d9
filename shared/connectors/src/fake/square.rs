//! A fake Square: Catalog list/search/batch-retrieve, inventory counts batch-retrieve and
//! locations, with Square's bearer auth, opaque cursors, `latest_time` and error bodies
//! `{"errors": [{"category", "code", "detail"}]}` (see [`crate::square`] for the sources);
//! and OAuth: `POST /oauth2/token` (ObtainToken, `grant_type = refresh_token`) for the app
//! registered with [`FakeSquare::oauth_app`], tokens that can be expired
//! ([`FakeSquare::tokens`]) and then answer `401 ACCESS_TOKEN_EXPIRED` (see
//! [`crate::oauth`]).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use super::oauth::{TokenBook, TokenState};
use super::{Canned, Running, cursor_of, lock, offset_of, serve};
use crate::square::wire::{
    CatalogObject, CategoryData, IdRef, ItemData, Money, SquareError, VariationData,
};

/// A variation in the fake catalog.
#[derive(Debug, Clone)]
pub struct FakeVariation {
    /// Id.
    pub id: String,
    /// Name ("Large").
    pub name: String,
    /// SKU.
    pub sku: Option<String>,
    /// Price in cents; `None` is `VARIABLE_PRICING` (open price).
    pub price: Option<i64>,
    /// UPC/EAN.
    pub upc: Option<String>,
    /// Last change.
    pub updated_at: Timestamp,
    /// Deleted.
    pub deleted: bool,
}

/// An item in the fake catalog.
#[derive(Debug, Clone)]
pub struct FakeItem {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Category id.
    pub category_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Archived (hidden from the POS).
    pub archived: bool,
    /// Last change of the item itself.
    pub updated_at: Timestamp,
    /// Deleted (its variations with it).
    pub deleted: bool,
    /// Variations.
    pub variations: Vec<FakeVariation>,
}

/// One inventory count.
#[derive(Debug, Clone)]
pub struct FakeCount {
    /// The variation.
    pub variation_id: String,
    /// The location.
    pub location_id: String,
    /// `IN_STOCK`, `SOLD`, `WASTE`, …
    pub state: String,
    /// Decimal text.
    pub quantity: String,
}

/// The fake merchant's data.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Items in listing order.
    pub items: Vec<FakeItem>,
    /// (id, name) of categories.
    pub categories: Vec<(String, String)>,
    /// Inventory counts.
    pub counts: Vec<FakeCount>,
    /// (id, name) of locations.
    pub locations: Vec<(String, String)>,
    /// Objects per ListCatalog page.
    pub list_page: usize,
}

impl Catalog {
    /// `items` items of `variations` variations each, priced, in `categories` categories,
    /// with IN_STOCK counts at two locations (and a SOLD count that is not stock).
    pub fn generated(items: usize, variations: usize, at: Timestamp) -> Self {
        let mut c = Catalog {
            categories: (0..20)
                .map(|i| (format!("CAT{i}"), format!("Category {i}")))
                .collect(),
            locations: vec![("L1".into(), "Main".into()), ("L2".into(), "Annex".into())],
            list_page: 100,
            ..Catalog::default()
        };
        for i in 0..items {
            let item_id = format!("ITEM{i:06}");
            let vars: Vec<FakeVariation> = (0..variations)
                .map(|v| FakeVariation {
                    id: format!("VAR{i:06}-{v}"),
                    name: format!("Size {v}"),
                    sku: Some(format!("SKU-{i}-{v}")),
                    price: Some(
                        100 + i64::try_from(i % 5000).unwrap_or(0) + i64::try_from(v).unwrap_or(0),
                    ),
                    upc: None,
                    updated_at: at,
                    deleted: false,
                })
                .collect();
            for v in &vars {
                for (loc, qty) in [("L1", "3"), ("L2", "2")] {
                    c.counts.push(FakeCount {
                        variation_id: v.id.clone(),
                        location_id: loc.into(),
                        state: "IN_STOCK".into(),
                        quantity: qty.into(),
                    });
                }
            }
            c.items.push(FakeItem {
                id: item_id,
                name: format!("Item {i}"),
                category_id: Some(format!("CAT{}", i % 20)),
                description: None,
                archived: false,
                updated_at: at,
                deleted: false,
                variations: vars,
            });
        }
        c
    }

    fn latest_time(&self) -> Option<Timestamp> {
        self.items
            .iter()
            .flat_map(|i| {
                std::iter::once(i.updated_at).chain(i.variations.iter().map(|v| v.updated_at))
            })
            .max()
    }
}

pub(crate) fn variation_object(item: &FakeItem, v: &FakeVariation) -> CatalogObject {
    let (pricing_type, price_money) = match v.price {
        Some(amount) => (
            "FIXED_PRICING",
            Some(Money {
                amount,
                currency: "USD".into(),
            }),
        ),
        None => ("VARIABLE_PRICING", None),
    };
    CatalogObject {
        kind: "ITEM_VARIATION".into(),
        id: v.id.clone(),
        updated_at: Some(v.updated_at.to_rfc3339()),
        version: Some(v.updated_at.unix_nanos() / 1000),
        is_deleted: v.deleted || item.deleted,
        item_data: None,
        item_variation_data: Some(VariationData {
            item_id: Some(item.id.clone()),
            name: Some(v.name.clone()),
            sku: v.sku.clone(),
            upc: v.upc.clone(),
            pricing_type: Some(pricing_type.into()),
            price_money,
        }),
        category_data: None,
    }
}

pub(crate) fn item_object(item: &FakeItem, include_deleted: bool) -> CatalogObject {
    CatalogObject {
        kind: "ITEM".into(),
        id: item.id.clone(),
        updated_at: Some(item.updated_at.to_rfc3339()),
        version: Some(item.updated_at.unix_nanos() / 1000),
        is_deleted: item.deleted,
        item_data: Some(ItemData {
            name: Some(item.name.clone()),
            description: item.description.clone(),
            category_id: None,
            categories: item
                .category_id
                .iter()
                .map(|id| IdRef { id: id.clone() })
                .collect(),
            is_archived: Some(item.archived),
            variations: item
                .variations
                .iter()
                .filter(|v| include_deleted || !(v.deleted || item.deleted))
                .map(|v| variation_object(item, v))
                .collect(),
        }),
        item_variation_data: None,
        category_data: None,
    }
}

pub(crate) fn category_object(id: &str, name: &str) -> CatalogObject {
    CatalogObject {
        kind: "CATEGORY".into(),
        id: id.into(),
        updated_at: None,
        version: None,
        is_deleted: false,
        item_data: None,
        item_variation_data: None,
        category_data: Some(CategoryData {
            name: Some(name.into()),
        }),
    }
}

/// Square's error body.
pub fn error_body(category: &str, code: &str, detail: &str) -> String {
    json!({"errors": [SquareError { category: category.into(), code: code.into(), detail: Some(detail.into()) }]})
        .to_string()
}

/// `401 UNAUTHORIZED`, as Square answers a bad token.
pub fn unauthorized() -> Canned {
    Canned::json(
        401,
        error_body(
            "AUTHENTICATION_ERROR",
            "UNAUTHORIZED",
            "This request could not be authorized.",
        ),
    )
}

/// `401 ACCESS_TOKEN_EXPIRED`, as Square answers an OAuth token past its `expires_at`.
pub fn access_token_expired() -> Canned {
    Canned::json(
        401,
        error_body(
            "AUTHENTICATION_ERROR",
            "ACCESS_TOKEN_EXPIRED",
            "The provided OAuth access token has expired.",
        ),
    )
}

/// `403 INSUFFICIENT_SCOPES`, as Square answers a token without the permission.
pub fn insufficient_scopes() -> Canned {
    Canned::json(
        403,
        error_body(
            "AUTHENTICATION_ERROR",
            "INSUFFICIENT_SCOPES",
            "The merchant has not given your application sufficient permissions to do that. The developer must request: INVENTORY_READ.",
        ),
    )
}

/// `429 RATE_LIMITED`.
pub fn rate_limited() -> Canned {
    Canned::json(
        429,
        error_body("RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limited"),
    )
}

/// A 5xx with Square's body (`INTERNAL_SERVER_ERROR`, `SERVICE_UNAVAILABLE`, …).
pub fn server_error(status: u16) -> Canned {
    let code = if status == 503 {
        "SERVICE_UNAVAILABLE"
    } else {
        "INTERNAL_SERVER_ERROR"
    };
    Canned::json(
        status,
        error_body("API_ERROR", code, "An internal error has occurred"),
    )
}

pub(crate) type Shared = Arc<Mutex<Catalog>>;

/// The OAuth application the fake knows (ObtainToken checks the request against it).
#[derive(Debug, Clone)]
pub struct OAuthApp {
    /// The application id.
    pub client_id: String,
    /// The application secret; `None`: a PKCE client, whose refresh tokens rotate.
    pub client_secret: Option<String>,
    /// The seller's current refresh token.
    pub refresh_token: String,
}

#[derive(Clone, Default)]
struct OAuthState {
    app: Arc<Mutex<Option<OAuthApp>>>,
    tokens: Arc<TokenBook>,
}

/// A running fake Square.
pub struct FakeSquare {
    /// The server (base URL, control).
    pub server: Running,
    pub(crate) catalog: Shared,
    pub(crate) writes: super::square_write::SharedWrites,
    oauth: OAuthState,
}

impl FakeSquare {
    /// Serves `catalog`, accepting only `Authorization: Bearer <token>`.
    ///
    /// # Errors
    /// The port could not be bound.
    pub async fn start(token: &str, catalog: Catalog) -> std::io::Result<Self> {
        let catalog: Shared = Arc::new(Mutex::new(catalog));
        let router = Router::new()
            .route("/v2/catalog/list", get(list))
            .route("/v2/catalog/search", post(search))
            .route("/v2/catalog/batch-retrieve", post(batch_retrieve))
            .route("/v2/inventory/counts/batch-retrieve", post(counts))
            .route("/v2/locations", get(locations))
            .with_state(catalog.clone());
        let oauth = OAuthState {
            app: Arc::default(),
            tokens: Arc::new(TokenBook::with(token)),
        };
        let router = router.merge(
            Router::new()
                .route("/oauth2/token", post(obtain_token))
                .with_state(oauth.clone()),
        );
        let writes = super::square_write::SharedWrites::default();
        let router = router.merge(super::square_write::router(catalog.clone(), writes.clone()));
        let book = oauth.tokens.clone();
        let auth: super::AuthCheck = Arc::new(move |headers, _| match book.check(headers) {
            TokenState::Valid => None,
            TokenState::Expired => Some(access_token_expired()),
            TokenState::Unknown => Some(unauthorized()),
        });
        let server = serve(router, auth).await?;
        server.control.exempt("/oauth2/token");
        Ok(Self {
            server,
            catalog,
            writes,
            oauth,
        })
    }

    /// Registers the OAuth application ObtainToken accepts.
    pub fn oauth_app(&self, app: OAuthApp) {
        *lock(&self.oauth.app) = Some(app);
    }

    /// The registered application (its refresh token as rotated so far).
    pub fn oauth(&self) -> Option<OAuthApp> {
        lock(&self.oauth.app).clone()
    }

    /// The access tokens the fake accepts (expire them with [`TokenBook::expire_all`]).
    pub fn tokens(&self) -> &TokenBook {
        &self.oauth.tokens
    }

    /// The catalog, to change between calls.
    pub fn catalog(&self) -> MutexGuard<'_, Catalog> {
        lock(&self.catalog)
    }
}

pub(crate) fn read(c: &Shared) -> MutexGuard<'_, Catalog> {
    lock(c)
}

fn bad_request(detail: &str) -> (axum::http::StatusCode, Json<Value>) {
    let body: Value = serde_json::from_str(&error_body(
        "INVALID_REQUEST_ERROR",
        "INVALID_VALUE",
        detail,
    ))
    .unwrap_or(Value::Null);
    (axum::http::StatusCode::BAD_REQUEST, Json(body))
}

type Answer = Result<Json<Value>, (axum::http::StatusCode, Json<Value>)>;

#[derive(Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    types: Option<String>,
}

async fn list(State(c): State<Shared>, Query(q): Query<ListQuery>) -> Answer {
    let c = read(&c);
    if q.types
        .as_deref()
        .is_some_and(|t| t.split(',').any(|t| t == "CATEGORY"))
    {
        let objects: Vec<CatalogObject> = c
            .categories
            .iter()
            .map(|(id, name)| category_object(id, name))
            .collect();
        return Ok(Json(json!({ "objects": objects })));
    }
    if q.types
        .as_deref()
        .is_some_and(|t| !t.split(',').any(|t| t == "ITEM"))
    {
        return Ok(Json(json!({})));
    }
    let offset = offset_of(q.cursor.as_deref()).ok_or_else(|| bad_request("Invalid cursor"))?;
    let live: Vec<&FakeItem> = c.items.iter().filter(|i| !i.deleted).collect();
    let page = c.list_page.max(1);
    let objects: Vec<CatalogObject> = live
        .iter()
        .skip(offset)
        .take(page)
        .map(|i| item_object(i, false))
        .collect();
    let mut body = json!({ "objects": objects });
    if offset + page < live.len() {
        body["cursor"] = json!(cursor_of(offset + page));
    }
    Ok(Json(body))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchBody {
    cursor: Option<String>,
    object_types: Vec<String>,
    include_deleted_objects: bool,
    include_related_objects: bool,
    begin_time: Option<String>,
    limit: Option<usize>,
}

async fn search(State(c): State<Shared>, Json(b): Json<SearchBody>) -> Answer {
    let c = read(&c);
    let begin = match &b.begin_time {
        Some(t) => {
            Some(Timestamp::parse_rfc3339(t).map_err(|_| bad_request("Invalid begin_time"))?)
        }
        None => None,
    };
    let after = |t: Timestamp| begin.is_none_or(|b| t > b);
    let wants = |t: &str| b.object_types.is_empty() || b.object_types.iter().any(|o| o == t);
    let mut objects = Vec::new();
    let mut related = Vec::new();
    for item in &c.items {
        if item.deleted && !b.include_deleted_objects {
            continue;
        }
        if wants("ITEM") && after(item.updated_at) {
            objects.push(item_object(item, b.include_deleted_objects));
            if b.include_related_objects
                && let Some(cat) = &item.category_id
                && let Some((id, name)) = c.categories.iter().find(|(id, _)| id == cat)
            {
                related.push(category_object(id, name));
            }
            continue;
        }
        for v in &item.variations {
            if wants("ITEM_VARIATION")
                && after(v.updated_at)
                && (b.include_deleted_objects || !v.deleted)
            {
                objects.push(variation_object(item, v));
                if b.include_related_objects
                    && !related.iter().any(|r: &CatalogObject| r.id == item.id)
                {
                    related.push(item_object(item, false));
                }
            }
        }
    }
    let offset = offset_of(b.cursor.as_deref()).ok_or_else(|| bad_request("Invalid cursor"))?;
    let limit = b.limit.unwrap_or(100).clamp(1, 1000);
    let page: Vec<CatalogObject> = objects.iter().skip(offset).take(limit).cloned().collect();
    let mut body = json!({ "objects": page, "related_objects": related });
    if let Some(t) = c.latest_time() {
        body["latest_time"] = json!(t.to_rfc3339());
    }
    if offset + limit < objects.len() {
        body["cursor"] = json!(cursor_of(offset + limit));
    }
    Ok(Json(body))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BatchBody {
    object_ids: Vec<String>,
    include_related_objects: bool,
    include_deleted_objects: bool,
}

async fn batch_retrieve(State(c): State<Shared>, Json(b): Json<BatchBody>) -> Answer {
    let c = read(&c);
    let mut objects = Vec::new();
    let mut related = Vec::new();
    for id in &b.object_ids {
        if let Some((cid, name)) = c.categories.iter().find(|(cid, _)| cid == id) {
            objects.push(category_object(cid, name));
        }
        for item in &c.items {
            let visible = |deleted: bool| b.include_deleted_objects || !deleted;
            if &item.id == id && visible(item.deleted) {
                objects.push(item_object(item, b.include_deleted_objects));
            }
            if let Some(v) = item
                .variations
                .iter()
                .find(|v| &v.id == id && visible(v.deleted || item.deleted))
            {
                objects.push(variation_object(item, v));
                if b.include_related_objects {
                    related.push(item_object(item, false));
                }
            }
        }
    }
    Ok(Json(
        json!({ "objects": objects, "related_objects": related }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CountsBody {
    catalog_object_ids: Vec<String>,
    location_ids: Vec<String>,
    states: Vec<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn counts(State(c): State<Shared>, Json(b): Json<CountsBody>) -> Answer {
    let c = read(&c);
    let ids: std::collections::HashSet<&str> =
        b.catalog_object_ids.iter().map(String::as_str).collect();
    let matching: Vec<Value> = c
        .counts
        .iter()
        .filter(|n| ids.is_empty() || ids.contains(n.variation_id.as_str()))
        .filter(|n| b.location_ids.is_empty() || b.location_ids.contains(&n.location_id))
        .filter(|n| b.states.is_empty() || b.states.contains(&n.state))
        .map(|n| {
            json!({
                "catalog_object_id": n.variation_id,
                "catalog_object_type": "ITEM_VARIATION",
                "state": n.state,
                "location_id": n.location_id,
                "quantity": n.quantity,
                "calculated_at": "2025-01-01T00:00:00Z",
            })
        })
        .collect();
    let offset = offset_of(b.cursor.as_deref()).ok_or_else(|| bad_request("Invalid cursor"))?;
    let limit = b.limit.unwrap_or(100).clamp(1, 1000);
    let page: Vec<&Value> = matching.iter().skip(offset).take(limit).collect();
    let mut body = json!({ "counts": page });
    if offset + limit < matching.len() {
        body["cursor"] = json!(cursor_of(offset + limit));
    }
    Ok(Json(body))
}

async fn locations(State(c): State<Shared>) -> Json<Value> {
    let c = read(&c);
    let locations: Vec<Value> = c
        .locations
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name, "status": "ACTIVE"}))
        .collect();
    Json(json!({ "locations": locations }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenBody {
    client_id: String,
    client_secret: Option<String>,
    grant_type: String,
    refresh_token: Option<String>,
}

fn refusal(
    status: u16,
    category: &str,
    code: &str,
    detail: &str,
) -> (axum::http::StatusCode, Json<Value>) {
    let body: Value =
        serde_json::from_str(&error_body(category, code, detail)).unwrap_or(Value::Null);
    (
        axum::http::StatusCode::from_u16(status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
}

/// ObtainToken with `grant_type = refresh_token`: the code flow (with `client_secret`) gets
/// the same refresh token back, the PKCE flow a new one.
async fn obtain_token(State(s): State<OAuthState>, Json(b): Json<TokenBody>) -> Answer {
    if b.grant_type != "refresh_token" {
        return Err(refusal(
            400,
            "INVALID_REQUEST_ERROR",
            "INVALID_VALUE",
            "Invalid grant_type; this fake serves refresh_token only",
        ));
    }
    let mut app = lock(&s.app);
    let Some(app) = app.as_mut().filter(|a| a.client_id == b.client_id) else {
        return Err(refusal(
            401,
            "AUTHENTICATION_ERROR",
            "UNAUTHORIZED",
            "Not Authorized",
        ));
    };
    if app.client_secret.is_some() && app.client_secret != b.client_secret {
        return Err(refusal(
            401,
            "AUTHENTICATION_ERROR",
            "UNAUTHORIZED",
            "Invalid client_secret",
        ));
    }
    if b.refresh_token.as_deref() != Some(app.refresh_token.as_str()) {
        return Err(refusal(
            401,
            "AUTHENTICATION_ERROR",
            "UNAUTHORIZED",
            "Invalid refresh token",
        ));
    }
    let access = s.tokens.issue("EAAAoauth");
    if app.client_secret.is_none() {
        app.refresh_token = format!("rt-{access}");
    }
    let expires_at = Timestamp::from_unix_nanos(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
    )
    .plus_seconds(30 * 24 * 3600);
    Ok(Json(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_at": expires_at.to_rfc3339(),
        "merchant_id": "MLFAKE0001",
        "refresh_token": app.refresh_token,
        "short_lived": false,
    })))
}
