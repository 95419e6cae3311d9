use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_aws::{DynamoTable, EventBridgeBus, S3Blobs, required_env, s3_client};
use tillbridge_pipeline::metering::Metering;
use tillbridge_ports::meter::{Meter, MeteredBlobs, MeteredBus, MeteredTable};
use tillbridge_ports::{SystemClock, Table};
use validate::Deps;

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
    let deps = Deps {
        table: Arc::new(MeteredTable {
            inner: raw.clone(),
            meter: meter.clone(),
        }),
        blobs: Arc::new(MeteredBlobs {
            inner: Arc::new(S3Blobs::new(
                s3_client(&config),
                required_env("BUCKET_NAME")?,
            )),
            meter: meter.clone(),
        }),
        bus: Arc::new(MeteredBus {
            inner: Arc::new(EventBridgeBus::new(
                aws_sdk_eventbridge::Client::new(&config),
                required_env("EVENT_BUS_NAME")?,
            )),
            meter: meter.clone(),
        }),
    };
    let metering = Metering::from_env("validate", meter, raw, clock);
    let (deps, metering) = (&deps, &metering);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(validate::handle(deps, Some(metering), event.payload).await)
    }))
    .await
}
