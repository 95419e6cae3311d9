use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use tillbridge_domain::Provider;
use tillbridge_webhooks::signature::{DEFAULT_TOLERANCE_SECS, VerifyOptions};
use tillbridge_webhooks::{Secret, verify};

use crate::{Failure, Outcome, parse_headers, read_input};

#[derive(clap::Args)]
pub struct Args {
    /// square, shopify, clover, toast, zettle, woocommerce, lightspeed, bigcommerce, stripe, standard-webhooks
    #[arg(long)]
    provider: String,
    /// The webhook secret (signature key, client secret, auth code, signing key).
    #[arg(long)]
    secret: String,
    /// A previous secret still accepted during a rotation.
    #[arg(long)]
    previous_secret: Option<String>,
    /// The raw request body, used byte for byte.
    #[arg(long)]
    body_file: PathBuf,
    /// The notification URL, where the scheme signs it (Square).
    #[arg(long)]
    url: Option<String>,
    /// Unix seconds to use as the current time.
    #[arg(long)]
    now: Option<i64>,
    /// Accepted clock difference for signed timestamps, in seconds.
    #[arg(long, default_value_t = DEFAULT_TOLERANCE_SECS)]
    tolerance: i64,
    /// A request header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
}

pub fn run(a: Args) -> Outcome {
    let provider: Provider = crate::builtin_provider(&a.provider)?;
    let body = read_input(&a.body_file, "body file")?;
    let headers = parse_headers(&a.headers)?;
    let now = a.now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    });
    let mut secrets = vec![Secret::new(a.secret.as_str())];
    secrets.extend(a.previous_secret.as_deref().map(Secret::new));
    let opts = VerifyOptions {
        url: a.url.as_deref(),
        now_unix: now,
        tolerance_secs: a.tolerance,
    };
    match verify(provider, &headers, &body, &secrets, &opts) {
        Ok(v) => {
            let which = if v.secret_index == 0 {
                "current secret"
            } else {
                "previous secret"
            };
            println!("valid ({}, {which})", v.scheme);
            Ok(())
        }
        Err(e) if e.is_configuration() => Err(Failure::usage(e.to_string())),
        Err(e) => Err(Failure::rejected(format!("invalid: {e}"))),
    }
}
