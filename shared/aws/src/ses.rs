//! Notification email through SES v2 `SendEmail` from one verified identity (the
//! `ses` feature: only the notify function links the SES client).

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::ProvideErrorMetadata;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use tillbridge_ports::{Email, Mailer, PortError, Result};

use crate::error::classify;

/// Sends plain-text email from `from` (an SES identity verified in the account).
pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    /// A mailer sending as `from` through `client`.
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

fn content(text: &str) -> Result<Content> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| PortError::Permanent(format!("SES message: {e}")))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<()> {
        if email.to.is_empty() {
            return Err(PortError::Permanent("an email needs recipients".into()));
        }
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().text(content(&email.body)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(email.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                // SES messages can name the addresses; keep only the error code.
                let code = e
                    .as_service_error()
                    .and_then(|s| s.code())
                    .unwrap_or("no response")
                    .to_owned();
                match classify("SES SendEmail", e) {
                    PortError::Transient(_) => {
                        PortError::Transient(format!("SES SendEmail: {code}"))
                    }
                    _ => PortError::Permanent(format!("SES SendEmail: {code}")),
                }
            })
    }
}
