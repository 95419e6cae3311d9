//! The access tokens a fake vendor accepts, for fakes that serve a token endpoint (Square's
//! ObtainToken, Zettle's assertion grant): tokens are issued, can be expired all at once
//! (the vendor's clock moved past them) and are checked on every API request.

use std::collections::HashMap;

use axum::http::HeaderMap;
use std::sync::Mutex;

use super::lock;

/// What the fake knows of a presented token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Issued and not expired.
    Valid,
    /// Issued and expired.
    Expired,
    /// Never issued (or malformed header).
    Unknown,
}

/// The tokens a fake has issued.
#[derive(Debug, Default)]
pub struct TokenBook {
    /// token → expired?
    tokens: Mutex<HashMap<String, bool>>,
    issued: Mutex<u64>,
}

impl TokenBook {
    /// A book that accepts `token` (the one the fake was started with).
    pub fn with(token: &str) -> Self {
        let book = Self::default();
        lock(&book.tokens).insert(token.to_owned(), false);
        book
    }

    /// Issues a new token (`<prefix>-<n>`), valid until [`TokenBook::expire_all`].
    pub fn issue(&self, prefix: &str) -> String {
        let mut n = lock(&self.issued);
        *n += 1;
        let token = format!("{prefix}-{n}");
        lock(&self.tokens).insert(token.clone(), false);
        token
    }

    /// Tokens issued by the token endpoint so far.
    pub fn issued(&self) -> u64 {
        *lock(&self.issued)
    }

    /// Every token issued so far expires.
    pub fn expire_all(&self) {
        for expired in lock(&self.tokens).values_mut() {
            *expired = true;
        }
    }

    /// The state of the `Authorization: Bearer` token of `headers`.
    pub fn check(&self, headers: &HeaderMap) -> TokenState {
        let Some(token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return TokenState::Unknown;
        };
        match lock(&self.tokens).get(token) {
            Some(false) => TokenState::Valid,
            Some(true) => TokenState::Expired,
            None => TokenState::Unknown,
        }
    }
}
