use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Error, service_fn};
use tillbridge_aws::{DynamoTable, required_env};
use tillbridge_costs::PriceBook;
use tillbridge_ports::tenants::TableDirectory;
use tillbridge_ports::{SystemClock, Table};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = tillbridge_aws::load_config().await;
    let table: Arc<dyn Table> = Arc::new(DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        required_env("TABLE_NAME")?,
        Arc::new(SystemClock),
    ));
    let api = api::Api {
        directory: TableDirectory::new(table.clone(), Duration::from_secs(60)),
        table,
        prices: PriceBook::bundled(),
    };
    let api = &api;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(api::handle(api, req).await)
    }))
    .await
}
