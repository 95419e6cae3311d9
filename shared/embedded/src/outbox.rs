//! The embedded [`Mailer`]: each email becomes one file in `<root>/outbox/`
//! (`<uuid v7>.eml`, plain text with `To:` and `Subject:` headers), written by rename, so a
//! local run shows what would have been mailed without any mail server.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tillbridge_ports::{Email, Mailer, PortError, Result};

/// Writes emails to an outbox directory.
pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    /// The outbox at `dir`, created when missing.
    ///
    /// # Errors
    /// [`PortError::Permanent`] when the directory cannot be created.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            PortError::Permanent(format!("cannot create outbox {}: {e}", dir.display()))
        })?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// Every email file in the outbox, oldest first (names are time-ordered).
    ///
    /// # Errors
    /// [`PortError::Transient`] when the directory cannot be read.
    pub fn messages(&self) -> Result<Vec<String>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|e| PortError::Transient(format!("cannot read outbox: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        Ok(names
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect())
    }
}

/// Header values on one line (a newline in a subject would start a new header).
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: &Email) -> Result<()> {
        if email.to.is_empty() {
            return Err(PortError::Permanent("an email needs recipients".into()));
        }
        let text = format!(
            "To: {}\r\nSubject: {}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
            one_line(&email.to.join(", ")),
            one_line(&email.subject),
            email.body
        );
        let name = uuid::Uuid::now_v7().to_string();
        let tmp = self.dir.join(format!("{name}.tmp"));
        let path = self.dir.join(format!("{name}.eml"));
        std::fs::write(&tmp, text.as_bytes())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| PortError::Transient(format!("cannot write to the outbox: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn emails_land_in_the_outbox_in_order() {
        let dir = std::env::temp_dir().join(format!("tb-outbox-{}", uuid::Uuid::now_v7()));
        let outbox = OutboxMailer::open(&dir).expect("opens");
        for subject in ["first", "second\nBcc: x@example.com"] {
            outbox
                .send(&Email {
                    to: vec!["ops@example.com".into()],
                    subject: subject.into(),
                    body: "body".into(),
                })
                .await
                .expect("sent");
        }
        let messages = outbox.messages().expect("reads");
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with("To: ops@example.com\r\nSubject: first\r\n"));
        // The newline did not become a header.
        assert!(messages[1].contains("Subject: second Bcc: x@example.com\r\n"));
        let none = Email {
            to: vec![],
            subject: "s".into(),
            body: "b".into(),
        };
        assert!(outbox.send(&none).await.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
