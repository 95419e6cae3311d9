use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Error, service_fn};
use tillbridge_aws::{DynamoTable, S3Blobs, SqsQueue, required_env, s3_client};
use tillbridge_pipeline::ingress::Ingress;
use tillbridge_pipeline::metering::Metering;
use tillbridge_ports::meter::{Meter, MeteredBlobs, MeteredQueue, MeteredTable};
use tillbridge_ports::tenants::TableDirectory;
use tillbridge_ports::{SystemClock, Table};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    // Built once per container; only the clients this function uses.
    let config = tillbridge_aws::load_config().await;
    let clock = Arc::new(SystemClock);
    let raw: Arc<dyn Table> = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        required_env("TABLE_NAME")?,
        clock.clone(),
    ));
    let meter = Arc::new(Meter::default());
    let table: Arc<dyn Table> = Arc::new(MeteredTable {
        inner: raw.clone(),
        meter: meter.clone(),
    });
    let ingress = Ingress {
        directory: Arc::new(TableDirectory::new(table.clone(), Duration::from_secs(60))),
        queue: Arc::new(MeteredQueue {
            inner: Arc::new(SqsQueue::new(
                aws_sdk_sqs::Client::new(&config),
                required_env("INBOUND_QUEUE_URL")?,
            )),
            meter: meter.clone(),
        }),
        blobs: Arc::new(MeteredBlobs {
            inner: Arc::new(S3Blobs::new(
                s3_client(&config),
                required_env("BUCKET_NAME")?,
            )),
            meter: meter.clone(),
        }),
        table,
        clock: clock.clone(),
    };
    let metering = Metering::from_env("webhook-ingress", meter, raw, clock);
    let (ingress, metering) = (&ingress, &metering);
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(webhook_ingress::handle(ingress, Some(metering), req).await)
    }))
    .await
}
