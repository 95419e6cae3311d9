use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tillbridge_domain::{CorrelationId, Currency, Provider, TenantId, Timestamp};
use tillbridge_ports::{Clock, SystemClock};
use tillbridge_webhooks::{NormalizeContext, identity, normalize};

use crate::{Failure, Outcome, parse_headers, read_input};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    provider: String,
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    body_file: PathBuf,
    /// The tenant's currency (amounts without their own currency are in it).
    #[arg(long, default_value = "USD")]
    currency: String,
    /// The receive time (RFC 3339) instead of now.
    #[arg(long)]
    received_at: Option<String>,
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
}

pub fn run(a: Args) -> Outcome {
    let provider: Provider = crate::builtin_provider(&a.provider)?;
    let tenant = TenantId::parse(&a.tenant).map_err(|e| Failure::usage(e.to_string()))?;
    let currency = Currency::parse(&a.currency).map_err(|e| Failure::usage(e.to_string()))?;
    let received_at = match &a.received_at {
        Some(t) => Timestamp::parse_rfc3339(t).map_err(|e| Failure::usage(e.to_string()))?,
        None => SystemClock.now(),
    };
    let body = read_input(&a.body_file, "body file")?;
    let headers = parse_headers(&a.headers)?;
    let ctx = NormalizeContext {
        currency,
        headers: &headers,
        received_at,
    };
    let normalized =
        normalize(provider, &ctx, &body).map_err(|e| Failure::rejected(e.to_string()))?;
    if normalized.unhandled {
        eprintln!(
            "note: {provider} event {:?} has no canonical mapping; it would be acknowledged and recorded",
            normalized.vendor_event
        );
    }
    let key = identity::delivery_key(provider, &headers, &body);
    let correlation = CorrelationId::parse(&format!(
        "cli-{}",
        &hex::encode(Sha256::digest(key.as_bytes()))[..16]
    ))
    .map_err(|e| Failure::usage(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    for envelope in normalized.into_envelopes(&tenant, provider, &key, received_at, &correlation) {
        let line = serde_json::to_string(&envelope).map_err(|e| Failure::usage(e.to_string()))?;
        writeln!(out, "{line}").map_err(|e| Failure::usage(format!("cannot write output: {e}")))?;
    }
    Ok(())
}
