//! The HTTP [`Poster`] of the cloud and of `serve`: one POST with a timeout, no redirects
//! (a redirect could carry a signed body somewhere else), the status as the answer.

use std::time::Duration;

use async_trait::async_trait;
use tillbridge_ports::{OutboundPost, PortError, Poster, Result};

/// How long one attempt may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Posts with reqwest on rustls.
pub struct HttpPoster {
    client: reqwest::Client,
}

impl HttpPoster {
    /// A poster with [`TIMEOUT`] and no redirects.
    ///
    /// # Errors
    /// The TLS backend cannot be initialised.
    pub fn new() -> Result<Self> {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("tillbridge-notify/1")
            .build()
            .map(|client| Self { client })
            .map_err(|e| PortError::Permanent(format!("HTTP client: {e}")))
    }
}

#[async_trait]
impl Poster for HttpPoster {
    async fn post(&self, post: &OutboundPost) -> Result<u16> {
        let mut req = self.client.post(&post.url).body(post.body.clone());
        for (k, v) in &post.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.send().await {
            Ok(resp) => Ok(resp.status().as_u16()),
            // Without the URL: a chat webhook's URL is a credential.
            Err(e) if e.is_timeout() => Err(PortError::Transient("timed out".into())),
            Err(e) if e.is_connect() => Err(PortError::Transient("cannot connect".into())),
            Err(e) if e.is_builder() => Err(PortError::Permanent("invalid URL".into())),
            Err(_) => Err(PortError::Transient("request failed".into())),
        }
    }
}
