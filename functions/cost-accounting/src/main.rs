use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_aws::{Container, EventBridgeBus, required_env};
use tillbridge_costs::PriceBook;
use tillbridge_pipeline::metering::Metering;
use tillbridge_ports::meter::MeteredBus;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let c = Container::load().await?;
    let bus = MeteredBus {
        inner: Arc::new(EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(&c.config),
            required_env("EVENT_BUS_NAME")?,
        )),
        meter: c.meter.clone(),
    };
    // The bundled price table, parsed once per container.
    let prices = PriceBook::bundled();
    let metering = Metering::from_env(
        "cost-accounting",
        c.meter.clone(),
        c.raw_table.clone(),
        c.clock.clone(),
    );
    let (table, bus, prices, metering) = (c.table.as_ref(), &bus, &prices, &metering);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(
            cost_accounting::handle(table, bus, prices, Some(metering), event.payload).await,
        )
    }))
    .await
}
