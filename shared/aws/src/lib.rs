//! AWS implementations of the ports, behind the same traits as the embedded store.
//!
//! SDK errors keep their kind: throttling, 5xx and network failures are retryable,
//! validation errors and failed conditions are permanent.

#![warn(missing_docs)]

mod dynamodb;
mod error;
mod eventbridge;
pub mod moto;
mod s3;
mod secrets;
#[cfg(feature = "ses")]
mod ses;
mod sqs;

#[cfg(feature = "ses")]
pub use aws_sdk_sesv2;
pub use dynamodb::DynamoTable;
pub use eventbridge::EventBridgeBus;
pub use s3::S3Blobs;
pub use secrets::SecretsManagerStore;
#[cfg(feature = "ses")]
pub use ses::SesMailer;
pub use sqs::SqsQueue;

pub use aws_config::SdkConfig;

/// Loads the SDK configuration once per container. On Lambda, region and credentials are
/// environment variables: then the configuration is built from them directly (the default
/// provider chain costs about 5 ms of init looking at profile files and IMDS, measured with
/// `shared/tools/coldstart.py`); elsewhere the default chain. `AWS_ENDPOINT_URL` points
/// every client at an emulator.
pub async fn load_config() -> SdkConfig {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("AWS_REGION"),
        var("AWS_ACCESS_KEY_ID"),
        var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(region), Some(key), Some(secret)) => env_config(
            &region,
            var("AWS_ENDPOINT_URL").as_deref(),
            aws_sdk_dynamodb::config::Credentials::new(
                key,
                secret,
                var("AWS_SESSION_TOKEN"),
                None,
                "environment",
            ),
        ),
        _ => {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(https_client())
                .load()
                .await
        }
    }
}

/// The roots AWS service endpoints chain to (see `certs/README.md`).
const AWS_ROOTS: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// The HTTPS client of every SDK client: rustls on aws-lc, trusting the AWS roots only
/// (five certificates to parse at init instead of the system bundle), or the system's
/// roots when `SSL_CERT_FILE` says so.
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let trust = if std::env::var_os("SSL_CERT_FILE").is_some() {
        tls::TrustStore::default()
    } else {
        tls::TrustStore::empty().with_pem_certificate(AWS_ROOTS)
    };
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::AwsLc,
    ));
    match tls::TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        Err(_) => builder.build_https(),
    }
}

/// A configuration from explicit parts, without the default provider chain; clients fill in
/// sleep and time source with their defaults.
pub fn env_config(
    region: &str,
    endpoint: Option<&str>,
    credentials: aws_sdk_dynamodb::config::Credentials,
) -> SdkConfig {
    let mut b = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            credentials,
        ));
    if let Some(url) = endpoint {
        b = b.endpoint_url(url);
    }
    b.build()
}

/// A configuration for a local emulator (moto): fixed region and dummy credentials, built
/// the way `load_config` builds it on Lambda (so every emulator test exercises that path).
pub async fn emulator_config(endpoint: &str) -> SdkConfig {
    env_config(
        "us-east-1",
        Some(endpoint),
        aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "static"),
    )
}

/// S3 client with path-style addressing when talking to an emulator.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build(),
    )
}

/// DynamoDB client for the configuration (so callers need no SDK crate of their own).
pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// A required environment variable (set by the SAM template).
pub fn required_env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
}

/// What every function builds once per container: the SDK configuration (from the Lambda
/// environment), the clock, and the table — raw, and wrapped in the metering decorator that
/// attributes each record's usage to its tenant.
pub struct Container {
    /// The SDK configuration (region, credentials, the AWS-roots-only HTTPS client).
    pub config: SdkConfig,
    /// The system clock.
    pub clock: std::sync::Arc<tillbridge_ports::SystemClock>,
    /// Counts the AWS calls of the current record, for per-tenant infrastructure cost.
    pub meter: std::sync::Arc<tillbridge_ports::meter::Meter>,
    /// Unmetered (metering readings are written here).
    pub raw_table: std::sync::Arc<dyn tillbridge_ports::Table>,
    /// The table wrapped in the metering decorator: what the stages use.
    pub table: std::sync::Arc<dyn tillbridge_ports::Table>,
}

impl Container {
    /// Builds the container from the Lambda environment (`TABLE_NAME`, region, credentials).
    ///
    /// # Errors
    /// A required environment variable is missing.
    pub async fn load() -> Result<Self, String> {
        use std::sync::Arc;
        let config = load_config().await;
        let clock = Arc::new(tillbridge_ports::SystemClock);
        let meter = Arc::new(tillbridge_ports::meter::Meter::default());
        let raw_table: Arc<dyn tillbridge_ports::Table> = Arc::new(DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            required_env("TABLE_NAME")?,
            clock.clone(),
        ));
        let table = Arc::new(tillbridge_ports::meter::MeteredTable {
            inner: raw_table.clone(),
            meter: meter.clone(),
        });
        Ok(Self {
            config,
            clock,
            meter,
            raw_table,
            table,
        })
    }

    /// The stack's event bus (`EVENT_BUS_NAME`), metered.
    pub fn bus(&self) -> Result<std::sync::Arc<tillbridge_ports::meter::MeteredBus>, String> {
        Ok(std::sync::Arc::new(tillbridge_ports::meter::MeteredBus {
            inner: std::sync::Arc::new(
                EventBridgeBus::new(
                    aws_sdk_eventbridge::Client::new(&self.config),
                    required_env("EVENT_BUS_NAME")?,
                )
                // Events over an entry's limit travel by claim check through the bucket.
                .with_claim_check(self.blobs()?),
            ),
            meter: self.meter.clone(),
        }))
    }

    /// The tenants' secrets in Secrets Manager (`SECRET_PREFIX`), metered: API calls, and
    /// the KMS requests they cause when `TILLBRIDGE_SECRETS_KMS_KEY` names a customer-managed
    /// key (the template's secrets use the AWS-managed `aws/secretsmanager` key: none).
    pub fn secrets(
        &self,
    ) -> Result<std::sync::Arc<tillbridge_ports::meter::MeteredSecrets>, String> {
        Ok(std::sync::Arc::new(
            tillbridge_ports::meter::MeteredSecrets {
                inner: std::sync::Arc::new(SecretsManagerStore::new(
                    aws_sdk_secretsmanager::Client::new(&self.config),
                    required_env("SECRET_PREFIX")?,
                )),
                meter: self.meter.clone(),
                customer_managed_key: std::env::var("TILLBRIDGE_SECRETS_KMS_KEY")
                    .is_ok_and(|k| !k.is_empty()),
            },
        ))
    }

    /// The stack's bucket (`BUCKET_NAME`), metered.
    pub fn blobs(&self) -> Result<std::sync::Arc<tillbridge_ports::meter::MeteredBlobs>, String> {
        Ok(std::sync::Arc::new(tillbridge_ports::meter::MeteredBlobs {
            inner: std::sync::Arc::new(S3Blobs::new(
                s3_client(&self.config),
                required_env("BUCKET_NAME")?,
            )),
            meter: self.meter.clone(),
        }))
    }
}
