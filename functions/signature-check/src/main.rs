use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_accounting::metering::Metering;
use tillbridge_aws::Container;
use tillbridge_ports::tenants::TableDirectory;
use tillbridge_sync::signature_check::SignatureCheck;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tillbridge_accounting::logs::init_lambda();
    // Built once per container; only the clients this function uses, every port metered.
    let c = Container::load().await?;
    let check = SignatureCheck {
        directory: Arc::new(TableDirectory::new(
            c.table.clone(),
            Duration::from_secs(60),
        )),
        secrets: c.secrets()?,
        blobs: c.blobs()?,
        table: c.table.clone(),
        bus: c.bus()?,
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
