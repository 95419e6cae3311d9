use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Error, service_fn};
use tillbridge_accounting::metering::Metering;
use tillbridge_aws::{Container, SqsQueue, required_env};
use tillbridge_ports::meter::MeteredQueue;
use tillbridge_ports::tenants::TableDirectory;
use tillbridge_sync::ingress::Ingress;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tillbridge_accounting::logs::init_lambda();
    // Built once per container; only the clients this function uses, every port metered.
    let c = Container::load().await?;
    let ingress = Ingress {
        directory: Arc::new(TableDirectory::new(
            c.table.clone(),
            Duration::from_secs(60),
        )),
        queue: Arc::new(MeteredQueue {
            inner: Arc::new(SqsQueue::new(
                aws_sdk_sqs::Client::new(&c.config),
                required_env("INBOUND_QUEUE_URL")?,
            )),
            meter: c.meter.clone(),
        }),
        blobs: c.blobs()?,
        table: c.table.clone(),
        clock: c.clock.clone(),
    };
    let metering = Metering::from_env(
        "webhook-ingress",
        c.meter.clone(),
        c.raw_table.clone(),
        c.clock.clone(),
    );
    let (ingress, metering) = (&ingress, &metering);
    lambda_http::run(service_fn(move |req| async move {
        let response = webhook_ingress::handle(ingress, Some(metering), req).await;
        tillbridge_ports::metrics::global().flush_emf("webhook-ingress");
        Ok::<_, Error>(response)
    }))
    .await
}
