use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rollback::Deps;
use tillbridge_accounting::metering::Metering;
use tillbridge_aws::Container;

/// A rollback hands over to a fresh invocation this long before the deadline.
const HAND_OVER: std::time::Duration = std::time::Duration::from_secs(15);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let c = Container::load().await?;
    let deps = Deps {
        table: c.table.clone(),
        blobs: c.blobs()?,
        bus: c.bus()?,
    };
    let metering = Metering::from_env(
        "rollback",
        c.meter.clone(),
        c.raw_table.clone(),
        c.clock.clone(),
    );
    let (deps, metering) = (&deps, &metering);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let stop = tillbridge_lambda::out_of_time(event.context.deadline, HAND_OVER);
        Ok::<_, Error>(rollback::handle(deps, Some(metering), event.payload, &stop).await)
    }))
    .await
}
