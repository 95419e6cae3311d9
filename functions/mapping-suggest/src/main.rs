use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use mapping_suggest::Deps;
use tillbridge_aws::{Container, EventBridgeBus, S3Blobs, required_env, s3_client};
use tillbridge_pipeline::metering::Metering;
use tillbridge_ports::meter::{MeteredBlobs, MeteredBus};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let c = Container::load().await?;
    let deps = Deps {
        table: c.table.clone(),
        blobs: Arc::new(MeteredBlobs {
            inner: Arc::new(S3Blobs::new(
                s3_client(&c.config),
                required_env("BUCKET_NAME")?,
            )),
            meter: c.meter.clone(),
        }),
        bus: Arc::new(MeteredBus {
            inner: Arc::new(EventBridgeBus::new(
                aws_sdk_eventbridge::Client::new(&c.config),
                required_env("EVENT_BUS_NAME")?,
            )),
            meter: c.meter.clone(),
        }),
    };
    let metering = Metering::from_env(
        "mapping-suggest",
        c.meter.clone(),
        c.raw_table.clone(),
        c.clock.clone(),
    );
    let (deps, metering) = (&deps, &metering);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(mapping_suggest::handle(deps, Some(metering), event.payload).await)
    }))
    .await
}
