//! The sending ports of notifications: an HTTP poster (signed webhooks, chat incoming
//! webhooks) and a mailer (SES in the cloud, an outbox directory locally, memory in tests).
//!
//! Neither logs what it sends: message bodies, URLs (chat webhook URLs are credentials) and
//! addresses stay out of every log line.

use async_trait::async_trait;

use crate::Result;

/// One outbound HTTP POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPost {
    /// `https://…` (a test receiver may be plain HTTP on 127.0.0.1).
    pub url: String,
    /// Header (name, value) pairs, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// One email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Recipients.
    pub to: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Posts to an endpoint: the HTTP status it answered, or
/// [`crate::PortError::Transient`] when it could not be reached (timeouts, refused
/// connections); the caller decides what a status means.
#[async_trait]
pub trait Poster: Send + Sync {
    /// Sends `post` once.
    async fn post(&self, post: &OutboundPost) -> Result<u16>;
}

/// Sends email. [`crate::PortError::Transient`] when a retry may help (throttling, an
/// unreachable service), [`crate::PortError::Permanent`] otherwise (an unverified sender,
/// a rejected address).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `email` once.
    async fn send(&self, email: &Email) -> Result<()>;
}
