use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_accounting::metering::Metering;
use tillbridge_aws::Container;
use tillbridge_costs::PriceBook;
use tillbridge_ports::Clock;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tillbridge_accounting::logs::init_lambda();
    let c = Container::load().await?;
    let bus = c.bus()?;
    // The bundled price table, parsed once per container; overrides read from the table
    // (cached for a minute).
    let prices =
        tillbridge_accounting::prices::Prices::new(Arc::new(PriceBook::bundled()), c.table.clone());
    let metering = Metering::from_env(
        "cost-accounting",
        c.meter.clone(),
        c.raw_table.clone(),
        c.clock.clone(),
    );
    let blobs = c.blobs()?;
    // The census reads through the unmetered adapters: it is the platform's work, and what
    // it measures is filed as storage.
    let census_blobs = tillbridge_aws::S3Blobs::new(
        tillbridge_aws::s3_client(&c.config),
        tillbridge_aws::required_env("BUCKET_NAME")?,
    );
    let secrets = c.secrets()?;
    let directory = tillbridge_ports::tenants::TableDirectory::new(
        c.raw_table.clone(),
        std::time::Duration::from_secs(60),
    );
    let (table, raw, bus, blobs, prices, metering) = (
        c.table.as_ref(),
        c.raw_table.as_ref(),
        bus.as_ref(),
        blobs.as_ref(),
        &prices,
        &metering,
    );
    let (census_blobs, secrets, directory, clock) = (
        &census_blobs,
        secrets.inner.as_ref(),
        &directory,
        c.clock.as_ref(),
    );
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<cost_accounting::Invocation>| async move {
            match event.payload {
                cost_accounting::Invocation::Queue(sqs) => Ok::<_, Error>(serde_json::to_value(
                    cost_accounting::handle(table, bus, blobs, prices, Some(metering), sqs).await,
                )?),
                cost_accounting::Invocation::Schedule { action } if action == "storage-census" => {
                    let done = cost_accounting::storage_census(
                        raw,
                        census_blobs,
                        secrets,
                        directory,
                        clock.now(),
                    )
                    .await?;
                    Ok(serde_json::json!({ "tenants": done }))
                }
                cost_accounting::Invocation::Schedule { action } => {
                    Err(format!("unknown action {action:?}").into())
                }
            }
        },
    ))
    .await
}
