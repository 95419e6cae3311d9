use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_aws::{
    Container, EventBridgeBus, S3Blobs, SecretsManagerStore, required_env, s3_client,
};
use tillbridge_pipeline::metering::Metering;
use tillbridge_pipeline::signature_check::SignatureCheck;
use tillbridge_ports::meter::{MeteredBlobs, MeteredBus};
use tillbridge_ports::tenants::TableDirectory;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Built once per container; only the clients this function uses, every port metered.
    let c = Container::load().await?;
    let check = SignatureCheck {
        directory: Arc::new(TableDirectory::new(
            c.table.clone(),
            Duration::from_secs(60),
        )),
        secrets: Arc::new(SecretsManagerStore::new(
            aws_sdk_secretsmanager::Client::new(&c.config),
            required_env("SECRET_PREFIX")?,
        )),
        blobs: Arc::new(MeteredBlobs {
            inner: Arc::new(S3Blobs::new(
                s3_client(&c.config),
                required_env("BUCKET_NAME")?,
            )),
            meter: c.meter.clone(),
        }),
        table: c.table.clone(),
        bus: Arc::new(MeteredBus {
            inner: Arc::new(EventBridgeBus::new(
                aws_sdk_eventbridge::Client::new(&c.config),
                required_env("EVENT_BUS_NAME")?,
            )),
            meter: c.meter.clone(),
        }),
        clock: c.clock.clone(),
    };
    let metering = Metering::from_env(
        "signature-check",
        c.meter.clone(),
        c.raw_table.clone(),
        c.clock.clone(),
    );
    let (check, metering) = (&check, &metering);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(signature_check::handle(check, Some(metering), event.payload).await)
    }))
    .await
}
