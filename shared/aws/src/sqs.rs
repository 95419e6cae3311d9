//! The queue port on SQS. Dead-lettering is the queue's redrive policy (set in the template).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use tillbridge_ports::queue::{MAX_MESSAGE_BYTES, Message, Queue};
use tillbridge_ports::{PortError, Result};

use crate::error::classify;

/// The queue port on SQS (standard queue; visibility timeout per receive).
pub struct SqsQueue {
    client: Client,
    url: String,
    name: String,
}

impl SqsQueue {
    /// The queue at `url` through `client`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        let url = url.into();
        let name = url.rsplit('/').next().unwrap_or("queue").to_owned();
        Self { client, url, name }
    }
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(43_200).min(43_200)
}

#[async_trait]
impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, body: &str) -> Result<String> {
        if body.len() > MAX_MESSAGE_BYTES {
            return Err(PortError::TooLarge {
                what: "queue message",
                limit: MAX_MESSAGE_BYTES,
            });
        }
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| classify("SQS SendMessage", e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Message>> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .visibility_timeout(secs(visibility))
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| classify("SQS ReceiveMessage", e))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Message {
                id: m.message_id().unwrap_or_default().to_owned(),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    async fn delete(&self, receipt: &str) -> Result<()> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| classify("SQS DeleteMessage", e))?;
        Ok(())
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<()> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(secs(delay))
            .send()
            .await
            .map_err(|e| classify("SQS ChangeMessageVisibility", e))?;
        Ok(())
    }

    async fn depth(&self) -> Result<usize> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| classify("SQS GetQueueAttributes", e))?;
        let attrs = out.attributes().cloned().unwrap_or_default();
        let n = |k: QueueAttributeName| {
            attrs
                .get(&k)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        Ok(n(QueueAttributeName::ApproximateNumberOfMessages)
            + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }
}
