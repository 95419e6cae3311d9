use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use tillbridge_accounting::metering::Metering;
use tillbridge_aws::aws_sdk_sesv2;
use tillbridge_aws::{Container, SecretsManagerStore, SesMailer, required_env};
use tillbridge_notifications::Notifier;
use tillbridge_notifications::http::HttpPoster;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // JSON logs; the bytes of lines naming a tenant are filed with its usage.
    tillbridge_accounting::logs::init_lambda();
    let c = Container::load().await?;
    let notifier = Notifier {
        table: c.table.clone(),
        blobs: c.blobs()?,
        secrets: Arc::new(SecretsManagerStore::new(
            aws_sdk_secretsmanager::Client::new(&c.config),
            required_env("SECRET_PREFIX")?,
        )),
        poster: Arc::new(HttpPoster::new()?),
        mailer: Arc::new(SesMailer::new(
            aws_sdk_sesv2::Client::new(&c.config),
            required_env("SENDER_EMAIL")?,
        )),
        clock: c.clock.clone(),
    };
    let metering = Metering::from_env(
        "notify",
        c.meter.clone(),
        c.raw_table.clone(),
        c.clock.clone(),
    );
    // The operators' tenant: its notification settings route the deployment's alarms.
    let alarms_tenant = match std::env::var("ALARMS_TENANT") {
        Ok(t) if !t.is_empty() => Some(tillbridge_domain::TenantId::parse(&t)?),
        _ => None,
    };
    let (notifier, metering, alarms_tenant) = (&notifier, &metering, alarms_tenant.as_ref());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            notify::handle(notifier, Some(metering), alarms_tenant, event.payload)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
