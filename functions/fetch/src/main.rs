use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_accounting::metering::Metering;
use tillbridge_aws::Container;
use tillbridge_fetch::Fetcher;
use tillbridge_ports::tenants::TableDirectory;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tillbridge_accounting::logs::init_lambda();
    let c = Container::load().await?;
    let fetcher = Fetcher {
        table: c.table.clone(),
        directory: Arc::new(TableDirectory::new(
            c.table.clone(),
            Duration::from_secs(60),
        )),
        secrets: c.secrets()?,
        clock: c.clock.clone(),
        // Bounded retries inside one invocation (seconds); SQS redelivery (5 receives,
        // visibility six times the timeout) spaces the later attempts out.
        interactive: true,
    };
    let blobs = c.blobs()?;
    let bus = c.bus()?;
    let metering = Metering::from_env(
        "fetch",
        c.meter.clone(),
        c.raw_table.clone(),
        c.clock.clone(),
    );
    let (fetcher, blobs, bus, metering) = (&fetcher, blobs.as_ref(), bus.as_ref(), &metering);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<fetch::Invocation>| async move {
            match event.payload {
                fetch::Invocation::Queue(sqs) => Ok::<_, Error>(serde_json::to_value(
                    fetch::handle(fetcher, blobs, bus, Some(metering), sqs).await,
                )?),
                fetch::Invocation::Schedule { action } if action == "scheduled-sync" => {
                    let queued = fetch::scheduled(fetcher, bus).await?;
                    Ok(serde_json::json!({ "queued": queued }))
                }
                fetch::Invocation::Schedule { action } => {
                    Err(format!("unknown action {action:?}").into())
                }
            }
        },
    ))
    .await
}
