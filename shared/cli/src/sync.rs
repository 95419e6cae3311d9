//! `tillbridge sync`: pull a tenant's catalog from a vendor's API and apply it (CLI.md
//! "Vendor APIs").

use std::path::PathBuf;
use std::sync::Arc;

use tillbridge_connectors::ConnectorError;
use tillbridge_domain::{Provider, TenantId, Timestamp};
use tillbridge_fetch::{FetchError, Fetcher};

use crate::serve::{load_tenants, open_runtime};
use crate::{Failure, Outcome};

// Not a doc comment: clap would turn it into the subcommand's help text.
#[allow(missing_docs)]
#[derive(clap::Args)]
pub struct Args {
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// The vendor (square, woocommerce, bigcommerce, shopify, …, or a profile vendor's name).
    #[arg(long)]
    provider: String,
    /// State directory (table file and blobs).
    #[arg(long, default_value = ".tillbridge/state")]
    state: PathBuf,
    /// Tenants file (JSON, CLI.md; the provider's `api` entry holds the credentials);
    /// default STATE/tenants.json, else the bundled samples.
    #[arg(long)]
    tenants: Option<PathBuf>,
    /// Only what changed after this instant (RFC 3339), or `last`: after the watermark the
    /// last sync of this tenant and vendor stored (everything before the first); default:
    /// everything.
    #[arg(long)]
    since: Option<String>,
}

/// Runs one sync and prints its report as one JSON object.
pub fn run(a: Args) -> Outcome {
    let provider: Provider = a
        .provider
        .parse()
        .map_err(|_| Failure::usage(format!("unknown provider {:?}", a.provider)))?;
    let tenant = TenantId::parse(&a.tenant).map_err(|e| Failure::usage(e.to_string()))?;
    let last = a.since.as_deref() == Some("last");
    let since = match a.since.as_deref() {
        Some(_) if last => None,
        Some(s) => {
            Some(Timestamp::parse_rfc3339(s).map_err(|e| Failure::usage(format!("--since: {e}")))?)
        }
        None => None,
    };
    let file = load_tenants(a.tenants.as_deref(), &a.state)?;
    crate::runtime()?.block_on(async move {
        let rt = open_runtime(&a.state, file).await?;
        let fetcher = Fetcher {
            table: rt.table.clone(),
            directory: rt.directory.clone(),
            secrets: rt.secrets.clone(),
            clock: Arc::clone(&rt.clock),
            interactive: true,
        };
        let since = if last {
            fetcher
                .state(&tenant, provider)
                .await
                .map_err(failure)?
                .watermark
        } else {
            since
        };
        match fetcher.sync(&tenant, provider, since).await {
            Ok(report) => {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
                Ok(())
            }
            Err(e) => Err(failure(e)),
        }
    })
}

/// Exit 1 when the vendor refused or kept failing (with its reason and last status); exit 2
/// for what the caller must fix here (unknown tenant, no or incomplete `api` entry).
pub fn failure(e: FetchError) -> Failure {
    match e {
        FetchError::UnknownTenant(_)
        | FetchError::NoApi { .. }
        | FetchError::Vendor(ConnectorError::Config { .. }) => Failure::usage(e.to_string()),
        other => Failure::rejected(other.to_string()),
    }
}
