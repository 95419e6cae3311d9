use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Error, service_fn};
use tillbridge_aws::{DynamoTable, S3Blobs, SqsQueue, required_env, s3_client};
use tillbridge_pipeline::ingress::Ingress;
use tillbridge_ports::SystemClock;
use tillbridge_ports::tenants::TableDirectory;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    // Built once per container; only the clients this function uses.
    let config = tillbridge_aws::load_config().await;
    let clock = Arc::new(SystemClock);
    let table = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        required_env("TABLE_NAME")?,
        clock.clone(),
    ));
    let ingress = Ingress {
        directory: Arc::new(TableDirectory::new(table.clone(), Duration::from_secs(60))),
        queue: Arc::new(SqsQueue::new(
            aws_sdk_sqs::Client::new(&config),
            required_env("INBOUND_QUEUE_URL")?,
        )),
        blobs: Arc::new(S3Blobs::new(
            s3_client(&config),
            required_env("BUCKET_NAME")?,
        )),
        table,
        clock,
    };
    let ingress = &ingress;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(webhook_ingress::handle(ingress, req).await)
    }))
    .await
}
