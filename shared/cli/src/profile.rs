//! `tillbridge profile check FILE [--sample PAYLOAD ...]`: validates a vendor profile and runs
//! it on sample payloads, printing the canonical events (what an integration engineer runs
//! when adding a vendor); `tillbridge profile schema` prints the profile JSON Schema.

use std::io::Write;
use std::path::PathBuf;

use tillbridge_domain::{CorrelationId, Currency, Provider, TenantId, Timestamp};
use tillbridge_profiles::Profile;
use tillbridge_webhooks::NormalizeContext;

use crate::{Failure, Outcome, parse_headers, read_input};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate a profile (exit 2 with every problem) and print the canonical events of each
    /// sample payload as JSON lines (exit 1 when a sample is refused).
    Check(CheckArgs),
    /// Print the JSON Schema of profile files.
    Schema,
    /// Turn an approved migration's mapping into a vendor profile's `mapping` section; with
    /// a base profile (`--base FILE`, else the vendor's stored or built-in profile) print the
    /// whole profile as its next version, and with `--store` make it the vendor's live
    /// normalizer.
    FromMigration(FromMigrationArgs),
}

#[derive(clap::Args)]
pub struct FromMigrationArgs {
    /// The migration (approved: its reviewed mapping is what is exported).
    id: String,
    /// The vendor profile's name (`acme-pos`).
    #[arg(long)]
    name: String,
    /// The profile whose webhook and API sections the mapping joins; default the vendor's
    /// newest stored profile, else its built-in one; without either only the `mapping`
    /// section is printed.
    #[arg(long)]
    base: Option<PathBuf>,
    /// Store the result as the vendor's next profile version (needs a base).
    #[arg(long)]
    store: bool,
    /// State directory (table file and blobs).
    #[arg(long, default_value = ".tillbridge/state")]
    state: PathBuf,
    /// Tenants file; default STATE/tenants.json, else the bundled samples.
    #[arg(long)]
    tenants: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The profile file (JSON).
    file: PathBuf,
    /// A webhook body to normalize with the profile (repeatable).
    #[arg(long = "sample")]
    samples: Vec<PathBuf>,
    /// Headers sent with every sample (`Name: value`).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// The tenant's currency (amounts are in it).
    #[arg(long, default_value = "USD")]
    currency: String,
    /// The receive time (RFC 3339) of the samples; default 1970-01-01T00:00:00Z, so the
    /// output is the same on every run.
    #[arg(long)]
    received_at: Option<String>,
}

pub fn run(c: Command) -> Outcome {
    match c {
        Command::Schema => {
            let text = serde_json::to_string_pretty(&tillbridge_profiles::json_schema())
                .map_err(|e| Failure::usage(e.to_string()))?;
            println!("{text}");
            Ok(())
        }
        Command::Check(a) => check(a),
        Command::FromMigration(a) => from_migration(a),
    }
}

fn from_migration(a: FromMigrationArgs) -> Outcome {
    use tillbridge_domain::ProfileName;
    use tillbridge_profiles::store;
    let name = ProfileName::parse(&a.name).map_err(|e| Failure::usage(format!("--name: {e}")))?;
    let base = match &a.base {
        Some(f) => {
            let text = String::from_utf8(crate::read_document(f, "base profile")?)
                .map_err(|_| Failure::usage(format!("{}: not UTF-8", f.display())))?;
            Some(
                Profile::parse(&text)
                    .map_err(|e| Failure::usage(format!("{}: {e}", f.display())))?,
            )
        }
        None => None,
    };
    crate::runtime()?.block_on(async {
        let directory = crate::serve::load_tenants(a.tenants.as_deref(), &a.state)?;
        let rt = crate::serve::open_runtime(&a.state, directory).await?;
        let table = rt.table.as_ref();
        let m = crate::migrate::load(&rt, &a.id).await?;
        use tillbridge_migration::profile::{ProfileMappingError, profile_mapping};
        let made = profile_mapping(table, &m, Some(name), base)
            .await
            .map_err(|e| match e {
                ProfileMappingError::NotApproved { .. } | ProfileMappingError::Invalid(_) => {
                    Failure::rejected(e.to_string())
                }
                _ => Failure::usage(e.to_string()),
            })?;
        let Some(profile) = made.profile else {
            if a.store {
                return Err(Failure::usage(format!(
                    "{name} has no stored or built-in profile: give --base FILE to store one"
                )));
            }
            let text = serde_json::to_string_pretty(&made.section)
                .map_err(|e| Failure::usage(e.to_string()))?;
            println!("{text}");
            eprintln!("mapping of migration {} ({} lines)", m.id, made.section.fields.len());
            return Ok(());
        };
        let version = profile.doc().version;
        if a.store {
            store::put(table, name, &profile, rt.clock.now())
                .await
                .map_err(|e| Failure::rejected(e.to_string()))?;
            eprintln!(
                "profile {name} v{version} stored: its mapping is migration {}'s ({} lines)",
                m.id,
                profile.mapping().len()
            );
        } else {
            eprintln!(
                "profile {name} v{version} (not stored; --store makes it live) with migration {}'s mapping ({} lines)",
                m.id,
                profile.mapping().len()
            );
        }
        let text = serde_json::to_string_pretty(&profile.to_json())
            .map_err(|e| Failure::usage(e.to_string()))?;
        println!("{text}");
        Ok(())
    })
}

fn check(a: CheckArgs) -> Outcome {
    let text = crate::read_document(&a.file, "profile file")?;
    let text = String::from_utf8(text)
        .map_err(|_| Failure::usage(format!("{}: not UTF-8", a.file.display())))?;
    let profile =
        Profile::parse(&text).map_err(|e| Failure::usage(format!("{}: {e}", a.file.display())))?;
    let currency = Currency::parse(&a.currency).map_err(|e| Failure::usage(e.to_string()))?;
    let received_at = match &a.received_at {
        Some(t) => Timestamp::parse_rfc3339(t).map_err(|e| Failure::usage(e.to_string()))?,
        None => Timestamp::UNIX_EPOCH,
    };
    let headers = parse_headers(&a.headers)?;
    let provider = Provider::Profile(profile.name());
    let tenant = TenantId::parse("profile-check").map_err(|e| Failure::usage(e.to_string()))?;
    eprintln!(
        "profile {} v{} is valid ({} mapping lines)",
        profile.name(),
        profile.doc().version,
        profile.mapping().len()
    );
    let mut out = std::io::stdout().lock();
    for sample in &a.samples {
        let body = read_input(sample, "sample")?;
        let ctx = NormalizeContext {
            currency,
            headers: &headers,
            received_at,
        };
        let normalized = tillbridge_profiles::normalize(&profile, &ctx, &body)
            .map_err(|e| Failure::rejected(format!("{}: {e}", sample.display())))?;
        if normalized.unhandled {
            eprintln!(
                "note: {}: event {:?} has no rule in the profile; it would be acknowledged as unhandled",
                sample.display(),
                normalized.vendor_event
            );
        }
        let key = tillbridge_profiles::delivery_key(&profile, &headers, &body);
        let correlation =
            CorrelationId::parse("profile-check").map_err(|e| Failure::usage(e.to_string()))?;
        for e in normalized.into_envelopes(&tenant, provider, &key, received_at, &correlation) {
            let line = serde_json::to_string(&e).map_err(|e| Failure::usage(e.to_string()))?;
            writeln!(out, "{line}")
                .map_err(|e| Failure::usage(format!("cannot write output: {e}")))?;
        }
    }
    Ok(())
}
