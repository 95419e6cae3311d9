//! The SQS side of the cloud-shape tests: what Lambda's event source mapping hands a function.

use std::future::Future;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use tillbridge_aws::SqsQueue;
use tillbridge_ports::Queue;

/// Receives from `q` (at least once; until `expected` messages arrived or 2 s passed) into the
/// SQS event Lambda would invoke the function with, and the messages' receipts.
pub async fn as_sqs_event(q: &SqsQueue, expected: usize) -> (SqsEvent, Vec<String>) {
    let mut records = Vec::new();
    let mut receipts = Vec::new();
    for _ in 0..20 {
        for m in q
            .receive(10, Duration::from_secs(30))
            .await
            .unwrap_or_default()
        {
            let mut r = SqsMessage::default();
            r.message_id = Some(m.id.clone());
            r.receipt_handle = Some(m.receipt.clone());
            r.body = Some(m.body.clone());
            receipts.push(m.receipt);
            records.push(r);
        }
        if records.len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut e = SqsEvent::default();
    e.records = records;
    (e, receipts)
}

/// One batch of `q`, if any, through `handle` (a function's handler), then deleted, as the
/// event source mapping does after an empty partial batch response (asserted).
pub async fn run_batch<F, Fut>(q: &SqsQueue, handle: F)
where
    F: FnOnce(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let (event, receipts) = as_sqs_event(q, 0).await;
    if event.records.is_empty() {
        return;
    }
    let r = handle(event).await;
    assert!(
        r.batch_item_failures.is_empty(),
        "{:?}",
        r.batch_item_failures
    );
    for rc in receipts {
        q.delete(&rc).await.unwrap_or_else(|e| panic!("{e}"));
    }
}
