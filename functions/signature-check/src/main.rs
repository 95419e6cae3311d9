use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_aws::{
    DynamoTable, EventBridgeBus, S3Blobs, SecretsManagerStore, required_env, s3_client,
};
use tillbridge_pipeline::signature_check::SignatureCheck;
use tillbridge_ports::SystemClock;
use tillbridge_ports::tenants::TableDirectory;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = tillbridge_aws::load_config().await;
    let clock = Arc::new(SystemClock);
    let table = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        required_env("TABLE_NAME")?,
        clock.clone(),
    ));
    let check = SignatureCheck {
        directory: Arc::new(TableDirectory::new(table.clone(), Duration::from_secs(60))),
        secrets: Arc::new(SecretsManagerStore::new(
            aws_sdk_secretsmanager::Client::new(&config),
            required_env("SECRET_PREFIX")?,
        )),
        blobs: Arc::new(S3Blobs::new(
            s3_client(&config),
            required_env("BUCKET_NAME")?,
        )),
        table,
        bus: Arc::new(EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(&config),
            required_env("EVENT_BUS_NAME")?,
        )),
        clock,
    };
    let check = &check;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(signature_check::handle(check, event.payload).await)
    }))
    .await
}
