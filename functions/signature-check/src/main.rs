use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_aws::{
    DynamoTable, EventBridgeBus, S3Blobs, SecretsManagerStore, required_env, s3_client,
};
use tillbridge_pipeline::metering::Metering;
use tillbridge_pipeline::signature_check::SignatureCheck;
use tillbridge_ports::meter::{Meter, MeteredBlobs, MeteredBus, MeteredTable};
use tillbridge_ports::tenants::TableDirectory;
use tillbridge_ports::{SystemClock, Table};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Built once per container; only the clients this function uses.
    let config = tillbridge_aws::load_config().await;
    let clock = Arc::new(SystemClock);
    let raw: Arc<dyn Table> = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        required_env("TABLE_NAME")?,
        clock.clone(),
    ));
    // Every port is metered so each record's AWS usage is attributed to its tenant.
    let meter = Arc::new(Meter::default());
    let table: Arc<dyn Table> = Arc::new(MeteredTable {
        inner: raw.clone(),
        meter: meter.clone(),
    });
    let check = SignatureCheck {
        directory: Arc::new(TableDirectory::new(table.clone(), Duration::from_secs(60))),
        secrets: Arc::new(SecretsManagerStore::new(
            aws_sdk_secretsmanager::Client::new(&config),
            required_env("SECRET_PREFIX")?,
        )),
        blobs: Arc::new(MeteredBlobs {
            inner: Arc::new(S3Blobs::new(
                s3_client(&config),
                required_env("BUCKET_NAME")?,
            )),
            meter: meter.clone(),
        }),
        table,
        bus: Arc::new(MeteredBus {
            inner: Arc::new(EventBridgeBus::new(
                aws_sdk_eventbridge::Client::new(&config),
                required_env("EVENT_BUS_NAME")?,
            )),
            meter: meter.clone(),
        }),
        clock: clock.clone(),
    };
    let metering = Metering::from_env("signature-check", meter, raw, clock);
    let (check, metering) = (&check, &metering);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(signature_check::handle(check, Some(metering), event.payload).await)
    }))
    .await
}
