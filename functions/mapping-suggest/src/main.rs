use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use mapping_suggest::Deps;
use tillbridge_accounting::metering::Metering;
use tillbridge_aws::Container;
use tillbridge_costs::PriceTable;
use tillbridge_llm::{ChatClient, Config, LlmRefiner};
use tillbridge_migration::suggest::Refine;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tillbridge_accounting::logs::init_lambda();
    let c = Container::load().await?;
    let bus: Arc<dyn tillbridge_ports::EventBus> = c.bus()?;
    let refiner = llm_refiner(&c, bus.clone()).await?;
    let deps = Deps {
        table: c.table.clone(),
        blobs: c.blobs()?,
        bus,
        refiner,
    };
    let metering = Metering::from_env(
        "mapping-suggest",
        c.meter.clone(),
        c.raw_table.clone(),
        c.clock.clone(),
    );
    let (deps, metering) = (&deps, &metering);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(mapping_suggest::handle(deps, Some(metering), event.payload).await)
    }))
    .await
}

/// The LLM tier, on when `TILLBRIDGE_LLM_BASE_URL` and `TILLBRIDGE_LLM_MODELS` are set; the API
/// key comes from the Secrets Manager secret named by `TILLBRIDGE_LLM_API_KEY_SECRET` (read
/// once per container) or, locally, from `TILLBRIDGE_LLM_API_KEY`.
async fn llm_refiner(
    c: &Container,
    bus: Arc<dyn tillbridge_ports::EventBus>,
) -> Result<Option<Arc<dyn Refine>>, Error> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if set("TILLBRIDGE_LLM_BASE_URL").is_none() {
        return Ok(None);
    }
    let key = match set("TILLBRIDGE_LLM_API_KEY_SECRET") {
        Some(id) => aws_sdk_secretsmanager::Client::new(&c.config)
            .get_secret_value()
            .secret_id(id)
            .send()
            .await?
            .secret_string
            .map(|k| k.trim().to_string()),
        None => set("TILLBRIDGE_LLM_API_KEY"),
    };
    let Some(config) = Config::from_env_with_key(key) else {
        tracing::warn!(
            "LLM tier partly configured (base URL without models or key); staying offline"
        );
        return Ok(None);
    };
    Ok(Some(Arc::new(LlmRefiner {
        client: Arc::new(ChatClient::new(config)?),
        table: c.table.clone(),
        bus,
        prices: PriceTable::bundled(),
    })))
}
