//! `tillbridge privacy`: data subject requests on the embedded store — erase or export one
//! customer's data, or erase every customer's, and list the erasures. After an erasure the
//! store file is compacted so deleted records leave no bytes behind.

use std::path::PathBuf;

use tillbridge_migration::privacy::{self, Subject};

use crate::{Failure, Outcome};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Erase one customer's data (GDPR art. 17), or every customer's with --all-customers.
    Erase(EraseArgs),
    /// Export what tillbridge holds of one customer (GDPR art. 15), as JSON on stdout.
    Export(SubjectArgs),
    /// The erasures carried out for a tenant (pseudonymous), as JSON.
    Erasures(TenantArgs),
    /// What is kept, where, how long and what enforces it, as JSON.
    Retention,
}

#[derive(clap::Args)]
pub struct TenantArgs {
    /// The tenant.
    #[arg(long)]
    tenant: String,
    /// State directory of the embedded store.
    #[arg(long, default_value = ".tillbridge/state")]
    state: PathBuf,
    /// Tenants file (default: STATE/tenants.json, else the bundled samples).
    #[arg(long)]
    tenants: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct SubjectArgs {
    #[command(flatten)]
    tenant: TenantArgs,
    /// The customer's id in the source system.
    #[arg(long)]
    customer_id: Option<String>,
    /// The customer's email address.
    #[arg(long)]
    email: Option<String>,
    /// The customer's phone number.
    #[arg(long)]
    phone: Option<String>,
}

#[derive(clap::Args)]
pub struct EraseArgs {
    #[command(flatten)]
    subject: SubjectArgs,
    /// Every customer of the tenant (a shop that left).
    #[arg(long, conflicts_with_all = ["customer_id", "email", "phone"])]
    all_customers: bool,
    /// Who asks (recorded in the audit).
    #[arg(long, default_value = "cli")]
    by: String,
}

fn subject(a: &SubjectArgs) -> Subject {
    Subject {
        customer_id: a.customer_id.clone(),
        email: a.email.clone(),
        phone: a.phone.clone(),
    }
}

fn print(v: &impl serde::Serialize) -> Outcome {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    Ok(())
}

pub fn run(c: Command) -> Outcome {
    if let Command::Retention = c {
        return print(&tillbridge_api::retention::policies());
    }
    let t = match &c {
        Command::Retention => return Ok(()),
        Command::Erase(a) => &a.subject.tenant,
        Command::Export(a) => &a.tenant,
        Command::Erasures(a) => a,
    };
    let tenant =
        tillbridge_domain::TenantId::parse(&t.tenant).map_err(|e| Failure::usage(e.to_string()))?;
    let directory = crate::serve::load_tenants(t.tenants.as_deref(), &t.state)?;
    let state = t.state.clone();
    let rt = crate::runtime()?;
    let fail = |e: tillbridge_migration::MigrationError| Failure::usage(e.to_string());
    let erased = rt.block_on(async {
        let runtime = crate::serve::open_runtime(&state, directory).await?;
        if runtime
            .directory
            .tenant(&tenant)
            .await
            .ok()
            .flatten()
            .is_none()
        {
            return Err(Failure::usage(format!("unknown tenant {tenant}")));
        }
        let (table, blobs) = (runtime.table.as_ref(), runtime.blobs.as_ref());
        match &c {
            Command::Erase(a) => {
                let s = subject(&a.subject);
                if !a.all_customers && s.is_empty() {
                    return Err(Failure::usage(
                        "name the customer: --customer-id, --email or --phone (or --all-customers)",
                    ));
                }
                let now = runtime.clock.now();
                let report = privacy::erase(table, blobs, &tenant, &s, a.all_customers, &a.by, now)
                    .await
                    .map_err(fail)?;
                print(&report)?;
                Ok(true)
            }
            Command::Export(a) => {
                let s = subject(a);
                if s.is_empty() {
                    return Err(Failure::usage(
                        "name the customer: --customer-id, --email or --phone",
                    ));
                }
                print(
                    &privacy::export(table, blobs, &tenant, &s)
                        .await
                        .map_err(fail)?,
                )?;
                Ok(false)
            }
            Command::Erasures(_) => {
                print(&privacy::erasures(table, &tenant).await.map_err(fail)?)?;
                Ok(false)
            }
            Command::Retention => Ok(false),
        }
    })?;
    if erased {
        // The runtime is closed: the store file is ours to rewrite.
        tillbridge_embedded::compact(&state).map_err(|e| Failure::usage(e.to_string()))?;
    }
    Ok(())
}
