use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_aws::{DynamoTable, EventBridgeBus, required_env};
use tillbridge_costs::PriceBook;
use tillbridge_pipeline::metering::Metering;
use tillbridge_ports::meter::{Meter, MeteredBus, MeteredTable};
use tillbridge_ports::{SystemClock, Table};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = tillbridge_aws::load_config().await;
    let clock = Arc::new(SystemClock);
    let raw: Arc<dyn Table> = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        required_env("TABLE_NAME")?,
        clock.clone(),
    ));
    let meter = Arc::new(Meter::default());
    let table = MeteredTable {
        inner: raw.clone(),
        meter: meter.clone(),
    };
    let bus = MeteredBus {
        inner: Arc::new(EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(&config),
            required_env("EVENT_BUS_NAME")?,
        )),
        meter: meter.clone(),
    };
    // The bundled price table, parsed once per container.
    let prices = PriceBook::bundled();
    let metering = Metering::from_env("cost-accounting", meter, raw, clock);
    let (table, bus, prices, metering) = (&table, &bus, &prices, &metering);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(
            cost_accounting::handle(table, bus, prices, Some(metering), event.payload).await,
        )
    }))
    .await
}
