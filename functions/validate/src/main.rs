use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_aws::{DynamoTable, required_env};
use tillbridge_pipeline::metering::Metering;
use tillbridge_ports::meter::{Meter, MeteredTable};
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
    let metering = Metering::from_env("validate", meter, raw, clock);
    let (table, metering) = (&table, &metering);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(validate::handle(table, Some(metering), event.payload).await)
    }))
    .await
}
