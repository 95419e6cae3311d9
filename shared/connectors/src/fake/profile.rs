//! A fake vendor for declarative profiles (issue 16): one generic REST catalog API
//! (`GET /products`, `GET /products/{id}`) that pages in any of the profile schema's styles
//! — a cursor in the body, numbered pages until a short page, RFC 8288 `Link: <…>;
//! rel="next"` headers — and authenticates in any of its styles — an API key header, a
//! bearer token, OAuth 2.0 client credentials at `POST /oauth/token` (RFC 6749 §4.4: a form
//! with `grant_type=client_credentials`, answered `{"access_token", "token_type",
//! "expires_in"}`; errors per §5.2). `updated_since` (RFC 3339) asks for the records changed
//! after it, deleted ones included with their `deleted_at`; a full list leaves deleted
//! records out. Every query string of the list is kept, to check what a client sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};
use tillbridge_domain::Timestamp;

use super::oauth::{TokenBook, TokenState};
use super::{AuthCheck, Canned, Running, bearer_auth, cursor_of, lock, offset_of, serve};

/// How the fake pages its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `?cursor=&limit=`, the next cursor at `/next_cursor` (null on the last page).
    Cursor,
    /// `?page=&per_page=` from 1; a short (or empty) page is the last.
    Page,
    /// `?page=` from 1 with the fake's page size; `Link: <…>; rel="next"` while more remain.
    Link,
}

/// How the fake authenticates API requests.
#[derive(Debug, Clone)]
pub enum Access {
    /// `header: key`.
    ApiKey {
        /// The header.
        header: String,
        /// The key.
        key: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// Tokens from `POST /oauth/token` for these client credentials, valid `expires_in`
    /// seconds (the fake expires them on [`FakeProfileVendor::expire_tokens`]).
    ClientCredentials {
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: String,
        /// The `expires_in` answered.
        expires_in: i64,
    },
}

/// A product of the fake vendor.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeRecord {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its price in major units, as the vendor writes it (`"12.50"`).
    pub price: String,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it was deleted (listed only by a delta).
    pub deleted_at: Option<Timestamp>,
}

impl FakeRecord {
    /// A live record.
    pub fn new(id: &str, name: &str, price: &str, updated_at: Timestamp) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            price: price.into(),
            updated_at,
            deleted_at: None,
        }
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "price": self.price,
            "updated_at": self.updated_at.to_rfc3339(),
            "deleted_at": self.deleted_at.map(Timestamp::to_rfc3339),
        })
    }
}

struct Shared {
    paging: Paging,
    page_size: usize,
    access: Access,
    records: Mutex<Vec<FakeRecord>>,
    queries: Mutex<Vec<String>>,
    tokens: Arc<TokenBook>,
    /// Tokens are refused as soon as they are issued (a vendor that revoked the client).
    revoke_new: std::sync::atomic::AtomicBool,
}

/// A running fake profile vendor.
pub struct FakeProfileVendor {
    /// The server (base URL, control).
    pub server: Running,
    shared: Arc<Shared>,
}

/// `401` in the fake's error shape.
pub fn unauthorized() -> Canned {
    Canned::json(401, json!({"message": "invalid credentials"}).to_string())
}

impl FakeProfileVendor {
    /// Serves `records`, paged by `paging` in pages of `page_size`, behind `access`.
    ///
    /// # Errors
    /// The port could not be bound.
    pub async fn start(
        access: Access,
        paging: Paging,
        page_size: usize,
        records: Vec<FakeRecord>,
    ) -> std::io::Result<Self> {
        let tokens = Arc::new(TokenBook::default());
        let shared = Arc::new(Shared {
            paging,
            page_size: page_size.max(1),
            access: access.clone(),
            records: Mutex::new(records),
            queries: Mutex::new(Vec::new()),
            tokens: tokens.clone(),
            revoke_new: std::sync::atomic::AtomicBool::new(false),
        });
        let router = Router::new()
            .route("/products", get(list))
            .route("/products/{id}", get(one))
            .route("/oauth/token", post(token))
            .with_state(shared.clone());
        let auth: AuthCheck = match access {
            Access::ApiKey { header, key } => {
                let header = header.to_ascii_lowercase();
                Arc::new(move |headers, _| {
                    let given = headers.get(header.as_str()).and_then(|v| v.to_str().ok());
                    (given != Some(key.as_str())).then(unauthorized)
                })
            }
            Access::Bearer(token) => bearer_auth(&token, unauthorized),
            Access::ClientCredentials { .. } => Arc::new(move |headers, _| {
                (tokens.check(headers) != TokenState::Valid).then(unauthorized)
            }),
        };
        let server = serve(router, auth).await?;
        server.control.exempt("/oauth/token");
        Ok(Self { server, shared })
    }

