use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;
use std::time::Duration;
use tillbridge_accounting::metering::Metering;

use tillbridge_aws::Container;
use tillbridge_migration::destination::{TenantDestinations, bounded_http};
use tillbridge_ports::tenants::TableDirectory;
use validate::Deps;

/// A migration apply hands over to a fresh invocation this long before the deadline.
const HAND_OVER: std::time::Duration = std::time::Duration::from_secs(15);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tillbridge_accounting::logs::init_lambda();
    let c = Container::load().await?;
    let deps = Deps {
        table: c.table.clone(),
        blobs: c.blobs()?,
        bus: c.bus()?,
        // A migration's destination: the tenant's API credentials in Secrets Manager.
        destinations: Some(Arc::new(TenantDestinations {
            table: c.table.clone(),
            clock: c.clock.clone(),
            directory: Arc::new(TableDirectory::new(
                c.table.clone(),
                Duration::from_secs(60),
            )),
            secrets: c.secrets()?,
            http: Some(bounded_http),
        })),
    };
    let metering = Metering::from_env(
        "validate",
        c.meter.clone(),
        c.raw_table.clone(),
        c.clock.clone(),
    );
    let (deps, metering) = (&deps, &metering);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let stop = tillbridge_lambda::out_of_time(event.context.deadline, HAND_OVER);
        Ok::<_, Error>(validate::handle(deps, Some(metering), event.payload, &stop).await)
    }))
    .await
}
