use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_accounting::metering::Metering;
use tillbridge_aws::Container;
use tillbridge_costs::PriceBook;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
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
    let (table, bus, blobs, prices, metering) = (
        c.table.as_ref(),
        bus.as_ref(),
        blobs.as_ref(),
        &prices,
        &metering,
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(
            cost_accounting::handle(table, bus, blobs, prices, Some(metering), event.payload).await,
        )
    }))
    .await
}