    /// The records, to change between pulls.
    pub fn records(&self) -> MutexGuard<'_, Vec<FakeRecord>> {
        lock(&self.shared.records)
    }

    /// The query strings of every `GET /products` so far, in order.
    pub fn list_queries(&self) -> Vec<String> {
        lock(&self.shared.queries).clone()
    }

    /// Tokens issued by `POST /oauth/token` so far.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.tokens.issued()
    }

    /// Every token issued so far expires (the vendor's clock moved past them).
    pub fn expire_tokens(&self) {
        self.shared.tokens.expire_all();
    }

    /// From now on (`true`), every token issued is refused by the API at once.
    pub fn revoke_new_tokens(&self, revoke: bool) {
        self.shared
            .revoke_new
            .store(revoke, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn list(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    raw: axum::extract::RawQuery,
) -> Response {
    lock(&s.queries).push(raw.0.unwrap_or_default());
    let since = match q.get("updated_since").map(|t| Timestamp::parse_rfc3339(t)) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            return Canned::json(
                400,
                json!({"message": "updated_since: not RFC 3339"}).to_string(),
            )
            .into_response();
        }
    };
    let selected: Vec<Value> = lock(&s.records)
        .iter()
        .filter(|r| match since {
            Some(t) => r.updated_at > t || r.deleted_at.is_some_and(|d| d > t),
            None => r.deleted_at.is_none(),
        })
        .map(FakeRecord::json)
        .collect();
    let number = |name: &str, default: usize| -> Option<usize> {
        q.get(name).map_or(Some(default), |v| v.parse().ok())
    };
    let bad = || Canned::json(400, json!({"message": "bad page"}).to_string()).into_response();
    match s.paging {
        Paging::Cursor => {
            let (Some(offset), Some(limit)) = (
                offset_of(q.get("cursor").map(String::as_str)),
                number("limit", s.page_size),
            ) else {
                return bad();
            };
            let page: Vec<Value> = selected
                .iter()
                .skip(offset)
                .take(limit.max(1))
                .cloned()
                .collect();
            let end = offset + page.len();
            let next = (end < selected.len()).then(|| cursor_of(end));
            Json(json!({"products": page, "next_cursor": next})).into_response()
        }
        Paging::Page | Paging::Link => {
            let size = if s.paging == Paging::Page {
                number("per_page", s.page_size)
            } else {
                Some(s.page_size)
            };
            let (Some(n), Some(size)) = (number("page", 1), size) else {
                return bad();
            };
            let size = size.max(1);
            let start = n.saturating_sub(1).saturating_mul(size);
            let page: Vec<Value> = selected.iter().skip(start).take(size).cloned().collect();
            let mut response = Json(json!({"products": page})).into_response();
            if s.paging == Paging::Link && start + size < selected.len() {
                let host = headers
                    .get("host")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("127.0.0.1");
                let mut next = format!("http://{host}/products?page={}", n + 1);
                if let Some(t) = q.get("updated_since") {
                    next.push_str("&updated_since=");
                    next.push_str(&t.replace('+', "%2B"));
                }
                let link = format!(
                    "<http://{host}/products?page=1>; rel=\"first\", <{next}>; rel=\"next\""
                );
                if let Ok(v) = axum::http::HeaderValue::from_str(&link) {
                    response.headers_mut().insert("link", v);
                }
            }
            response
        }
    }
}

async fn one(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match lock(&s.records)
        .iter()
        .find(|r| r.id == id && r.deleted_at.is_none())
    {
        Some(r) => Json(json!({"product": r.json()})).into_response(),
        None => Canned::json(404, json!({"message": "not found"}).to_string()).into_response(),
    }
}

async fn token(
    State(s): State<Arc<Shared>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Access::ClientCredentials {
        client_id,
        client_secret,
        expires_in,
    } = &s.access
    else {
        return Canned::json(404, json!({"message": "no token endpoint"}).to_string())
            .into_response();
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Canned::json(400, json!({"error": "unsupported_grant_type"}).to_string())
            .into_response();
    }
    if form.get("client_id") != Some(client_id) || form.get("client_secret") != Some(client_secret)
    {
        return Canned::json(
            401,
            json!({"error": "invalid_client", "error_description": "client authentication failed"})
                .to_string(),
        )
        .into_response();
    }
    let access = s.tokens.issue("profile-token");
    if s.revoke_new.load(std::sync::atomic::Ordering::Relaxed) {
        s.tokens.expire_all();
    }
    Json(json!({"access_token": access, "token_type": "bearer", "expires_in": expires_in}))
        .into_response()
}
