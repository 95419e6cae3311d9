use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Error, service_fn};
use tillbridge_aws::Container;
use tillbridge_costs::PriceBook;
use tillbridge_ports::tenants::TableDirectory;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tillbridge_accounting::logs::init_lambda();
    let c = Container::load().await?;
    let sqs = aws_sdk_sqs::Client::new(&c.config);
    let dead_letters = dead_letter_queues(
        &sqs,
        &std::env::var("DEAD_LETTER_QUEUES").unwrap_or_default(),
    );
    let api = api::Api {
        directory: Arc::new(TableDirectory::new(
            c.raw_table.clone(),
            Duration::from_secs(60),
        )),
        secrets: Arc::new(tillbridge_aws::SecretsManagerStore::new(
            aws_sdk_secretsmanager::Client::new(&c.config),
            tillbridge_aws::required_env("SECRET_PREFIX")?,
        )),
        table: c.raw_table.clone(),
        prices: std::sync::LazyLock::new(Box::new(|| Arc::new(PriceBook::bundled()))),
        blobs: c.blobs()?,
        bus: c.bus()?,
        inbound: Arc::new(tillbridge_aws::SqsQueue::new(
            sqs.clone(),
            tillbridge_aws::required_env("INBOUND_QUEUE_URL")?,
        )),
        clock: c.clock.clone(),
        // Syncs run in the fetch function: the route queues them.
        syncs: None,
        dead_letters,
        admins: std::env::var("ADMIN_PRINCIPALS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let api = &api;
    lambda_http::run(service_fn(move |req| async move {
        let response = api::handle(api, req).await;
        tillbridge_ports::metrics::global().flush_emf("api");
        // The api function has no per-record metering: its tenants' log lines are filed here.
        tillbridge_accounting::logs::file_log_bytes(
            api.table.as_ref(),
            tillbridge_ports::Clock::now(api.clock.as_ref()),
            "api",
        )
        .await;
        Ok::<_, Error>(response)
    }))
    .await
}

/// The stack's dead-letter queues from `DEAD_LETTER_QUEUES`: `name=<dlq url> <queue url>`
/// entries separated by `;` (the template writes it); malformed entries are skipped.
fn dead_letter_queues(
    sqs: &aws_sdk_sqs::Client,
    spec: &str,
) -> Vec<tillbridge_api::dead_letters::DeadLetters> {
    spec.split(';')
        .filter_map(|entry| {
            let (name, urls) = entry.trim().split_once('=')?;
            let (dlq, target) = urls.trim().split_once(' ')?;
            Some(tillbridge_api::dead_letters::DeadLetters {
                name: name.to_owned(),
                dlq: Arc::new(tillbridge_aws::SqsQueue::new(sqs.clone(), dlq.trim())),
                target: Arc::new(tillbridge_aws::SqsQueue::new(sqs.clone(), target.trim())),
            })
        })
        .collect()
}
